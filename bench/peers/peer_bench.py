"""The peers' side of the timing comparison (bench/peers/run_all.py drives it; bench/peer_bench.cpp is ours):
one process times one workload in one framework and prints one JSON line
    {"engine": "jax", "workload": ..., "median_ms": ..., "p10_ms": ..., "p90_ms": ..., "reps": N, ...}
exactly as peer_bench does: `warmup` calls first (jit / torch.compile compile there), then `reps` timed
repetitions of `inner` complete calls each (JAX: outputs blocked on; PyTorch on the CPU is synchronous), the
time per call recorded; nearest-rank percentiles.
    python peer_bench.py --framework jax|torch|torch-compile --workload NAME [--data DIR] [--reps 20]
                         [--warmup 3] [--inner 1] [--threads T]
Workloads: see bench_jax.py / bench_torch.py (the same names as bench/peer_bench.cpp). A workload a framework
has no form of (tiny_eager under torch.compile, tiny_jit in eager PyTorch) exits with status 3."""
import argparse
import json
import os
import sys
import time


def pct(s, q):
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def time_calls(call, warmup, reps, inner):
    for _ in range(warmup):
        call()
    t = []
    for _ in range(reps):
        t0 = time.perf_counter_ns()
        for _ in range(inner):
            call()
        t.append((time.perf_counter_ns() - t0) / 1e6 / inner)
    return sorted(t)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--framework", required=True, choices=("jax", "torch", "torch-compile"))
    ap.add_argument("--workload", required=True)
    ap.add_argument("--data", default="")
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--inner", type=int, default=1)
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    a = ap.parse_args()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    if a.framework == "jax":
        import bench_jax as m
        make = lambda: m.make(a.workload, a.data, a.threads)  # noqa: E731
    else:
        import bench_torch as m
        make = lambda: m.make(a.workload, a.data, a.threads, a.framework == "torch-compile")  # noqa: E731
    try:
        t_setup = time.perf_counter()
        call, extra = make()
    except KeyError as e:
        print(f"peer_bench.py: {e.args[0]}", file=sys.stderr)
        return 3
    t_first = time.perf_counter()
    call()  # the first call (compilation) is timed separately and counts as one of the warm-up calls
    first_ms = (time.perf_counter() - t_first) * 1e3
    t = time_calls(call, max(0, a.warmup - 1), a.reps, a.inner)
    out = {"engine": a.framework, "workload": a.workload, "device": "cpu", "median_ms": pct(t, 0.5),
           "p10_ms": pct(t, 0.1), "p90_ms": pct(t, 0.9), "min_ms": t[0], "reps": a.reps, "inner": a.inner,
           "warmup": a.warmup, "threads": a.threads, "first_call_ms": first_ms,
           "setup_s": t_first - t_setup, **extra, **m.versions()}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
