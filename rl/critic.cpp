// The IQL critic (see critic.h).
#include "rl/critic.h"

#include <cmath>

#include "ops/api.h"

namespace rl {

uint64_t CriticConfig::jit_hash() const {
  uint64_t h = q_net.jit_hash() * 31 + v_net.jit_hash();
  for (double v :
       {double(obs_dim), double(action_dim), double(heads), expectile, discount, double(horizon), polyak})
    h = (h ^ std::hash<double>{}(v)) * 1099511628211ull;
  return h;
}

CriticConfig make_critic_config(int64_t obs_dim, int64_t action_dim, std::vector<int64_t> hidden,
                                double discount, int horizon) {
  CriticConfig c;
  c.obs_dim = obs_dim;
  c.action_dim = action_dim;
  c.q_net = nn::MlpConfig::critic(hidden, 1);
  c.v_net = nn::MlpConfig::critic(std::move(hidden), 1);
  c.discount = discount;
  c.horizon = horizon;
  return c;
}

Critic init_critic(const Tensor& key, const CriticConfig& cfg) {
  Critic c;
  c.q =
      nn::init_mlp_ensemble(ops::random_fold_in(key, 0), cfg.heads, cfg.obs_dim + cfg.action_dim, cfg.q_net);
  c.q_target = c.q;
  c.v = nn::init_mlp(ops::random_fold_in(key, 1), cfg.obs_dim, cfg.v_net);
  return c;
}

Tensor q_heads(const nn::Mlp& q, const CriticConfig& cfg, const Tensor& obs, const Tensor& actions) {
  const Tensor out = nn::mlp_ensemble(q, cfg.q_net, ops::concatenate({obs, actions}, 1));  // [heads, B, 1]
  return ops::squeeze(out, {2});
}

Tensor q_min(const nn::Mlp& q, const CriticConfig& cfg, const Tensor& obs, const Tensor& actions) {
  return ops::min(q_heads(q, cfg, obs, actions), {0});
}

Tensor v_value(const nn::Mlp& v, const CriticConfig& cfg, const Tensor& obs) {
  return ops::squeeze(nn::mlp(v, cfg.v_net, obs), {1});
}

Tensor expectile_loss(const Tensor& u, double tau) {
  const Tensor w =
      ops::select(ops::lt(u, ops::zeros_like(u)), ops::full_like(u, 1.0 - tau), ops::full_like(u, tau));
  return w * ops::square(u);
}

Tensor q_loss(const nn::Mlp& q, const nn::Mlp& v, const CriticConfig& cfg, const CriticBatch& b) {
  const double bootstrap = std::pow(cfg.discount, cfg.horizon);
  const Tensor target = ops::stop_gradient(b.rewards + bootstrap * b.masks * v_value(v, cfg, b.next_obs));
  const Tensor err = q_heads(q, cfg, b.obs, b.actions) - target;  // [heads, B]
  return ops::sum(ops::mean(b.weight * ops::square(err), {1}));
}

Tensor v_loss(const nn::Mlp& v, const nn::Mlp& q_target, const CriticConfig& cfg, const CriticBatch& b) {
  const Tensor q = ops::stop_gradient(q_min(q_target, cfg, b.obs, b.actions));
  // Weighted by validity like the Q loss (the official code): V must not chase targets of truncated chunks.
  return ops::mean(b.weight * expectile_loss(q - v_value(v, cfg, b.obs), cfg.expectile));
}

}  // namespace rl
