"""QGF's workloads in JAX (jit, CPU, float32), operation for operation as the C++ engine computes them
(nn/layers.cpp, rl/flow.cpp, rl/critic.cpp, rl/agent.cpp, nn/optim.cpp, rl/samplers.cpp), run on the weights
and inputs bench/peer_export wrote, and compared with its results.
    python qgf_jax.py DIR      (DIR: peer_export --out DIR)
The flow-matching draws of train_step are replayed from the exported state key with jax.random in JAX's
"partitionable" Threefry mode (the engine's scheme) and Box-Muller (the engine's normal); they are checked
against the exported draws, and the step then uses the exported draws (see README.md)."""
import math
import sys

import jax

jax.config.update("jax_threefry_partitionable", True)
jax.config.update("jax_platforms", "cpu")
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import peer_io  # noqa: E402

F32 = jnp.float32


# ---- nn/layers.cpp ----
def linear(p, x):
    return x @ p["w"] + p["b"]


def layer_norm(p, x, eps):
    d = x - jnp.mean(x, axis=-1, keepdims=True)
    return d * jax.lax.rsqrt(jnp.mean(d * d, axis=-1, keepdims=True) + eps) * p["scale"] + p["bias"]


def gelu_tanh(x):  # ops::gelu(x, approximate=true), flax's default
    inner = (x + 0.044715 * (x * (x * x))) * math.sqrt(2.0 / math.pi)
    return (x * 0.5) * (jnp.tanh(inner) + 1.0)


def mlp(p, x, eps=1e-6):
    """Dense -> LayerNorm -> GELU per hidden layer; norms[i] belongs to hidden layer i (the actor has one norm
    fewer: none on its last hidden layer), then the plain Dense head."""
    h = x
    for i, layer in enumerate(p["hidden"]):
        h = linear(layer, h)
        if i < len(p.get("norms", [])):
            h = layer_norm(p["norms"][i], h, eps)
        h = gelu_tanh(h)
    return linear(p["head"], h)


def time_embedding(t, dim):
    half = dim // 2
    k = jnp.arange(half).astype(t.dtype)
    freqs = jnp.exp(k * (math.log(1000.0) / (half - 1))) * (2.0 * math.pi / 10.0)
    angles = t[..., None] * freqs
    return jnp.concatenate([jnp.cos(angles), jnp.sin(angles)], axis=-1)


# ---- rl/flow.cpp ----
def velocity(p, cfg, obs, a, t):
    tb = jnp.broadcast_to(t, (a.shape[0],)) if jnp.ndim(t) == 0 else t.reshape(a.shape[0])
    return mlp(p, jnp.concatenate([obs, a, time_embedding(tb, cfg["time_dim"])], axis=1))


def flow_bc_loss(p, cfg, obs, actions, a0, t):
    tt = t[:, None]
    at = (1.0 - tt) * a0 + tt * actions
    return jnp.mean(jnp.square(velocity(p, cfg, obs, at, t) - (actions - a0)))


# ---- rl/critic.cpp ----
def q_heads(q, obs, actions):  # [heads, B]: the stacked heads under vmap, as nn::mlp_ensemble
    x = jnp.concatenate([obs, actions], axis=1)
    return jnp.squeeze(jax.vmap(lambda p: mlp(p, x))(q), 2)


def q_min(q, obs, actions):
    return jnp.min(q_heads(q, obs, actions), axis=0)


def v_value(v, obs):
    return jnp.squeeze(mlp(v, obs), 1)


def expectile_loss(u, tau):
    return jnp.where(u < 0, jnp.full_like(u, 1.0 - tau), jnp.full_like(u, tau)) * jnp.square(u)


def q_loss(q, v, cfg, b):
    bootstrap = cfg["discount"] ** cfg["horizon"]
    target = jax.lax.stop_gradient(b["rewards"] + bootstrap * b["masks"] * v_value(v, b["next_obs"]))
    err = q_heads(q, b["obs"], b["actions"]) - target
    return jnp.sum(jnp.mean(b["weight"] * jnp.square(err), axis=1))


def v_loss(v, q_target, cfg, b):
    q = jax.lax.stop_gradient(q_min(q_target, b["obs"], b["actions"]))
    return jnp.mean(b["weight"] * expectile_loss(q - v_value(v, b["obs"]), cfg["expectile"]))


# ---- nn/optim.cpp (optax's scale_by_adam + scale(-lr) + apply_updates; Polyak) ----
def adam_update(params, grads, opt, cfg):
    count = jnp.where(opt["count"] < jnp.iinfo(jnp.int32).max, opt["count"] + 1, opt["count"])
    tc = count.astype(F32)
    bc1 = 1.0 - jnp.power(F32(cfg["b1"]), tc)
    bc2 = 1.0 - jnp.power(F32(cfg["b2"]), tc)

    def one(p, g, m, v):
        m1 = (1.0 - cfg["b1"]) * g + cfg["b1"] * m
        v1 = (1.0 - cfg["b2"]) * (g * g) + cfg["b2"] * v
        u = ((m1 / bc1) / (jnp.sqrt(v1 / bc2 + cfg["eps_root"]) + cfg["eps"])) * (-cfg["lr"])
        return p + u, m1, v1

    out = jax.tree.map(one, params, grads, opt["mu"], opt["nu"])
    pick = lambda i: jax.tree.map(lambda o: o[i], out, is_leaf=lambda o: isinstance(o, tuple))  # noqa: E731
    return pick(0), {"mu": pick(1), "nu": pick(2), "count": count}


