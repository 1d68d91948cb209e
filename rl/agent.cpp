// The joint training step (see agent.h).
#include "rl/agent.h"

#include "ops/api.h"

namespace rl {

AgentState init_agent(uint64_t seed, const AgentConfig& cfg) {
  const Tensor key = ops::random_key(seed);
  AgentState s;
  s.flow = init_flow(ops::random_fold_in(key, 0), cfg.flow);
  s.critic = init_critic(ops::random_fold_in(key, 1), cfg.critic);
  s.flow_opt = nn::adam_init(s.flow);
  s.q_opt = nn::adam_init(s.critic.q);
  s.v_opt = nn::adam_init(s.critic.v);
  s.key = ops::random_fold_in(key, 2);
  return s;
}

CriticBatch critic_batch(const Batch& b) {
  const int64_t h = b.valid.dim(1);
  const Tensor last_valid = ops::reshape(ops::slice_axis(b.valid, 1, h - 1, h), {b.valid.dim(0)});
  return CriticBatch{b.observations, b.action_chunks, b.rewards, b.masks, b.next_observations, last_valid};
}

TrainOutput train_step(const AgentState& s, const CriticBatch& batch, const AgentConfig& cfg) {
  const Tensor keys = ops::random_split(s.key, 2);
  const Tensor next_key = ops::reshape(ops::slice_axis(keys, 0, 0, 1), {2});
  const Tensor flow_key = ops::reshape(ops::slice_axis(keys, 0, 1, 2), {2});

  auto [flow_loss, flow_grad] = engine::value_and_grad([&](const nn::Mlp& p) {
    return flow_bc_loss(p, cfg.flow, batch.obs, batch.actions, flow_key);
  })(s.flow);
  auto [q_l, q_grad] = engine::value_and_grad(
      [&](const nn::Mlp& q) { return q_loss(q, s.critic.v, cfg.critic, batch); })(s.critic.q);
  auto [v_l, v_grad] = engine::value_and_grad(
      [&](const nn::Mlp& v) { return v_loss(v, s.critic.q_target, cfg.critic, batch); })(s.critic.v);

  TrainOutput out;
  std::tie(out.state.flow, out.state.flow_opt) = nn::adam_update(s.flow, flow_grad, s.flow_opt, cfg.adam);
  std::tie(out.state.critic.q, out.state.q_opt) = nn::adam_update(s.critic.q, q_grad, s.q_opt, cfg.adam);
  std::tie(out.state.critic.v, out.state.v_opt) = nn::adam_update(s.critic.v, v_grad, s.v_opt, cfg.adam);
  out.state.critic.q_target = nn::polyak(s.critic.q_target, out.state.critic.q, cfg.critic.polyak);
  out.state.key = next_key;
  out.metrics = TrainMetrics{flow_loss, q_l, v_l};
  return out;
}

}  // namespace rl
