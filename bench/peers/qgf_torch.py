"""QGF's workloads in PyTorch (CPU, float32), written the idiomatic PyTorch way (F.layer_norm,
F.gelu(approximate="tanh"), batched matmuls for the two stacked Q heads, torch.optim.Adam, whose update
m_hat / (sqrt(v_hat) + eps) is optax's), run on the weights and inputs bench/peer_export wrote, and compared
with its results. Eager by default; --compile wraps the losses and the sampler in torch.compile (the
optimizer step stays eager).
    python qgf_torch.py DIR [--compile]
PyTorch has no Threefry: train_step's flow-matching draws (a0, t) come from the exported batch."""
import math
import sys

import numpy as np
import torch
import torch.nn.functional as F

import peer_io

torch.set_default_dtype(torch.float32)


def tree_map(f, *trees):
    t0 = trees[0]
    if isinstance(t0, dict):
        return {k: tree_map(f, *(t[k] for t in trees)) for k in sorted(t0)}  # the order of tree_leaves
    if isinstance(t0, list):
        return [tree_map(f, *(t[i] for t in trees)) for i in range(len(t0))]
    return f(*trees)


def tree_leaves(t):  # the order of peer_io.leaves: dict keys sorted, lists in order
    return list(_leaves(t))


def _leaves(t):
    if isinstance(t, dict):
        for k in sorted(t):
            yield from _leaves(t[k])
    elif isinstance(t, list):
        for v in t:
            yield from _leaves(v)
    else:
        yield t


# ---- nn/layers.cpp; a leading ensemble axis on every leaf (the Q heads) batches the whole MLP ----
def linear(p, x):
    if p["w"].dim() == 3:  # [E, in, out]: x [B, in] or [E, B, in] -> [E, B, out]
        return torch.baddbmm(p["b"].unsqueeze(1), x.expand(p["w"].shape[0], *x.shape[-2:]), p["w"])
    return torch.addmm(p["b"], x, p["w"])


def layer_norm(p, x, eps):
    if p["scale"].dim() == 2:  # ensemble: per-member scale and bias
        return F.layer_norm(x, x.shape[-1:], eps=eps) * p["scale"].unsqueeze(1) + p["bias"].unsqueeze(1)
    return F.layer_norm(x, x.shape[-1:], p["scale"], p["bias"], eps)


def mlp(p, x, eps=1e-6):
    h = x
    for i, layer in enumerate(p["hidden"]):
        h = linear(layer, h)
        if i < len(p.get("norms", [])):
            h = layer_norm(p["norms"][i], h, eps)
        h = F.gelu(h, approximate="tanh")
    return linear(p["head"], h)


def time_embedding(t, dim):
    half = dim // 2
    k = torch.arange(half, dtype=t.dtype)
    freqs = torch.exp(k * (math.log(1000.0) / (half - 1))) * (2.0 * math.pi / 10.0)
    angles = t.unsqueeze(-1) * freqs
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)


# ---- rl/flow.cpp, rl/critic.cpp ----
def velocity(p, cfg, obs, a, t):
    tb = t.expand(a.shape[0]) if t.dim() == 0 else t.reshape(a.shape[0])
    return mlp(p, torch.cat([obs, a, time_embedding(tb, cfg["time_dim"])], dim=1))


def flow_bc_loss(p, cfg, obs, actions, a0, t):
    tt = t.unsqueeze(1)
    at = (1.0 - tt) * a0 + tt * actions
    return torch.mean(torch.square(velocity(p, cfg, obs, at, t) - (actions - a0)))


def q_heads(q, obs, actions):  # [heads, B]
    return mlp(q, torch.cat([obs, actions], dim=1)).squeeze(2)


def q_min(q, obs, actions):
    return torch.amin(q_heads(q, obs, actions), dim=0)


def v_value(v, obs):
    return mlp(v, obs).squeeze(1)


def q_loss(q, v, cfg, b):
    with torch.no_grad():
        target = b["rewards"] + cfg["discount"] ** cfg["horizon"] * b["masks"] * v_value(v, b["next_obs"])
    err = q_heads(q, b["obs"], b["actions"]) - target
    return torch.sum(torch.mean(b["weight"] * torch.square(err), dim=1))


def v_loss(v, q_target, cfg, b):
    with torch.no_grad():
        q = q_min(q_target, b["obs"], b["actions"])
    u = q - v_value(v, b["obs"])
    tau = cfg["expectile"]
    return torch.mean(b["weight"] * torch.where(u < 0, 1.0 - tau, tau) * torch.square(u))


def losses(s, b, a0, t, cfg):
    return (flow_bc_loss(s["flow"], cfg, b["obs"], b["actions"], a0, t),
            q_loss(s["critic"]["q"], s["critic"]["v"], cfg, b),
            v_loss(s["critic"]["v"], s["critic"]["q_target"], cfg, b))


