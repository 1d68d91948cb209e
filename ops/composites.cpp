// Public op API, composites: functions written with the public ops, so they are differentiable and batchable
// for free and need no rules or kernels of their own. Each sets the user's line first, so the ops inside report
// where the composite was called. Max-shifts for stability (softmax, log_softmax, logsumexp) go through
// stop_gradient: the results do not depend on the shift mathematically, so its derivative would only add
// terms that cancel.
#include <cmath>
#include <limits>
#include <numbers>
#include <string>

#include "engine/interp/interpreter.h"
#include "ops/api.h"

namespace ops {

using engine::ErrorKind;
using engine::raise;
using engine::UserLocScope;

namespace {

void require_defined(const Tensor& x, const char* op) {
  if (!x.defined())
    raise(ErrorKind::Value, op, "got a null (default-constructed) tensor", {}, engine::current_user_loc());
}

// The floating type a mean is taken in: the operand's own if float, else f32 (as jnp.mean).
Tensor as_float(const Tensor& x) { return engine::is_float(x.dtype()) ? x : convert(x, DType::F32); }

// Number of elements each reduction over `axes` combines (axes already validated by a reduction of x).
int64_t group_size(const Tensor& x, const std::vector<int64_t>& axes) {
  if (axes.empty()) return x.numel();
  int64_t n = 1;
  for (int64_t a : axes) n *= x.dim(static_cast<int>(a));
  return n;
}

// max over axes (kept), with infinities and NaN replaced by 0, without a derivative: the shift of the
// stable log-sum-exp. A row of -inf then gives log(0) = -inf instead of NaN (as JAX).
Tensor stable_shift(const Tensor& x, const std::vector<int64_t>& axes) {
  Tensor m = max(x, axes, true);
  Tensor finite = lt(abs(m), literal(std::numeric_limits<double>::infinity()));
  return stop_gradient(select(finite, m, zeros_like(m)));
}

}  // namespace

Tensor square(const Tensor& x, const Loc& loc) {
  UserLocScope scope(loc);
  return mul(x, x);
}

// where(x <= 0, 0, x): NaN passes through, and the derivative at 0 is 0 (as jax.nn.relu), not the 1/2 that
// maximum(x, 0) would give at the tie.
Tensor relu(const Tensor& x, const Loc& loc) {
  UserLocScope scope(loc);
  require_defined(x, "relu");
  return select(le(x, zeros_like(x)), zeros_like(x), x);
}

Tensor mean(const Tensor& x, std::vector<int64_t> axes, bool keepdims, const Loc& loc) {
  UserLocScope scope(loc);
  require_defined(x, "mean");
  Tensor s = sum(as_float(x), axes, keepdims);  // validates the axes
  return div(s, literal(static_cast<double>(group_size(x, axes))));
}

// Population variance (ddof = 0), as jnp.var: mean of squared deviations from the mean.
Tensor var(const Tensor& x, std::vector<int64_t> axes, bool keepdims, const Loc& loc) {
  UserLocScope scope(loc);
  require_defined(x, "var");
  Tensor xf = as_float(x);
  Tensor d = sub(xf, mean(xf, axes, true));
  return mean(mul(d, d), axes, keepdims);
}

Tensor softmax(const Tensor& x, int64_t axis, const Loc& loc) {
  UserLocScope scope(loc);
  require_defined(x, "softmax");
  Tensor e = exp(sub(x, stable_shift(x, {axis})));
  return div(e, sum(e, {axis}, true));
}

Tensor log_softmax(const Tensor& x, int64_t axis, const Loc& loc) {
  UserLocScope scope(loc);
  require_defined(x, "log_softmax");
  Tensor shifted = sub(x, stable_shift(x, {axis}));
  return sub(shifted, log(sum(exp(shifted), {axis}, true)));
}

Tensor logsumexp(const Tensor& x, std::vector<int64_t> axes, bool keepdims, const Loc& loc) {
  UserLocScope scope(loc);
  require_defined(x, "logsumexp");
  Tensor m = stable_shift(x, axes);
  Tensor r = log(sum(exp(sub(x, m)), axes, keepdims));
  return add(r, keepdims ? m : reshape(m, r.shape()));
}

Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps, const Loc& loc) {
  UserLocScope scope(loc);
  require_defined(x, "layer_norm");
  if (x.ndim() == 0)
    raise(ErrorKind::Shape, "layer_norm", "needs at least one axis to normalize over", {{x.aval()}}, loc);
  const int64_t n = x.dim(-1);
  for (const Tensor* p : {&gamma, &beta})
    if (p->defined() && p->shape() != Shape{n})
      raise(ErrorKind::Shape, "layer_norm",
            std::string(p == &gamma ? "gamma" : "beta") + " must have shape [" + std::to_string(n) +
                "] (the last axis of x)",
            {{x.aval(), p->aval()}}, loc, "pass a null Tensor() to skip the scale or the offset");
  Tensor d = sub(x, mean(x, {-1}, true));
  Tensor y = mul(d, rsqrt(add(mean(mul(d, d), {-1}, true), literal(eps))));
  if (gamma.defined()) y = mul(y, gamma);
  if (beta.defined()) y = add(y, beta);
  return y;
}

