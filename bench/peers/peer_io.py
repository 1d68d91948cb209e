"""Shared I/O for the QGF peers: loads what bench/peer_export writes (safetensors with path-named leaves and
the configuration as JSON metadata) into nested dicts of numpy arrays, and compares results with tolerances.
Used by qgf_jax.py and qgf_torch.py; numpy only, no framework imports."""
import json
import os

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file


def unflatten(flat):
    """{"flow/hidden/0/w": x, ...} -> {"flow": {"hidden": [{"w": x, ...}, ...], ...}}; numeric parts become
    list indices."""
    root = {}
    for name, value in flat.items():
        parts = name.split("/")
        node = root
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value

    def listify(node):
        if not isinstance(node, dict):
            return node
        node = {k: listify(v) for k, v in node.items()}
        if node and all(k.isdigit() for k in node):
            return [node[str(i)] for i in range(len(node))]
        return node

    return listify(root)


def load(directory, name):
    """One exported file: (nested dict of numpy arrays, config dict)."""
    path = os.path.join(directory, name + ".safetensors")
    with safe_open(path, framework="numpy") as f:
        config = json.loads(f.metadata()["config"])
    return unflatten(load_file(path)), config


def load_all(directory):
    """Every file peer_export writes, plus the configuration."""
    out = {}
    for name in ("state0", "batch", "grads", "step", "sampler"):
        out[name], config = load(directory, name)
    return out, config


def leaves(tree, prefix=""):
    """(path, array) pairs of a nested dict / list tree, in a fixed order."""
    if isinstance(tree, dict):
        for k in sorted(tree):
            yield from leaves(tree[k], f"{prefix}/{k}" if prefix else k)
    elif isinstance(tree, (list, tuple)):
        for i, v in enumerate(tree):
            yield from leaves(v, f"{prefix}/{i}")
    else:
        yield prefix, np.asarray(tree)


class Report:
    """Collects max errors per quantity (a quantity may span many leaves) and the pass/fail verdicts.
    A quantity passes when every element satisfies |ours - peer| <= atol + rtol * |ours|, with atol given
    relative to the quantity's largest magnitude (atol_rel * max|ours|) or absolute (atol)."""

    def __init__(self, peer):
        self.peer = peer
        self.rows = []

    def compare(self, quantity, ours, peer, rtol, atol=0.0, atol_rel=0.0, exact=False):
        ours_l = dict(leaves(ours))
        peer_l = dict(leaves(peer))
        if set(ours_l) != set(peer_l):
            raise ValueError(f"{quantity}: leaf sets differ: {sorted(set(ours_l) ^ set(peer_l))}")
        scale = max(float(np.max(np.abs(v.astype(np.float64)))) if v.size else 0.0 for v in ours_l.values())
        tol_abs = atol + atol_rel * scale
        max_abs, max_rel, worst, ok = 0.0, 0.0, "", True
        for k in ours_l:
            a = ours_l[k].astype(np.float64)
            b = np.asarray(peer_l[k]).astype(np.float64).reshape(a.shape)
            d = np.abs(a - b)
            if d.size == 0:
                continue
            if exact:
                ok &= bool(np.all(d == 0))
            else:
                ok &= bool(np.all(d <= tol_abs + rtol * np.abs(a)))
            i = int(np.argmax(d))
            if d.flat[i] > max_abs:
                max_abs, worst = float(d.flat[i]), k or quantity
            big = np.abs(a) > max(tol_abs, 1e-30)
            if np.any(big):
                max_rel = max(max_rel, float(np.max(d[big] / np.abs(a[big]))))
        self.rows.append(dict(peer=self.peer, quantity=quantity, max_abs=max_abs, max_rel=max_rel, scale=scale,
                              tol=("exact" if exact else f"rtol {rtol:g}, atol {tol_abs:.2g}"), ok=ok,
                              worst=worst))

    def ok(self):
        return all(r["ok"] for r in self.rows)

    def table(self, title=""):
        lines = [f"### {title}" if title else "",
                 "| peer | quantity | max abs err | max rel err | max abs value | tolerance | ok |",
                 "|---|---|---|---|---|---|---|"]
        for r in self.rows:
            lines.append(f"| {r['peer']} | {r['quantity']} | {r['max_abs']:.3g} | {r['max_rel']:.3g} | "
                         f"{r['scale']:.3g} | {r['tol']} | {'yes' if r['ok'] else 'NO (' + r['worst'] + ')'} |")
        return "\n".join(l for l in lines if l)


# Tolerances (float32 throughout; the engine and the peers sum in different orders and use different
# exp/tanh/log kernels). atol_rel is relative to the quantity's largest magnitude over all its leaves.
TOL = {
    "loss": dict(rtol=1e-4, atol=1e-5),
    "grad": dict(rtol=1e-3, atol_rel=1e-5),       # per element, or 1e-5 of the largest gradient entry
    "moment": dict(rtol=1e-3, atol_rel=1e-5),     # Adam mu, nu: linear / quadratic in the gradients
    "param": dict(rtol=1e-5, atol=1e-6),          # after one step of size ~lr = 3e-4
    "actions": dict(rtol=1e-4, atol=1e-5),        # after T = 10 guided Euler steps
    "noise": dict(rtol=1e-5, atol=1e-6),          # Box-Muller: different log / cos kernels
}


def compare_all(report, data, res, rng=False):
    """The standard set of comparisons between peer_export's files (data) and a peer's results (res)."""
    b, g, st = data["batch"], data["grads"], data["step"]
    if rng:  # the peer replayed train_step's draws from the state key itself
        report.compare("flow key (Threefry split)", b["flow_key"], res["flow_key"], 0, exact=True)
        report.compare("flow times t (uniform)", b["flow_time"], res["flow_time"], 0, exact=True)
        report.compare("flow noise a0 (Box-Muller)", b["flow_noise"], res["flow_noise"], **TOL["noise"])
    for k in ("flow_loss", "q_loss", "v_loss"):
        report.compare(f"{k} (state0)", g[k], res["losses"][k], **TOL["loss"])
    for k in ("flow_grad", "q_grad", "v_grad"):
        report.compare(k, g[k], res["grads"][k], **TOL["grad"])
    for k in ("flow_loss", "q_loss", "v_loss"):
        report.compare(f"step metric {k}", st["metrics"][k], res["metrics"][k], **TOL["loss"])
    s1 = res["state1"]
    report.compare("step: flow params", st["flow"], s1["flow"], **TOL["param"])
    for k in ("q", "q_target", "v"):
        report.compare(f"step: critic {k} params", st["critic"][k], s1["critic"][k], **TOL["param"])
    for k in ("flow_opt", "q_opt", "v_opt"):
        report.compare(f"step: {k} mu", st[k]["mu"], s1[k]["mu"], **TOL["moment"])
        report.compare(f"step: {k} nu", st[k]["nu"], s1[k]["nu"], **TOL["moment"])
        report.compare(f"step: {k} count", st[k]["count"], s1[k]["count"], 0, exact=True)
    if rng:
        report.compare("step: next key", st["key"], s1["key"], 0, exact=True)
    report.compare("QGF sampler actions", data["sampler"]["actions"], res["actions"], **TOL["actions"])
