// Smoke test: the library links and a tensor round-trips.
#include <gtest/gtest.h>

#include "ops/api.h"

TEST(Smoke, TensorRoundTrip) {
  auto t = engine::Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2});
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1, 2, 3, 4}));
}
