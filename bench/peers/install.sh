#!/usr/bin/env bash
# Creates bench/peers/.venv (git-ignored) with the pinned JAX / PyTorch peers: bash bench/peers/install.sh
# PyPI's Linux torch wheel pulls CUDA libraries (~3 GB) even for CPU use; where download.pytorch.org is
# reachable, PEERS_TORCH_CPU=1 takes the CPU-only wheel of the same version instead (~200 MB).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python3}"
"$python" -m venv "$here/.venv"
"$here/.venv/bin/pip" install --upgrade pip
if [[ "${PEERS_TORCH_CPU:-0}" == 1 ]]; then
  "$here/.venv/bin/pip" install "torch==$(sed -n 's/^torch==//p' "$here/requirements.txt")" \
    --index-url https://download.pytorch.org/whl/cpu
fi
"$here/.venv/bin/pip" install -r "$here/requirements.txt"
"$here/.venv/bin/python" -c 'import jax, torch, safetensors, numpy; print("peers: jax", jax.__version__, "torch", torch.__version__, "safetensors", safetensors.__version__, "numpy", numpy.__version__)'
