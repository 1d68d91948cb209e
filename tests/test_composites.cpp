// Composite ops against closed-form loops in f64: square, relu, mean, var, softmax (sums to 1), log_softmax,
// logsumexp (stable at 1000, -inf rows), layer_norm against a scalar reference, both gelu forms against
// std::erf / std::tanh, mse, clip, one_hot; plus their gradients at the points where the form matters and
// the user's line in errors raised inside a composite.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numbers>
#include <string>

#include "engine/transforms/transforms.h"
#include "ops/api.h"
#include "tests/support/testing.h"

namespace {

using namespace testing_support;
using engine::ErrorKind;
using engine::Tensor;

Tensor f64s(const std::vector<double>& v, Shape s) { return Tensor::from_vector(v, s); }
constexpr double kInf = std::numeric_limits<double>::infinity();

std::vector<double> draw(Rng& rng, size_t n, double lo = -2, double hi = 2) {
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<double> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

void expect_all_near(const std::vector<double>& got, const std::vector<double>& want, double tol,
                     const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol * (1 + std::abs(want[i]))) << what << " @" << i;
}

TEST(Composites, SquareReluMeanVar) {
  Rng rng(1);
  auto v = draw(rng, 12);
  Tensor x = f64s(v, {3, 4});
  std::vector<double> sq, re;
  for (double a : v) {
    sq.push_back(a * a);
    re.push_back(a > 0 ? a : 0.0);
  }
  expect_all_near(ops::square(x).to_vector<double>(), sq, 0, "square");
  expect_all_near(ops::relu(x).to_vector<double>(), re, 0, "relu");
  // mean/var over axis 1, over axis 0 with keepdims, and over everything.
  std::vector<double> m1(3, 0), v1(3, 0), m0(4, 0), v0(4, 0);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j) {
      m1[i] += v[i * 4 + j] / 4;
      m0[j] += v[i * 4 + j] / 3;
    }
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j) {
      v1[i] += std::pow(v[i * 4 + j] - m1[i], 2) / 4;
      v0[j] += std::pow(v[i * 4 + j] - m0[j], 2) / 3;
    }
  expect_all_near(ops::mean(x, {1}).to_vector<double>(), m1, 1e-15, "mean axis 1");
  expect_all_near(ops::var(x, {-1}).to_vector<double>(), v1, 1e-14, "var axis -1");
  Tensor m0k = ops::mean(x, {0}, true), v0k = ops::var(x, {0}, true);
  EXPECT_EQ(m0k.shape(), (Shape{1, 4}));
  EXPECT_EQ(v0k.shape(), (Shape{1, 4}));
  expect_all_near(m0k.to_vector<double>(), m0, 1e-15, "mean axis 0");
  expect_all_near(v0k.to_vector<double>(), v0, 1e-14, "var axis 0");
  double all = 0, allv = 0;
  for (double a : v) all += a / 12;
  for (double a : v) allv += (a - all) * (a - all) / 12;
  EXPECT_NEAR(ops::mean(x).item<double>(), all, 1e-15);
  EXPECT_NEAR(ops::var(x).item<double>(), allv, 1e-14);
  // Integer operands average in f32.
  Tensor ints = Tensor::from_vector<int32_t>({1, 2, 3, 4});
  Tensor mi = ops::mean(ints);
  EXPECT_EQ(mi.dtype(), DType::F32);
  EXPECT_EQ(mi.item<float>(), 2.5f);
  // f32 stays f32.
  EXPECT_EQ(ops::mean(ops::convert(x, DType::F32), {1}).dtype(), DType::F32);
}

TEST(Composites, ReluGradientIsZeroAtZeroAndNaNPropagates) {
  Tensor x = f64s({-1.0, 0.0, 2.0}, {3});
  Tensor g = engine::grad([](const Tensor& t) { return ops::sum(ops::relu(t)); })(x);
  EXPECT_EQ(g.to_vector<double>(), (std::vector<double>{0.0, 0.0, 1.0}));
  EXPECT_TRUE(std::isnan(ops::relu(f64s({std::nan("")}, {1})).to_vector<double>()[0]));
}

TEST(Composites, SoftmaxLogSoftmaxLogsumexp) {
  Rng rng(2);
  auto v = draw(rng, 15, -3, 3);
  Tensor x = f64s(v, {3, 5});
  std::vector<double> sm, lsm, lse(3);
  for (int i = 0; i < 3; ++i) {
    double s = 0;
    for (int j = 0; j < 5; ++j) s += std::exp(v[i * 5 + j]);
    lse[i] = std::log(s);
    for (int j = 0; j < 5; ++j) {
      sm.push_back(std::exp(v[i * 5 + j]) / s);
      lsm.push_back(v[i * 5 + j] - std::log(s));
    }
  }
  auto p = ops::softmax(x).to_vector<double>();
  expect_all_near(p, sm, 1e-14, "softmax");
  for (int i = 0; i < 3; ++i) {
    double s = 0;
    for (int j = 0; j < 5; ++j) s += p[i * 5 + j];
    EXPECT_NEAR(s, 1.0, 1e-15);
  }
  expect_all_near(ops::log_softmax(x).to_vector<double>(), lsm, 1e-14, "log_softmax");
  expect_all_near(ops::logsumexp(x, {1}).to_vector<double>(), lse, 1e-14, "logsumexp");
  EXPECT_EQ(ops::logsumexp(x, {1}, true).shape(), (Shape{3, 1}));
  // softmax over axis 0 sums to 1 down the columns.
  auto p0 = ops::softmax(x, 0).to_vector<double>();
  for (int j = 0; j < 5; ++j) EXPECT_NEAR(p0[j] + p0[5 + j] + p0[10 + j], 1.0, 1e-15);
  // logsumexp over everything.
  double tot = 0;
  for (double a : v) tot += std::exp(a);
  EXPECT_NEAR(ops::logsumexp(x).item<double>(), std::log(tot), 1e-14);
}

