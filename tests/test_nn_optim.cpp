// nn/tree_util.h and nn/optim.h against independent host references: tree helpers against loops, Adam against
// optax's formulas evaluated in f64 on the host (clipping on and off, eps_root), one run with exactly
// representable numbers whose result is derived by hand, jit(adam_update) bitwise against eager, Polyak
// averaging, and the errors for mismatched trees and bad configurations.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "tests/support/testing.h"
#include "engine/compile/jit.h"
#include "engine/transforms/transforms.h"
#include "nn/optim.h"
#include "nn/tree_util.h"
#include "ops/api.h"

namespace {

using engine::DType;
using engine::Shape;
using engine::Tensor;

struct Params {
  Tensor w, b;
  std::vector<Tensor> extra;
  auto tree_fields() { return std::tie(w, b, extra); }
  auto tree_fields() const { return std::tie(w, b, extra); }
};

Tensor f32(const std::vector<float>& v, Shape s) { return Tensor::from_vector(v, std::move(s)); }

Params make_params(float shift) {
  return Params{f32({1.0f + shift, -2.0f, 0.5f, 3.0f, -0.25f, 0.75f}, {2, 3}),
                f32({0.1f, -0.3f + shift, 2.0f}, {3}),
                {f32({-1.5f}, {})}};
}

// Gradients that change from step to step (and with `scale`), deterministic and of mixed sign.
Params make_grads(int step, float scale = 1.0f) {
  auto v = [&](int n, float phase) {
    std::vector<float> out(n);
    for (int i = 0; i < n; ++i) out[i] = scale * float(std::sin(0.7 * (i + 1) + 1.3 * step + phase));
    return out;
  };
  return Params{f32(v(6, 0.0f), {2, 3}), f32(v(3, 0.4f), {3}), {f32(v(1, 1.1f), {})}};
}

std::vector<double> flat_f64(const Params& p) {
  std::vector<double> out;
  for (const Tensor& t : engine::tree_leaves(p))
    for (float x : t.to_vector<float>()) out.push_back(x);
  return out;
}

std::vector<uint32_t> bits(const Tensor& t) {
  std::vector<float> v = t.to_vector<float>();
  std::vector<uint32_t> b(v.size());
  std::memcpy(b.data(), v.data(), v.size() * 4);
  return b;
}

// |actual - expected| in units of the f32 spacing at `expected`.
double ulps(float actual, double expected) {
  const float e = float(expected);
  const double spacing = std::nextafter(std::fabs(e), INFINITY) - std::fabs(e);
  return std::fabs(double(actual) - expected) / spacing;
}

void expect_ulps(const std::vector<double>& actual, const std::vector<double>& expected, double max_ulps,
                 const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (size_t i = 0; i < actual.size(); ++i)
    EXPECT_LE(ulps(float(actual[i]), expected[i]), max_ulps)
        << what << "[" << i << "]: got " << actual[i] << ", expected " << expected[i];
}

// optax.adam (optionally preceded by clip_by_global_norm) transcribed on flat host vectors, in T = double
// (the exact formulas) or T = float (the same operations in the same order with the constants rounded to f32,
// as the f32 graph computes them: only the pow and sum kernels may differ from the host's by rounding).
template <class T>
struct RefAdam {
  nn::AdamConfig c;
  std::vector<T> p, mu, nu;
  int count = 0;
  void step(const std::vector<double>& g64) {
    std::vector<T> g(g64.begin(), g64.end());
    if (c.clip_global_norm) {
      T ss = 0;
      for (T x : g) ss += x * x;
      const T n = std::sqrt(ss), max_norm = T(*c.clip_global_norm);
      if (!(n < max_norm))
        for (T& x : g) x = (x / n) * max_norm;
    }
    ++count;
    const T b1 = T(c.b1), b2 = T(c.b2), one_b1 = T(1 - c.b1), one_b2 = T(1 - c.b2);
    const T bc1 = T(1) - std::pow(b1, T(count)), bc2 = T(1) - std::pow(b2, T(count));
    for (size_t i = 0; i < p.size(); ++i) {
      mu[i] = one_b1 * g[i] + b1 * mu[i];
      nu[i] = one_b2 * (g[i] * g[i]) + b2 * nu[i];
      const T u = (mu[i] / bc1) / (std::sqrt(nu[i] / bc2 + T(c.eps_root)) + T(c.eps));
      p[i] = p[i] + u * T(-c.lr);
    }
  }
};

// max |a - e| over the vector, relative to `scale`.
double max_abs_diff(const std::vector<double>& a, const std::vector<double>& e) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - e[i]));
  return m;
}
double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::fabs(x));
  return m;
}

