#!/usr/bin/env bash
# Builds llama.cpp's llama-server from exactly the llama.cpp that llama-cpp-python vendors
# (the version pinned in pyproject.toml), with the compile flags glmserve's own build uses
# (scripts/llama-cmake-args.sh), so both sides of the benchmark run the same kernels.
#
#   build_llama_server.sh            into benchmarks/build/ (gitignored; never commit it)
#   build_llama_server.sh --cache    into ~/.cache/glmserve/llama-server-<key>, keyed by the
#                                    version, the flags and the architecture: the tests'
#                                    workers (tests/support/workers.py) use it, so a fresh
#                                    clone reuses a build made by another
#   build_llama_server.sh DIR        into DIR
#   add --path to print the binary's path without building anything
#
# Prints the binary's path on stdout (DIR/llama.cpp/build/bin/llama-server); messages go
# to stderr. llama-quantize is built beside it (benchmarks/glm_moe_gguf.py quantizes the
# GLM-shaped benchmark model with it); a build that has the server only gets it added. Idempotent: does nothing when the binary is already there for this version
# and flags. About 5-10 minutes on 2 cores. JOBS=n overrides the parallelism.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root="$here/.."
version=$(sed -n 's/.*"llama-cpp-python==\([0-9.]*\)".*/\1/p' "$root/pyproject.toml")
args=$("$root/scripts/llama-cmake-args.sh")
out="$here/build"
path_only=""
for arg in "$@"; do
  case "$arg" in
    --path) path_only=1 ;;
    --cache)
      key=$(printf '%s|%s|%s' "$version" "$args" "$(uname -m)" | sha256sum | cut -c1-16)
      out=${XDG_CACHE_HOME:-$HOME/.cache}/glmserve/llama-server-$key ;;
    -*) echo "usage: $0 [--cache | DIR] [--path]" >&2; exit 2 ;;
    *) out=$arg ;;
  esac
done
src="$out/llama.cpp"
bin="$src/build/bin/llama-server"
quantize="$src/build/bin/llama-quantize"
stamp="$out/llama-server.stamp"
want="llama-cpp-python==$version|$args"

if [ -n "$path_only" ]; then
  echo "$bin"
  exit 0
fi
if [ -x "$bin" ] && [ -x "$quantize" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "build_llama_server: up to date: $bin" >&2
  echo "$bin"
  exit 0
fi

mkdir -p "$out"
exec 9>"$out/build.lock"
flock 9  # a parallel build into the same place finishes first
if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  if [ ! -x "$quantize" ]; then  # an older build: add the quantize tool, keep the rest
    cmake --build "$src/build" --target llama-quantize -j "${JOBS:-$(nproc)}" >&2
  fi
  echo "$bin"
  exit 0
fi
start=$(date +%s)
sdist=$(compgen -G "$out/llama_cpp_python-$version.tar.gz" || true)
if [ -z "$sdist" ]; then
  echo "build_llama_server: downloading the llama-cpp-python $version sdist from PyPI" >&2
  python3 -m pip download --quiet --no-deps --no-binary llama-cpp-python -d "$out" \
    "llama-cpp-python==$version" >&2
  sdist="$out/llama_cpp_python-$version.tar.gz"
fi

rm -rf "$src" "$out/llama_cpp_python-$version"
tar -xzf "$sdist" -C "$out" "llama_cpp_python-$version/vendor/llama.cpp"
mv "$out/llama_cpp_python-$version/vendor/llama.cpp" "$src"
rm -rf "$out/llama_cpp_python-$version"

echo "build_llama_server: CMAKE_ARGS=$args" >&2
# shellcheck disable=SC2086  # $args is a list of -D flags
cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON $args >&2
cmake --build "$src/build" --target llama-server llama-quantize -j "${JOBS:-$(nproc)}" >&2
printf '%s\n' "$want" >"$stamp"
echo "build_llama_server: built $bin in $(($(date +%s) - start)) s" >&2
echo "$bin"
