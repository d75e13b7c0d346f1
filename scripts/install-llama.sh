#!/usr/bin/env bash
# Installs llama-cpp-python into the virtualenv given as $1, compiled for this machine.
#
# llama-cpp-python compiles llama.cpp from source (about 10 minutes on 2 cores). The
# wheel is kept in a wheelhouse keyed by the version and the compile flags
# (scripts/llama-cmake-args.sh), so later installs take seconds and a wheel built with
# other flags (say, a native build that crashes on AMX CPUs) is never picked up.
set -euo pipefail
venv=${1:?usage: install-llama.sh VENV}
here=$(cd "$(dirname "$0")" && pwd)
version=$(sed -n 's/.*"llama-cpp-python==\([0-9.]*\)".*/\1/p' "$here/../pyproject.toml")
args=$("$here/llama-cmake-args.sh")
key=$(printf '%s|%s|%s' "$version" "$args" "$(uname -m)" | sha256sum | cut -c1-16)
house=${GLMSERVE_WHEELHOUSE:-${XDG_CACHE_HOME:-$HOME/.cache}/glmserve/wheels}/$key
if ! compgen -G "$house/llama_cpp_python-$version-*.whl" >/dev/null; then
  echo "install-llama: building llama-cpp-python $version (llama.cpp from source, ~10 min on 2 cores)"
  echo "install-llama: CMAKE_ARGS=$args"
  tmp="$house.tmp.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  CMAKE_ARGS="$args" "$venv/bin/python" -m pip wheel --no-cache-dir --no-deps \
    --no-binary llama-cpp-python -w "$tmp" "llama-cpp-python==$version"
  mkdir -p "$house" && mv "$tmp"/llama_cpp_python-*.whl "$house"/ && rm -rf "$tmp"
fi
"$venv/bin/python" -m pip install --quiet "$house"/llama_cpp_python-"$version"-*.whl
