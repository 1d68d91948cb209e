#!/usr/bin/env bash
# The one command of the peer benchmarks (issue 8): our engine, JAX (jit) and PyTorch (eager, torch.compile)
# on the same workloads, shapes, weights and inputs, interleaved, into docs/benchmarks.md. See run_all.py.
#   bash bench/peers/run_all.sh                      # the full table (after bash bench/peers/install.sh)
#   bash bench/peers/run_all.sh --quick --rounds 1 --reps 3 --no-write    # a test of the harness
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
py="${PEERS_PYTHON:-$here/.venv/bin/python}"
[[ -x "$py" ]] || { echo "no Python at $py: run bash bench/peers/install.sh (or set PEERS_PYTHON)" >&2; exit 2; }
exec "$py" "$here/run_all.py" "$@"
