// Canonical workloads (see canonical.h): MLP, MSE loss, functional Adam, training step, guided sampler step.
#include "tests/support/canonical.h"

#include <cmath>

#include "engine/transforms/transforms.h"
#include "ops/api.h"

namespace canonical {

MlpParams init_mlp(int in_dim, int hidden, int depth, int out_dim, uint64_t seed, DType dtype) {
  const Tensor key = ops::random_key(seed);
  // One independent key per layer (fold_in of the layer index), so adding layers does not reshuffle the others.
  auto weight = [&](int layer, int64_t fan_in, int64_t fan_out) {
    const Tensor k = ops::random_fold_in(key, uint32_t(layer));
    return ops::random_normal(k, {fan_in, fan_out}, dtype) * (1.0 / std::sqrt(double(fan_in)));
  };
  MlpParams p;
  for (int i = 0; i < depth; ++i) {
    p.w.push_back(weight(i, i == 0 ? in_dim : hidden, hidden));
    p.b.push_back(ops::zeros({hidden}, dtype));
    p.ln_gamma.push_back(ops::ones({hidden}, dtype));
    p.ln_beta.push_back(ops::zeros({hidden}, dtype));
  }
  p.w_out = weight(depth, hidden, out_dim);
  p.b_out = ops::zeros({out_dim}, dtype);
  return p;
}

Tensor mlp_forward(const MlpParams& p, const Tensor& x) {
  Tensor h = x;
  for (size_t i = 0; i < p.w.size(); ++i)
    h = ops::gelu(ops::layer_norm(ops::matmul(h, p.w[i]) + p.b[i], p.ln_gamma[i], p.ln_beta[i]), true);
  return ops::matmul(h, p.w_out) + p.b_out;
}

Tensor mlp_loss(const MlpParams& p, const Tensor& x, const Tensor& y) { return ops::mse(mlp_forward(p, x), y); }

AdamState init_adam(const MlpParams& p) {
  auto zeros = [](const Tensor& t) { return ops::zeros_like(t); };
  return AdamState{engine::tree_map(p, zeros), engine::tree_map(p, zeros), ops::scalar(0.0, DType::F32)};
}

AdamLeaf adam_leaf(const Tensor& p, const Tensor& g, const Tensor& m, const Tensor& v, const Tensor& t, float lr) {
  // The step counter is f32 whatever the parameters' dtype; f64 parameters (gradient tests) take it as f64.
  const Tensor tt = t.dtype() == p.dtype() ? t : ops::convert(t, p.dtype());
  const Tensor m1 = kAdamBeta1 * m + (1.0 - kAdamBeta1) * g;
  const Tensor v1 = kAdamBeta2 * v + (1.0 - kAdamBeta2) * (g * g);
  // Bias corrections 1 - beta^t are scalars: cheap, and they reach the elementwise update as broadcasts.
  const Tensor c1 = 1.0 - ops::pow(ops::literal(kAdamBeta1), tt);
  const Tensor c2 = 1.0 - ops::pow(ops::literal(kAdamBeta2), tt);
  const Tensor p1 = p - double(lr) * (m1 / c1) / (ops::sqrt(v1 / c2) + kAdamEps);
  return AdamLeaf{p1, m1, v1};
}

std::pair<MlpParams, AdamState> adam_update(const MlpParams& p, const MlpParams& g, const AdamState& s, float lr) {
  const std::vector<Tensor> lp = engine::tree_leaves(p), lg = engine::tree_leaves(g), lm = engine::tree_leaves(s.m),
                            lv = engine::tree_leaves(s.v);
  const Tensor t = s.step + 1.0;
  std::vector<Tensor> np(lp.size()), nm(lp.size()), nv(lp.size());
  for (size_t i = 0; i < lp.size(); ++i) {
    AdamLeaf r = adam_leaf(lp[i], lg[i], lm[i], lv[i], t, lr);
    np[i] = r.p;
    nm[i] = r.m;
    nv[i] = r.v;
  }
  return {engine::tree_unflatten(p, np),
          AdamState{engine::tree_unflatten(p, nm), engine::tree_unflatten(p, nv), t}};
}

std::tuple<MlpParams, AdamState, Tensor> train_step(const MlpParams& p, const AdamState& s, const Tensor& x,
                                                    const Tensor& y, float lr) {
  auto [loss, g] = engine::value_and_grad(mlp_loss)(p, x, y);
  auto [np, ns] = adam_update(p, g, s, lr);
  return {std::move(np), std::move(ns), loss};
}

Tensor guided_step(const MlpParams& flow, const MlpParams& critic, const Tensor& obs, const Tensor& action,
                   const Tensor& t, double dt, double guidance_scale) {
  const int64_t batch = action.dim(0);
  const Tensor tcol = ops::broadcast_to(t.ndim() == 0 ? ops::reshape(t, {1, 1}) : ops::reshape(t, {batch, 1}),
                                        {batch, 1});
  const Tensor velocity = mlp_forward(flow, ops::concatenate({obs, action, tcol}, -1));
  // Rows of Q depend only on their own action, so the gradient of the batch sum gives each row's dQ/da.
  auto q_sum = [&](const Tensor& a) { return ops::sum(mlp_forward(critic, ops::concatenate({obs, a}, -1))); };
  const Tensor dq = engine::grad(q_sum)(action);
  return action + dt * (velocity + guidance_scale * dq);
}

}  // namespace canonical
