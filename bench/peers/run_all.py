"""The peer benchmarks, end to end (issue 8): builds bench/peer_bench and bench/peer_export (build-peers/,
Release, CPU only), exports the weights and inputs once per configuration (safetensors: every engine reads
the same files), then runs R rounds; in each round every workload runs once per engine, each engine as its
own process, in an order rotated by one every round (A B C D, B C D A, ...) so that drift in the machine's
state spreads evenly. An engine's number is the median over the rounds of its per-process medians. Writes
the table into docs/benchmarks.md between <!-- peers-table:begin --> and <!-- peers-table:end -->
(peers_table.py), and every run's JSON into OUT/results.jsonl.
    bash bench/peers/run_all.sh [--rounds 5] [--reps N] [--threads T] [--workloads a,b] [--quick]
                                [--no-write] [--out DIR] [--cuda-build DIR] [--no-cuda] [--timeout S]
--quick: tiny shapes and few repetitions, to test the harness (never writes the document). --reps overrides
every workload's repetition count. --workloads keeps the workloads whose id contains one of the strings (a
subset: the document is not written).
Threads: every engine gets T threads (default: the CPUs this process may use): OMP_NUM_THREADS and
MKL_NUM_THREADS in the environment, --threads to ours (omp_set_num_threads) and to PyTorch
(torch.set_num_threads); XLA sizes its pool from the CPUs it may run on, so when T is below that count every
child is pinned to the first T of them (sched_setaffinity). With a GPU (nvidia-smi) our engine also runs
with --device cuda, without and with CUDA graphs, from a CUDA build (--cuda-build, configured if missing)."""
import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import time

import peers_table

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
ENGINES = ("qgf", "jax", "torch", "torch-compile")

# Data configurations: (kind, full-size arguments, --quick arguments). qgf: peer_export's --hidden, --batch
# (training batch, also the warm-up steps' batch, so configs sharing hidden and batch share their weights)
# and --sample-batch; mlp: peer_bench --export-mlp's --hidden and --batch.
DATA = {
    "mlp-256-b256": ("mlp", (256, 256), (32, 16)),
    "mlp-512-b1024": ("mlp", (512, 1024), (32, 32)),
    "mlp-256-b64": ("mlp", (256, 64), (32, 8)),
    "qgf-3x256-s1": ("qgf", ("256,256,256", 256, 1), ("32,32", 8, 1)),
    "qgf-4x512-b256-s1": ("qgf", ("512,512,512,512", 256, 1), ("64,64", 8, 1)),
    "qgf-4x512-b256-s1024": ("qgf", ("512,512,512,512", 256, 1024), ("64,64", 8, 16)),
    "qgf-4x1024-b1024-s1": ("qgf", ("1024,1024,1024,1024", 1024, 1), ("64,64,64", 16, 1)),
}
ALL = ENGINES
# (workload, data, reps, warmup, inner, engines). The table keeps this order.
WORKLOADS = [
    ("tiny_eager", None, 30, 3, 500, ("qgf", "jax", "torch")),
    ("tiny_jit", None, 30, 3, 500, ("qgf", "jax", "torch-compile")),
    ("mlp_step", "mlp-256-b256", 50, 3, 1, ALL),
    ("mlp_step", "mlp-512-b1024", 20, 3, 1, ALL),
    ("per_example_grads", "mlp-256-b64", 50, 3, 1, ALL),
    ("qgf_step", "qgf-4x512-b256-s1", 30, 3, 1, ALL),
    ("qgf_step", "qgf-4x1024-b1024-s1", 8, 2, 1, ALL),
    ("qgf_sample", "qgf-3x256-s1", 200, 5, 1, ALL),
    ("stream_floor", "qgf-3x256-s1", 200, 5, 1, ("qgf",)),
    ("qgf_sample", "qgf-4x512-b256-s1", 200, 5, 1, ALL),
    ("stream_floor", "qgf-4x512-b256-s1", 200, 5, 1, ("qgf",)),
    ("qgf_sample", "qgf-4x512-b256-s1024", 8, 2, 1, ALL),
]
CUDA_WORKLOADS = ("tiny_eager", "tiny_jit", "mlp_step", "per_example_grads", "qgf_step", "qgf_sample")


def workload_id(wl):  # "qgf_step@qgf-4x512-b256-s1", "tiny_eager"
    return f"{wl[0]}@{wl[1]}" if wl[1] else wl[0]


