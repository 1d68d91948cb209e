// A tour of the functional API on a small MLP, in three parts:
//   1. per-example gradients with vmap(grad(loss)), checked against a loop of grad;
//   2. a Hessian-vector product with jvp(grad(f)), checked against finite differences of gradients;
//   3. the IR of the loss (and of its gradient) with make_jaxpr.
// Parameters live in a struct that exposes its tensors with tree_fields(), so every transform takes and
// returns whole parameter sets. Everything is f64 so that the checks can be tight.
// Exits non-zero if a check fails.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include "engine/transforms/transforms.h"
#include "ops/api.h"

using engine::DType;
using engine::Shape;
using engine::Tensor;

// A parameter tree: the transforms flatten it to its leaves and rebuild it, so grad(loss) returns an Mlp.
struct Mlp {
  Tensor w1, b1, w2, b2;
  auto tree_fields() { return std::tie(w1, b1, w2, b2); }
  auto tree_fields() const { return std::tie(w1, b1, w2, b2); }
};

// x is one example [in] or a batch [B, in]: matmul follows NumPy rules.
Tensor predict(const Mlp& p, const Tensor& x) {
  Tensor h = ops::tanh(ops::matmul(x, p.w1) + p.b1);
  return ops::matmul(h, p.w2) + p.b2;
}

// Squared error of one example (or summed over a batch).
Tensor loss(const Mlp& p, const Tensor& x, const Tensor& y) {
  Tensor err = predict(p, x) - y;
  return ops::sum(err * err);
}

// ---- small helpers (plain C++; the engine's own RNG takes explicit keys, see docs/sharp_bits.md) ----

Tensor randn(std::mt19937_64& rng, const Shape& shape, double scale = 1.0) {
  std::normal_distribution<double> normal(0.0, scale);
  std::vector<double> v(static_cast<size_t>(engine::numel(shape)));
  for (double& e : v) e = normal(rng);
  return Tensor::from_vector(v, shape);
}

Tensor row(const Tensor& batch, int64_t i) { return ops::squeeze(ops::slice_axis(batch, 0, i, i + 1), {0}); }

double max_abs_diff(const Tensor& a, const Tensor& b) {
  std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

// a + s * b, leaf by leaf, for two trees of the same structure.
Mlp axpy(const Mlp& a, double s, const Mlp& b) {
  std::vector<Tensor> la = engine::tree_leaves(a), lb = engine::tree_leaves(b);
  for (size_t i = 0; i < la.size(); ++i) la[i] = la[i] + s * lb[i];
  return engine::tree_unflatten(a, la);
}

int run() {
  constexpr int64_t kIn = 3, kHidden = 8, kOut = 2, kBatch = 4;
  std::mt19937_64 rng(0);
  const Mlp params{randn(rng, {kIn, kHidden}, 0.5), randn(rng, {kHidden}, 0.1),
                   randn(rng, {kHidden, kOut}, 0.5), randn(rng, {kOut}, 0.1)};
  const Tensor xs = randn(rng, {kBatch, kIn}), ys = randn(rng, {kBatch, kOut});
  bool ok = true;

  // ---- 1. Per-example gradients: vmap(grad(loss)) ----
  // in_axes: params are shared (std::nullopt), x and y are mapped over their first axis. Every leaf of the
  // result gains a leading batch axis: w1 is [B, in, hidden].
  auto per_example_grads = engine::vmap(engine::grad(loss), {std::nullopt, 0, 0});
  const Mlp batched = per_example_grads(params, xs, ys);

  double worst = 0;
  for (int64_t i = 0; i < kBatch; ++i) {
    const Mlp one = engine::grad(loss)(params, row(xs, i), row(ys, i));
    std::vector<Tensor> lb = engine::tree_leaves(batched), lo = engine::tree_leaves(one);
    for (size_t k = 0; k < lb.size(); ++k) worst = std::max(worst, max_abs_diff(row(lb[k], i), lo[k]));
  }
  std::printf("1. per-example gradients, w1 %s: vmap(grad(loss)) vs a loop of grad: max |diff| = %.3g\n",
              engine::shape_str(batched.w1.shape()).c_str(), worst);
  ok &= worst < 1e-12;

  // ---- 2. Hessian-vector product: jvp(grad(f)) ----
  // Forward mode over reverse mode: H v in one pass, without forming H. The direction v is a tree too.
  auto batch_loss = [&](const Mlp& p) { return loss(p, xs, ys); };
  const Mlp v{randn(rng, {kIn, kHidden}), randn(rng, {kHidden}), randn(rng, {kHidden, kOut}),
              randn(rng, {kOut})};
  const Mlp hvp = engine::jvp(engine::grad(batch_loss), params, v).second;

  // Central differences of gradients along v: (g(p + eps v) - g(p - eps v)) / (2 eps) = H v + O(eps^2).
  const double eps = 1e-5;
  const Mlp gp = engine::grad(batch_loss)(axpy(params, eps, v));
  const Mlp gm = engine::grad(batch_loss)(axpy(params, -eps, v));
  const Mlp fd = axpy(gp, -1.0, gm);
  double hvp_err = 0, hvp_max = 0;
  std::vector<Tensor> lh = engine::tree_leaves(hvp), lf = engine::tree_leaves(fd);
  for (size_t k = 0; k < lh.size(); ++k) {
    hvp_err = std::max(hvp_err, max_abs_diff(lh[k], lf[k] / (2 * eps)));
    hvp_max = std::max(hvp_max, max_abs_diff(lh[k], ops::zeros_like(lh[k])));
  }
  std::printf(
      "2. Hessian-vector product: jvp(grad(f)) vs finite differences: max |diff| = %.3g (max |Hv| = %.3g)\n",
      hvp_err, hvp_max);
  ok &= hvp_err < 1e-6 * std::max(1.0, hvp_max);

  // ---- 3. The IR: make_jaxpr traces a function at the arguments' shapes and dtypes ----
  // Each line is one primitive with its output type, parameters and the source line that issued it.
  const engine::Graph ir = engine::make_jaxpr(loss)(params, row(xs, 0), row(ys, 0));
  std::printf("\n3. make_jaxpr(loss)(params, x, y):\n%s\n", ir.str().c_str());
  // The gradient is a function too: its IR holds the forward pass, then the backward walk.
  const engine::Graph grad_ir = engine::make_jaxpr(engine::grad(loss))(params, row(xs, 0), row(ys, 0));
  std::printf("\n   make_jaxpr(grad(loss)) has %zu equations (print it with .str())\n", grad_ir.eqns.size());

  std::printf("\n%s\n", ok ? "all checks passed" : "A CHECK FAILED");
  return ok ? 0 : 1;
}

int main() {
  try {
    return run();
  } catch (const engine::Error& e) {  // engine errors name the op, the operands and the source line
    std::fprintf(stderr, "error (%s): %s\n", engine::error_kind_name(e.kind()), e.what());
    return 2;
  }
}
