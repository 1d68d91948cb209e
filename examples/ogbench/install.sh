#!/usr/bin/env bash
# Creates examples/ogbench/.venv (git-ignored) with OGBench's environments and oracles, pinned:
#   bash examples/ogbench/install.sh
# The venv uses the same python3 as CMake's default, so the qgf_bridge module the build makes (for that
# Python's version) imports in it; set PYTHON to use another interpreter, and build with
# -DPython_EXECUTABLE=<the same one>.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python3}"
if ! "$python" -c 'import venv, ensurepip' 2>/dev/null; then
  echo "install: $python cannot create virtual environments; on Debian: apt-get install python3-venv" >&2
  exit 1
fi
"$python" -m venv "$here/.venv"
"$here/.venv/bin/pip" install --quiet --upgrade pip
"$here/.venv/bin/pip" install --quiet -r "$here/requirements.txt"
MUJOCO_GL=disable "$here/.venv/bin/python" -c 'import ogbench, mujoco, gymnasium; import ogbench.manipspace; print("ogbench", ogbench.__version__ if hasattr(ogbench, "__version__") else "", "mujoco", mujoco.__version__, "gymnasium", gymnasium.__version__)'
