"""Turns the JSON lines of bench/peers/run_all.py's runs (ours: bench/peer_bench.cpp; peers: peer_bench.py)
into the markdown of docs/benchmarks.md's peers section, and writes it between the marker comments
<!-- peers-table:begin --> and <!-- peers-table:end --> (replacing what is there, or appending a section),
atomically. Standard library only.
    python peers_table.py RESULTS.jsonl [--no-write] [--doc docs/benchmarks.md]   (re-render saved results)"""
import argparse
import json
import os
import statistics
import sys
import tempfile

BEGIN, END = "<!-- peers-table:begin -->", "<!-- peers-table:end -->"
SECTION = "## Peers: the engine against JAX and PyTorch (issue 8)"
PEERS = (("jax", "JAX jit"), ("torch", "PyTorch eager"), ("torch-compile", "torch.compile"))
TARGETS = (  # (workload id, peer, at least this much faster, what)
    ("qgf_step@qgf-4x512-b256-s1", "jax", 2.0, "QGF training step, 4x512 / batch 256"),
    ("qgf_sample@qgf-3x256-s1", "jax", 10.0, "QGF sampler, batch 1, 3x256 (control-loop size)"),
    ("qgf_sample@qgf-4x512-b256-s1", "jax", 2.0, "QGF sampler, batch 1, 4x512"),
)


def fmt_time(ms):
    if ms is None:
        return "—"
    if ms < 0.1:
        return f"{ms * 1e3:.3g} us"
    return f"{ms:.3g} ms" if ms < 1000 else f"{ms / 1e3:.3g} s"


def fmt_ratio(peer, ours):
    return "—" if peer is None or ours is None or ours <= 0 else f"{peer / ours:.3g}x"


def net(h):
    return f"{len(h)}x{h[0]}" if isinstance(h, list) else f"4x{h}"


def label(r):
    """A row's description from one run's JSON (its actual shapes)."""
    w, h, b = r["workload"], r.get("hidden", ["?"]), r.get("batch")
    steps = r.get("steps", 10)
    return {
        "tiny_eager": "x * 2 + 1 on f32[4], eager (3 ops)",
        "tiny_jit": "x * 2 + 1 on f32[4], jitted (call overhead)",
        "mlp_step": f"MLP train step (in 32, {net(h)}, out 8; Adam), batch {b}",
        "per_example_grads": f"per-example gradients vmap(grad), MLP {net(h)}, batch {b}",
        "qgf_step": f"QGF train step (flow + 2 Q + V, Adam), {net(h)}, batch {b}",
        "qgf_sample": f"QGF sampler (T = {steps}), {net(h)}, batch {b}",
        "stream_floor": f"floor: stream the flow + target-critic weights, {net(h)}, {steps} times",
    }.get(w, w)


def summarize(runs):
    """{workload id: {engine: {"median": median of the per-process medians, "n": processes, "lo", "hi",
    "first": median first-call ms, "last": one run's JSON}}}, in first-seen order."""
    groups = {}
    for r in runs:
        if "error" in r:
            groups.setdefault(r["id"], {}).setdefault(r["engine"], {"err": r["error"], "meds": [], "firsts": []})
            continue
        g = groups.setdefault(r["id"], {}).setdefault(r["engine"], {"meds": [], "firsts": []})
        g["meds"].append(r["median_ms"])
        g["firsts"].append(r.get("first_call_ms", 0.0))
        g["last"] = r
    out = {}
    for wid, engines in groups.items():
        out[wid] = {}
        for e, g in engines.items():
            if not g["meds"]:
                out[wid][e] = {"median": None, "err": g.get("err")}
                continue
            out[wid][e] = {"median": statistics.median(g["meds"]), "n": len(g["meds"]), "lo": min(g["meds"]),
                           "hi": max(g["meds"]), "first": statistics.median(g["firsts"]), "last": g["last"]}
    return out


def get(s, wid, engine):
    return s.get(wid, {}).get(engine, {}).get("median")


def main_table(s):
    head = "| workload | ours | " + " | ".join(n for _, n in PEERS) + " | " + \
        " | ".join(f"{n} / ours" for _, n in PEERS) + " |"
    lines = [head, "|" + "---|" * (2 + 2 * len(PEERS))]
    for wid, eng in s.items():
        ref = next((e for e in eng.values() if e.get("last")), None)
        if ref is None or "qgf" not in eng:
            continue
        ours = eng["qgf"]["median"]
        cells = [fmt_time(get(s, wid, p)) if p in eng else "n/a" for p, _ in PEERS]
        cells = [c if eng.get(p, {}).get("err") is None else "failed" for c, (p, _) in zip(cells, PEERS)]
        ratios = [fmt_ratio(get(s, wid, p), ours) if p in eng else "n/a" for p, _ in PEERS]
        if wid.startswith("stream_floor"):
            cells = ratios = ["—"] * len(PEERS)
        lines.append(f"| {label(ref['last'])} | {fmt_time(ours)} | " + " | ".join(cells) + " | " +
                     " | ".join(ratios) + " |")
    return "\n".join(lines)


