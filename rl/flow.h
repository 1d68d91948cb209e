// The flow policy: a velocity field v(s, a_t, t) trained by flow-matching behavior cloning, and its Euler
// sampler. a_0 ~ N(0, I) is noise, a_1 the data action (chunk), a_t = (1 - t) a_0 + t a_1, and the target
// velocity is a_1 - a_0 (QGF.md). Everything is a pure function of (parameters, inputs, key): jit and vmap
// apply as they are.
#pragma once
#include "nn/layers.h"

namespace rl {

using engine::Tensor;

struct FlowConfig {
  int64_t obs_dim = 0;
  int64_t action_dim = 0;  // the full (chunk) action dimension the policy outputs
  int64_t time_dim = 16;   // sinusoidal time embedding width
  nn::MlpConfig net;       // hidden layers of the velocity network (net.out is set to action_dim)
  bool grid_time = false;  // t from {0, 1/T, ..., 1} (the official code) instead of U[0, 1] (the paper)
  int steps = 10;          // Euler steps of the sampler
  int64_t cond_dim = 0;    // CFGRL's conditional flow: an extra input (the optimality bit); 0 for plain BC
  uint64_t jit_hash() const;
};

// The paper's actor: MLP [obs, a_t, emb(t)] -> action_dim, GELU, LayerNorm on all hidden layers but the last.
FlowConfig make_flow_config(int64_t obs_dim, int64_t action_dim, std::vector<int64_t> hidden);
nn::Mlp init_flow(const Tensor& key, const FlowConfig& cfg);

// v(s, a, t): obs [B, obs_dim], a [B, action_dim], t [B] (or a scalar, broadcast over the batch). A
// conditional flow (cond_dim > 0) takes its condition cond [B, cond_dim] as well.
Tensor velocity(const nn::Mlp& p, const FlowConfig& cfg, const Tensor& obs, const Tensor& a, const Tensor& t,
                const Tensor& cond = Tensor());

// The flow-matching loss on a batch of (obs, data actions): the mean over every batch row and action
// coordinate of (v(s, a_t, t) - (a_1 - a_0))^2, with a_0 and t drawn from `key`.
Tensor flow_bc_loss(const nn::Mlp& p, const FlowConfig& cfg, const Tensor& obs, const Tensor& actions,
                    const Tensor& key);

// Unguided Euler sampling from the given noise a_0 [B, action_dim]: a += dt v(s, a, k dt), T steps; the
// result is clipped to [-1, 1] (the environment's action box).
Tensor sample_bc(const nn::Mlp& p, const FlowConfig& cfg, const Tensor& obs, const Tensor& noise);

}  // namespace rl
