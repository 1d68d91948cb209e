// nn layers: initializer statistics, Linear over leading axes, MLP structure (LayerNorm placement of QGF's
// actor and critic), the time embedding's closed form, and ensembles (vmap over stacked members = a loop).
#include <gtest/gtest.h>

#include <cmath>

#include "nn/layers.h"
#include "ops/api.h"

namespace {

using engine::DType;
using engine::Tensor;

double mean_of(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += x;
  return s / double(v.size());
}
double var_of(const std::vector<float>& v) {
  const double m = mean_of(v);
  double s = 0;
  for (float x : v) s += (x - m) * (x - m);
  return s / double(v.size());
}

TEST(NnInit, VarianceScalingHasTheRequestedVarianceAndRange) {
  const Tensor key = ops::random_key(1);
  // fan_avg uniform: variance 1 / ((fan_in + fan_out) / 2), bounded by sqrt(3 * variance).
  const std::vector<float> u = nn::init_weight(key, {300, 100}).to_vector<float>();
  const double var = 1.0 / 200.0;
  EXPECT_NEAR(var_of(u), var, 0.05 * var);
  for (float x : u) EXPECT_LE(std::fabs(x), std::sqrt(3 * var) + 1e-6);
  // He normal (truncated): variance 2 / fan_in, nothing beyond 2 stddev of the untruncated draw.
  const std::vector<float> h = nn::init_weight(key, {400, 100}, nn::kHeNormal).to_vector<float>();
  EXPECT_NEAR(var_of(h), 2.0 / 400.0, 0.1 * 2.0 / 400.0);
  EXPECT_NEAR(mean_of(h), 0.0, 0.01);
  // Same key, same draw; biases are rejected with a clear error.
  EXPECT_EQ(nn::init_weight(key, {300, 100}).to_vector<float>(), u);
  EXPECT_THROW(nn::init_weight(key, {10}), engine::Error);
}

TEST(NnLayers, LinearFoldsLeadingAxes) {
  const nn::Linear l = nn::init_linear(ops::random_key(2), 3, 4);
  const Tensor x = ops::random_normal(ops::random_key(3), {2, 5, 3});
  const Tensor y = nn::linear(l, x);
  ASSERT_EQ(y.shape(), (engine::Shape{2, 5, 4}));
  const Tensor row =
      nn::linear(l, ops::reshape(ops::slice_axis(ops::slice_axis(x, 0, 1, 2), 1, 2, 3), {1, 3}));
  EXPECT_EQ(ops::reshape(ops::slice_axis(ops::slice_axis(y, 0, 1, 2), 1, 2, 3), {1, 4}).to_vector<float>(),
            row.to_vector<float>());
  EXPECT_THROW(nn::linear(l, ops::ones({2, 5})), engine::Error);
}

TEST(NnLayers, ActorAndCriticLayerNormPlacement) {
  const nn::MlpConfig actor = nn::MlpConfig::actor({8, 8, 8, 8}, 3),
                      critic = nn::MlpConfig::critic({8, 8, 8, 8}, 1);
  const nn::Mlp a = nn::init_mlp(ops::random_key(4), 5, actor),
                c = nn::init_mlp(ops::random_key(4), 5, critic);
  EXPECT_EQ(a.norms.size(), 3u);  // not after the last hidden layer
  EXPECT_EQ(c.norms.size(), 4u);
  EXPECT_EQ(nn::mlp(a, actor, ops::ones({7, 5})).shape(), (engine::Shape{7, 3}));
  // The critic against a hand-written Dense -> LayerNorm -> GELU stack (QGF's order), and FQL's order when
  // asked.
  for (bool after : {false, true}) {
    Tensor h = ops::ones({2, 5});
    for (size_t i = 0; i < c.hidden.size(); ++i) {
      h = ops::matmul(h, c.hidden[i].w) + c.hidden[i].b;
      if (!after) h = ops::layer_norm(h, c.norms[i].scale, c.norms[i].bias, 1e-6);
      h = ops::gelu(h, true);
      if (after) h = ops::layer_norm(h, c.norms[i].scale, c.norms[i].bias, 1e-6);
    }
    const Tensor ref = ops::matmul(h, c.head.w) + c.head.b;
    nn::MlpConfig ordered = critic;
    ordered.norm_after_activation = after;
    EXPECT_EQ(nn::mlp(c, ordered, ops::ones({2, 5})).to_vector<float>(), ref.to_vector<float>()) << after;
  }
  nn::MlpConfig bad = critic;
  bad.layer_norm = {true};
  EXPECT_THROW(nn::init_mlp(ops::random_key(4), 5, bad), engine::Error);
}

TEST(NnLayers, TimeEmbeddingClosedForm) {
  const Tensor t = Tensor::from_vector<float>({0.0f, 0.3f, 1.0f});
  const std::vector<float> e = nn::time_embedding(t, 8).to_vector<float>();
  ASSERT_EQ(e.size(), 24u);
  for (int i = 0; i < 3; ++i)
    for (int k = 0; k < 4; ++k) {
      const double f = 2 * M_PI / 10 * std::pow(1000.0, k / 3.0), tv = i == 0 ? 0.0 : i == 1 ? 0.3 : 1.0;
      EXPECT_NEAR(e[size_t(i * 8 + k)], std::cos(tv * f), 2e-4) << i << " " << k;
      EXPECT_NEAR(e[size_t(i * 8 + 4 + k)], std::sin(tv * f), 2e-4) << i << " " << k;
    }
  EXPECT_EQ(nn::time_embedding(ops::ones({1}), 16).shape(), (engine::Shape{1, 16}));  // a batch of one
  EXPECT_THROW(nn::time_embedding(t, 7), engine::Error);
}

TEST(NnLayers, EnsembleEqualsALoopOverMembers) {
  const nn::MlpConfig cfg = nn::MlpConfig::critic({16, 16}, 1);
  const nn::Mlp stacked = nn::init_mlp_ensemble(ops::random_key(6), 3, 4, cfg);
  const Tensor x = ops::random_normal(ops::random_key(7), {5, 4});
  const Tensor all = nn::mlp_ensemble(stacked, cfg, x);
  ASSERT_EQ(all.shape(), (engine::Shape{3, 5, 1}));
  for (int e = 0; e < 3; ++e) {
    const nn::Mlp member = engine::tree_map(stacked, [e](const Tensor& leaf) {
      engine::Shape s(leaf.shape().begin() + 1, leaf.shape().end());
      return ops::reshape(ops::slice_axis(leaf, 0, e, e + 1), s);
    });
    const std::vector<float> one = nn::mlp(member, cfg, x).to_vector<float>();
    const std::vector<float> got = ops::reshape(ops::slice_axis(all, 0, e, e + 1), {5, 1}).to_vector<float>();
    for (size_t i = 0; i < one.size(); ++i) EXPECT_NEAR(got[i], one[i], 1e-5 * (1 + std::fabs(one[i])));
  }
}

}  // namespace