Tensor gelu(const Tensor& x, bool approximate, const Loc& loc) {
  UserLocScope scope(loc);
  require_defined(x, "gelu");
  Tensor half_x = mul(x, literal(0.5));
  if (approximate) {
    // 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
    const double c = std::sqrt(2.0 / std::numbers::pi);
    Tensor inner = mul(add(x, mul(literal(0.044715), mul(x, mul(x, x)))), literal(c));
    return mul(half_x, add(tanh(inner), literal(1.0)));
  }
  // 0.5 x (1 + erf(x / sqrt(2)))
  return mul(half_x, add(erf(mul(x, literal(1.0 / std::numbers::sqrt2))), literal(1.0)));
}

Tensor mse(const Tensor& a, const Tensor& b, const Loc& loc) {
  UserLocScope scope(loc);
  Tensor d = sub(a, b);
  return mean(mul(d, d));
}

// Integer operands take integer bounds (rounded inward, clamped to the dtype's range) so they keep their dtype.
Tensor clip(const Tensor& x, double lo, double hi, const Loc& loc) {
  UserLocScope scope(loc);
  require_defined(x, "clip");
  if (!(lo <= hi))
    raise(ErrorKind::Value, "clip", "lower bound " + std::to_string(lo) + " exceeds upper bound " + std::to_string(hi),
          {{x.aval()}}, loc, "bounds must satisfy lo <= hi (and not be NaN)");
  if (engine::is_integer(x.dtype())) {
    const double tmin = x.dtype() == DType::I32 ? -2147483648.0 : 0.0;
    const double tmax = x.dtype() == DType::I32 ? 2147483647.0 : 4294967295.0;
    auto bound = [&](double v) { return scalar(std::fmin(std::fmax(v, tmin), tmax), x.dtype()); };
    return minimum(maximum(x, bound(std::ceil(lo))), bound(std::floor(hi)));
  }
  return minimum(maximum(x, literal(lo)), literal(hi));
}

Tensor one_hot(const Tensor& indices, int64_t n, DType dtype, const Loc& loc) {
  UserLocScope scope(loc);
  require_defined(indices, "one_hot");
  if (!engine::is_integer(indices.dtype()))
    raise(ErrorKind::DType, "one_hot", "indices must be i32 or u32", {{indices.aval()}}, loc,
          "convert them with ops::convert");
  if (n < 0)
    raise(ErrorKind::Value, "one_hot", "n = " + std::to_string(n) + " must be >= 0", {{indices.aval()}}, loc);
  // [..., 1] == [n] broadcasts to [..., n]; out-of-range indices give rows of zeros.
  Tensor hit = eq(expand_dims(indices, -1), iota({n}, 0, indices.dtype()));
  return convert(hit, dtype);
}

}  // namespace ops