// Runs `steps` Adam steps eagerly and against both references, comparing params and moments after every step:
// to the f32 transcription within 2 ulps, and to the exact f64 formulas within a small fraction of the
// update size (f32 rounding of the constants and cancellation in mu keep it from being ulp-close).
void run_against_reference(const nn::AdamConfig& cfg, int steps, float grad_scale, const std::string& what) {
  Params p = make_params(0.0f);
  nn::AdamState<Params> s = nn::adam_init(p);
  const std::vector<double> p0 = flat_f64(p);
  RefAdam<float> rf{cfg, std::vector<float>(p0.begin(), p0.end()), std::vector<float>(10, 0.0f),
                    std::vector<float>(10, 0.0f)};
  RefAdam<double> rd{cfg, p0, std::vector<double>(10, 0.0), std::vector<double>(10, 0.0)};
  for (int k = 0; k < steps; ++k) {
    const Params g = make_grads(k, grad_scale);
    std::tie(p, s) = nn::adam_update(p, g, s, cfg);
    rf.step(flat_f64(g));
    rd.step(flat_f64(g));
    const std::string at = what + " step " + std::to_string(k + 1);
    EXPECT_EQ(s.count.item<int32_t>(), k + 1) << at;
    const std::vector<double> fp = flat_f64(p), fm = flat_f64(s.mu), fn = flat_f64(s.nu);
    expect_ulps(fp, std::vector<double>(rf.p.begin(), rf.p.end()), 2, at + " params (f32 transcription)");
    expect_ulps(fm, std::vector<double>(rf.mu.begin(), rf.mu.end()), 2, at + " mu (f32 transcription)");
    expect_ulps(fn, std::vector<double>(rf.nu.begin(), rf.nu.end()), 2, at + " nu (f32 transcription)");
    EXPECT_LE(max_abs_diff(fp, rd.p), 1e-4 * cfg.lr) << at << " params (f64 formulas)";
    EXPECT_LE(max_abs_diff(fm, rd.mu), 1e-5 * max_abs(rd.mu)) << at << " mu (f64 formulas)";
    EXPECT_LE(max_abs_diff(fn, rd.nu), 1e-5 * max_abs(rd.nu)) << at << " nu (f64 formulas)";
  }
}

// ---- tree_util ----

TEST(NnTreeUtil, MapZerosNormCount) {
  const Params a = make_params(0.0f), b = make_params(1.0f), c = make_grads(0), d = make_grads(1);
  const Params m = nn::tree_map(
      [](const Tensor& w, const Tensor& x, const Tensor& y, const Tensor& z) { return w + 2.0 * x - y * z; },
      a, b, c, d);
  const auto fa = flat_f64(a), fb = flat_f64(b), fc = flat_f64(c), fd = flat_f64(d), fm = flat_f64(m);
  for (size_t i = 0; i < fa.size(); ++i) EXPECT_NEAR(fm[i], fa[i] + 2 * fb[i] - fc[i] * fd[i], 1e-5) << i;
  const Params two = nn::tree_map([](const Tensor& x, const Tensor& y) { return x - y; }, b, a);
  EXPECT_FLOAT_EQ(float(flat_f64(two)[0]), 1.0f);
  EXPECT_EQ(m.w.shape(), (Shape{2, 3}));

  const Params z = nn::tree_zeros_like(a);
  for (const Tensor& t : engine::tree_leaves(z)) EXPECT_EQ(t.dtype(), DType::F32);
  for (double x : flat_f64(z)) EXPECT_EQ(x, 0.0);

  double ss = 0;
  for (double x : fa) ss += x * x;
  const Tensor n = nn::tree_global_norm(a);
  EXPECT_EQ(n.ndim(), 0);
  EXPECT_NEAR(n.item<float>(), std::sqrt(ss), 1e-5);
  EXPECT_EQ(nn::tree_count(a), 10);

  // Integer leaves are skipped by the norm; an f64 leaf promotes the result.
  std::vector<Tensor> mixed{f32({3.0f}, {1}), Tensor::from_vector<int32_t>({100}, {1}),
                            Tensor::from_vector<double>({4.0}, {1})};
  const Tensor nm = nn::tree_global_norm(mixed);
  EXPECT_EQ(nm.dtype(), DType::F64);
  EXPECT_EQ(nm.item<double>(), 5.0);
}