def spread_table(s):
    lines = ["| workload | engine | processes | median of medians | min .. max | first call (compile) |",
             "|---|---|---|---|---|---|"]
    for wid, eng in s.items():
        for e, g in eng.items():
            if g.get("median") is None:
                lines.append(f"| `{wid}` | {e} | 0 | failed: {g.get('err', '')[:80]} | | |")
                continue
            lines.append(f"| `{wid}` | {e} | {g['n']} | {fmt_time(g['median'])} | {fmt_time(g['lo'])} .. "
                         f"{fmt_time(g['hi'])} | {fmt_time(g['first'])} |")
    return "\n".join(lines)


def targets(s):
    out = []
    for wid, peer, want, what in TARGETS:
        ours, theirs = get(s, wid, "qgf"), get(s, wid, peer)
        if ours is None or theirs is None:
            out.append(f"- *{what}, at least {want:g}x faster than JAX-jit:* not measured.")
            continue
        r = theirs / ours
        verdict = "**met**" if r >= want else "**not met**"
        out.append(f"- *{what}, at least {want:g}x faster than JAX-jit:* {verdict}: {r:.3g}x "
                   f"(ours {fmt_time(ours)}, JAX {fmt_time(theirs)}).")
    for wid in [w for w in s if w.startswith("stream_floor")]:
        f = s[wid].get("qgf", {})
        if f.get("median") is None:
            continue
        r = f["last"]
        sample = get(s, wid.replace("stream_floor", "qgf_sample"), "qgf")
        vs = f"; our sampler is {sample / f['median']:.3g}x this floor" if sample else ""
        mb = r["bytes_per_step"] / 1e6
        out.append(f"- *Floor, {net(r.get('hidden', ['?']))} at batch 1:* {mb:.3g} MB of flow and target-critic "
                   f"weights per Euler step, x {r['steps']} steps: {fmt_time(f['median'])} reading them from "
                   f"wherever they stay between calls ({r['warm_gbps']:.3g} GB/s){vs}; from DRAM "
                   f"({r['dram_gbps']:.3g} GB/s, a 256 MiB read) it would be {fmt_time(r['dram_floor_ms'])}.")
    return "\n".join(out)


def cuda_table(s):
    rows = [(wid, eng) for wid, eng in s.items() if "qgf-cuda" in eng or "qgf-cuda-graphs" in eng]
    if not rows:
        return None
    lines = ["| workload | CPU | CUDA | CUDA + graphs | CPU / CUDA | CPU / (CUDA + graphs) |",
             "|---|---|---|---|---|---|"]
    for wid, eng in rows:
        cpu, cu, gr = get(s, wid, "qgf"), get(s, wid, "qgf-cuda"), get(s, wid, "qgf-cuda-graphs")
        ref = next(e for e in eng.values() if e.get("last"))
        lines.append(f"| {label(ref['last'])} | {fmt_time(cpu)} | {fmt_time(cu)} | {fmt_time(gr)} | "
                     f"{fmt_ratio(cpu, cu)} | {fmt_ratio(cpu, gr)} |")
    return "\n".join(lines)


def render(runs, meta):
    s = summarize(runs)
    parts = [BEGIN] + (["**QUICK RUN: tiny shapes, a test of the harness, not a measurement.**", ""]
                       if meta.get("quick") else [])
    m = lambda k: meta.get(k, "?")  # noqa: E731  (an interrupted run's results have only the first meta line)
    parts += [f"Command: `{m('command')}`, {m('date')}.", "", "**Machine.** " + m("machine"), "",
              f"**Software.** {m('software')}", "", f"**Method.** {m('method')}", "", main_table(s), "",
              "Ratios are the peer's time over ours: above 1 means our engine is faster.", "", "**Targets.**",
              targets(s), ""]
    ct = cuda_table(s)
    parts += ["**CPU against CUDA (our engine).**", "", ct if ct else meta.get("cuda_note", "Skipped."), ""]
    parts += ["<details><summary>Per engine: processes, spread of the per-process medians, first call</summary>",
              "", spread_table(s), "", "</details>", END]
    return "\n".join(parts)


def write_doc(path, block):
    """Replaces the marked block of `path`, or appends a section holding it; atomic (temp file + rename)."""
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
    if BEGIN in text and END in text:
        i, j = text.index(BEGIN), text.index(END) + len(END)
        text = text[:i] + block + text[j:]
    else:
        text = text.rstrip("\n") + f"\n\n{SECTION}\n\n{block}\n"
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".benchmarks.", suffix=".md")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def load_results(path):
    """(meta, runs) from a results file: the first line is {"meta": {...}}, then one JSON object per run."""
    meta, runs = {}, []
    with open(path) as f:
        for line in f:
            if line.strip():
                o = json.loads(line)
                meta = o["meta"] if "meta" in o else meta
                if "meta" not in o:
                    runs.append(o)
    return meta, runs


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--doc", default=os.path.join(os.path.dirname(__file__), "..", "..", "docs", "benchmarks.md"))
    a = ap.parse_args()
    m, rs = load_results(a.results)
    out = render(rs, m)
    print(out)
    if not a.no_write:
        write_doc(a.doc, out)
        print(f"wrote {a.doc}", file=sys.stderr)