def polyak(target, online, tau):
    return jax.tree.map(lambda t, o: tau * o + (1.0 - tau) * t, target, online)


# ---- the RNG use of rl/agent.cpp train_step and rl/flow.cpp flow_bc_loss, replayed ----
def flow_draws(key, shape):
    """(next_key, flow_key, a0, t) from the state's raw u32[2] key: split in two (split[j] == fold_in(j) in the
    partitionable scheme), a0 by Box-Muller from 64 bits per element (ops::random_normal), t uniform [0, 1)."""
    next_key, flow_key = jax.random.fold_in(key, 0), jax.random.fold_in(key, 1)
    bits = jax.random.bits(jax.random.fold_in(flow_key, 0), (*shape, 2), jnp.uint32)
    u1 = (bits[..., 0].astype(F32) + F32(1.0)) * F32(2.0**-32)
    u2 = (bits[..., 1] >> 9).astype(F32) * F32(2.0**-23)
    a0 = jnp.sqrt(jnp.log(u1) * F32(-2.0)) * jnp.cos(u2 * F32(2.0 * math.pi))
    t = jax.random.uniform(jax.random.fold_in(flow_key, 1), (shape[0],), F32)
    return next_key, flow_key, a0, t


# ---- rl/agent.cpp ----
def losses_and_grads(s, b, a0, t, cfg):
    fl, fg = jax.value_and_grad(lambda p: flow_bc_loss(p, cfg, b["obs"], b["actions"], a0, t))(s["flow"])
    ql, qg = jax.value_and_grad(lambda q: q_loss(q, s["critic"]["v"], cfg, b))(s["critic"]["q"])
    vl, vg = jax.value_and_grad(lambda v: v_loss(v, s["critic"]["q_target"], cfg, b))(s["critic"]["v"])
    return {"flow_loss": fl, "q_loss": ql, "v_loss": vl}, {"flow_grad": fg, "q_grad": qg, "v_grad": vg}


def train_step(s, b, a0, t, cfg):
    """rl::train_step with the flow-matching draws (a0, t) given; returns (new state, metrics)."""
    next_key = jax.random.fold_in(s["key"], 0)
    metrics, g = losses_and_grads(s, b, a0, t, cfg)
    flow, flow_opt = adam_update(s["flow"], g["flow_grad"], s["flow_opt"], cfg)
    q, q_opt = adam_update(s["critic"]["q"], g["q_grad"], s["q_opt"], cfg)
    v, v_opt = adam_update(s["critic"]["v"], g["v_grad"], s["v_opt"], cfg)
    critic = {"q": q, "q_target": polyak(s["critic"]["q_target"], q, cfg["polyak"]), "v": v}
    return {"flow": flow, "critic": critic, "flow_opt": flow_opt, "q_opt": q_opt, "v_opt": v_opt,
            "key": next_key}, metrics


# ---- rl/samplers.cpp: QGF with the target critic's min head ----
def sample_qgf(flow, q_target, cfg, obs, noise, w):
    steps = cfg["steps"]
    dt = 1.0 / steps
    q_grad = jax.grad(lambda x: jnp.sum(q_min(q_target, obs, x)))
    a = noise
    for k in range(steps):
        tk = k / steps
        v = velocity(flow, cfg, obs, a, F32(tk))
        a_hat = jnp.clip(a + (1.0 - tk) * v, -1.0, 1.0)
        a = a + dt * (v + w * q_grad(a_hat))
    return jnp.clip(a, -1.0, 1.0)


def run(data, cfg):
    """Everything the comparison needs, as numpy trees (see peer_io.compare_all)."""
    to_j = lambda tree: jax.tree.map(jnp.asarray, tree)  # noqa: E731
    s0, b = to_j(data["state0"]), to_j(data["batch"])
    shape = b["actions"].shape
    next_key, flow_key, a0_j, t_j = jax.jit(flow_draws, static_argnums=1)(s0["key"], shape)
    a0, t = b["flow_noise"], b["flow_time"]
    lg = jax.jit(lambda s, bb, a, tt: losses_and_grads(s, bb, a, tt, cfg))(s0, b, a0, t)
    s1, metrics = jax.jit(lambda s, bb, a, tt: train_step(s, bb, a, tt, cfg))(s0, b, a0, t)
    sm = to_j(data["sampler"])
    actions = jax.jit(lambda f, q, o, z, w: sample_qgf(f, q, cfg, o, z, w))(
        s0["flow"], s0["critic"]["q_target"], sm["obs"], sm["noise"], sm["w"])
    out = {"flow_key": flow_key, "flow_noise": a0_j, "flow_time": t_j, "losses": lg[0], "grads": lg[1],
           "metrics": metrics, "state1": s1, "actions": actions}
    return jax.tree.map(np.asarray, out)


def main(directory):
    data, cfg = peer_io.load_all(directory)
    report = peer_io.Report("jax")
    peer_io.compare_all(report, data, run(data, cfg), rng=True)
    print(report.table(f"JAX {jax.__version__} vs ours: {directory}"))
    return 0 if report.ok() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
