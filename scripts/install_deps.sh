#!/usr/bin/env bash
# Installs what the build needs on Debian bookworm (apt-get; run as root, or with sudo available).
# Idempotent and fast when everything is present: it asks dpkg which packages are missing and only then runs
# `apt-get update` and installs those. GCC's OpenMP runtime (libgomp) comes with g++ (build-essential);
# set QGF_EXTRA_PACKAGES (space separated) to add more, e.g. "clang libomp-dev" for the fuzz targets.
set -euo pipefail

PACKAGES=(
  build-essential   # g++ 12, make, libc headers; libgomp (OpenMP) comes with g++
  cmake             # >= 3.22
  ninja-build
  git
  pkg-config        # finds SLEEF (it ships a .pc file, no CMake config)
  libdnnl-dev       # oneDNN 2.6: matmul kernels
  ocl-icd-opencl-dev  # OpenCL headers + loader: oneDNN's CMake config requires them (a Recommends, so not pulled in)
  libfmt-dev        # string formatting
  libgtest-dev      # GoogleTest (tests)
  googletest
  libbenchmark-dev  # Google Benchmark (bench/)
  libsleef-dev      # vectorized transcendental functions (CPU kernels)
  libzip-dev        # reading OGBench .npz data sets (zip archives, stored or deflated)
  nlohmann-json3-dev  # safetensors checkpoint headers, run configs
  libcli11-dev      # command-line parsing of examples/qgf_offline (header-only)
  gnuplot-nox       # qgf_offline's plots (PNG via cairo, SVG); optional at run time: without it the scripts stay
  libmujoco-dev     # MuJoCo 2.2 C library: the built-in point-maze environment and its data generator (rl/envs)
  clang-format      # scripts/check_format.sh
  python3-dev       # Python headers: examples/ogbench's qgf_bridge module (skipped by the build without them)
  pybind11-dev      # C++ <-> Python bindings of qgf_bridge (header-only)
  python3-venv      # examples/ogbench/install.sh and bench/peers/install.sh create virtual environments
)
# shellcheck disable=SC2206
PACKAGES+=(${QGF_EXTRA_PACKAGES:-})

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "install_deps: no dpkg here (not Debian/Ubuntu); install these yourself: ${PACKAGES[*]}" >&2
  exit 0
fi

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "install_deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    echo "install_deps: missing ${missing[*]}, and not root (no sudo): run as root" >&2
    exit 1
  fi
fi

echo "install_deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-y -q --no-install-recommends -o Dpkg::Use-Pty=0 -o Dpkg::Options::=--force-confdef
          -o Dpkg::Options::=--force-confold)
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install "${APT_OPTS[@]}" "${missing[@]}"
echo "install_deps: done"
