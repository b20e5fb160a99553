#!/usr/bin/env bash
# Set up everything HyperINR Explorer needs (once), then run it.
#   ./run.sh explorer [MODEL] [--screenshot OUT.png ...]   open the explorer (on the bundled demo by default)
#   ./run.sh test [PYTEST ARGS]                            run the test suite
#   ./run.sh setup                                         only set up
# Environment: HYPERINR_VENV (default .venv), HYPERINR_TORCH (default torch==2.13.0, the CPU build;
# set e.g. HYPERINR_TORCH=torch to get a CUDA build).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

VENV=${HYPERINR_VENV:-.venv}
TORCH_SPEC=${HYPERINR_TORCH:-torch==2.13.0}
PY=${PYTHON:-python3}

# Qt + OpenGL under Xvfb with Mesa's software rasteriser (llvmpipe), and what PySide6 needs to load xcb.
DEB_PACKAGES=(xvfb xauth libgl1 libgl1-mesa-dri libglx-mesa0 libegl1 libxkbcommon-x11-0 libxcb-cursor0
  libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-render-util0
  libxcb-image0 libfontconfig1 libdbus-1-3 fonts-dejavu-core)

log() { printf '\033[1m[run.sh]\033[0m %s\n' "$*" >&2; }

ensure_system_packages() {
  command -v dpkg-query >/dev/null 2>&1 || return 0   # not Debian/Ubuntu: the README lists what to install
  local missing=()
  for p in "${DEB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      log "missing system packages (install them, then re-run): ${missing[*]}"; return 0; fi
  fi
  log "installing system packages: ${missing[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

ensure_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating virtual environment $VENV"
    "$PY" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
  fi
  if ! "$VENV/bin/python" -c "import torch" >/dev/null 2>&1; then
    log "installing $TORCH_SPEC"
    "$VENV/bin/python" -m pip install -q "$TORCH_SPEC"
  fi
  # Reinstall when the metadata or the set of packages changed (an editable install maps packages by name).
  local stamp="$VENV/.hyperinr-installed" want
  want=$(cat setup.cfg pyproject.toml; find . -path ./"$VENV" -prune -o -name __init__.py -print | sort)
  want=$(printf '%s' "$want" | cksum)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    log "installing hyperinr-explorer, its test tools and the optional file formats"
    "$VENV/bin/python" -m pip install -q -e ".[test,napari,formats]"
    printf '%s' "$want" > "$stamp"
  fi
}

ensure_test_tools() {
  # Triton, for the kernels' tests under its interpreter, lives apart from the explorer's environment: its
  # bundled LLVM crashes a process that has already loaded Mesa's llvmpipe (OpenGL without a GPU).
  # tests/core/test_triton_interpreted.py runs the kernel tests with it on the path. (CUDA builds of torch
  # bring their own triton.) Only the tests need it: ./run.sh explorer does not download it.
  if ! "$VENV/bin/python" -c "import triton" >/dev/null 2>&1 && [ ! -d "$VENV/triton-site/triton" ]; then
    log "installing triton into $VENV/triton-site (the kernels' interpreted tests)"
    "$VENV/bin/python" -m pip install -q --target "$VENV/triton-site" "triton>=3.2" \
      || log "triton could not be installed: the kernels' interpreted tests will skip and say so"
  fi
}

with_display() {
  if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then "$@"; else
    xvfb-run -a -s "-screen 0 1600x1200x24 +extension GLX +render" "$@"; fi
}

cmd=${1:-explorer}; shift || true
case "$cmd" in
  setup) ensure_system_packages; ensure_venv; ensure_test_tools ;;
  explorer) ensure_system_packages; ensure_venv; with_display "$VENV/bin/hyperinr-explorer" "$@" ;;
  test) ensure_system_packages; ensure_venv; ensure_test_tools; with_display "$VENV/bin/python" -m pytest "$@" ;;
  *) echo "usage: $0 explorer [ARGS] | test [PYTEST ARGS] | setup" >&2; exit 2 ;;
esac