TEST(NnTreeUtil, WorksUnderTransforms) {
  const Params a = make_params(0.0f);
  // d/dx ||x|| = x / ||x||, through grad, and jit equals eager bitwise.
  const Params g = engine::grad([](const Params& p) { return nn::tree_global_norm(p); })(a);
  const auto fa = flat_f64(a), fg = flat_f64(g);
  double ss = 0;
  for (double x : fa) ss += x * x;
  for (size_t i = 0; i < fa.size(); ++i) EXPECT_NEAR(fg[i], fa[i] / std::sqrt(ss), 1e-6) << i;
  auto jn = engine::jit([](const Params& p) { return nn::tree_global_norm(p); });
  EXPECT_EQ(bits(jn(a)), bits(nn::tree_global_norm(a)));
}

TEST(NnTreeUtil, MismatchedStructureIsAnError) {
  std::vector<Tensor> a{f32({1.0f}, {1}), f32({2.0f}, {1})}, b{f32({1.0f}, {1})};
  try {
    nn::tree_map([](const Tensor& x, const Tensor& y) { return x + y; }, a, b);
    FAIL() << "expected an error";
  } catch (const engine::Error& e) {
    EXPECT_NE(std::string(e.what()).find("tree 1 has 1 leaves but tree 0 has 2"), std::string::npos)
        << e.what();
  }
}

// ---- Adam ----

TEST(NnAdam, InitState) {
  const Params p = make_params(0.0f);
  const nn::AdamState<Params> s = nn::adam_init(p);
  EXPECT_EQ(s.count.dtype(), DType::I32);
  EXPECT_EQ(s.count.ndim(), 0);
  EXPECT_EQ(s.count.item<int32_t>(), 0);
  for (double x : flat_f64(s.mu)) EXPECT_EQ(x, 0.0);
  EXPECT_EQ(engine::tree_leaves(s).size(), 7u);  // mu (3 leaves), nu (3), count
}

TEST(NnAdam, MatchesOptaxFormulas) {
  nn::AdamConfig cfg;
  cfg.lr = 1e-2;
  run_against_reference(cfg, 5, 1.0f, "defaults");
  cfg.b1 = 0.8;
  cfg.b2 = 0.95;
  cfg.eps = 1e-3;  // large enough to matter: a wrong eps placement shows
  run_against_reference(cfg, 4, 0.01f, "b1/b2/eps");
}

TEST(NnAdam, EpsRoot) {
  nn::AdamConfig cfg;
  cfg.lr = 1e-2;
  cfg.eps_root = 1e-4;  // gradients of 1e-3: nu_hat ~1e-6, so eps_root dominates the denominator
  run_against_reference(cfg, 4, 1e-3f, "eps_root");
  // And it changes the result (the reference comparison would otherwise be vacuous).
  Params p = make_params(0.0f);
  auto s = nn::adam_init(p);
  const Params g = make_grads(0, 1e-3f);
  nn::AdamConfig plain = cfg;
  plain.eps_root = 0.0;
  const double d0 = flat_f64(p)[0] - flat_f64(nn::adam_update(p, g, s, plain).first)[0];
  const double d1 = flat_f64(p)[0] - flat_f64(nn::adam_update(p, g, s, cfg).first)[0];
  EXPECT_NEAR(std::fabs(d0), 1e-2, 1e-5);  // first step without eps_root: |update| = lr
  EXPECT_LT(std::fabs(d1), 0.2 * std::fabs(d0));
}

