// Layers as plain parameter structs plus pure apply functions (the functional style: a network is its
// parameters; transforms see them as trees). Linear, LayerNorm, the MLP used by QGF's actor and critics
// (widths, activation and LayerNorm placement configurable), the sinusoidal time embedding, and ensembles as
// stacked parameters evaluated with vmap.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/transforms/transforms.h"
#include "nn/init.h"
#include "ops/api.h"

namespace nn {

struct Linear {
  Tensor w, b;  // w [in, out], b [out]
  auto tree_fields() const { return std::tie(w, b); }
  auto tree_fields() { return std::tie(w, b); }
};
Linear init_linear(const Tensor& key, int64_t in, int64_t out, const VarianceScaling& init = kDefaultInit,
                   DType dtype = DType::F32);
Tensor linear(const Linear& l, const Tensor& x);  // x [..., in] -> [..., out]

struct LayerNorm {
  Tensor scale, bias;  // [dim]; flax's LayerNorm (epsilon 1e-6, scale and bias on)
  auto tree_fields() const { return std::tie(scale, bias); }
  auto tree_fields() { return std::tie(scale, bias); }
};
LayerNorm init_layer_norm(int64_t dim, DType dtype = DType::F32);
Tensor layer_norm(const LayerNorm& ln, const Tensor& x, double eps = 1e-6);

enum class Activation { Gelu, GeluErf, Relu, Tanh, Swish };
Tensor activate(Activation a, const Tensor& x);

// Hidden layers are Dense -> (LayerNorm) -> activation, the order of QGF's MLP (utils/networks.py); FQL's MLP
// normalizes after the activation instead (norm_after_activation). The head is a plain Dense. `layer_norm[i]`
// says whether hidden layer i has a LayerNorm (empty: none).
struct MlpConfig {
  std::vector<int64_t> hidden;
  int64_t out = 1;
  Activation activation = Activation::Gelu;
  std::vector<bool> layer_norm;
  bool norm_after_activation = false;  // FQL's order: Dense -> activation -> LayerNorm
  VarianceScaling init = kDefaultInit;

  // QGF's critic (Q and V): LayerNorm after every hidden layer.
  static MlpConfig critic(std::vector<int64_t> hidden, int64_t out);
  // QGF's flow actor: LayerNorm after every hidden layer but the last.
  static MlpConfig actor(std::vector<int64_t> hidden, int64_t out);
  uint64_t jit_hash() const;  // so a config can be a static argument of jit
};

struct Mlp {
  std::vector<Linear> hidden;
  std::vector<LayerNorm> norms;  // one per hidden layer that has a LayerNorm, in order
  Linear head;
  auto tree_fields() const { return std::tie(hidden, norms, head); }
  auto tree_fields() { return std::tie(hidden, norms, head); }
};
Mlp init_mlp(const Tensor& key, int64_t in, const MlpConfig& cfg, DType dtype = DType::F32);
Tensor mlp(const Mlp& params, const MlpConfig& cfg, const Tensor& x);  // x [..., in] -> [..., out]

// The sinusoidal embedding of a time t in [0, 1]: [cos(t f_0), ..., cos(t f_{d/2-1}), sin(t f_0), ...] with
// frequencies f_k = 2 pi * 1000^(k / (d/2 - 1)) / 10, geometric from 2 pi / 10 to 200 pi: slow features that
// resolve the whole interval and fast ones that resolve the 10 Euler steps. t [...] -> [..., d] (a new last
// axis).
Tensor time_embedding(const Tensor& t, int64_t dim = 16);

// Ensembles: E members' parameters stacked along a new leading axis of every leaf, and evaluated together
// with vmap over that axis (one batched network, not E calls).
template <class P>
P stack_members(const std::vector<P>& members) {
  std::vector<std::vector<Tensor>> leaves;
  for (const P& m : members) leaves.push_back(engine::tree_leaves(m));
  std::vector<Tensor> stacked(leaves.at(0).size());
  for (size_t i = 0; i < stacked.size(); ++i) {
    std::vector<Tensor> col;
    for (const auto& l : leaves) col.push_back(l[i]);
    stacked[i] = ops::stack(col, 0);
  }
  return engine::tree_unflatten(members[0], stacked);
}
Mlp init_mlp_ensemble(const Tensor& key, int64_t members, int64_t in, const MlpConfig& cfg,
                      DType dtype = DType::F32);
// [E, ..., out]: every member on the same input x.
Tensor mlp_ensemble(const Mlp& stacked, const MlpConfig& cfg, const Tensor& x);

}  // namespace nn
