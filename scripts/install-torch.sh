#!/bin/sh
# A CPU build of torch for the image extra (docs/images.md), put in place before
# `pip install '.[images]'` so that pip does not pull the CUDA build from PyPI (gigabytes
# the tests never use). A torch wheel pip finds locally (its find-links) is used as it
# is, with its dependencies from the index; otherwise the one on PyTorch's CPU index.
# A torch already installed is kept.
set -e
venv=${1:-.venv}
py="$venv/bin/python"
if "$py" -c 'import torch' 2>/dev/null; then
  exit 0
fi
if "$py" -m pip install --quiet --no-index --no-deps --only-binary=:all: torch 2>/dev/null; then
  version=$("$py" -c 'import importlib.metadata as m; print(m.version("torch"))')
  "$py" -m pip install --quiet "torch==$version"  # its dependencies; torch stays
else
  "$py" -m pip install --quiet torch --index-url https://download.pytorch.org/whl/cpu
fi
