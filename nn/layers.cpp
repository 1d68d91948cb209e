// Layers and the MLP (see layers.h).
#include "nn/layers.h"

#include <cmath>
#include <functional>

#include "ops/api.h"

namespace nn {

Linear init_linear(const Tensor& key, int64_t in, int64_t out, const VarianceScaling& init, DType dtype) {
  return Linear{init_weight(key, {in, out}, init, dtype), ops::zeros({out}, dtype)};
}

Tensor linear(const Linear& l, const Tensor& x) {
  if (x.ndim() == 0 || x.dim(-1) != l.w.dim(0))
    engine::raise(engine::ErrorKind::Shape, "nn::linear", "input features do not match the weight",
                  {{x.aval(), l.w.aval()}}, engine::current_user_loc(),
                  "the last axis of x must equal the weight's first dimension");
  if (x.ndim() == 2) return ops::matmul(x, l.w) + l.b;
  // Fold leading axes into rows: one GEMM, whatever the batch structure.
  Shape lead(x.shape().begin(), x.shape().end() - 1);
  Tensor y = ops::matmul(ops::reshape(x, {-1, x.dim(-1)}), l.w) + l.b;
  lead.push_back(l.w.dim(1));
  return ops::reshape(y, lead);
}

LayerNorm init_layer_norm(int64_t dim, DType dtype) {
  return LayerNorm{ops::ones({dim}, dtype), ops::zeros({dim}, dtype)};
}

Tensor layer_norm(const LayerNorm& ln, const Tensor& x, double eps) {
  return ops::layer_norm(x, ln.scale, ln.bias, eps);
}

Tensor activate(Activation a, const Tensor& x) {
  switch (a) {
    case Activation::Gelu:
      return ops::gelu(x, true);  // flax's nn.gelu default: the tanh approximation
    case Activation::GeluErf:
      return ops::gelu(x, false);
    case Activation::Relu:
      return ops::relu(x);
    case Activation::Tanh:
      return ops::tanh(x);
    case Activation::Swish:
      return x * ops::logistic(x);
  }
  return x;
}

MlpConfig MlpConfig::critic(std::vector<int64_t> hidden, int64_t out) {
  MlpConfig c;
  c.layer_norm.assign(hidden.size(), true);
  c.hidden = std::move(hidden);
  c.out = out;
  return c;
}

MlpConfig MlpConfig::actor(std::vector<int64_t> hidden, int64_t out) {
  MlpConfig c = critic(std::move(hidden), out);
  if (!c.layer_norm.empty()) c.layer_norm.back() = false;
  return c;
}

uint64_t MlpConfig::jit_hash() const {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](uint64_t v) { h = (h ^ v) * 1099511628211ull; };
  for (int64_t d : hidden) mix(uint64_t(d));
  mix(uint64_t(out) + 1000003);
  mix(uint64_t(activation));
  for (bool b : layer_norm) mix(b ? 7 : 11);
  mix(norm_after_activation ? 13 : 17);
  mix(uint64_t(init.mode) * 31 + uint64_t(init.distribution));
  mix(std::hash<double>{}(init.scale));
  return h;
}

namespace {
bool has_norm(const MlpConfig& cfg, size_t i) { return i < cfg.layer_norm.size() && cfg.layer_norm[i]; }
}  // namespace

Mlp init_mlp(const Tensor& key, int64_t in, const MlpConfig& cfg, DType dtype) {
  if (!cfg.layer_norm.empty() && cfg.layer_norm.size() != cfg.hidden.size())
    engine::raise(engine::ErrorKind::Value, "nn::init_mlp",
                  "layer_norm has " + std::to_string(cfg.layer_norm.size()) + " entries for " +
                      std::to_string(cfg.hidden.size()) + " hidden layers",
                  {}, engine::current_user_loc(), "give one flag per hidden layer, or none");
  Mlp p;
  int64_t width = in;
  for (size_t i = 0; i < cfg.hidden.size(); ++i) {
    // One key per layer (fold_in of its index): adding a layer does not change the others' draws.
    p.hidden.push_back(
        init_linear(ops::random_fold_in(key, uint32_t(i)), width, cfg.hidden[i], cfg.init, dtype));
    if (has_norm(cfg, i)) p.norms.push_back(init_layer_norm(cfg.hidden[i], dtype));
    width = cfg.hidden[i];
  }
  p.head =
      init_linear(ops::random_fold_in(key, uint32_t(cfg.hidden.size())), width, cfg.out, cfg.init, dtype);
  return p;
}

Tensor mlp(const Mlp& params, const MlpConfig& cfg, const Tensor& x) {
  if (params.hidden.size() != cfg.hidden.size())
    engine::raise(engine::ErrorKind::Value, "nn::mlp",
                  "parameters have " + std::to_string(params.hidden.size()) + " hidden layers, the config " +
                      std::to_string(cfg.hidden.size()),
                  {}, engine::current_user_loc(), "initialize the parameters with this config");
  size_t norms = 0;
  for (size_t i = 0; i < cfg.hidden.size(); ++i) norms += has_norm(cfg, i);
  if (params.norms.size() != norms)
    engine::raise(engine::ErrorKind::Value, "nn::mlp",
                  "parameters have " + std::to_string(params.norms.size()) + " LayerNorms, the config " +
                      std::to_string(norms),
                  {}, engine::current_user_loc(), "initialize the parameters with this config");
  Tensor h = x;
  size_t norm = 0;
  for (size_t i = 0; i < params.hidden.size(); ++i) {
    h = linear(params.hidden[i], h);
    if (has_norm(cfg, i) && !cfg.norm_after_activation) h = layer_norm(params.norms[norm++], h);
    h = activate(cfg.activation, h);
    if (has_norm(cfg, i) && cfg.norm_after_activation) h = layer_norm(params.norms[norm++], h);
  }
  return linear(params.head, h);
}

Tensor time_embedding(const Tensor& t, int64_t dim) {
  if (dim < 4 || dim % 2 != 0)
    engine::raise(engine::ErrorKind::Value, "nn::time_embedding",
                  "dim must be even and at least 4, got " + std::to_string(dim), {},
                  engine::current_user_loc());
  const int64_t half = dim / 2;
  // Built from iota inside the graph (not a captured host array): jit then sees no captured constant.
  const Tensor k = ops::convert(ops::arange(half), t.dtype());
  const Tensor freqs = ops::exp(k * (std::log(1000.0) / double(half - 1))) * (2.0 * M_PI / 10.0);
  const Tensor angles = ops::expand_dims(t, -1) * freqs;  // [..., half]
  return ops::concatenate({ops::cos(angles), ops::sin(angles)}, -1);
}

Mlp init_mlp_ensemble(const Tensor& key, int64_t members, int64_t in, const MlpConfig& cfg, DType dtype) {
  std::vector<Mlp> ms;
  for (int64_t e = 0; e < members; ++e)
    ms.push_back(init_mlp(ops::random_fold_in(key, uint32_t(1000 + e)), in, cfg, dtype));
  return stack_members(ms);
}

Tensor mlp_ensemble(const Mlp& stacked, const MlpConfig& cfg, const Tensor& x) {
  auto one = [&cfg](const Mlp& p, const Tensor& xx) { return mlp(p, cfg, xx); };
  return engine::vmap(one, {0, std::nullopt})(stacked, x);
}

}  // namespace nn
