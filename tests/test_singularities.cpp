// Gradients at the singular points of every primitive and composite: the value the engine promises there
// (JAX's conventions unless docs/sharp_bits.md says otherwise), so a rule change that starts returning NaN
// or a different one-sided derivative is caught.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "engine/transforms/transforms.h"
#include "ops/api.h"
#include "tests/support/testing.h"

namespace {

using engine::DType;
using engine::Tensor;

Tensor f64(double v) { return Tensor::scalar(v, DType::F64); }

template <class F>
double d(F f, double x) {
  return engine::grad([&](const Tensor& t) { return f(t); })(f64(x)).template item<double>();
}

constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(Singularities, UnaryPrimitives) {
  EXPECT_EQ(d([](const Tensor& x) { return ops::sqrt(x); }, 0.0), kInf);
  EXPECT_EQ(d([](const Tensor& x) { return ops::log(x); }, 0.0), kInf);
  EXPECT_EQ(d([](const Tensor& x) { return ops::log1p(x); }, -1.0), kInf);
  EXPECT_EQ(d([](const Tensor& x) { return ops::rsqrt(x); }, 0.0), -kInf);
  EXPECT_EQ(d([](const Tensor& x) { return ops::abs(x); }, 0.0), 0.0);   // sign(0): see sharp_bits.md
  EXPECT_EQ(d([](const Tensor& x) { return ops::sign(x); }, 0.0), 0.0);
  EXPECT_EQ(d([](const Tensor& x) { return ops::floor(x); }, 2.0), 0.0);
  EXPECT_EQ(d([](const Tensor& x) { return ops::logistic(x); }, 100.0), 0.0);
  EXPECT_NEAR(d([](const Tensor& x) { return ops::logistic(x); }, -100.0), std::exp(-100.0), 1e-50);
  EXPECT_EQ(d([](const Tensor& x) { return ops::tanh(x); }, 50.0), 0.0);
  EXPECT_NEAR(d([](const Tensor& x) { return ops::erf(x); }, 0.0), 2.0 / std::sqrt(std::numbers::pi), 1e-15);
  EXPECT_EQ(d([](const Tensor& x) { return ops::expm1(x); }, 0.0), 1.0);
  EXPECT_EQ(d([](const Tensor& x) { return ops::exp(x); }, -1000.0), 0.0);
}

TEST(Singularities, BinaryPrimitives) {
  EXPECT_EQ(d([](const Tensor& x) { return ops::div(f64(1.0), x); }, 0.0), -kInf);
  EXPECT_EQ(d([](const Tensor& x) { return ops::pow(x, f64(2.0)); }, 0.0), 0.0);
  EXPECT_EQ(d([](const Tensor& x) { return ops::pow(x, f64(0.0)); }, 0.0), 0.0);   // x^0 is constant
  EXPECT_EQ(d([](const Tensor& y) { return ops::pow(f64(0.0), y); }, 2.0), 0.0);   // 0^y for y > 0
  EXPECT_EQ(d([](const Tensor& x) { return ops::pow(x, f64(0.5)); }, 0.0), kInf);
  // Ties share the gradient equally.
  EXPECT_EQ(d([](const Tensor& x) { return ops::maximum(x, x); }, 1.5), 1.0);
  EXPECT_EQ(d([](const Tensor& x) { return ops::maximum(x, f64(0.0)); }, 0.0), 0.5);
  EXPECT_EQ(d([](const Tensor& x) { return ops::minimum(x, f64(0.0)); }, 0.0), 0.5);
  Tensor g = engine::grad([](const Tensor& x) { return ops::max(x); })(Tensor::from_vector<double>({1, 3, 3, 2}));
  EXPECT_EQ(testing_support::to_f64(g), (std::vector<double>{0, 0.5, 0.5, 0}));
}

TEST(Singularities, Composites) {
  EXPECT_EQ(d([](const Tensor& x) { return ops::relu(x); }, 0.0), 0.0);
  EXPECT_EQ(d([](const Tensor& x) { return ops::gelu(x, true); }, 0.0), 0.5);
  EXPECT_EQ(d([](const Tensor& x) { return ops::gelu(x, false); }, 0.0), 0.5);
  EXPECT_EQ(d([](const Tensor& x) { return ops::clip(x, -1.0, 1.0); }, 2.0), 0.0);
  // Stable at huge inputs.
  Tensor big = Tensor::from_vector<double>({1000, 1000});
  Tensor g = engine::grad([](const Tensor& x) { return ops::logsumexp(x); })(big);
  EXPECT_EQ(testing_support::to_f64(g), (std::vector<double>{0.5, 0.5}));
  Tensor s = engine::grad([](const Tensor& x) { return ops::sum(ops::softmax(x) * Tensor::from_vector<double>({1, 2})); })(big);
  for (double v : testing_support::to_f64(s)) EXPECT_TRUE(std::isfinite(v));
  // Zero variance: layer_norm's eps keeps the gradient finite.
  Tensor flat = Tensor::from_vector<double>({2, 2, 2, 2});
  Tensor gl = engine::grad([](const Tensor& x) {
    return ops::sum(ops::layer_norm(x, Tensor(), Tensor(), 1e-5) * Tensor::from_vector<double>({1, 2, 3, 4}));
  })(flat);
  for (double v : testing_support::to_f64(gl)) EXPECT_TRUE(std::isfinite(v));
}

TEST(Singularities, NanThroughSelectAndTheDoubleSelectFix) {
  // The untaken branch still contributes 0 * (its derivative); sqrt'(-1) is NaN, so the gradient is NaN.
  auto naive = [](const Tensor& x) { return ops::select(ops::gt(x, f64(0.0)), ops::sqrt(x), f64(0.0)); };
  EXPECT_TRUE(std::isnan(d(naive, -1.0)));
  // Feeding the branch a safe value where it is not taken keeps the gradient finite (docs/sharp_bits.md).
  auto safe = [](const Tensor& x) {
    Tensor pos = ops::gt(x, f64(0.0));
    return ops::select(pos, ops::sqrt(ops::select(pos, x, f64(1.0))), f64(0.0));
  };
  EXPECT_EQ(d(safe, -1.0), 0.0);
  EXPECT_NEAR(d(safe, 4.0), 0.25, 1e-15);
}

}  // namespace