# ---- rl/agent.cpp train_step: one backward over the three (disjoint) losses, Adam, Polyak ----
class Learner:
    def __init__(self, s, cfg, loss_fn=losses):
        self.cfg, self.loss_fn = cfg, loss_fn
        self.s = tree_map(lambda x: x.clone(), s)
        self.nets = {"flow": self.s["flow"], "q": self.s["critic"]["q"], "v": self.s["critic"]["v"]}
        params = [p.requires_grad_() for n in self.nets.values() for p in tree_leaves(n)]
        self.opt = torch.optim.Adam(params, lr=cfg["lr"], betas=(cfg["b1"], cfg["b2"]), eps=cfg["eps"])
        for name, opt_name in (("flow", "flow_opt"), ("q", "q_opt"), ("v", "v_opt")):
            o = s[opt_name]
            for p, m, v in zip(tree_leaves(self.nets[name]), tree_leaves(o["mu"]), tree_leaves(o["nu"])):
                self.opt.state[p] = {"step": torch.tensor(float(o["count"])), "exp_avg": m.clone(),
                                     "exp_avg_sq": v.clone()}

    def step(self, b, a0, t):
        self.opt.zero_grad(set_to_none=True)
        fl, ql, vl = self.loss_fn(self.s, b, a0, t, self.cfg)
        (fl + ql + vl).backward()
        self.opt.step()
        with torch.no_grad():
            tau = self.cfg["polyak"]
            targets, online = tree_leaves(self.s["critic"]["q_target"]), tree_leaves(self.s["critic"]["q"])
            torch._foreach_mul_(targets, 1.0 - tau)
            torch._foreach_add_(targets, online, alpha=tau)
        return {"flow_loss": fl.detach(), "q_loss": ql.detach(), "v_loss": vl.detach()}

    def state(self):
        out = {"flow": self.s["flow"], "critic": self.s["critic"]}
        for name, opt_name in (("flow", "flow_opt"), ("q", "q_opt"), ("v", "v_opt")):
            st = [self.opt.state[p] for p in tree_leaves(self.nets[name])]
            it_m, it_v = iter([x["exp_avg"] for x in st]), iter([x["exp_avg_sq"] for x in st])
            out[opt_name] = {"mu": tree_map(lambda _: next(it_m), self.nets[name]),
                             "nu": tree_map(lambda _: next(it_v), self.nets[name]),
                             "count": np.int32(int(st[0]["step"]))}
        return tree_map(lambda x: x.detach().numpy().copy() if torch.is_tensor(x) else x, out)


# ---- rl/samplers.cpp: QGF with the target critic's min head ----
def sample_qgf(flow, q_target, cfg, obs, noise, w):
    steps = cfg["steps"]
    dt = 1.0 / steps
    a = noise
    for k in range(steps):
        tk = k / steps
        with torch.no_grad():
            v = velocity(flow, cfg, obs, a, torch.tensor(tk, dtype=torch.float32))
            a_hat = torch.clamp(a + (1.0 - tk) * v, -1.0, 1.0)
        a_hat.requires_grad_()
        with torch.enable_grad():
            g, = torch.autograd.grad(torch.sum(q_min(q_target, obs, a_hat)), a_hat)
        a = a + dt * (v + w * g)
    return torch.clamp(a, -1.0, 1.0)


def run(data, cfg, compile_=False):
    T = lambda tree: tree_map(torch.from_numpy, tree)  # noqa: E731
    s0, b, sm = T(data["state0"]), T(data["batch"]), T(data["sampler"])
    a0, t = b["flow_noise"], b["flow_time"]
    loss_fn = torch.compile(losses) if compile_ else losses
    sampler = torch.compile(sample_qgf) if compile_ else sample_qgf
    # Losses and gradients at state0.
    sg = tree_map(lambda x: x.clone().requires_grad_() if x.is_floating_point() else x, s0)
    ls = loss_fn(sg, b, a0, t, cfg)
    grads = {}
    for loss, (name, net) in zip(ls, (("flow_grad", sg["flow"]), ("q_grad", sg["critic"]["q"]),
                                      ("v_grad", sg["critic"]["v"]))):
        gs = iter(torch.autograd.grad(loss, tree_leaves(net), retain_graph=True))  # compiled: one graph
        grads[name] = tree_map(lambda _: next(gs).numpy(), net)
    learner = Learner(s0, cfg, loss_fn)
    metrics = learner.step(b, a0, t)
    actions = sampler(s0["flow"], s0["critic"]["q_target"], cfg, sm["obs"], sm["noise"], sm["w"])
    npy = lambda d: {k: v.detach().numpy() for k, v in d.items()}  # noqa: E731
    return {"losses": npy(dict(zip(("flow_loss", "q_loss", "v_loss"), ls))), "grads": grads,
            "metrics": npy(metrics), "state1": learner.state(), "actions": actions.detach().numpy()}


def main(directory, compile_=False):
    data, cfg = peer_io.load_all(directory)
    report = peer_io.Report("torch.compile" if compile_ else "torch")
    peer_io.compare_all(report, data, run(data, cfg, compile_))
    mode = " (torch.compile)" if compile_ else ""
    print(report.table(f"PyTorch {torch.__version__}{mode} vs ours: {directory}"))
    return 0 if report.ok() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], "--compile" in sys.argv[2:]))
