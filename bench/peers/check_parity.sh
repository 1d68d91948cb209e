#!/usr/bin/env bash
# Numerical parity of our engine with the JAX and PyTorch peers on the same weights and inputs: builds
# bench/peer_export (build-peers/, Release, CPU only, low priority), exports a small config (2x64, batch 8;
# jitted and eager) and a paper-like one (4x512, batch 256), runs qgf_jax.py and qgf_torch.py on each, prints
# the tables of max errors and exits non-zero on any mismatch.
#   bash bench/peers/check_parity.sh            (after bash bench/peers/install.sh)
# Environment: PEERS_PYTHON (default bench/peers/.venv/bin/python), PEERS_OUT (default /tmp/qgf-peers),
# PEERS_BUILD (default build-peers), PEERS_JOBS (default 1), PEERS_SKIP_TORCH=1, PEERS_SKIP_PAPER=1,
# PEERS_LARGE=1 (adds 4x1024 / batch 1024 / sampler batch 1024: ~0.8 GB of files, minutes of CPU),
# PEERS_COMPILE=1 (adds qgf_torch.py --compile: torch.compile of the losses and the sampler).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
py="${PEERS_PYTHON:-$here/.venv/bin/python}"
out="${PEERS_OUT:-/tmp/qgf-peers}"
build="${PEERS_BUILD:-$root/build-peers}"
[[ -x "$py" ]] || { echo "no Python at $py: run bash bench/peers/install.sh (or set PEERS_PYTHON)" >&2; exit 2; }

if [[ ! -f "$build/build.ninja" ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DQGF_CUDA=OFF -DQGF_BUILD_TESTS=OFF
fi
nice -n 15 ninja -C "$build" -j"${PEERS_JOBS:-1}" peer_export

configs=("small-jit|--hidden 64,64 --batch 8 --sample-batch 8"
         "small-eager|--hidden 64,64 --batch 8 --sample-batch 8 --eager")
[[ "${PEERS_SKIP_PAPER:-0}" == 1 ]] || configs+=("paper-4x512-b256|--hidden 512,512,512,512 --batch 256 --sample-batch 256")
[[ "${PEERS_LARGE:-0}" != 1 ]] || configs+=("paper-4x1024-b1024|--hidden 1024,1024,1024,1024 --batch 1024 --sample-batch 1024")

status=0
for c in "${configs[@]}"; do
  name="${c%%|*}"
  args="${c#*|}"
  dir="$out/$name"
  echo "== $name: peer_export $args"
  # shellcheck disable=SC2086
  "$build/bench/peer_export" $args --obs-dim 40 --action-dim 5 --horizon 5 --seed 0 --out "$dir" >/dev/null
  (cd "$here" && "$py" qgf_jax.py "$dir") || status=1
  if [[ "${PEERS_SKIP_TORCH:-0}" != 1 ]]; then
    (cd "$here" && "$py" qgf_torch.py "$dir") || status=1
    if [[ "${PEERS_COMPILE:-0}" == 1 ]]; then (cd "$here" && "$py" qgf_torch.py "$dir" --compile) || status=1; fi
  fi
done
if [[ $status == 0 ]]; then echo "parity: all quantities within tolerance"; else echo "parity: MISMATCH" >&2; fi
exit $status
