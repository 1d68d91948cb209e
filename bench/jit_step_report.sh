#!/usr/bin/env bash
# Builds Release, runs bench_jit (5 repetitions, medians) and prints a markdown table of the canonical training
# step: eager, jit and the raw-oneDNN matmul floor in ms, with jit/floor and eager/jit, plus the tiny-call
# overhead. Usage: bench/jit_step_report.sh [extra benchmark flags, e.g. --benchmark_filter=TrainStep.*/256/]
# BUILD_DIR overrides the build directory (default: build/).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C "$build" -j2 bench_jit >/dev/null

json=$(mktemp)
trap 'rm -f "$json"' EXIT
"$build/bench/bench_jit" --benchmark_format=json --benchmark_repetitions=5 \
  --benchmark_report_aggregates_only=true "$@" >"$json"

python3 - "$json" <<'EOF'
import json, sys

to_ms = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}
times = {}  # (kind, config) -> median real time in ms
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    if b.get("aggregate_name") != "median":
        continue
    parts = b["run_name"].removesuffix("/real_time").split("/")
    times[(parts[0].removeprefix("BM_"), "/".join(parts[1:]))] = b["real_time"] * to_ms[b["time_unit"]]

def fmt(x, unit=""):
    return "-" if x is None else f"{x:.3g}{unit}"

def ratio(a, b):
    return None if a is None or b is None else a / b

configs = sorted({c for (k, c) in times if k.startswith("TrainStep")}, key=lambda c: [int(v) for v in c.split("/")])
print("| config (hidden/batch) | eager ms | jit ms | jit donated ms | jit remat ms | floor ms | jit/floor | donated/floor | eager/jit |")
print("|---|---|---|---|---|---|---|---|---|")
kinds = ("TrainStepEager", "TrainStepJit", "TrainStepJitDonated", "TrainStepJitRemat", "TrainStepMatmulFloor")
for c in configs:
    e, j, d, r, f = (times.get((k, c)) for k in kinds)
    print(f"| {c} | {fmt(e)} | {fmt(j)} | {fmt(d)} | {fmt(r)} | {fmt(f)} | {fmt(ratio(j, f), 'x')} | "
          f"{fmt(ratio(d, f), 'x')} | {fmt(ratio(e, j), 'x')} |")

print("\n| config | floor ms | Adam update ms | forward GELUs ms | (Adam + GELUs) / floor |")
print("|---|---|---|---|---|")
for c in configs:
    f, a, g = (times.get((k, c)) for k in ("TrainStepMatmulFloor", "AdamUpdateJit", "HiddenGelusJit"))
    print(f"| {c} | {fmt(f)} | {fmt(a)} | {fmt(g)} | {fmt(ratio(None if a is None or g is None else a + g, f), 'x')} |")

eager, jit = times.get(("EagerTiny", "")), times.get(("JitCallOverheadTiny", ""))
if eager is not None or jit is not None:
    us = lambda x: None if x is None else x * 1e3
    print(f"\nx * 2 + 1 on f32[4]: eager {fmt(us(eager), ' us')}, jit call (cache hit) {fmt(us(jit), ' us')}")
EOF