TEST(NnAdam, ClippingEngagedAndNot) {
  // Gradients have global norm ~ 2.2 * scale.
  nn::AdamConfig cfg;
  cfg.lr = 1e-2;
  cfg.clip_global_norm = 0.5;
  run_against_reference(cfg, 4, 3.0f, "clip engaged");
  run_against_reference(cfg, 4, 0.05f, "clip not engaged");

  // Not engaged: bitwise the unclipped update (the select passes the gradients through untouched).
  const Params p = make_params(0.0f), g = make_grads(0, 0.05f);
  const auto s = nn::adam_init(p);
  nn::AdamConfig noclip = cfg;
  noclip.clip_global_norm.reset();
  testing_support::expect_tree_bitwise(nn::adam_update(p, g, s, cfg), nn::adam_update(p, g, s, noclip), "clip not engaged");
  const Params gc = nn::clip_by_global_norm(g, 0.5);
  testing_support::expect_tree_bitwise(gc, g, "clip_by_global_norm below the threshold");

  // Engaged: (g / norm) * max_norm, whose norm is max_norm.
  const Params big = make_grads(0, 3.0f);
  const Params clipped = nn::clip_by_global_norm(big, 0.5);
  EXPECT_NEAR(nn::tree_global_norm(clipped).item<float>(), 0.5, 1e-6);
  const auto fb = flat_f64(big), fc = flat_f64(clipped);
  double ss = 0;
  for (double x : fb) ss += x * x;
  std::vector<double> expected;
  for (double x : fb) expected.push_back(x / std::sqrt(ss) * 0.5);
  expect_ulps(fc, expected, 2, "clipped gradients");
}

// Exactly representable numbers: b1 = 1/2, b2 = 3/4, eps = 0, lr = 1/8 and a constant gradient g. By hand:
// after t steps mu = (1 - b1^t) g and nu = (1 - b2^t) g^2 (a geometric sum), so mu_hat = g and nu_hat = g^2
// exactly, the update is g / |g| = sign(g), and p_t = p_0 - t/8 * sign(g). Step 1: mu = g/2, nu = g^2/4;
// step 2: mu = 3g/4, nu = 7g^2/16; step 3: mu = 7g/8, nu = 37g^2/64. All of these are exact in f32 for
// g in {2, -0.5, 0.25}, so the comparison is exact equality.
TEST(NnAdam, HandComputedExactSteps) {
  nn::AdamConfig cfg;
  cfg.lr = 0.125;
  cfg.b1 = 0.5;
  cfg.b2 = 0.75;
  cfg.eps = 0.0;
  std::vector<Tensor> p{f32({1.0f, -3.0f, 0.0f}, {3})};
  const std::vector<Tensor> g{f32({2.0f, -0.5f, 0.25f}, {3})};
  auto s = nn::adam_init(p);
  const std::vector<std::vector<float>> want_p{
      {0.875f, -2.875f, -0.125f}, {0.75f, -2.75f, -0.25f}, {0.625f, -2.625f, -0.375f}};
  const std::vector<float> mu_factor{0.5f, 0.75f, 0.875f}, nu_factor{0.25f, 7.0f / 16, 37.0f / 64};
  const std::vector<float> gv{2.0f, -0.5f, 0.25f};
  for (int k = 0; k < 3; ++k) {
    std::tie(p, s) = nn::adam_update(p, g, s, cfg);
    EXPECT_EQ(p[0].to_vector<float>(), want_p[k]) << "step " << k + 1;
    std::vector<float> mu, nu;
    for (float x : gv) {
      mu.push_back(mu_factor[k] * x);
      nu.push_back(nu_factor[k] * x * x);
    }
    EXPECT_EQ(s.mu[0].to_vector<float>(), mu) << "step " << k + 1;
    EXPECT_EQ(s.nu[0].to_vector<float>(), nu) << "step " << k + 1;
    EXPECT_EQ(s.count.item<int32_t>(), k + 1);
  }
}

