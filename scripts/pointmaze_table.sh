#!/usr/bin/env bash
# Runs qgf_offline over pointmaze-{medium,large} x tasks 1..5 x seeds 0..2 (the tables of docs/results.md) and
# writes the summary table (`qgf_offline summarize`). Resumable: a run whose results.csv exists is skipped; a half-trained one resumes
# from its newest checkpoint. The data set depends on the maze and the seed only (a task relabels it when it is
# loaded), so each (maze, seed) data set is generated once and shared by its five tasks.
#
# Usage: bash scripts/pointmaze_table.sh [OUT_DIR]
# Environment: JOBS (parallel runs, default: the core count; each run uses one thread), QGF_BIN (default
# build/examples/qgf_offline), ENVS, TASKS, SEEDS (space-separated lists), QGF_FLAGS (the budget and any other
# qgf_offline flags; default below, the budget of the tables in docs/results.md).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export out=${1:-runs/pointmaze-table}
export bin=${QGF_BIN:-build/examples/qgf_offline}
# The budget of the tables in docs/results.md (about 6 minutes per run on one core). w = 0 is left out of
# the sweeps: QGF, QGF-Jacobian and QFQL at w = 0 are BC, and QGF+BoN at w = 0 is BoN, both in the table.
export QGF_FLAGS=${QGF_FLAGS:-"--steps 15000 --eval-every 0 --weights 1,3,10 --gradstep-alphas 0.1,0.3"}
jobs=${JOBS:-$(nproc)}
envs=${ENVS:-"pointmaze-medium pointmaze-large"}
tasks=${TASKS:-"1 2 3 4 5"}
seeds=${SEEDS:-"0 1 2"}
[[ -x "$bin" ]] || { echo "pointmaze_table: $bin not found; build it first (cmake --build build --target qgf_offline)" >&2; exit 1; }
mkdir -p "$out/data"
export OMP_WAIT_POLICY=PASSIVE  # several processes share the cores: spinning OpenMP threads would starve them

generate_one() {  # env seed
  local data="$out/data/$1-seed$2.npz"
  [[ -f "$data" ]] && return 0
  "$bin" generate --env "$1" --seed "$2" -q --results "$out/data/gen-$1-seed$2" --data "$data"
}
run_one() {  # env task seed
  local dir="$out/$1-task$2-seed$3"
  [[ -f "$dir/results.csv" ]] && { echo "skip $dir (done)"; return 0; }
  echo "run  $dir ($(date +%H:%M:%S))"
  # shellcheck disable=SC2086  # QGF_FLAGS is a list of flags
  if "$bin" all --env "$1" --task "$2" --seed "$3" --threads 1 -q --results "$dir" \
       --data "$out/data/$1-seed$3.npz" $QGF_FLAGS >"$out/$1-task$2-seed$3.log" 2>&1; then
    mv "$out/$1-task$2-seed$3.log" "$dir/stdout.log"
    echo "done $dir ($(date +%H:%M:%S))"
  else
    echo "FAILED $dir (log: $out/$1-task$2-seed$3.log)" >&2
  fi
}
export -f generate_one run_one

for e in $envs; do for s in $seeds; do echo "$e $s"; done; done | xargs -P "$jobs" -L 1 bash -c 'generate_one "$0" "$1"'
# One maze at a time (its table is complete before the next starts), seeds outermost within it.
for e in $envs; do for s in $seeds; do for t in $tasks; do echo "$e $t $s"; done; done; done |
  xargs -P "$jobs" -L 1 bash -c 'run_one "$0" "$1" "$2"'

"$bin" summarize --results "$out" --output "$out/summary.md"