def log(msg):
    print(f"[run_all {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sh(cmd, **kw):
    log("$ " + " ".join(shlex.quote(c) for c in cmd))
    subprocess.run(cmd, check=True, **kw)


def build(build_dir, cuda):
    if not os.path.exists(os.path.join(build_dir, "build.ninja")):
        sh(["cmake", "-S", ROOT, "-B", build_dir, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
            f"-DQGF_CUDA={'ON' if cuda else 'OFF'}", "-DQGF_BUILD_TESTS=OFF"])
    sh(["nice", "-n", "15", "ninja", "-C", build_dir, f"-j{os.environ.get('PEERS_JOBS', '1')}", "peer_bench",
        "peer_export"], stdout=sys.stderr)


def export(binaries, name, quick, out):
    """Writes DATA[name]'s files into out/data/name unless a stamp says they are there with these arguments."""
    kind, full, small = DATA[name]
    a = small if quick else full
    d = os.path.join(out, "data", name)
    if kind == "mlp":
        cmd = [binaries["peer_bench"], "--export-mlp", d, "--hidden", str(a[0]), "--batch", str(a[1])]
    else:
        cmd = [binaries["peer_export"], "--hidden", a[0], "--batch", str(a[1]), "--sample-batch", str(a[2]),
               "--obs-dim", "40", "--action-dim", "5", "--horizon", "5", "--seed", "0", "--out", d]
    stamp = os.path.join(d, "stamp.json")
    if os.path.exists(stamp) and json.load(open(stamp)) == cmd:
        return d
    sh(cmd, stdout=subprocess.DEVNULL)
    json.dump(cmd, open(stamp, "w"))
    return d


def child_env(threads, cuda_graphs=False):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS=str(threads), PYTHONUNBUFFERED="1")
    env.pop("QGF_CUDA_GRAPHS", None)
    if cuda_graphs:
        env["QGF_CUDA_GRAPHS"] = "1"
    return env


def run_one(args, binaries, engine, wl, data_dir, threads, cpus):
    name, _, reps, warmup, inner, _ = wl
    reps = args.reps or reps
    if args.quick:
        warmup, inner = min(warmup, 2), min(inner, 20)
    common = ["--workload", name, "--reps", str(reps), "--warmup", str(warmup), "--inner", str(inner),
              "--threads", str(threads)] + (["--data", data_dir] if data_dir else [])
    if engine.startswith("qgf"):
        cuda = engine != "qgf"
        cmd = [binaries["peer_bench_cuda" if cuda else "peer_bench"]] + common + \
            (["--device", "cuda"] if cuda else [])
    else:
        cmd = [args.python, os.path.join(HERE, "peer_bench.py"), "--framework", engine] + common
    pin = (lambda: os.sched_setaffinity(0, cpus)) if threads < len(os.sched_getaffinity(0)) else None
    t0 = time.time()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, cwd=HERE,
                           env=child_env(threads, engine == "qgf-cuda-graphs"), preexec_fn=pin)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {args.timeout} s"}
    wall = time.time() - t0
    if p.returncode == 3:
        return None  # the framework has no form of this workload
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not lines:
        tail = (p.stderr.strip().splitlines() or ["(no output)"])[-1]
        log(f"FAILED ({p.returncode}): {' '.join(cmd)}\n{p.stderr[-2000:]}")
        return {"error": f"exit {p.returncode}: {tail}"}
    r = json.loads(lines[-1])
    r["wall_s"] = wall
    if r.get("jit_compiles", 1) > 1:
        log(f"WARNING: {engine} {name} compiled {r['jit_compiles']} times (a recompilation inside the loop)")
    return r


def describe_machine(threads):
    model, info = platform.processor(), {}
    try:
        for ln in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            k, _, v = ln.partition(":")
            info[k.strip()] = v.strip()
        model = info.get("Model name", model)
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    virt = f", {info['Hypervisor vendor']} guest" if "Hypervisor vendor" in info else ""
    g = lambda k: info.get(k, "?")  # noqa: E731
    return (f"`lscpu`: \"{model}\"{virt}, {g('CPU(s)')} CPUs (cores per socket: {g('Core(s) per socket')}, "
            f"threads per core: {g('Thread(s) per core')}), L2 {g('L2 cache')}, L3 {g('L3 cache')}, {mem:.0f} GiB "
            f"RAM; {platform.system()} {platform.release()}. Every engine ran with {threads} threads. Load "
            f"average (1 min) at the start: {os.getloadavg()[0]:.2f}")