TEST(NnAdam, CountSaturatesLikeOptax) {
  std::vector<Tensor> p{f32({1.0f}, {1})};
  auto s = nn::adam_init(p);
  s.count = ops::scalar(2147483647.0, DType::I32);
  auto [p1, s1] = nn::adam_update(p, p, s, nn::AdamConfig{});
  EXPECT_EQ(s1.count.item<int32_t>(), 2147483647);
}

TEST(NnAdam, JitIsBitwiseEager) {
  for (bool clip : {false, true}) {
    nn::AdamConfig cfg;
    cfg.lr = 1e-2;
    if (clip) cfg.clip_global_norm = 0.5;
    auto step = engine::jit([](const Params& p, const Params& g, const nn::AdamState<Params>& s,
                               const nn::AdamConfig& c) { return nn::adam_update(p, g, s, c); });
    Params pe = make_params(0.0f), pj = pe;
    auto se = nn::adam_init(pe), sj = se;
    for (int k = 0; k < 4; ++k) {
      const Params g = make_grads(k, clip && k % 2 ? 3.0f : 0.2f);
      std::tie(pe, se) = nn::adam_update(pe, g, se, cfg);
      std::tie(pj, sj) = step(pj, g, sj, cfg);
      const std::string what = std::string(clip ? "clip" : "noclip") + " step " + std::to_string(k + 1);
      testing_support::expect_tree_bitwise(pj, pe, what + " params");
      testing_support::expect_tree_bitwise(sj, se, what + " state");
    }
    EXPECT_EQ(step.cache_size(), 1u);
  }
}

TEST(NnAdam, MismatchedTreesAndBadConfigAreErrors) {
  const Params p = make_params(0.0f);
  const auto s = nn::adam_init(p);
  Params g = make_grads(0);
  g.b = f32({1.0f, 2.0f}, {2});
  try {
    nn::adam_update(p, g, s, nn::AdamConfig{});
    FAIL() << "expected an error";
  } catch (const engine::Error& e) {
    EXPECT_EQ(e.kind(), engine::ErrorKind::Shape);
    EXPECT_NE(std::string(e.what()).find("gradient leaf 1"), std::string::npos) << e.what();
  }
  nn::AdamConfig bad;
  bad.b1 = 1.0;
  try {
    nn::adam_update(p, make_grads(0), s, bad);
    FAIL() << "expected an error";
  } catch (const engine::Error& e) {
    EXPECT_NE(std::string(e.what()).find("AdamConfig.b1"), std::string::npos) << e.what();
  }
  nn::AdamConfig a, b;
  b.lr = std::nextafter(a.lr, 1.0);
  EXPECT_NE(a.jit_hash(), b.jit_hash());
}

// ---- Polyak ----

TEST(NnPolyak, AveragesLeafwise) {
  const Params target = make_params(0.0f), online = make_grads(3);
  const double tau = 0.005;
  const Params r = nn::polyak(target, online, tau);
  const auto ft = flat_f64(target), fo = flat_f64(online), fr = flat_f64(r);
  std::vector<double> expected;
  for (size_t i = 0; i < ft.size(); ++i) expected.push_back(tau * fo[i] + (1 - tau) * ft[i]);
  expect_ulps(fr, expected, 2, "polyak");
  testing_support::expect_tree_bitwise(nn::polyak(target, online, 1.0), online, "tau = 1");
  testing_support::expect_tree_bitwise(nn::polyak(target, online, 0.0), target, "tau = 0");
  auto jp = engine::jit([](const Params& t, const Params& o) { return nn::polyak(t, o, 0.005); });
  testing_support::expect_tree_bitwise(jp(target, online), r, "jit polyak");
}

}  // namespace
