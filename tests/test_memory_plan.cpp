// Memory-plan property tests on random lifetimes: live buffers never overlap, the arena never exceeds the
// sum of the buffers, in-place chains reuse slots, and reuse actually happens for sequential lifetimes.
#include <gtest/gtest.h>

#include <random>

#include "engine/compile/memory_plan.h"

namespace {

using engine::BufferRequest;

std::vector<BufferRequest> random_buffers(std::mt19937_64& rng, int n, int steps) {
  std::vector<BufferRequest> bs(n);
  for (int i = 0; i < n; ++i) {
    int a = std::uniform_int_distribution<int>(-1, steps - 1)(rng);
    int len = std::uniform_int_distribution<int>(0, steps / 3)(rng);
    bs[i].first = a;
    bs[i].last = std::min(steps, std::max(a, 0) + len);
    bs[i].bytes = std::uniform_int_distribution<size_t>(0, 5000)(rng);
    if (i > 0 && std::bernoulli_distribution(0.3)(rng)) {
      int src = std::uniform_int_distribution<int>(0, i - 1)(rng);
      // make it a valid in-place candidate half the time
      if (std::bernoulli_distribution(0.5)(rng)) {
        bs[i].first = bs[src].last;
        bs[i].bytes = bs[src].bytes;
        bs[i].last = std::max(bs[i].first, bs[i].last);
      }
      bs[i].inplace_of = src;
    }
  }
  return bs;
}

TEST(MemoryPlan, RandomLifetimesNeverOverlapWhileLive) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 500; ++trial) {
    auto bs = random_buffers(rng, 1 + trial % 40, 2 + trial % 25);
    auto plan = engine::plan_memory(bs);
    std::string err = engine::verify_plan(bs, plan);
    ASSERT_EQ(err, "") << "trial " << trial;
  }
}

TEST(MemoryPlan, SequentialBuffersShareOneSlot) {
  std::vector<BufferRequest> bs;
  for (int i = 0; i < 10; ++i) bs.push_back({1024, i, i, -1});
  auto plan = engine::plan_memory(bs);
  EXPECT_EQ(plan.arena_bytes, 1024u);
  EXPECT_EQ(engine::verify_plan(bs, plan), "");
}

TEST(MemoryPlan, InPlaceChainTakesTheSourceSlot) {
  // a -> b -> c, each consumed by the next at the step that writes it (like x*2+1 elementwise).
  std::vector<BufferRequest> bs{{4096, -1, 0, -1}, {4096, 0, 1, 0}, {4096, 1, 2, 1}};
  auto plan = engine::plan_memory(bs);
  EXPECT_EQ(plan.offsets[0], plan.offsets[1]);
  EXPECT_EQ(plan.offsets[1], plan.offsets[2]);
  EXPECT_EQ(plan.arena_bytes, 4096u);
  EXPECT_EQ(plan.shares_with[2], 1);
  EXPECT_EQ(engine::verify_plan(bs, plan), "");
}

TEST(MemoryPlan, InPlaceRefusedWhenTheSourceLivesOn) {
  std::vector<BufferRequest> bs{{256, -1, 3, -1}, {256, 0, 1, 0}};
  auto plan = engine::plan_memory(bs);
  EXPECT_EQ(plan.shares_with[1], -1);
  EXPECT_NE(plan.offsets[0], plan.offsets[1]);
  EXPECT_EQ(engine::verify_plan(bs, plan), "");
}

TEST(MemoryPlan, VerifierCatchesOverlaps) {
  std::vector<BufferRequest> bs{{256, 0, 2, -1}, {256, 1, 3, -1}};
  engine::MemoryPlan bad;
  bad.offsets = {0, 128};
  bad.arena_bytes = 512;
  bad.shares_with = {-1, -1};
  EXPECT_NE(engine::verify_plan(bs, bad), "");
}

}  // namespace
