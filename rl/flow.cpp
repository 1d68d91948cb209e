// Flow-matching behavior cloning and Euler sampling (see flow.h).
#include "rl/flow.h"

#include "ops/api.h"

namespace rl {

uint64_t FlowConfig::jit_hash() const {
  uint64_t h = net.jit_hash();
  for (uint64_t v : {uint64_t(obs_dim), uint64_t(action_dim), uint64_t(time_dim), uint64_t(grid_time),
                     uint64_t(steps), uint64_t(cond_dim)})
    h = (h ^ v) * 1099511628211ull;
  return h;
}

FlowConfig make_flow_config(int64_t obs_dim, int64_t action_dim, std::vector<int64_t> hidden) {
  FlowConfig c;
  c.obs_dim = obs_dim;
  c.action_dim = action_dim;
  c.net = nn::MlpConfig::actor(std::move(hidden), action_dim);
  return c;
}

nn::Mlp init_flow(const Tensor& key, const FlowConfig& cfg) {
  nn::MlpConfig net = cfg.net;
  net.out = cfg.action_dim;
  return nn::init_mlp(key, cfg.obs_dim + cfg.action_dim + cfg.time_dim + cfg.cond_dim, net);
}

Tensor velocity(const nn::Mlp& p, const FlowConfig& cfg, const Tensor& obs, const Tensor& a, const Tensor& t,
                const Tensor& cond) {
  const int64_t b = a.dim(0);
  if (obs.ndim() != 2 || a.ndim() != 2 || obs.dim(0) != b || obs.dim(1) != cfg.obs_dim ||
      a.dim(1) != cfg.action_dim)
    engine::raise(engine::ErrorKind::Shape, "rl::velocity",
                  "expects obs [B, " + std::to_string(cfg.obs_dim) + "] and actions [B, " +
                      std::to_string(cfg.action_dim) + "]",
                  {{obs.aval(), a.aval()}}, engine::current_user_loc(), "check the flow config's dimensions");
  if (cond.defined() != (cfg.cond_dim > 0))
    engine::raise(
        engine::ErrorKind::Value, "rl::velocity",
        cfg.cond_dim > 0 ? "a conditional flow needs its condition" : "this flow takes no condition", {},
        engine::current_user_loc(), "pass cond exactly when FlowConfig::cond_dim > 0");
  Tensor tb = t.ndim() == 0 ? ops::broadcast_to(t, {b}) : ops::reshape(t, {b});
  nn::MlpConfig net = cfg.net;
  net.out = cfg.action_dim;
  std::vector<Tensor> in{obs, a, nn::time_embedding(tb, cfg.time_dim)};
  if (cond.defined()) in.push_back(cond);
  return nn::mlp(p, net, ops::concatenate(in, 1));
}

Tensor flow_bc_loss(const nn::Mlp& p, const FlowConfig& cfg, const Tensor& obs, const Tensor& actions,
                    const Tensor& key) {
  const int64_t b = actions.dim(0);
  const Tensor a0 = ops::random_normal(ops::random_fold_in(key, 0), actions.shape(), actions.dtype());
  Tensor t = ops::random_uniform(ops::random_fold_in(key, 1), {b}, 0.0, 1.0, actions.dtype());
  if (cfg.grid_time)
    t = ops::floor(t * double(cfg.steps + 1)) / double(cfg.steps);  // uniform over {0, 1/T, ..., 1}
  const Tensor tt = ops::expand_dims(t, 1);
  const Tensor at = (1.0 - tt) * a0 + tt * actions;
  return ops::mean(ops::square(velocity(p, cfg, obs, at, t) - (actions - a0)));
}

Tensor sample_bc(const nn::Mlp& p, const FlowConfig& cfg, const Tensor& obs, const Tensor& noise) {
  const double dt = 1.0 / cfg.steps;
  Tensor a = noise;
  for (int k = 0; k < cfg.steps; ++k) a = a + dt * velocity(p, cfg, obs, a, ops::scalar(k * dt, a.dtype()));
  return ops::clip(a, -1.0, 1.0);
}

}  // namespace rl
