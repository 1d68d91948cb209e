#!/usr/bin/env bash
# CI smoke test of the OGBench bridge (ctest ogbench_bridge_smoke): a tiny cube-single data set from the
# official oracles, its check against OGBench's loader and relabelling, 40 training steps of qgf_offline,
# and a short evaluation in the official environment through qgf_bridge. Skips (exit 77) when the Python
# requirements are not installed (bash examples/ogbench/install.sh).
# Usage: smoke.sh BRIDGE_DIR QGF_OFFLINE_BINARY [PYTHON_VERSION the module was built for, e.g. 3.11]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bridge_dir=$1 qgf=$2 built_for=${3:-}
py=${QGF_OGBENCH_PYTHON:-$here/.venv/bin/python}
if [[ ! -x "$py" ]] || ! MUJOCO_GL=disable "$py" -c 'import ogbench.manipspace, gymnasium' 2>/dev/null; then
  echo "SKIP: the OGBench requirements are not installed (bash examples/ogbench/install.sh, or set QGF_OGBENCH_PYTHON)"
  exit 77
fi
have=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [[ -n "$built_for" && "$have" != "$built_for" ]]; then
  echo "SKIP: qgf_bridge was built for Python $built_for, but $py is Python $have (make the venv from the same python3)"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$py" "$here/generate.py" --env cube-single --out "$work/data.npz" --episodes 2 --val-episodes 1 --steps 120 \
  --shard-episodes 1 -q
"$py" "$here/check_data.py" "$work/data.npz" --env cube-single --build-dir "$bridge_dir"
"$qgf" train --env cube-single --task 2 --data "$work/data.npz" --results "$work/run" --steps 40 --batch 32 \
  --hidden 32,32 --checkpoint-every 20 --log-every 10 --threads 1 -q
# Episodes of the plain binary are refused with a pointer to the bridge.
if "$qgf" evaluate --results "$work/run" -q 2>"$work/err.txt"; then
  echo "FAIL: qgf_offline evaluate ran an OGBench task without the bridge"; exit 1
fi
grep -q "examples/ogbench/evaluate.py" "$work/err.txt" || { cat "$work/err.txt"; echo "FAIL: no hint"; exit 1; }
"$py" "$here/evaluate.py" --build-dir "$bridge_dir" --results "$work/run" --methods BC,QGF,GradStep \
  --weights 0.1 --gradstep-alphas 0.01 --eval-episodes 2 --val-episodes 2 --no-plots -q
for f in results.md results.csv sweep.csv evals.jsonl; do
  [[ -s "$work/run/$f" ]] || { echo "FAIL: evaluate wrote no $f"; exit 1; }
done
grep -q "^QGF," "$work/run/results.csv" || { cat "$work/run/results.csv"; echo "FAIL: no QGF row"; exit 1; }
# The Agent API: chunks of the right shape, the same for the same seed.
"$py" - "$bridge_dir" "$work/run" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import qgf_bridge
agent = qgf_bridge.Agent(sys.argv[2])
obs = np.zeros((3, agent.obs_dim), np.float32)
a = agent.sample(obs, 'QGF', 0.1, seed=7)
b = agent.sample(obs, 'QGF', 0.1, seed=7)
assert a.shape == (3, agent.horizon, agent.action_dim), a.shape
assert np.array_equal(a, b) and np.isfinite(a).all()
try:
    agent.sample(np.zeros((3, agent.obs_dim + 1), np.float32), 'QGF', 0.1)
    raise SystemExit('FAIL: a wrong observation shape was accepted')
except ValueError as e:
    assert 'observations' in str(e), e
print('agent: sample', a.shape, 'ok')
PY
echo "ogbench bridge smoke test: OK"
