// The IQL critic of QGF (in-sample: it never queries policy actions). Q(s, a) is an ensemble of heads (two by
// default) evaluated as one vmapped network; V(s) is a single network. On a batch of H-step action chunks:
//   Q target  y = R + discount^H * mask * V(s')            (R: the chunk's discounted reward sum)
//   Q loss    sum over heads of mean(weight * (Q_i(s, a) - y)^2)
//   V loss    mean(weight * |tau - 1(u < 0)| u^2),  u = min_i Qtarget_i(s, a) - V(s)  (expectile regression)
//   Qtarget   Polyak average of Q, rate tau_polyak per step.
#pragma once
#include "nn/layers.h"

namespace rl {

using engine::Tensor;

struct CriticConfig {
  int64_t obs_dim = 0;
  int64_t action_dim = 0;  // the (chunk) action dimension
  int64_t heads = 2;
  nn::MlpConfig q_net;  // out = 1
  nn::MlpConfig v_net;  // out = 1
  double expectile = 0.9;
  double discount = 0.99;
  int horizon =
      1;  // H: the chunk length the targets bootstrap over. Must equal the ChunkConfig's horizon (and
          // discount its discount) of the batches: make_critic_config takes both from the caller.
  double polyak = 0.005;
  uint64_t jit_hash() const;
};

// The paper's critic: GELU MLPs with LayerNorm after every hidden layer, two Q heads.
CriticConfig make_critic_config(int64_t obs_dim, int64_t action_dim, std::vector<int64_t> hidden,
                                double discount, int horizon);

struct Critic {
  nn::Mlp q, q_target;  // stacked over heads
  nn::Mlp v;
  auto tree_fields() const { return std::tie(q, q_target, v); }
  auto tree_fields() { return std::tie(q, q_target, v); }
};
Critic init_critic(const Tensor& key, const CriticConfig& cfg);

// Q of every head: obs [B, obs_dim], actions [B, action_dim] -> [heads, B].
Tensor q_heads(const nn::Mlp& q, const CriticConfig& cfg, const Tensor& obs, const Tensor& actions);
Tensor q_min(const nn::Mlp& q, const CriticConfig& cfg, const Tensor& obs, const Tensor& actions);  // [B]
Tensor v_value(const nn::Mlp& v, const CriticConfig& cfg, const Tensor& obs);                       // [B]

// A batch for the critic. rewards: the chunk's discounted reward sum; masks: 0 where the episode ended inside
// the chunk (no bootstrap); weight: 1 for valid chunks (QGF weights the Q loss by the validity flag).
struct CriticBatch {
  Tensor obs, actions, rewards, masks, next_obs, weight;
  auto tree_fields() const { return std::tie(obs, actions, rewards, masks, next_obs, weight); }
  auto tree_fields() { return std::tie(obs, actions, rewards, masks, next_obs, weight); }
};

Tensor expectile_loss(const Tensor& u, double tau);  // elementwise |tau - 1(u < 0)| u^2
Tensor q_loss(const nn::Mlp& q, const nn::Mlp& v, const CriticConfig& cfg, const CriticBatch& b);
Tensor v_loss(const nn::Mlp& v, const nn::Mlp& q_target, const CriticConfig& cfg, const CriticBatch& b);

}  // namespace rl
