// Optimizers as pure functions over parameter trees: Adam with optax's exact semantics
// (optax.chain(clip_by_global_norm(max_norm)?, scale_by_adam(b1, b2, eps, eps_root), scale(-lr)) followed by
// optax.apply_updates), optax-style global-norm clipping, and Polyak (target-network) averaging.
// The updates are built from ops only, so they can be jitted; hyper-parameters are constants of the graph and
// AdamConfig is hashable as a jit static argument.
#pragma once
#include <cstdint>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

#include "engine/transforms/tree.h"
#include "nn/tree_util.h"

namespace nn {

struct AdamConfig {
  double lr = 3e-4;
  double b1 = 0.9;
  double b2 = 0.999;
  double eps = 1e-8;
  double eps_root = 0.0;
  std::optional<double> clip_global_norm;  // optax.clip_by_global_norm(max_norm) on the gradients first

  void validate() const;      // throws engine::Error (Value) naming the bad field
  uint64_t jit_hash() const;  // the exact bit patterns of every field (a jit static argument)
};

// The step counter is an i32 scalar as in optax (ScaleByAdamState.count), incremented saturating at
// INT32_MAX like optax's numerics.safe_increment. It is converted to each leaf's float dtype for the bias
// corrections. mu and nu have the parameters' structure, shapes and dtypes.
template <class P>
struct AdamState {
  P mu, nu;
  Tensor count;
  auto tree_fields() { return std::tie(mu, nu, count); }
  auto tree_fields() const { return std::tie(mu, nu, count); }
};

// ---- flat (leaf-list) forms, defined in optim.cpp; the tree templates below flatten and call them ----
struct AdamFlat {
  std::vector<Tensor> params, mu, nu;
  Tensor count;
};
AdamFlat adam_update_flat(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                          const std::vector<Tensor>& mu, const std::vector<Tensor>& nu, const Tensor& count,
                          const AdamConfig& config);
std::vector<Tensor> clip_by_global_norm_flat(const std::vector<Tensor>& grads, double max_norm);
Tensor polyak_leaf(const Tensor& target, const Tensor& online, double tau);

template <engine::TreeLike P>
AdamState<P> adam_init(const P& params) {
  return AdamState<P>{tree_zeros_like(params), tree_zeros_like(params), ops::scalar(0.0, engine::DType::I32)};
}

// One Adam step: returns (new params, new state). grads must match params leaf for leaf (shape and dtype,
// checked). Bitwise the same eagerly and under jit.
template <engine::TreeLike P>
std::pair<P, AdamState<P>> adam_update(const P& params, const P& grads, const AdamState<P>& state,
                                       const AdamConfig& config) {
  AdamFlat r =
      adam_update_flat(engine::tree_leaves(params), engine::tree_leaves(grads), engine::tree_leaves(state.mu),
                       engine::tree_leaves(state.nu), state.count, config);
  return {engine::tree_unflatten(params, r.params),
          AdamState<P>{engine::tree_unflatten(params, r.mu), engine::tree_unflatten(params, r.nu), r.count}};
}

// optax.clip_by_global_norm: leaves unchanged when global_norm < max_norm, else (g / global_norm) * max_norm.
template <engine::TreeLike P>
P clip_by_global_norm(const P& grads, double max_norm) {
  return engine::tree_unflatten(grads, clip_by_global_norm_flat(engine::tree_leaves(grads), max_norm));
}

// Target-network averaging, optax.incremental_update: tau * online + (1 - tau) * target per leaf.
template <engine::TreeLike P>
P polyak(const P& target, const P& online, double tau) {
  return nn::tree_map([tau](const Tensor& t, const Tensor& o) { return polyak_leaf(t, o, tau); }, target,
                      online);
}

}  // namespace nn
