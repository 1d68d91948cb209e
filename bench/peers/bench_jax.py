"""The peer-benchmark workloads in JAX (CPU, float32), for peer_bench.py: make(workload, data_dir) returns a
function making one complete call (its outputs blocked on) and a dict of extra fields for the JSON line.
Everything timed is under one jax.jit, as a JAX user would write it; tiny_eager is op-by-op dispatch.
  mlp_step           the canonical MLP step (tests/support/canonical.h): MSE, value_and_grad, Adam
  per_example_grads  jit(vmap(grad(mlp_loss), in_axes=(None, 0, 0)))
  tiny_eager         x * 2 + 1 on f32[4], eager;  tiny_jit: the same under jax.jit
  qgf_step           qgf_jax.train_step with the flow-matching draws made inside the step from the state's key
                     (as rl::train_step does), the new state fed back
  qgf_sample         qgf_jax.sample_qgf (T Euler steps, min over the target critic's heads)"""
import jax

jax.config.update("jax_threefry_partitionable", True)
jax.config.update("jax_platforms", "cpu")
import jax.numpy as jnp  # noqa: E402

import peer_io  # noqa: E402
import qgf_jax  # noqa: E402


# ---- the canonical MLP (tests/support/canonical.cpp) ----
def layer_norm(x, gamma, beta, eps=1e-6):
    d = x - jnp.mean(x, axis=-1, keepdims=True)
    return d * jax.lax.rsqrt(jnp.mean(d * d, axis=-1, keepdims=True) + eps) * gamma + beta


def mlp_forward(p, x):
    h = x
    for w, b, g, be in zip(p["w"], p["b"], p["ln_gamma"], p["ln_beta"]):
        h = qgf_jax.gelu_tanh(layer_norm(h @ w + b, g, be))
    return h @ p["w_out"] + p["b_out"]


def mlp_loss(p, x, y):
    return jnp.mean(jnp.square(mlp_forward(p, x) - y))


def adam(p, g, m, v, step, cfg):
    """canonical::adam_update: bias-corrected Adam on every leaf; step is the f32 count of updates so far."""
    t = step + 1.0
    c1, c2 = 1.0 - jnp.power(cfg["b1"], t), 1.0 - jnp.power(cfg["b2"], t)

    def one(pp, gg, mm, vv):
        m1 = cfg["b1"] * mm + (1.0 - cfg["b1"]) * gg
        v1 = cfg["b2"] * vv + (1.0 - cfg["b2"]) * (gg * gg)
        return pp - cfg["lr"] * (m1 / c1) / (jnp.sqrt(v1 / c2) + cfg["eps"]), m1, v1

    out = jax.tree.map(one, p, g, m, v)
    pick = lambda i: jax.tree.map(lambda o: o[i], out, is_leaf=lambda o: isinstance(o, tuple))  # noqa: E731
    return pick(0), pick(1), pick(2), t


def load_mlp(directory):
    data, cfg = peer_io.load(directory, "mlp")
    data = jax.tree.map(jnp.asarray, data)
    params = {k: data[k] for k in ("w", "b", "ln_gamma", "ln_beta", "w_out", "b_out")}
    return params, data["x"], data["y"], cfg


def mlp_step(directory):
    params, x, y, cfg = load_mlp(directory)

    @jax.jit
    def step(p, m, v, t, xx, yy):
        loss, g = jax.value_and_grad(mlp_loss)(p, xx, yy)
        return (*adam(p, g, m, v, t, cfg), loss)

    zeros = jax.tree.map(jnp.zeros_like, params)
    st = [params, zeros, zeros, jnp.float32(0.0)]

    def call():
        *new, loss = step(*st, x, y)
        st[:] = new
        jax.block_until_ready((st, loss))

    return call, {"hidden": int(params["w"][0].shape[1]), "batch": int(x.shape[0])}


def per_example_grads(directory):
    params, x, y, _ = load_mlp(directory)
    f = jax.jit(jax.vmap(jax.grad(mlp_loss), in_axes=(None, 0, 0)))
    return (lambda: jax.block_until_ready(f(params, x, y))), {"hidden": int(params["w"][0].shape[1]),
                                                               "batch": int(x.shape[0])}


def tiny(jitted):
    x = jnp.array([1.0, 2.0, 3.0, 4.0], jnp.float32)
    f = lambda a: a * 2.0 + 1.0  # noqa: E731
    g = jax.jit(f) if jitted else f
    return (lambda: g(x).block_until_ready()), {}


# ---- QGF, on peer_export's files ----
def qgf_step(directory):
    data, cfg = {}, None
    for name in ("state0", "batch"):
        data[name], cfg = peer_io.load(directory, name)
    s0, b = jax.tree.map(jnp.asarray, data["state0"]), jax.tree.map(jnp.asarray, data["batch"])
    b = {k: b[k] for k in ("obs", "actions", "rewards", "masks", "next_obs", "weight")}

    @jax.jit
    def step(s, bb):
        _, _, a0, t = qgf_jax.flow_draws(s["key"], bb["actions"].shape)
        return qgf_jax.train_step(s, bb, a0, t, cfg)

    st = [s0]

    def call():
        st[0], metrics = step(st[0], b)
        jax.block_until_ready((st[0], metrics))

    return call, {"hidden": cfg["hidden"], "batch": int(b["obs"].shape[0])}


def qgf_sample(directory):
    data, cfg = {}, None
    for name in ("state0", "sampler"):
        data[name], cfg = peer_io.load(directory, name)
    s0, sm = jax.tree.map(jnp.asarray, data["state0"]), jax.tree.map(jnp.asarray, data["sampler"])
    f = jax.jit(lambda fl, q, o, z, w: qgf_jax.sample_qgf(fl, q, cfg, o, z, w))
    args = (s0["flow"], s0["critic"]["q_target"], sm["obs"], sm["noise"], sm["w"])
    return (lambda: f(*args).block_until_ready()), {"hidden": cfg["hidden"], "batch": int(sm["obs"].shape[0]),
                                                    "steps": cfg["steps"]}


WORKLOADS = {"mlp_step": mlp_step, "per_example_grads": per_example_grads, "qgf_step": qgf_step,
             "qgf_sample": qgf_sample, "tiny_eager": lambda d: tiny(False), "tiny_jit": lambda d: tiny(True)}


def make(workload, directory, threads):
    del threads  # XLA's CPU thread pool takes the CPUs the process may run on (run_all.py pins them)
    if workload not in WORKLOADS:
        raise KeyError(f"jax: no workload {workload!r}")
    return WORKLOADS[workload](directory)


def versions():
    import jaxlib
    return {"jax": jax.__version__, "jaxlib": jaxlib.__version__}

