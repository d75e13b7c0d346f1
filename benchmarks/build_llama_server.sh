#!/usr/bin/env bash
# Builds llama.cpp's llama-server from exactly the llama.cpp that llama-cpp-python vendors
# (the version pinned in pyproject.toml), with the compile flags glmserve's own build uses
# (scripts/llama-cmake-args.sh), so both sides of the benchmark run the same kernels.
#
# Output: benchmarks/build/llama.cpp/build/bin/llama-server (gitignored; never commit it).
# Idempotent: does nothing when the binary is already there for this version and flags.
# About 5-10 minutes on 2 cores. JOBS=n overrides the parallelism.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root="$here/.."
version=$(sed -n 's/.*"llama-cpp-python==\([0-9.]*\)".*/\1/p' "$root/pyproject.toml")
args=$("$root/scripts/llama-cmake-args.sh")
out="$here/build"
src="$out/llama.cpp"
bin="$src/build/bin/llama-server"
stamp="$out/llama-server.stamp"
want="llama-cpp-python==$version|$args"

if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "build_llama_server: up to date: $bin"
  exit 0
fi

mkdir -p "$out"
sdist=$(compgen -G "$out/llama_cpp_python-$version.tar.gz" || true)
if [ -z "$sdist" ]; then
  echo "build_llama_server: downloading the llama-cpp-python $version sdist from PyPI"
  python3 -m pip download --quiet --no-deps --no-binary :all: -d "$out" \
    "llama-cpp-python==$version"
  sdist="$out/llama_cpp_python-$version.tar.gz"
fi

rm -rf "$src" "$out/llama_cpp_python-$version"
tar -xzf "$sdist" -C "$out" "llama_cpp_python-$version/vendor/llama.cpp"
mv "$out/llama_cpp_python-$version/vendor/llama.cpp" "$src"
rm -rf "$out/llama_cpp_python-$version"

echo "build_llama_server: CMAKE_ARGS=$args"
# shellcheck disable=SC2086  # $args is a list of -D flags
cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON $args
cmake --build "$src/build" --target llama-server -j "${JOBS:-$(nproc)}"
printf '%s\n' "$want" >"$stamp"
echo "build_llama_server: built $bin"
