// Test-time samplers (see samplers.h).
#include "rl/samplers.h"

#include "ops/api.h"

using engine::DType;

namespace rl {

namespace {

Tensor time_at(int k, const FlowConfig& cfg, const Tensor& like) {
  return ops::scalar(double(k) / cfg.steps, like.dtype());
}

// grad_a sum_b min_i Q(s_b, a_b): rows are independent, so this is every state's own action-gradient.
Tensor q_grad(const QFunction& q, const Tensor& obs, const Tensor& a) {
  return engine::grad([&](const Tensor& x) { return ops::sum(q(obs, x)); })(a);
}

// One-step clean-action estimate a_hat = clip(a + (1 - t) v, -1, 1), from v = v(s, a, t) when the caller has
// it.
Tensor denoised(const nn::Mlp& flow, const FlowConfig& fcfg, const Tensor& obs, const Tensor& a, int k,
                const Tensor& v = Tensor()) {
  const double t = double(k) / fcfg.steps;
  const Tensor vel = v.defined() ? v : velocity(flow, fcfg, obs, a, time_at(k, fcfg, a));
  return ops::clip(a + (1.0 - t) * vel, -1.0, 1.0);
}

// The BC flow integrated from (a, step k) to t = 1 (no clipping: a smooth chain to differentiate).
Tensor integrate_from(const nn::Mlp& flow, const FlowConfig& fcfg, const Tensor& obs, Tensor a, int k) {
  const double dt = 1.0 / fcfg.steps;
  for (int j = k; j < fcfg.steps; ++j) a = a + dt * velocity(flow, fcfg, obs, a, time_at(j, fcfg, a));
  return a;
}

}  // namespace

QFunction critic_q(const nn::Mlp& q, const CriticConfig& cfg) {
  return [q, cfg](const Tensor& obs, const Tensor& a) { return q_min(q, cfg, obs, a); };
}

QFunction guidance_critic(const Critic& c, const CriticConfig& cfg) { return critic_q(c.q_target, cfg); }

const char* guidance_name(Guidance g) {
  switch (g) {
    case Guidance::BC:
      return "BC";
    case Guidance::QGF:
      return "QGF";
    case Guidance::QGFJacobian:
      return "QGF-Jacobian";
    case Guidance::QFQL:
      return "QFQL";
    case Guidance::BPTT:
      return "BPTT";
    case Guidance::GradStep:
      return "GradStep";
  }
  return "?";
}

Tensor guidance_gradient(Guidance kind, const nn::Mlp& flow, const FlowConfig& fcfg, const QFunction& q,
                         const Tensor& obs, const Tensor& a, int k) {
  switch (kind) {
    case Guidance::QGF:
      return q_grad(q, obs, denoised(flow, fcfg, obs, a, k));
    case Guidance::QGFJacobian: {
      auto [a_hat, pullback] =
          engine::vjp([&](const Tensor& x) { return denoised(flow, fcfg, obs, x, k); }, a);
      return pullback(q_grad(q, obs, a_hat));
    }
    case Guidance::QFQL:
      return q_grad(q, obs, a);
    case Guidance::BPTT:
      return engine::grad([&](const Tensor& x) {
        // Q is queried inside the action box, as the official BPTT intends (clip: zero gradient outside).
        return ops::sum(q(obs, ops::clip(integrate_from(flow, fcfg, obs, x, k), -1.0, 1.0)));
      })(a);
    default:
      engine::raise(engine::ErrorKind::Value, "rl::guidance_gradient",
                    std::string("no per-step guidance gradient for ") + guidance_name(kind), {},
                    engine::current_user_loc(), "use QGF, QGFJacobian, QFQL or BPTT");
  }
}

Tensor sample_guided(Guidance kind, const nn::Mlp& flow, const FlowConfig& fcfg, const QFunction& q,
                     const Tensor& obs, const Tensor& noise, const Tensor& w, const GradStepOptions& gs) {
  if (kind == Guidance::BC) return sample_bc(flow, fcfg, obs, noise);
  if (kind == Guidance::GradStep) {
    Tensor a = sample_bc(flow, fcfg, obs, noise);
    for (int l = 0; l < gs.steps; ++l) a = ops::clip(a + gs.alpha * q_grad(q, obs, a), -1.0, 1.0);
    return a;
  }
  const double dt = 1.0 / fcfg.steps;
  Tensor a = noise;
  for (int k = 0; k < fcfg.steps; ++k) {
    const Tensor v = velocity(flow, fcfg, obs, a, time_at(k, fcfg, a));
    // QGF reuses this step's velocity for a_hat (no second flow evaluation); the others need their own.
    const Tensor g = kind == Guidance::QGF ? q_grad(q, obs, denoised(flow, fcfg, obs, a, k, v))
                                           : guidance_gradient(kind, flow, fcfg, q, obs, a, k);
    a = a + dt * (v + w * g);
  }
  return ops::clip(a, -1.0, 1.0);
}

Tensor sample_best_of_n(Guidance base, const nn::Mlp& flow, const FlowConfig& fcfg, const QFunction& q,
                        const Tensor& obs, const Tensor& noise, const Tensor& w) {
  const int64_t n = noise.dim(0);
  auto one = [&](const Tensor& z) { return sample_guided(base, flow, fcfg, q, obs, z, w); };
  const Tensor samples = engine::vmap(one)(noise);  // [N, B, A]
  auto score = [&](const Tensor& a) { return q(obs, a); };
  const Tensor scores = engine::vmap(score)(samples);  // [N, B]
  // Select with a one-hot mask: exact, and a NaN or inf candidate that is not picked cannot leak (select, not
  // a multiply by zero).
  const Tensor pick =
      ops::transpose(ops::one_hot(ops::argmax(scores, 0), n, samples.dtype()), {1, 0});  // [N, B]
  const Tensor chosen =
      ops::gt(ops::broadcast_to(ops::expand_dims(pick, 2), samples.shape()), ops::zeros_like(samples));
  return ops::sum(ops::select(chosen, samples, ops::zeros_like(samples)), {0});
}

Tensor cfgrl_loss(const nn::Mlp& flow, const FlowConfig& fcfg, const Tensor& obs, const Tensor& actions,
                  const Tensor& optimal, const Tensor& key, double p_uncond) {
  if (fcfg.cond_dim != 2)
    engine::raise(engine::ErrorKind::Value, "rl::cfgrl_loss",
                  "CFGRL's flow takes a 2-wide condition, cond_dim is " + std::to_string(fcfg.cond_dim), {},
                  engine::current_user_loc(), "set FlowConfig::cond_dim = 2");
  const int64_t b = actions.dim(0);
  const DType dt = actions.dtype();
  const Tensor a0 = ops::random_normal(ops::random_fold_in(key, 0), actions.shape(), dt);
  Tensor t = ops::random_uniform(ops::random_fold_in(key, 1), {b}, 0.0, 1.0, dt);
  if (fcfg.grid_time) t = ops::floor(t * double(fcfg.steps + 1)) / double(fcfg.steps);
  // Classifier-free training: the label (optimal: (1, 0), not optimal: (0, 1)) is replaced by the null
  // condition (0, 0) for a fraction p_uncond of all samples, so one network learns the conditional velocities
  // and the unconditional (behavior) one.
  const Tensor keep =
      ops::convert(ops::ge(ops::random_uniform(ops::random_fold_in(key, 2), {b}, 0.0, 1.0, dt),
                           ops::full({b}, p_uncond, dt)),
                   dt);
  const Tensor opt = ops::convert(optimal, dt);
  const Tensor c = ops::stack({keep * opt, keep * (1.0 - opt)}, 1);
  const Tensor tt = ops::expand_dims(t, 1);
  const Tensor at = (1.0 - tt) * a0 + tt * actions;
  return ops::mean(ops::square(velocity(flow, fcfg, obs, at, t, c) - (actions - a0)));
}

Tensor sample_cfgrl(const nn::Mlp& flow, const FlowConfig& fcfg, const Tensor& obs, const Tensor& noise,
                    const Tensor& w) {
  const double dt = 1.0 / fcfg.steps;
  const int64_t b = noise.dim(0);
  const Tensor c_null = ops::zeros({b, 2}, noise.dtype());
  const Tensor c_opt =
      ops::concatenate({ops::ones({b, 1}, noise.dtype()), ops::zeros({b, 1}, noise.dtype())}, 1);
  Tensor a = noise;
  for (int k = 0; k < fcfg.steps; ++k) {
    const Tensor t = time_at(k, fcfg, a);
    const Tensor vu = velocity(flow, fcfg, obs, a, t, c_null), vp = velocity(flow, fcfg, obs, a, t, c_opt);
    a = a + dt * (vu + w * (vp - vu));
  }
  return ops::clip(a, -1.0, 1.0);
}

}  // namespace rl
