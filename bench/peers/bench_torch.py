"""The peer-benchmark workloads in PyTorch (CPU, float32), eager or under torch.compile, for peer_bench.py:
make(workload, data_dir, threads, compiled) returns a function making one complete call, and a dict of extra
fields for the JSON line. The idiomatic forms: nn.functional layers, loss.backward(), torch.optim.Adam (its
defaults), torch.func for per-example gradients. With compiled=True, as PyTorch's recipes do: the loss (its
forward and, through AOTAutograd, its backward) is torch.compile'd, and so is the optimizer step (with the
Polyak update, for QGF); the sampler is written with torch.func.grad (autograd.grad would break the graph at
every Euler step) and compiled whole.
  mlp_step           the canonical MLP step (tests/support/canonical.h): MSE, backward, Adam (lr 1e-3)
  per_example_grads  torch.func.vmap(torch.func.grad(loss), in_dims=(None, 0, 0))
  tiny_eager         x * 2 + 1 on f32[4] (eager only);  tiny_jit: the same torch.compile'd (compiled only)
  qgf_step           qgf_torch's losses, one backward, Adam, Polyak; the flow-matching draws (a0, t) are
                     made inside the step with torch.randn / torch.rand, as rl::train_step draws them
  qgf_sample         the QGF sampler (T Euler steps, min over the target critic's heads)"""
import torch
import torch.nn.functional as F

import peer_io
import qgf_torch


# ---- the canonical MLP (tests/support/canonical.cpp) ----
def mlp_forward(p, x):
    h = x
    for w, b, g, be in zip(p["w"], p["b"], p["ln_gamma"], p["ln_beta"]):
        z = torch.addmm(b, h, w) if h.dim() == 2 else h @ w + b
        h = F.gelu(F.layer_norm(z, z.shape[-1:], g, be, 1e-6), approximate="tanh")
    return torch.addmm(p["b_out"], h, p["w_out"]) if h.dim() == 2 else h @ p["w_out"] + p["b_out"]


def mlp_loss(p, x, y):
    return F.mse_loss(mlp_forward(p, x), y)


def load_mlp(directory):
    data, cfg = peer_io.load(directory, "mlp")
    data = qgf_torch.tree_map(torch.from_numpy, data)
    params = {k: data[k] for k in ("w", "b", "ln_gamma", "ln_beta", "w_out", "b_out")}
    return params, data["x"], data["y"], cfg


def mlp_step(directory, compiled):
    params, x, y, cfg = load_mlp(directory)
    leaves = [t.requires_grad_() for t in qgf_torch.tree_leaves(params)]
    opt = torch.optim.Adam(leaves, lr=cfg["lr"], betas=(cfg["b1"], cfg["b2"]), eps=cfg["eps"])
    loss_fn = torch.compile(mlp_loss) if compiled else mlp_loss

    def update():
        opt.step()

    update = torch.compile(update) if compiled else update

    def call():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(params, x, y)
        loss.backward()
        update()

    return call, {"hidden": int(params["w"][0].shape[1]), "batch": int(x.shape[0])}


def per_example_grads(directory, compiled):
    params, x, y, _ = load_mlp(directory)
    f = torch.func.vmap(torch.func.grad(mlp_loss), in_dims=(None, 0, 0))
    f = torch.compile(f) if compiled else f
    return (lambda: f(params, x, y)), {"hidden": int(params["w"][0].shape[1]), "batch": int(x.shape[0])}


def tiny(compiled):
    x = torch.tensor([1.0, 2.0, 3.0, 4.0])
    f = lambda a: a * 2.0 + 1.0  # noqa: E731
    g = torch.compile(f) if compiled else f
    return (lambda: g(x)), {}


# ---- QGF, on peer_export's files ----
def load(directory, names):
    data, cfg = {}, None
    for name in names:
        data[name], cfg = peer_io.load(directory, name)
    return qgf_torch.tree_map(torch.from_numpy, data), cfg


def qgf_step(directory, compiled):
    data, cfg = load(directory, ("state0", "batch"))
    b = {k: data["batch"][k] for k in ("obs", "actions", "rewards", "masks", "next_obs", "weight")}
    learner = qgf_torch.Learner(data["state0"], cfg, torch.compile(qgf_torch.losses) if compiled
                                else qgf_torch.losses)
    opt, s, tau = learner.opt, learner.s, cfg["polyak"]
    targets, online = qgf_torch.tree_leaves(s["critic"]["q_target"]), qgf_torch.tree_leaves(s["critic"]["q"])

    def update():  # Learner.step's tail: Adam on the three networks, then Polyak
        opt.step()
        with torch.no_grad():
            torch._foreach_mul_(targets, 1.0 - tau)
            torch._foreach_add_(targets, online, alpha=tau)

    update_fn = torch.compile(update) if compiled else update
    shape, batch = b["actions"].shape, b["obs"].shape[0]

    def call():
        opt.zero_grad(set_to_none=True)
        a0, t = torch.randn(shape), torch.rand(batch)
        fl, ql, vl = learner.loss_fn(s, b, a0, t, cfg)
        (fl + ql + vl).backward()
        update_fn()

    return call, {"hidden": cfg["hidden"], "batch": int(batch)}


def sample_qgf_func(flow, q_target, cfg, obs, noise, w):
    """qgf_torch.sample_qgf with the guidance gradient from torch.func.grad (compiles as one graph)."""
    steps = cfg["steps"]
    q_grad = torch.func.grad(lambda x: torch.sum(qgf_torch.q_min(q_target, obs, x)))
    a = noise
    for k in range(steps):
        tk = k / steps
        v = qgf_torch.velocity(flow, cfg, obs, a, torch.full((), tk))
        a_hat = torch.clamp(a + (1.0 - tk) * v, -1.0, 1.0)
        a = a + (1.0 / steps) * (v + w * q_grad(a_hat))
    return torch.clamp(a, -1.0, 1.0)


def qgf_sample(directory, compiled):
    data, cfg = load(directory, ("state0", "sampler"))
    s0, sm = data["state0"], data["sampler"]
    f = torch.compile(sample_qgf_func) if compiled else qgf_torch.sample_qgf
    args = (s0["flow"], s0["critic"]["q_target"], cfg, sm["obs"], sm["noise"], sm["w"])
    return (lambda: f(*args)), {"hidden": cfg["hidden"], "batch": int(sm["obs"].shape[0]), "steps": cfg["steps"]}


WORKLOADS = {"mlp_step": mlp_step, "per_example_grads": per_example_grads, "qgf_step": qgf_step,
             "qgf_sample": qgf_sample}


def make(workload, directory, threads, compiled):
    torch.set_num_threads(threads)
    if workload == "tiny_eager" and not compiled or workload == "tiny_jit" and compiled:
        return tiny(compiled)
    if workload not in WORKLOADS:
        raise KeyError(f"torch{'-compile' if compiled else ''}: no workload {workload!r}")
    return WORKLOADS[workload](directory, compiled)


def versions():
    return {"torch": torch.__version__}
