// The canonical workloads (tests/support/canonical.h) checked against independent references: the MLP's
// gradient against central finite differences (f64), Adam's first step against its closed form, Adam and the
// training step against progress on their objectives, jit(train_step) against eager, and the guided step's
// guidance term against finite differences of the critic.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/compile/jit.h"
#include "ops/api.h"
#include "tests/support/canonical.h"
#include "tests/support/testing.h"

namespace {

using namespace testing_support;
using canonical::MlpParams;
using engine::Tensor;

double scalar_of(const Tensor& t) { return to_f64(t).at(0); }

// Central differences of a scalar function of a parameter tree, one leaf element at a time (f64 leaves).
template <class F>
std::vector<std::vector<double>> fd_gradient(const F& f, const MlpParams& p, double eps) {
  std::vector<Tensor> leaves = engine::tree_leaves(p);
  std::vector<std::vector<double>> out;
  for (size_t k = 0; k < leaves.size(); ++k) {
    std::vector<double> base = to_f64(leaves[k]), g(base.size());
    for (size_t i = 0; i < base.size(); ++i) {
      auto at = [&](double delta) {
        std::vector<double> v = base;
        v[i] += delta;
        std::vector<Tensor> ls = leaves;
        ls[k] = Tensor::from_vector(v, leaves[k].shape());
        return scalar_of(f(engine::tree_unflatten(p, ls)));
      };
      g[i] = (at(eps) - at(-eps)) / (2 * eps);
    }
    out.push_back(std::move(g));
  }
  return out;
}

TEST(Canonical, MlpShapesAndInit) {
  const MlpParams p = canonical::init_mlp(32, 64, 3, 8, 7);
  ASSERT_EQ(p.w.size(), 3u);
  EXPECT_EQ(p.w[0].shape(), (engine::Shape{32, 64}));
  EXPECT_EQ(p.w[2].shape(), (engine::Shape{64, 64}));
  EXPECT_EQ(p.w_out.shape(), (engine::Shape{64, 8}));
  EXPECT_EQ(engine::tree_leaves(p).size(), 14u);
  // Scaled init: the sample variance of w[1] is near 1 / fan_in = 1/64 (4096 draws: ~2% standard error).
  std::vector<double> w = to_f64(p.w[1]);
  double ss = 0;
  for (double x : w) ss += x * x;
  EXPECT_NEAR(ss / double(w.size()) * 64.0, 1.0, 0.1);
  Rng rng(1);
  const Tensor y = canonical::mlp_forward(p, rand_tensor(rng, {16, 32}, DType::F32));
  EXPECT_EQ(y.shape(), (engine::Shape{16, 8}));
  EXPECT_EQ(y.dtype(), DType::F32);
}

TEST(Canonical, MlpLossGradientMatchesFiniteDifferences) {
  MlpParams p = canonical::init_mlp(3, 5, 2, 2, 11, DType::F64);
  Rng rng(2);
  // Move the biases and LayerNorm parameters off their init so that their gradients are generic.
  p = engine::tree_map(p, [&](const Tensor& t) { return t + rand_tensor(rng, t.shape(), DType::F64, -0.3, 0.3); });
  const Tensor x = rand_tensor(rng, {4, 3}, DType::F64), y = rand_tensor(rng, {4, 2}, DType::F64);
  const MlpParams g = engine::grad(canonical::mlp_loss)(p, x, y);
  const auto fd = fd_gradient([&](const MlpParams& q) { return canonical::mlp_loss(q, x, y); }, p, 1e-6);
  const std::vector<Tensor> lg = engine::tree_leaves(g);
  ASSERT_EQ(lg.size(), fd.size());
  for (size_t k = 0; k < lg.size(); ++k)
    EXPECT_EQ(compare(lg[k], Tensor::from_vector(fd[k], lg[k].shape()), 1e-8, 1e-6), "") << "leaf " << k;
}

// After one step from zero moments the bias corrections cancel exactly: m_hat = g, v_hat = g^2, so
// p1 = p - lr * g / (|g| + eps).
TEST(Canonical, AdamFirstStepHasClosedForm) {
  Rng rng(3);
  const Tensor p = rand_tensor(rng, {3, 4}, DType::F64), g = rand_away_from_zero(rng, {3, 4}, 1e-3, 2.0);
  const float lr = 0.01f;
  const canonical::AdamLeaf r = canonical::adam_leaf(p, g, ops::zeros_like(p), ops::zeros_like(p),
                                                     ops::scalar(1.0, DType::F32), lr);
  std::vector<double> pv = to_f64(p), gv = to_f64(g), want(pv.size());
  for (size_t i = 0; i < pv.size(); ++i) want[i] = pv[i] - double(lr) * gv[i] / (std::abs(gv[i]) + 1e-8);
  EXPECT_EQ(compare(r.p, Tensor::from_vector(want, p.shape()), 1e-12, 1e-12), "");
  EXPECT_EQ(compare(r.m, 0.1 * g, 1e-15, 1e-12), "");
  EXPECT_EQ(compare(r.v, 0.001 * (g * g), 1e-15, 1e-12), "");
}

// Adam on sum ||p - target||^2 over every leaf: the loss falls far below its start within 50 steps.
TEST(Canonical, AdamDecreasesAQuadratic) {
  MlpParams p = canonical::init_mlp(4, 8, 2, 3, 1);
  const MlpParams target = canonical::init_mlp(4, 8, 2, 3, 2);
  auto quad = [&](const MlpParams& q) {
    std::vector<Tensor> a = engine::tree_leaves(q), b = engine::tree_leaves(target);
    Tensor s = ops::scalar(0.0);
    for (size_t i = 0; i < a.size(); ++i) s = s + ops::sum(ops::square(a[i] - b[i]));
    return s;
  };
  canonical::AdamState s = canonical::init_adam(p);
  const double start = scalar_of(quad(p));
  for (int i = 0; i < 50; ++i) {
    const MlpParams g = engine::grad(quad)(p);
    std::tie(p, s) = canonical::adam_update(p, g, s, 0.02f);
  }
  EXPECT_EQ(scalar_of(s.step), 50.0);
  const double end = scalar_of(quad(p));
  EXPECT_LT(end, 0.1 * start) << "start " << start << ", end " << end;
}

TEST(Canonical, TrainStepReducesTheLossAndJitMatchesEager) {
  Rng rng(4);
  MlpParams p = canonical::init_mlp(6, 16, 2, 3, 5);
  canonical::AdamState s = canonical::init_adam(p);
  const Tensor x = rand_tensor(rng, {32, 6}, DType::F32), y = rand_tensor(rng, {32, 3}, DType::F32);
  auto step = engine::jit([](const MlpParams& a, const canonical::AdamState& b, const Tensor& xx, const Tensor& yy) {
    return canonical::train_step(a, b, xx, yy, 0.01f);
  });
  MlpParams pj = p;
  canonical::AdamState sj = s;
  double first = 0, last = 0;
  for (int i = 0; i < 30; ++i) {
    auto [np, ns, loss] = canonical::train_step(p, s, x, y, 0.01f);
    auto [npj, nsj, lossj] = step(pj, sj, x, y);
    if (i < 3) {  // the two paths drift apart by f32 round-off over many steps; compare the first few
      EXPECT_EQ(compare(lossj, loss, 1e-6, 1e-5), "") << "step " << i;
      const std::vector<Tensor> a = engine::tree_leaves(npj), b = engine::tree_leaves(np);
      for (size_t k = 0; k < a.size(); ++k) EXPECT_EQ(compare(a[k], b[k], 1e-6, 1e-4), "") << "step " << i;
    }
    if (i == 0) first = scalar_of(loss);
    last = scalar_of(loss);
    p = np;
    s = ns;
    pj = npj;
    sj = nsj;
  }
  EXPECT_EQ(step.stats().misses, 1u);
  EXPECT_LT(last, 0.8 * first) << "first " << first << ", last " << last;
}

// guided - unguided = dt * w * dQ/da; dQ/da of row i is checked by finite differences on the critic alone.
TEST(Canonical, GuidedStepAddsTheCriticGradient) {
  constexpr int kObs = 3, kAct = 2, kBatch = 4;
  const MlpParams flow = canonical::init_mlp(kObs + kAct + 1, 8, 2, kAct, 1, DType::F64);
  const MlpParams critic = canonical::init_mlp(kObs + kAct, 8, 2, 1, 2, DType::F64);
  Rng rng(5);
  const Tensor obs = rand_tensor(rng, {kBatch, kObs}, DType::F64), a = rand_tensor(rng, {kBatch, kAct}, DType::F64);
  const Tensor t = ops::scalar(0.25, DType::F64);
  const double dt = 0.1, w = 2.0;
  const Tensor unguided = canonical::guided_step(flow, critic, obs, a, t, dt, 0.0);
  const Tensor guided = canonical::guided_step(flow, critic, obs, a, t, dt, w);
  ASSERT_EQ(guided.shape(), (engine::Shape{kBatch, kAct}));
  const Tensor v = canonical::mlp_forward(flow, ops::concatenate({obs, a, ops::full({kBatch, 1}, 0.25, DType::F64)}, -1));
  EXPECT_EQ(compare(unguided, a + dt * v, 1e-14, 1e-12), "");

  std::vector<double> av = to_f64(a), fd(av.size());
  const double eps = 1e-6;
  for (size_t i = 0; i < av.size(); ++i) {
    auto q_at = [&](double delta) {
      std::vector<double> b = av;
      b[i] += delta;
      const Tensor ab = Tensor::from_vector(b, a.shape());
      return scalar_of(ops::sum(canonical::mlp_forward(critic, ops::concatenate({obs, ab}, -1))));
    };
    fd[i] = (q_at(eps) - q_at(-eps)) / (2 * eps);
  }
  EXPECT_EQ(compare((guided - unguided) / (dt * w), Tensor::from_vector(fd, a.shape()), 1e-7, 1e-6), "");
}

}  // namespace
