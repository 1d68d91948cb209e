// Variance-scaling initializers (see init.h).
#include "nn/init.h"

#include <cmath>

#include "ops/api.h"

namespace nn {

Tensor init_weight(const Tensor& key, const Shape& shape, const VarianceScaling& vs, DType dtype) {
  if (shape.size() < 2)
    engine::raise(engine::ErrorKind::Shape, "init_weight",
                  "needs a weight shape of rank >= 2, got " + engine::shape_str(shape), {}, {},
                  "biases are initialized with ops::zeros");
  int64_t receptive = 1;
  for (size_t i = 0; i + 2 < shape.size(); ++i) receptive *= shape[i];
  const double fan_in = double(shape[shape.size() - 2] * receptive),
               fan_out = double(shape.back() * receptive);
  const double fan = vs.mode == FanMode::In    ? fan_in
                     : vs.mode == FanMode::Out ? fan_out
                                               : (fan_in + fan_out) / 2;
  const double variance = vs.scale / std::max(1.0, fan);
  switch (vs.distribution) {
    case Distribution::Uniform: {
      const double limit = std::sqrt(3.0 * variance);
      return ops::random_uniform(key, shape, -limit, limit, dtype);
    }
    case Distribution::Normal:
      return ops::random_normal(key, shape, dtype) * std::sqrt(variance);
    case Distribution::TruncatedNormal: {
      // Resample-free truncation: draw uniformly in the CDF range of [-2, 2] and invert with erf's inverse
      // would need erfinv; instead clip-and-redraw once, then clip (mass beyond 2 sigma after two draws is
      // 0.2%). The stddev correction matches JAX's .87962566103423978.
      const double stddev = std::sqrt(variance) / .87962566103423978;
      const Tensor k1 = ops::random_fold_in(key, 1), k2 = ops::random_fold_in(key, 2);
      const Tensor a = ops::random_normal(k1, shape, dtype), b = ops::random_normal(k2, shape, dtype);
      const Tensor z = ops::select(ops::lt(ops::abs(a), ops::full_like(a, 2.0)), a, b);
      return ops::clip(z, -2.0, 2.0) * stddev;
    }
  }
  return Tensor();
}

}  // namespace nn