TEST(Composites, LogsumexpIsStable) {
  // exp(1000) overflows: a naive form gives inf. log(e^1000 + e^999 + e^998) = 1000 + log(1 + e^-1 + e^-2).
  Tensor x = f64s({1000, 999, 998, -1000, -1001, -1002}, {2, 3});
  auto r = ops::logsumexp(x, {1}).to_vector<double>();
  const double tail = std::log(1 + std::exp(-1.0) + std::exp(-2.0));
  EXPECT_NEAR(r[0], 1000 + tail, 1e-12);
  EXPECT_NEAR(r[1], -1000 + tail, 1e-12);
  auto r32 = ops::logsumexp(ops::convert(x, DType::F32), {1}).to_vector<float>();
  EXPECT_NEAR(r32[0], 1000 + tail, 1e-3);
  auto sm = ops::softmax(x).to_vector<double>();
  const double z = 1 + std::exp(-1.0) + std::exp(-2.0);
  EXPECT_NEAR(sm[0], 1 / z, 1e-15);
  EXPECT_NEAR(sm[5], std::exp(-2.0) / z, 1e-15);
  EXPECT_NEAR(ops::log_softmax(x).to_vector<double>()[0], -tail, 1e-12);
  // A row of -inf: log(0) = -inf, not NaN; one -inf entry just drops out.
  Tensor y = f64s({-kInf, -kInf, 0.0, -kInf}, {2, 2});
  auto ry = ops::logsumexp(y, {1}).to_vector<double>();
  EXPECT_EQ(ry[0], -kInf);
  EXPECT_EQ(ry[1], 0.0);
  // The gradient of logsumexp is softmax, also at 1000.
  Tensor g = engine::grad([](const Tensor& t) { return ops::sum(ops::logsumexp(t, {1})); })(x);
  expect_all_near(g.to_vector<double>(), sm, 1e-14, "grad logsumexp");
}