def software(runs, build_dir):
    v = {}
    for r in runs:
        v.update({k: r[k] for k in ("jax", "jaxlib", "torch") if k in r})
    try:
        cxx = subprocess.run(["c++", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
        commit = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True,
                                text=True).stdout.strip()
    except (OSError, IndexError):
        cxx, commit = "?", "?"
    return (f"ours at `{commit}`, Release build `{os.path.relpath(build_dir, ROOT)}` ({cxx}); jax "
            f"{v.get('jax', '?')} / jaxlib {v.get('jaxlib', '?')}, torch {v.get('torch', '?')} "
            f"(bench/peers/requirements.txt); Python {platform.python_version()} (driver)")


def gpu_present():
    try:
        return subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True).stdout.strip() != ""
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=0, help="override every workload's repetitions")
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--workloads", default="", help="comma-separated substrings of workload ids")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--out", default="/tmp/qgf-peers-bench")
    ap.add_argument("--build", default=os.path.join(ROOT, "build-peers"))
    ap.add_argument("--cuda-build", default=os.path.join(ROOT, "build-peers-cuda"))
    ap.add_argument("--no-cuda", action="store_true")
    ap.add_argument("--python", default=sys.executable, help="the peers' Python (default: this one)")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per process")
    ap.add_argument("--doc", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    args = ap.parse_args()
    out = os.path.join(args.out, "quick" if args.quick else "full")
    os.makedirs(out, exist_ok=True)
    cpus = sorted(os.sched_getaffinity(0))[:args.threads]
    machine = describe_machine(args.threads)
    if os.getloadavg()[0] > 0.5:
        log(f"WARNING: load average {os.getloadavg()[0]:.2f}: other processes compete for the cores, and "
            "multi-threaded timings (OpenMP barriers above all) are then not meaningful")

    build(args.build, cuda=False)
    binaries = {k: os.path.join(args.build, "bench", k) for k in ("peer_bench", "peer_export")}
    cuda_note, cuda_engines = "Skipped: no GPU on this machine (`nvidia-smi -L` lists none).", ()
    if args.no_cuda:
        cuda_note = "Skipped (--no-cuda)."
    elif gpu_present():
        try:
            build(args.cuda_build, cuda=True)
            binaries["peer_bench_cuda"] = os.path.join(args.cuda_build, "bench", "peer_bench")
            cuda_engines = ("qgf-cuda", "qgf-cuda-graphs")
        except subprocess.CalledProcessError as e:
            cuda_note = f"Skipped: a GPU is present but building `{args.cuda_build}` failed ({e})."
            log(cuda_note)

    keep = [s for s in args.workloads.split(",") if s]
    work = [w for w in WORKLOADS if not keep or any(s in workload_id(w) for s in keep)]
    dirs = {d: export(binaries, d, args.quick, out) for d in sorted({w[1] for w in work if w[1]})}

    results = os.path.join(out, "results.jsonl")
    meta = {"command": "bash bench/peers/run_all.sh " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
            "date": datetime.date.today().isoformat(), "machine": machine, "quick": args.quick,
            "cuda_note": cuda_note}
    runs, t_start = [], time.time()
    with open(results, "w") as f:
        f.write(json.dumps({"meta": meta}) + "\n")
        for rnd in range(args.rounds):
            for wl in work:
                wid = workload_id(wl)
                engines = list(wl[5]) + [e for e in cuda_engines if wl[0] in CUDA_WORKLOADS]
                k = rnd % len(engines)
                for e in engines[k:] + engines[:k]:
                    r = run_one(args, binaries, e, wl, dirs.get(wl[1]), args.threads, cpus)
                    if r is None:
                        continue
                    r.update(id=wid, engine=e, round=rnd)
                    runs.append(r)
                    f.write(json.dumps(r) + "\n")
                    f.flush()
                    log(f"round {rnd + 1}/{args.rounds} {wid} {e}: " + (
                        r["error"] if "error" in r else
                        f"median {peers_table.fmt_time(r['median_ms'])} (first call "
                        f"{peers_table.fmt_time(r.get('first_call_ms'))}, process {r['wall_s']:.1f} s)"))
    meta["machine"] += f", at the end: {os.getloadavg()[0]:.2f}; the run took {(time.time() - t_start) / 60:.0f} min."
    meta["software"] = software(runs, args.build)
    meta["method"] = (f"Rounds: {args.rounds}; in each, every workload ran once per engine, each engine a fresh "
                      "process, in an order rotated every round. A process makes warm-up calls (compilation "
                      "included), then times repetitions of complete calls (JAX outputs blocked on); its number "
                      "is the median; the table shows the median of the processes' medians. Weights and inputs "
                      "are the same safetensors files for every engine.")
    with open(results, "a") as f:
        f.write(json.dumps({"meta": meta}) + "\n")
    table = peers_table.render(runs, meta)
    print(table)
    if not (args.no_write or args.quick or keep):
        peers_table.write_doc(args.doc, table)
        log(f"wrote {args.doc}")
    elif keep and not args.no_write:
        log("not written: --workloads ran a subset (re-render a full results file with peers_table.py)")
    log(f"results: {results}")
    return 1 if any("error" in r for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
