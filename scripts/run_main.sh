#!/usr/bin/env bash
# Installs the dependencies, builds the main program (Release, in build/) and runs it. Arguments are passed
# to the program. Environment: QGF_BUILD_DIR overrides the build directory; QGF_JOBS the build parallelism.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The main job: a target of examples/CMakeLists.txt (built to <build>/examples/<target>).
MAIN_TARGET=qgf_offline  # the end-to-end QGF job (examples/qgf_offline); default: pointmaze-medium, task 1

build_dir=${QGF_BUILD_DIR:-build}
jobs=${QGF_JOBS:-$(nproc)}

bash scripts/install_deps.sh
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build_dir" -j "$jobs" --target "$MAIN_TARGET"
echo "==== running $build_dir/examples/$MAIN_TARGET $*"
exec "$build_dir/examples/$MAIN_TARGET" "$@"
