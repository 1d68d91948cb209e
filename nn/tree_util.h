// Leafwise helpers over parameter trees (engine/transforms/tree.h): map several trees of one structure
// together, zeros shaped like a tree, the global L2 norm and the scalar count. Everything is built from ops,
// so the helpers run eagerly and under every transform (grad, vmap, jit) alike; only tree_count, which reads
// static shapes, returns a host number.
#pragma once
#include <array>
#include <concepts>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/error.h"
#include "engine/transforms/tree.h"
#include "ops/api.h"

namespace nn {

using engine::Tensor;

namespace detail {

// Trees of one C++ type can still differ in shape (a std::vector of another length, a Tree with other keys);
// a leaf-count mismatch is the symptom we can see after flattening, and silently zipping would misalign
// leaves.
inline void check_same_leaf_count(const char* op, size_t expected, size_t got, size_t tree_index) {
  if (expected == got) return;
  engine::raise(engine::ErrorKind::Value, op,
                "tree " + std::to_string(tree_index) + " has " + std::to_string(got) +
                    " leaves but tree 0 has " + std::to_string(expected),
                {}, {}, "pass trees of identical structure (same container sizes, same keys)");
}

}  // namespace detail

// Returns a tree shaped like `a` whose i-th leaf is f(a_i, rest_i...). All trees must have the same type and
// the same number of leaves (checked); f sees the leaves in flatten order and must return a Tensor. Per-leaf
// shapes are not compared here because f may broadcast on purpose; callers that need equal shapes check them.
// clang-format off
template <class F, engine::TreeLike T, class... Ts>
  requires(std::same_as<T, Ts> && ...)
T tree_map(F&& f, const T& a, const Ts&... rest) {
  // clang-format on
  const std::vector<Tensor> la = engine::tree_leaves(a);
  const std::array<std::vector<Tensor>, sizeof...(Ts)> lr{engine::tree_leaves(rest)...};
  for (size_t k = 0; k < lr.size(); ++k)
    detail::check_same_leaf_count("nn::tree_map", la.size(), lr[k].size(), k + 1);
  std::vector<Tensor> out(la.size());
  // An index sequence (not a counter inside the call) pairs tree k with lr[k]: argument evaluation order is
  // unspecified in C++.
  [&]<size_t... K>(std::index_sequence<K...>) {
    for (size_t i = 0; i < la.size(); ++i) out[i] = f(la[i], lr[K][i]...);
  }
  (std::index_sequence_for<Ts...>{});
  return engine::tree_unflatten(a, out);
}

// Zeros with every leaf's shape and dtype (e.g. optimizer moments).
template <engine::TreeLike T>
T tree_zeros_like(const T& a) {
  return nn::tree_map([](const Tensor& x) { return ops::zeros_like(x); }, a);
}

// sqrt(sum over float leaves of sum(x^2)) as a 0-d tensor, accumulated leaf by leaf in flatten order (as
// optax.global_norm's Python `sum`). Integer and bool leaves carry no gradient and are skipped; squaring them
// would also overflow. Mixed f32/f64 leaves promote to f64. A tree without float leaves gives f32 zero.
inline Tensor global_norm_of_leaves(const std::vector<Tensor>& leaves) {
  Tensor acc;
  for (const Tensor& x : leaves) {
    if (!engine::is_float(x.dtype())) continue;
    Tensor s = ops::sum(x * x);
    acc = acc.defined() ? acc + s : s;
  }
  if (!acc.defined()) return ops::scalar(0.0, engine::DType::F32);
  return ops::sqrt(acc);
}

template <engine::TreeLike T>
Tensor tree_global_norm(const T& a) {
  return global_norm_of_leaves(engine::tree_leaves(a));
}

// Number of scalars over all leaves (shapes are static, so this is a host value even under a transform).
template <engine::TreeLike T>
int64_t tree_count(const T& a) {
  int64_t n = 0;
  for (const Tensor& x : engine::tree_leaves(a)) n += x.numel();
  return n;
}

}  // namespace nn
