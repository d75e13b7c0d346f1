#!/usr/bin/env bash
# Installs the Claude Code that tests/e2e/test_claude_code.py drives, pinned by
# tests/e2e/claude_code/package-lock.json (version and integrity), into a cache
# directory kept between runs; prints the path of its `claude` executable.
#
# The first run downloads it from the npm registry (about 80 MB, seconds to a minute);
# later runs only check that it starts. GLMSERVE_NPM_CACHE moves the cache.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
spec="$here/../tests/e2e/claude_code"
version=$(sed -n 's/.*"@anthropic-ai\/claude-code": "\([0-9.]*\)".*/\1/p' "$spec/package.json")
dir=${GLMSERVE_NPM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/glmserve/npm}/claude-code-$version
bin="$dir/node_modules/.bin/claude"
# Whatever runs here stays off the network beyond the registry.
export DISABLE_AUTOUPDATER=1 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_TELEMETRY=1

if ! "$bin" --version >/dev/null 2>&1; then
  command -v npm >/dev/null || { echo "install-claude-code: npm (Node.js 18+) is needed" >&2; exit 1; }
  echo "install-claude-code: installing @anthropic-ai/claude-code $version into $dir" >&2
  tmp="$dir.tmp.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  cp "$spec/package.json" "$spec/package-lock.json" "$tmp/"
  (cd "$tmp" && npm ci --no-audit --no-fund --loglevel=error) >&2
  # The package's postinstall puts the native binary in place of a stub; an npm that
  # holds install scripts back leaves the stub, so run it here.
  if ! "$tmp/node_modules/.bin/claude" --version >/dev/null 2>&1; then
    (cd "$tmp/node_modules/@anthropic-ai/claude-code" && node install.cjs) >&2
  fi
  rm -rf "$dir" && mv "$tmp" "$dir"
  "$bin" --version >/dev/null
fi
echo "$bin"
