#!/usr/bin/env bash
# Builds the project from scratch-or-incrementally and runs the test suite, as CI does.
#   bash scripts/run_tests.sh           Release build in build-ci/ (warnings are errors), then ctest
#   bash scripts/run_tests.sh --asan    RelWithDebInfo + AddressSanitizer/UBSan build in build-asan/, same tests
# Tests labelled `slow` or `bench` are opt-in: run them with `ctest --test-dir build-ci -L slow`.
# Environment: QGF_BUILD_DIR overrides the build directory; QGF_JOBS the build parallelism (default nproc).
# Exits non-zero if the configure, the build or any test fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

mode=release
for arg in "$@"; do
  case "$arg" in
    --asan) mode=asan ;;
    -h | --help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run_tests: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

bash scripts/install_deps.sh

if [[ $mode == asan ]]; then
  build_dir=${QGF_BUILD_DIR:-build-asan}
  # The CUDA backend is left out: the sanitizers do not see device code, its tests need a GPU to run, and
  # the Release build below already compiles it with warnings as errors.
  config=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DQGF_SANITIZE=ON -DQGF_CUDA=OFF)
  # Leak checking stays on; stop at the first UB report, with a stack trace.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
else
  build_dir=${QGF_BUILD_DIR:-build-ci}
  config=(-DCMAKE_BUILD_TYPE=Release)
fi
jobs=${QGF_JOBS:-$(nproc)}

section() { printf '\n==== %s (%s)\n' "$1" "$(date +%H:%M:%S)"; }

section "configure $build_dir"
cmake -S . -B "$build_dir" -G Ninja -DQGF_WERROR=ON "${config[@]}"

# Keep going past a failed target, so one broken file does not hide the state of the rest; ctest then
# reports the tests that could not be built (as *_NOT_BUILT) alongside the others.
section "build ($jobs jobs)"
build_ok=1
cmake --build "$build_dir" -j "$jobs" -- -k 0 || build_ok=0

section "test"
tests_ok=1
ctest --test-dir "$build_dir" --output-on-failure -j2 -LE "slow|bench" --no-tests=error || tests_ok=0

section "summary"
echo "build: $([[ $build_ok == 1 ]] && echo ok || echo FAILED)"
echo "tests: $([[ $tests_ok == 1 ]] && echo ok || echo FAILED)"
[[ $build_ok == 1 && $tests_ok == 1 ]]
