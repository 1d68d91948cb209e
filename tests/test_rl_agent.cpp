// The joint QGF training step: it trains (losses fall on a fixed batch), jit equals eager bitwise, and a run
// checkpointed halfway and resumed from the file continues bitwise-identically to an uninterrupted one.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "engine/compile/jit.h"
#include "nn/checkpoint.h"
#include "ops/api.h"
#include "rl/agent.h"
#include "tests/support/testing.h"

namespace {

using engine::Tensor;

rl::AgentConfig small_config() {
  rl::AgentConfig cfg;
  cfg.flow = rl::make_flow_config(6, 4, {32, 32});
  cfg.critic = rl::make_critic_config(6, 4, {32, 32}, 0.99, 2);
  cfg.adam.lr = 1e-3;
  return cfg;
}

rl::CriticBatch batch_for(uint32_t i) {
  const Tensor k = ops::random_fold_in(ops::random_key(40), i);
  const int64_t b = 32;
  return rl::CriticBatch{ops::random_normal(ops::random_fold_in(k, 0), {b, 6}),
                         ops::random_uniform(ops::random_fold_in(k, 1), {b, 4}, -1.0, 1.0),
                         ops::random_normal(ops::random_fold_in(k, 2), {b}),
                         ops::ones({b}),
                         ops::random_normal(ops::random_fold_in(k, 3), {b, 6}),
                         ops::ones({b})};
}

TEST(Agent, TrainStepLowersTheLossesAndJitEqualsEager) {
  const rl::AgentConfig cfg = small_config();
  rl::AgentState s = rl::init_agent(1, cfg), e = s;
  auto step = engine::jit(
      [cfg](const rl::AgentState& st, const rl::CriticBatch& b) { return rl::train_step(st, b, cfg); });
  const rl::CriticBatch b = batch_for(0);
  rl::TrainMetrics first, last;
  for (int i = 0; i < 200; ++i) {
    rl::TrainOutput o = step(s, b);
    if (i == 0) {
      first = o.metrics;
      rl::TrainOutput oe = rl::train_step(e, b, cfg);
      testing_support::expect_tree_bitwise(o.state, oe.state, "jitted step against eager");
    }
    s = o.state;
    last = o.metrics;
  }
  EXPECT_LT(last.flow_loss.item<float>(), first.flow_loss.item<float>());
  EXPECT_LT(last.q_loss.item<float>(), 0.5f * first.q_loss.item<float>());
}

TEST(Agent, ResumedRunContinuesBitwise) {
  const rl::AgentConfig cfg = small_config();
  auto step = engine::jit(
      [cfg](const rl::AgentState& st, const rl::CriticBatch& b) { return rl::train_step(st, b, cfg); });
  rl::AgentState straight = rl::init_agent(3, cfg);
  for (uint32_t i = 0; i < 8; ++i) straight = step(straight, batch_for(i)).state;

  rl::AgentState first_half = rl::init_agent(3, cfg);
  for (uint32_t i = 0; i < 4; ++i) first_half = step(first_half, batch_for(i)).state;
  const std::string path =
      (std::filesystem::temp_directory_path() / ("qgf_agent_" + std::to_string(::getpid()) + ".safetensors"))
          .string();
  nn::Checkpoint().add("agent", first_half).add("step", ops::scalar(4.0)).save(path);

  // A fresh process would only have the config: restore into a freshly initialized (differently seeded)
  // state.
  const nn::CheckpointReader r = nn::Checkpoint::load(path);
  rl::AgentState resumed = r.restore("agent", rl::init_agent(99, cfg));
  const uint32_t start = uint32_t(r.tensor("step").item<float>());
  for (uint32_t i = start; i < 8; ++i) resumed = step(resumed, batch_for(i)).state;
  std::filesystem::remove(path);
  testing_support::expect_tree_bitwise(straight, resumed, "resumed run against uninterrupted");
}

TEST(Agent, TrainsOnChunksSampledFromAnOgbenchFile) {
  // The toy OGBench-format file checked in for the data tests: sample chunks, convert, train a few steps.
  const std::string path =
      (std::filesystem::path(__FILE__).parent_path() / "data" / "toy_transitions.npz").string();
  const rl::Dataset ds = rl::clip_dataset_actions(rl::load_dataset(path));
  rl::ChunkConfig cc;
  cc.horizon = 2;
  rl::AgentConfig cfg;
  cfg.flow = rl::make_flow_config(ds.obs_dim(), ds.action_dim() * cc.horizon, {16, 16});
  cfg.critic = rl::make_critic_config(ds.obs_dim(), ds.action_dim() * cc.horizon, {16, 16}, cc.discount, 2);
  rl::AgentState s = rl::init_agent(5, cfg);
  auto step = engine::jit(
      [cfg](const rl::AgentState& st, const rl::CriticBatch& b) { return rl::train_step(st, b, cfg); });
  for (uint64_t i = 0; i < 5; ++i) {
    const rl::CriticBatch b = rl::critic_batch(rl::sample_chunks(ds, cc, 8, 11, i));
    EXPECT_EQ(b.actions.shape(), (engine::Shape{8, ds.action_dim() * cc.horizon}));
    rl::TrainOutput o = step(s, b);
    EXPECT_TRUE(std::isfinite(o.metrics.q_loss.item<float>()));
    s = o.state;
  }
}

}  // namespace
