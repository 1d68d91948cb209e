// Composite ops written with primitives through the public API: they are differentiated, batched and jitted
// through their parts. Each records the caller's line first, so errors inside point at the user's code.
#include <cmath>
#include <numbers>

#include "engine/interp/interpreter.h"
#include "ops/api.h"

namespace ops {

using engine::UserLocScope;

Tensor square(const Tensor& x, const Loc& loc) {
  UserLocScope scope(loc);
  return mul(x, x);
}

// select rather than maximum(x, 0): the gradient at 0 is 0 (as JAX's relu), not the 0.5 of a tie.
Tensor relu(const Tensor& x, const Loc& loc) {
  UserLocScope scope(loc);
  return select(gt(x, literal(0.0)), x, zeros_like(x));
}

namespace {
int64_t reduced_count(const Tensor& x, const std::vector<int64_t>& axes) {
  if (axes.empty()) return x.numel();
  int64_t n = 1;
  for (int64_t a : axes) n *= x.dim(static_cast<int>(a));
  return n;
}
}  // namespace

Tensor mean(const Tensor& x, std::vector<int64_t> axes, bool keepdims, const Loc& loc) {
  UserLocScope scope(loc);
  const int64_t n = reduced_count(x, axes);
  return div(sum(x, axes, keepdims), literal(static_cast<double>(n)));
}

Tensor var(const Tensor& x, std::vector<int64_t> axes, bool keepdims, const Loc& loc) {
  UserLocScope scope(loc);
  Tensor centered = sub(x, mean(x, axes, /*keepdims=*/true));
  return mean(square(centered), axes, keepdims);
}

Tensor logsumexp(const Tensor& x, std::vector<int64_t> axes, bool keepdims, const Loc& loc) {
  UserLocScope scope(loc);
  // Shift by the (gradient-free) max for stability; the shift cancels exactly in value and gradient.
  Tensor m = stop_gradient(max(x, axes, /*keepdims=*/true));
  Tensor r = add(log(sum(exp(sub(x, m)), axes, /*keepdims=*/true)), m);
  if (keepdims) return r;
  std::vector<int64_t> all = axes;
  if (all.empty())
    for (int i = 0; i < x.ndim(); ++i) all.push_back(i);
  return squeeze(r, all);
}

Tensor log_softmax(const Tensor& x, int64_t axis, const Loc& loc) {
  UserLocScope scope(loc);
  return sub(x, logsumexp(x, {axis}, /*keepdims=*/true));
}

Tensor softmax(const Tensor& x, int64_t axis, const Loc& loc) {
  UserLocScope scope(loc);
  Tensor e = exp(sub(x, stop_gradient(max(x, {axis}, /*keepdims=*/true))));
  return div(e, sum(e, {axis}, /*keepdims=*/true));
}

Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps, const Loc& loc) {
  UserLocScope scope(loc);
  if (x.ndim() == 0)
    engine::raise(engine::ErrorKind::Shape, "layer_norm", "needs at least one axis", {{x.aval()}}, loc,
                  "layer_norm normalizes over the last axis");
  const int64_t d = x.dim(-1);
  for (const Tensor* p : {&gamma, &beta})
    if (p->defined() && (p->ndim() != 1 || p->dim(0) != d))
      engine::raise(engine::ErrorKind::Shape, "layer_norm",
                    "scale and offset must have the last axis's size " + std::to_string(d),
                    {{x.aval(), p->aval()}}, loc, "pass vectors of shape [" + std::to_string(d) + "] or null tensors");
  Tensor mu = mean(x, {-1}, true);
  Tensor centered = sub(x, mu);
  Tensor v = mean(square(centered), {-1}, true);
  Tensor y = mul(centered, rsqrt(add(v, literal(eps))));
  if (gamma.defined()) y = mul(y, gamma);
  if (beta.defined()) y = add(y, beta);
  return y;
}

Tensor gelu(const Tensor& x, bool approximate, const Loc& loc) {
  UserLocScope scope(loc);
  if (approximate) {
    const double c = std::sqrt(2.0 / std::numbers::pi);
    Tensor inner = mul(literal(c), add(x, mul(literal(0.044715), mul(x, square(x)))));
    return mul(mul(literal(0.5), x), add(literal(1.0), tanh(inner)));
  }
  return mul(mul(literal(0.5), x), add(literal(1.0), erf(mul(x, literal(1.0 / std::numbers::sqrt2)))));
}

Tensor mse(const Tensor& a, const Tensor& b, const Loc& loc) {
  UserLocScope scope(loc);
  return mean(square(sub(a, b)));
}

Tensor clip(const Tensor& x, double lo, double hi, const Loc& loc) {
  UserLocScope scope(loc);
  if (!(lo <= hi))
    engine::raise(engine::ErrorKind::Value, "clip", "lower bound " + std::to_string(lo) + " exceeds upper bound " +
                                                        std::to_string(hi), {{x.aval()}}, loc);
  return minimum(maximum(x, literal(lo)), literal(hi));
}

Tensor one_hot(const Tensor& indices, int64_t n, DType dtype, const Loc& loc) {
  UserLocScope scope(loc);
  if (engine::is_float(indices.dtype()) || indices.dtype() == DType::Bool)
    engine::raise(engine::ErrorKind::DType, "one_hot", "needs integer indices", {{indices.aval()}}, loc,
                  "convert the indices to i32");
  Shape s = indices.shape();
  s.push_back(n);
  Tensor classes = iota(s, static_cast<int>(s.size()) - 1, indices.dtype());
  return convert(eq(expand_dims(indices, -1), classes), dtype);
}

}  // namespace ops