TEST(Composites, LayerNormAgainstScalarReference) {
  Rng rng(3);
  const int rows = 4, d = 6;
  auto v = draw(rng, rows * d, -3, 3), gv = draw(rng, d), bv = draw(rng, d);
  Tensor x = f64s(v, {2, 2, d}), gamma = f64s(gv, {d}), beta = f64s(bv, {d});
  const double eps = 1e-5;
  std::vector<double> plain, affine;
  for (int r = 0; r < rows; ++r) {
    double mu = 0, s2 = 0;
    for (int j = 0; j < d; ++j) mu += v[r * d + j];
    mu /= d;
    for (int j = 0; j < d; ++j) s2 += (v[r * d + j] - mu) * (v[r * d + j] - mu);
    s2 /= d;
    for (int j = 0; j < d; ++j) {
      const double n = (v[r * d + j] - mu) / std::sqrt(s2 + eps);
      plain.push_back(n);
      affine.push_back(n * gv[j] + bv[j]);
    }
  }
  Tensor y = ops::layer_norm(x, gamma, beta, eps);
  EXPECT_EQ(y.shape(), (Shape{2, 2, d}));
  expect_all_near(y.to_vector<double>(), affine, 1e-13, "layer_norm affine");
  expect_all_near(ops::layer_norm(x, Tensor(), Tensor(), eps).to_vector<double>(), plain, 1e-13, "layer_norm plain");
  std::vector<double> scaled;
  for (int i = 0; i < rows * d; ++i) scaled.push_back(plain[i] * gv[i % d]);
  expect_all_near(ops::layer_norm(x, gamma, Tensor(), eps).to_vector<double>(), scaled, 1e-13, "layer_norm gamma");
  try {
    ops::layer_norm(x, f64s({1, 2}, {2}), Tensor());
    ADD_FAILURE() << "expected a shape error";
  } catch (const engine::Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Shape);
    EXPECT_NE(std::string(e.what()).find("[layer_norm]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("test_composites.cpp"), std::string::npos) << e.what();
  }
}

TEST(Composites, GeluBothForms) {
  Rng rng(4);
  auto v = draw(rng, 64, -6, 6);
  v.push_back(0.0);
  Tensor x = f64s(v, {int64_t(v.size())});
  std::vector<double> tanh_form, erf_form;
  const double c = std::sqrt(2.0 / std::numbers::pi);
  for (double a : v) {
    tanh_form.push_back(0.5 * a * (1 + std::tanh(c * (a + 0.044715 * a * a * a))));
    erf_form.push_back(0.5 * a * (1 + std::erf(a / std::sqrt(2.0))));
  }
  expect_all_near(ops::gelu(x, true).to_vector<double>(), tanh_form, 1e-14, "gelu tanh");
  expect_all_near(ops::gelu(x, false).to_vector<double>(), erf_form, 1e-14, "gelu erf");
  // The forms differ (by up to ~1e-3), so each test above can tell them apart.
  double diff = 0;
  for (size_t i = 0; i < v.size(); ++i) diff = std::max(diff, std::abs(tanh_form[i] - erf_form[i]));
  EXPECT_GT(diff, 1e-5);
  // d/dx of the erf form: Phi(x) + x phi(x).
  Tensor g = engine::grad([](const Tensor& t) { return ops::sum(ops::gelu(t, false)); })(x);
  std::vector<double> dg;
  for (double a : v) dg.push_back(0.5 * (1 + std::erf(a / std::sqrt(2.0))) + a * std::exp(-a * a / 2) / std::sqrt(2 * std::numbers::pi));
  expect_all_near(g.to_vector<double>(), dg, 1e-13, "gelu' erf");
  EXPECT_EQ(ops::gelu(ops::convert(x, DType::F32)).dtype(), DType::F32);
}

TEST(Composites, MseClipOneHot) {
  Tensor a = f64s({1, 2, 3, 4}, {2, 2}), b = f64s({0, 2, 5, 3}, {2, 2});
  EXPECT_DOUBLE_EQ(ops::mse(a, b).item<double>(), (1 + 0 + 4 + 1) / 4.0);
  Tensor x = f64s({-3, -0.5, 0.25, 2, 7}, {5});
  EXPECT_EQ(ops::clip(x, -1, 1.5).to_vector<double>(), (std::vector<double>{-1, -0.5, 0.25, 1.5, 1.5}));
  Tensor xf = ops::convert(x, DType::F32);
  EXPECT_EQ(ops::clip(xf, -1, 1.5).dtype(), DType::F32);
  // Integer operands keep their dtype; bounds round inward.
  Tensor xi = Tensor::from_vector<int32_t>({-5, 0, 3, 9});
  Tensor ci = ops::clip(xi, -1.5, 4.0);
  EXPECT_EQ(ci.dtype(), DType::I32);
  EXPECT_EQ(ci.to_vector<int32_t>(), (std::vector<int32_t>{-1, 0, 3, 4}));
  Tensor xu = Tensor::from_vector<uint32_t>({0, 5, 10});
  EXPECT_EQ(ops::clip(xu, -3.0, 7.0).to_vector<uint32_t>(), (std::vector<uint32_t>{0, 5, 7}));
  try {
    ops::clip(x, 2, 1);
    ADD_FAILURE() << "expected a value error";
  } catch (const engine::Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Value);
  }
  // one_hot: rows of the identity; out-of-range indices give zero rows.
  Tensor idx = Tensor::from_vector<int32_t>({2, 0, 4, 5, -1, 1}, {2, 3});
  Tensor oh = ops::one_hot(idx, 5);
  ASSERT_EQ(oh.shape(), (Shape{2, 3, 5}));
  EXPECT_EQ(oh.dtype(), DType::F32);
  auto v = oh.to_vector<float>();
  const int want[6] = {2, 0, 4, -1, -1, 1};
  for (int r = 0; r < 6; ++r)
    for (int k = 0; k < 5; ++k) EXPECT_EQ(v[r * 5 + k], k == want[r] ? 1.0f : 0.0f) << r << "," << k;
  EXPECT_EQ(ops::one_hot(Tensor::from_vector<uint32_t>({1}), 3, DType::I32).to_vector<int32_t>(),
            (std::vector<int32_t>{0, 1, 0}));
  EXPECT_THROW(ops::one_hot(a, 3), engine::Error);
}

TEST(Composites, VmapMatchesRowByRow) {
  Rng rng(5);
  Tensor x = f64s(draw(rng, 24), {4, 6});
  auto f = [](const Tensor& r) { return ops::layer_norm(r, Tensor(), Tensor()) + ops::softmax(r) + ops::gelu(r, false); };
  Tensor batched = engine::vmap(f)(x);
  for (int64_t i = 0; i < 4; ++i) {
    Tensor row = ops::reshape(ops::slice_axis(x, 0, i, i + 1), {6});
    EXPECT_EQ(compare(ops::reshape(ops::slice_axis(batched, 0, i, i + 1), {6}), f(row), 1e-14, 1e-14), "");
  }
  Tensor idx = Tensor::from_vector<int32_t>({3, 1, 0});
  Tensor oh = engine::vmap([](const Tensor& i) { return ops::one_hot(i, 4); })(idx);
  EXPECT_EQ(compare(oh, ops::one_hot(idx, 4), 0, 0), "");
}

}  // namespace
