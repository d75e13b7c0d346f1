#!/bin/sh
# A CPU build of torch for the image extra (docs/images.md), put in place before
# `pip install '.[test]'` so that pip does not pull the CUDA build from PyPI (gigabytes
# the tests never use). A wheel pip already finds locally (its find-links) is used as
# it is; otherwise the one on PyTorch's CPU index. A torch already installed is kept.
set -e
venv=${1:-.venv}
py="$venv/bin/python"
if "$py" -c 'import torch' 2>/dev/null; then
  exit 0
fi
"$py" -m pip install --quiet --no-index --only-binary=:all: torch 2>/dev/null \
  || "$py" -m pip install --quiet torch --index-url https://download.pytorch.org/whl/cpu
