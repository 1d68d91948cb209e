// Canonical workloads shared by tests and benchmarks: an MLP (Linear -> LayerNorm -> GELU blocks, linear head)
// with its MSE loss, a functional Adam optimizer, a full training step, and one step of a Q-guided flow
// sampler. Everything is written with the public functional API only, so the same code runs eagerly, under
// grad/vmap, and under jit; tests compare those modes and benchmarks time them on identical work.
#pragma once
#include <cstdint>
#include <tuple>
#include <utility>
#include <vector>

#include "engine/transforms/tree.h"

namespace canonical {

using engine::DType;
using engine::Tensor;

// An MLP of `depth` hidden blocks; vectors hold one entry per block. A parameter tree (see tree.h): grad
// returns gradients with this same structure.
struct MlpParams {
  std::vector<Tensor> w, b, ln_gamma, ln_beta;  // w[i]: [in_i, hidden]; b, ln_gamma, ln_beta: [hidden]
  Tensor w_out, b_out;                          // [hidden, out_dim], [out_dim]
  auto tree_fields() { return std::tie(w, b, ln_gamma, ln_beta, w_out, b_out); }
  auto tree_fields() const { return std::tie(w, b, ln_gamma, ln_beta, w_out, b_out); }
};

// Weights ~ N(0, 1 / fan_in) from the engine's counter-based RNG (reproducible for a seed); biases and LayerNorm
// offsets 0, LayerNorm scales 1. depth >= 1. dtype F32 (default) or F64 (for finite-difference tests).
MlpParams init_mlp(int in_dim, int hidden, int depth, int out_dim, uint64_t seed, DType dtype = DType::F32);

// x: [batch, in_dim] -> [batch, out_dim]. GELU uses the tanh approximation.
Tensor mlp_forward(const MlpParams& p, const Tensor& x);
// Mean squared error of mlp_forward(p, x) against y [batch, out_dim]; a scalar.
Tensor mlp_loss(const MlpParams& p, const Tensor& x, const Tensor& y);

// ---- Adam (beta1 0.9, beta2 0.999, eps 1e-8, bias-corrected) ----
inline constexpr double kAdamBeta1 = 0.9, kAdamBeta2 = 0.999, kAdamEps = 1e-8;
inline constexpr float kDefaultLr = 1e-3f;

struct AdamState {
  MlpParams m, v;  // first and second moments, shaped like the parameters
  Tensor step;     // f32 scalar: updates taken so far
  auto tree_fields() { return std::tie(m, v, step); }
  auto tree_fields() const { return std::tie(m, v, step); }
};
AdamState init_adam(const MlpParams& p);  // zero moments, step 0

// One parameter's update. `t` is the step number of this update (>= 1: the state's step plus one), an f32
// scalar. All three results are elementwise in p, g, m, v (t enters as a broadcast scalar), so jit can fuse
// the leaf's whole update into one kernel.
struct AdamLeaf {
  Tensor p, m, v;
  auto tree_fields() { return std::tie(p, m, v); }
  auto tree_fields() const { return std::tie(p, m, v); }
};
AdamLeaf adam_leaf(const Tensor& p, const Tensor& g, const Tensor& m, const Tensor& v, const Tensor& t, float lr);

// adam_leaf on every leaf of p (gradient g), and the step counter advanced by one.
std::pair<MlpParams, AdamState> adam_update(const MlpParams& p, const MlpParams& g, const AdamState& s, float lr);

// value_and_grad(mlp_loss) then adam_update. Returns (new params, new state, loss before the update).
// To jit it, wrap it in a lambda (the default argument is not part of a function pointer's type).
std::tuple<MlpParams, AdamState, Tensor> train_step(const MlpParams& p, const AdamState& s, const Tensor& x,
                                                    const Tensor& y, float lr = kDefaultLr);

// One Euler step of a Q-guided flow sampler: a + dt * (v(obs, a, t) + guidance_scale * dQ(obs, a)/da), where
// v = mlp_forward(flow, [obs, a, t]) and Q = mlp_forward(critic, [obs, a]) ([batch, 1]); dQ/da is the gradient
// of Q summed over the batch (rows are independent, so row i gets its own gradient).
// Shapes: obs [B, obs_dim], action [B, act_dim], t a scalar, [B] or [B, 1] (broadcast over the batch).
// So flow = init_mlp(obs_dim + act_dim + 1, ., ., act_dim), critic = init_mlp(obs_dim + act_dim, ., ., 1).
Tensor guided_step(const MlpParams& flow, const MlpParams& critic, const Tensor& obs, const Tensor& action,
                   const Tensor& t, double dt, double guidance_scale);

}  // namespace canonical
