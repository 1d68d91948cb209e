// Random family tests: Threefry-2x32 known answers (Random123), the documented bit mapping against a scalar
// reference, JAX-compatible keys/splits/fold-ins, uniform and normal statistics, thread-count independence,
// vmap over keys (bits equal to per-key draws, no loop), iota, and the shape-rule errors.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <utility>

#include "engine/compile/jit.h"
#include "engine/interp/interpreter.h"
#include "engine/random/threefry.h"
#include "engine/transforms/transforms.h"
#include "ops/api.h"
#include "ops/registry.h"

namespace {

using engine::DType;
using engine::ErrorKind;
using engine::Shape;
using engine::Tensor;
using engine::random::threefry2x32_scalar;
using engine::random::threefry_bits32;
using ops::Prim;

std::pair<uint32_t, uint32_t> key_words(const Tensor& key) {
  auto v = key.to_vector<uint32_t>();
  return {v[0], v[1]};
}

template <class F>
void expect_error(F&& f, ErrorKind kind, const std::string& fragment) {
  try {
    f();
    ADD_FAILURE() << "expected an error containing '" << fragment << "'";
  } catch (const engine::Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

struct Moments {
  double mean = 0, var = 0, lo = INFINITY, hi = -INFINITY;
};
template <class T>
Moments moments(const Tensor& t) {
  auto v = t.to_vector<T>();
  Moments m;
  for (T x : v) {
    m.mean += x;
    m.lo = std::min<double>(m.lo, x);
    m.hi = std::max<double>(m.hi, x);
  }
  m.mean /= double(v.size());
  for (T x : v) m.var += (x - m.mean) * (x - m.mean);
  m.var /= double(v.size());
  return m;
}

// ---- Threefry known answers ----

TEST(Threefry, Random123KnownAnswers) {
  // Random123's kat_vectors for threefry2x32 with 20 rounds.
  auto r = threefry2x32_scalar(0x13198a2eu, 0x03707344u, 0x243f6a88u, 0x85a308d3u);
  EXPECT_EQ(r.x0, 0xc4923a9cu);
  EXPECT_EQ(r.x1, 0x483df7a0u);
  r = threefry2x32_scalar(0u, 0u, 0u, 0u);
  EXPECT_EQ(r.x0, 0x6b200159u);
  EXPECT_EQ(r.x1, 0x99ba4efeu);
  r = threefry2x32_scalar(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu);
  EXPECT_EQ(r.x0, 0x1cb996fcu);
  EXPECT_EQ(r.x1, 0xbb002be7u);
}

TEST(Threefry, VectorWordTypeMatchesScalar) {
  typedef uint32_t V4 __attribute__((vector_size(16)));
  V4 k0 = {0u, 0x13198a2eu, 1u, 0xffffffffu}, k1 = {0u, 0x03707344u, 2u, 0xffffffffu};
  V4 x0 = {0u, 0x243f6a88u, 3u, 0xffffffffu}, x1 = {0u, 0x85a308d3u, 4u, 0xffffffffu};
  V4 c0 = x0, c1 = x1;
  engine::random::threefry2x32(k0, k1, c0, c1);
  for (int l = 0; l < 4; ++l) {
    auto r = threefry2x32_scalar(k0[l], k1[l], x0[l], x1[l]);
    EXPECT_EQ(c0[l], r.x0) << l;
    EXPECT_EQ(c1[l], r.x1) << l;
  }
}

// ---- keys, bits and the documented mapping ----

TEST(RandomBits, MatchesTheDocumentedCounterMapping) {
  Tensor key = ops::random_key(0x0123456789abcdefull);
  auto [k0, k1] = key_words(key);
  EXPECT_EQ(k0, 0x01234567u);
  EXPECT_EQ(k1, 0x89abcdefu);
  // 3 * 37 elements: full 8-lane vectors and a ragged tail.
  Tensor bits = ops::random_bits(key, {3, 37});
  ASSERT_EQ(bits.shape(), (Shape{3, 37}));
  ASSERT_EQ(bits.dtype(), DType::U32);
  auto v = bits.to_vector<uint32_t>();
  for (size_t i = 0; i < v.size(); ++i) {
    auto r = threefry2x32_scalar(k0, k1, 0u, uint32_t(i));
    ASSERT_EQ(v[i], r.x0 ^ r.x1) << i;
    ASSERT_EQ(v[i], threefry_bits32(k0, k1, i)) << i;
  }
}

TEST(RandomBits, EmptyAndScalarShapes) {
  Tensor key = ops::random_key(3);
  EXPECT_EQ(ops::random_bits(key, {0, 4}).shape(), (Shape{0, 4}));
  Tensor s = ops::random_bits(key, {});
  ASSERT_EQ(s.shape(), Shape{});
  auto [k0, k1] = key_words(key);
  EXPECT_EQ(s.item<uint32_t>(), threefry_bits32(k0, k1, 0));
}

TEST(RandomBits, BatchedKeysDrawPerKey) {
  Tensor keys = ops::random_split(ops::random_key(5), 4);
  Tensor bits = ops::random_bits(keys, {2, 5});
  ASSERT_EQ(bits.shape(), (Shape{4, 2, 5}));
  auto all = bits.to_vector<uint32_t>();
  for (int64_t k = 0; k < 4; ++k) {
    Tensor one = ops::reshape(ops::slice_axis(keys, 0, k, k + 1), {2});
    auto v = ops::random_bits(one, {2, 5}).to_vector<uint32_t>();
    for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(all[size_t(k) * 10 + i], v[i]);
  }
}

// Values of jax.random with jax_threefry_partitionable=True (JAX's default since 0.5): PRNGKey(0) is (0, 0),
// split(PRNGKey(0))[j] = threefry(key, (0, j)), so split(key)[0] is Random123's (0,0,0,0) answer.
TEST(RandomKeys, SplitAndFoldInFollowJaxPartitionableScheme) {
  Tensor key = ops::random_key(0);
  EXPECT_EQ(key.to_vector<uint32_t>(), (std::vector<uint32_t>{0u, 0u}));
  Tensor ks = ops::random_split(key, 2);
  ASSERT_EQ(ks.shape(), (Shape{2, 2}));
  auto v = ks.to_vector<uint32_t>();
  EXPECT_EQ(v[0], 0x6b200159u);
  EXPECT_EQ(v[1], 0x99ba4efeu);
  // Every split key is the key with its index folded in.
  Tensor key42 = ops::random_key(42);
  auto many = ops::random_split(key42, 5).to_vector<uint32_t>();
  auto [k0, k1] = key_words(key42);
  for (uint32_t j = 0; j < 5; ++j) {
    auto r = threefry2x32_scalar(k0, k1, 0u, j);
    EXPECT_EQ(many[2 * j], r.x0);
    EXPECT_EQ(many[2 * j + 1], r.x1);
    EXPECT_EQ(ops::random_fold_in(key42, j).to_vector<uint32_t>(), (std::vector<uint32_t>{r.x0, r.x1}));
  }
  EXPECT_EQ(ops::random_split(key42, 0).shape(), (Shape{0, 2}));
}

// Reference values printed by JAX 0.10.2 (jax_threefry_partitionable=True, its default):
//   jax.random.split(PRNGKey(42), 3), jax.random.fold_in(PRNGKey(42), 7), jax.random.bits(PRNGKey(42), (2, 3)),
//   jax.random.uniform(PRNGKey(42), (2, 3), f32 / f64 (jax_enable_x64)), and with bounds [-2, 3).
TEST(RandomKeys, MatchJaxReferenceValues) {
  Tensor key = ops::random_key(42);
  EXPECT_EQ(key.to_vector<uint32_t>(), (std::vector<uint32_t>{0u, 42u}));
  EXPECT_EQ(ops::random_split(key, 3).to_vector<uint32_t>(),
            (std::vector<uint32_t>{0x6d3e048f, 0x1022172d, 0x03d7b32d, 0xadd083f4, 0x92fb20ea, 0x0f38d913}));
  EXPECT_EQ(ops::random_fold_in(key, 7).to_vector<uint32_t>(), (std::vector<uint32_t>{0x97d0552f, 0x51bf719f}));
  EXPECT_EQ(ops::random_bits(key, {2, 3}).to_vector<uint32_t>(),
            (std::vector<uint32_t>{0x7d1c13a2, 0xae0730d9, 0x9dc3f9f9, 0x8f9ec1d7, 0x735d7315, 0x95fb4ed8}));
  EXPECT_EQ(ops::random_uniform(key, {2, 3}).to_vector<float>(),
            (std::vector<float>{0x1.f47048p-2f, 0x1.5c0e6p-1f, 0x1.3b87fp-1f, 0x1.1f3d8p-1f, 0x1.cd75c8p-2f,
                                0x1.2bf69cp-1f}));
  EXPECT_EQ(ops::random_uniform(key, {2, 3}, 0.0, 1.0, DType::F64).to_vector<double>(),
            (std::vector<double>{0x1.b4f8123c40884p-2, 0x1.ebd996d6e84p-7, 0x1.25f641d41e71ap-1, 0x1.75aad28c6a974p-1,
                                 0x1.60275dc7869dap-1, 0x1.49b2352c6244ap-1}));
  // With bounds, XLA fuses u * 5 - 2 into one FMA; the engine rounds the product first: equal within an ulp
  // of the product (u * 5 < 5: 2^-21).
  auto b = ops::random_uniform(key, {4}, -2.0, 3.0).to_vector<float>();
  const float jb[4] = {0x1.c63168p-2f, 0x1.6623fp+0f, 0x1.14d3d8p+0f, 0x1.9c338p-1f};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(b[i], jb[i], 0x1p-21) << i;
  Tensor big = ops::random_key(0x0123456789abcdefull);
  EXPECT_EQ(ops::random_split(big, 2).to_vector<uint32_t>(),
            (std::vector<uint32_t>{1300777217u, 3691926423u, 1732957046u, 53132507u}));
}

TEST(RandomKeys, SplitsAndFoldInsGiveDistinctStreams) {
  Tensor key = ops::random_key(7);
  std::set<std::vector<uint32_t>> seen;
  seen.insert(ops::random_bits(key, {16}).to_vector<uint32_t>());
  Tensor ks = ops::random_split(key, 64);
  for (int64_t j = 0; j < 64; ++j) {
    Tensor k = ops::reshape(ops::slice_axis(ks, 0, j, j + 1), {2});
    seen.insert(ops::random_bits(k, {16}).to_vector<uint32_t>());
  }
  for (uint32_t d : {1000u, 1001u, 0xffffffffu})
    seen.insert(ops::random_bits(ops::random_fold_in(key, d), {16}).to_vector<uint32_t>());
  seen.insert(ops::random_bits(ops::random_key(8), {16}).to_vector<uint32_t>());
  EXPECT_EQ(seen.size(), 1u + 64u + 3u + 1u);
  // Splitting a batch of keys: u32[K..., n, 2], each row split on its own.
  Tensor batch = ops::random_split(ks, 3);
  ASSERT_EQ(batch.shape(), (Shape{64, 3, 2}));
  Tensor row5 = ops::reshape(ops::slice_axis(ks, 0, 5, 6), {2});
  EXPECT_EQ(ops::reshape(ops::slice_axis(batch, 0, 5, 6), {3, 2}).to_vector<uint32_t>(),
            ops::random_split(row5, 3).to_vector<uint32_t>());
}

// ---- distributions ----

TEST(RandomUniform, F32MomentsRangeAndNeverOne) {
  const int64_t n = 1 << 20;
  Tensor u = ops::random_uniform(ops::random_key(1), {n});
  ASSERT_EQ(u.dtype(), DType::F32);
  Moments m = moments<float>(u);
  const double se = std::sqrt(1.0 / 12.0 / double(n));
  EXPECT_NEAR(m.mean, 0.5, 5 * se);
  EXPECT_NEAR(m.var, 1.0 / 12.0, 5e-4);
  EXPECT_GE(m.lo, 0.0);
  EXPECT_LT(m.hi, 1.0);
  // Every value is a multiple of 2^-23 (23 random bits, as JAX), and every multiple shows up about equally:
  // the low bit is set in half of them.
  int64_t odd = 0;
  for (float x : u.to_vector<float>()) {
    const double k = std::ldexp(double(x), 23);
    ASSERT_EQ(k, std::floor(k));
    odd += int64_t(k) & 1;
  }
  EXPECT_NEAR(double(odd) / double(n), 0.5, 5 * 0.5 / std::sqrt(double(n)));
}

TEST(RandomUniform, F64MomentsAndRange) {
  const int64_t n = 1 << 20;
  Tensor u = ops::random_uniform(ops::random_key(2), {1024, 1024}, 0.0, 1.0, DType::F64);
  ASSERT_EQ(u.dtype(), DType::F64);
  Moments m = moments<double>(u);
  EXPECT_NEAR(m.mean, 0.5, 5 * std::sqrt(1.0 / 12.0 / double(n)));
  EXPECT_NEAR(m.var, 1.0 / 12.0, 5e-4);
  EXPECT_GE(m.lo, 0.0);
  EXPECT_LT(m.hi, 1.0);
  // More than 32 bits of resolution: some values are not multiples of 2^-32.
  int fine = 0;
  for (double x : u.to_vector<double>()) fine += std::ldexp(x, 32) != std::floor(std::ldexp(x, 32));
  EXPECT_GT(fine, n / 2);
}

TEST(RandomUniform, BoundsAreHalfOpen) {
  Tensor u = ops::random_uniform(ops::random_key(3), {1 << 16}, -2.0, 3.0);
  Moments m = moments<float>(u);
  EXPECT_NEAR(m.mean, 0.5, 5 * 5.0 * std::sqrt(1.0 / 12.0 / 65536.0));
  EXPECT_GE(m.lo, -2.0);
  EXPECT_LT(m.hi, 3.0);
  // A range narrower than f32 resolution near 1: rounding would reach hi without the clamp.
  Tensor t = ops::random_uniform(ops::random_key(4), {1 << 14}, 1.0, 1.0 + 1e-7);
  for (float x : t.to_vector<float>()) {
    ASSERT_GE(x, 1.0f);
    ASSERT_LT(double(x), 1.0 + 1e-7);
  }
  for (double x : ops::random_uniform(ops::random_key(4), {1 << 14}, 5.0, 5.0 + 1e-15, DType::F64).to_vector<double>()) {
    ASSERT_GE(x, 5.0);
    ASSERT_LT(x, 5.0 + 1e-15);
  }
  expect_error([] { ops::random_uniform(ops::random_key(0), {3}, 1.0, 1.0); }, ErrorKind::Value, "lo < hi");
  expect_error([] { ops::random_uniform(ops::random_key(0), {3}, 0.0, 1.0, DType::I32); }, ErrorKind::DType,
               "[random_uniform]");
}

TEST(RandomNormal, MomentsAndTails) {
  const int64_t n = 1 << 20;
  for (DType dt : {DType::F32, DType::F64}) {
    Tensor z = ops::random_normal(ops::random_key(11), {n}, dt);
    ASSERT_EQ(z.dtype(), dt);
    std::vector<double> v;
    if (dt == DType::F32)
      for (float x : z.to_vector<float>()) v.push_back(x);
    else
      v = z.to_vector<double>();
    double mean = 0, m2 = 0, m4 = 0;
    int64_t beyond2 = 0;
    for (double x : v) {
      ASSERT_TRUE(std::isfinite(x));
      mean += x;
    }
    mean /= double(n);
    for (double x : v) {
      m2 += (x - mean) * (x - mean);
      m4 += std::pow(x - mean, 4);
      beyond2 += std::abs(x) > 2.0;
    }
    m2 /= double(n);
    m4 /= double(n);
    EXPECT_NEAR(mean, 0.0, 5.0 / std::sqrt(double(n))) << engine::dtype_name(dt);
    EXPECT_NEAR(std::sqrt(m2), 1.0, 5e-3) << engine::dtype_name(dt);
    EXPECT_NEAR(m4 / (m2 * m2), 3.0, 0.05) << engine::dtype_name(dt);  // kurtosis
    const double p2 = std::erfc(2.0 / std::sqrt(2.0));                   // P(|z| > 2) = 0.0455
    EXPECT_NEAR(double(beyond2) / double(n), p2, 5 * std::sqrt(p2 * (1 - p2) / double(n))) << engine::dtype_name(dt);
  }
}

// ---- determinism ----

TEST(RandomDeterminism, SameBitsForOneAndTwoThreads) {
  const int saved = omp_get_max_threads();
  auto draw = [] {
    Tensor key = ops::random_key(123);
    Tensor keys = ops::random_split(key, 40000);  // fold_in over many keys crosses the parallel cutoff
    return std::make_tuple(ops::random_bits(key, {1000003}).to_vector<uint32_t>(),
                           ops::random_normal(key, {300001}).to_vector<float>(), keys.to_vector<uint32_t>());
  };
  omp_set_num_threads(1);
  auto one = draw();
  omp_set_num_threads(2);
  auto two = draw();
  omp_set_num_threads(saved);
  EXPECT_TRUE(std::get<0>(one) == std::get<0>(two));
  EXPECT_TRUE(std::get<1>(one) == std::get<1>(two));
  EXPECT_TRUE(std::get<2>(one) == std::get<2>(two));
  // And the parallel result is the one the scalar reference gives.
  auto [k0, k1] = key_words(ops::random_key(123));
  const auto& bits = std::get<0>(two);
  for (size_t i : {size_t(0), size_t(7), size_t(500000), size_t(1000002)}) EXPECT_EQ(bits[i], threefry_bits32(k0, k1, i));
}

// ---- vmap over keys: one batched draw, the same numbers as per-key draws ----

TEST(RandomVmap, OverKeysEqualsPerKeyDraws) {
  Tensor keys = ops::random_split(ops::random_key(99), 5);
  auto draw = [](const Tensor& k) {
    Tensor sub = ops::random_split(k, 3);
    Tensor k1 = ops::reshape(ops::slice_axis(sub, 0, 1, 2), {2});
    return ops::random_normal(k1, {4, 3}, DType::F64) + ops::random_uniform(ops::random_fold_in(k, 9), {4, 3}, 0.0, 1.0, DType::F64);
  };
  const uint64_t before = engine::eval_dispatch_count();
  Tensor batched = engine::vmap(draw)(keys);
  const uint64_t dispatched = engine::eval_dispatch_count() - before;
  ASSERT_EQ(batched.shape(), (Shape{5, 4, 3}));
  for (int64_t i = 0; i < 5; ++i) {
    Tensor k = ops::reshape(ops::slice_axis(keys, 0, i, i + 1), {2});
    EXPECT_EQ(ops::reshape(ops::slice_axis(batched, 0, i, i + 1), {4, 3}).to_vector<double>(), draw(k).to_vector<double>());
  }
  // No per-example loop: the same number of kernels for 50 keys as for 5.
  Tensor more = ops::random_split(ops::random_key(98), 50);
  const uint64_t before50 = engine::eval_dispatch_count();
  engine::vmap(draw)(more);
  EXPECT_EQ(engine::eval_dispatch_count() - before50, dispatched);
  // Keys mapped along their last axis (u32[2, n]) and nested vmap over a [2, 3] grid of keys.
  Tensor kt = ops::transpose(keys);
  EXPECT_EQ(engine::vmap(draw, {1})(kt).to_vector<double>(), batched.to_vector<double>());
  Tensor grid = ops::reshape(ops::random_split(ops::random_key(1), 6), {2, 3, 2});
  Tensor g = engine::vmap(engine::vmap(draw))(grid);
  ASSERT_EQ(g.shape(), (Shape{2, 3, 4, 3}));
  Tensor k12 = ops::reshape(ops::slice(grid, {1, 2, 0}, {2, 3, 2}), {2});
  EXPECT_EQ(ops::reshape(ops::slice(g, {1, 2, 0, 0}, {2, 3, 4, 3}), {4, 3}).to_vector<double>(), draw(k12).to_vector<double>());
}

TEST(RandomVmap, FoldInWithMappedData) {
  // fold_in's batch rule when only the data is mapped, or both are.
  Tensor key = ops::random_key(17);
  Tensor data = ops::arange(6, DType::U32);
  auto fold = [](const Tensor& k, const Tensor& d) {
    return engine::bind1(Prim::random_fold_in, {k, d});
  };
  Tensor by_data = engine::vmap(fold, {std::nullopt, 0})(key, data);
  ASSERT_EQ(by_data.shape(), (Shape{6, 2}));
  EXPECT_EQ(by_data.to_vector<uint32_t>(), ops::random_split(key, 6).to_vector<uint32_t>());
  Tensor keys = ops::random_split(key, 6);
  Tensor both = engine::vmap(fold)(keys, data);
  auto v = both.to_vector<uint32_t>();
  auto kv = keys.to_vector<uint32_t>();
  for (uint32_t j = 0; j < 6; ++j) {
    auto r = threefry2x32_scalar(kv[2 * j], kv[2 * j + 1], 0u, j);
    EXPECT_EQ(v[2 * j], r.x0);
    EXPECT_EQ(v[2 * j + 1], r.x1);
  }
}

TEST(RandomJit, CompiledDrawsEqualEagerOnes) {
  auto draw = [](const Tensor& k) {
    Tensor ks = ops::random_split(k, 2);
    Tensor a = ops::reshape(ops::slice_axis(ks, 0, 0, 1), {2}), b = ops::reshape(ops::slice_axis(ks, 0, 1, 2), {2});
    return ops::random_normal(a, {3, 5}) * ops::random_uniform(b, {5}) + ops::convert(ops::iota({3, 5}, 1), DType::F32);
  };
  Tensor key = ops::random_key(2024);
  auto jd = engine::jit(draw);
  EXPECT_EQ(jd(key).to_vector<float>(), draw(key).to_vector<float>());
  Tensor keys = ops::random_split(key, 4);
  EXPECT_EQ(engine::vmap(jd)(keys).to_vector<float>(), engine::vmap(draw)(keys).to_vector<float>());
}

// ---- iota ----

TEST(Iota, ValuesAlongEachAxisAndDtype) {
  for (int axis = 0; axis < 3; ++axis) {
    Tensor t = ops::iota({2, 3, 4}, axis, DType::F64);
    auto v = t.to_vector<double>();
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 3; ++j)
        for (int64_t k = 0; k < 4; ++k) {
          const int64_t idx[3] = {i, j, k};
          EXPECT_EQ(v[size_t((i * 3 + j) * 4 + k)], double(idx[axis]));
        }
  }
  EXPECT_EQ(ops::arange(5, DType::U32).to_vector<uint32_t>(), (std::vector<uint32_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(ops::arange(4, DType::F32).to_vector<float>(), (std::vector<float>{0, 1, 2, 3}));
  EXPECT_EQ(ops::iota({0, 3}, 1).shape(), (Shape{0, 3}));
  EXPECT_EQ(ops::iota({3, 0}, 0).shape(), (Shape{3, 0}));
  // Large enough for the parallel path.
  auto big = ops::iota({100000, 3}, 0).to_vector<int32_t>();
  for (size_t i = 0; i < big.size(); i += 7919) EXPECT_EQ(big[i], int32_t(i / 3));
}

TEST(Iota, ErrorsAndTraits) {
  expect_error([] { ops::iota({2, 3}, 2); }, ErrorKind::Value, "[iota] axis 2 is out of range");
  expect_error([] { ops::iota({}, 0); }, ErrorKind::Value, "[iota]");
  expect_error([] { ops::iota({2}, 0, DType::Bool); }, ErrorKind::DType, "bool");
  for (Prim p : {Prim::iota, Prim::random_bits, Prim::random_fold_in}) {
    const ops::PrimDef& d = ops::def(p);
    EXPECT_TRUE(d.traits & ops::kRandom) << d.name;
    EXPECT_FALSE(d.differentiable()) << d.name;
    for (ops::Rule r : {ops::Rule::Shape, ops::Rule::Jvp, ops::Rule::Vjp, ops::Rule::Batch, ops::Rule::CpuKernel})
      EXPECT_TRUE(d.has(r) || !d.absent_reason[int(r)].empty()) << d.name << " " << ops::rule_name(r);
  }
  EXPECT_FALSE(ops::def(Prim::iota).has(ops::Rule::Batch));
  EXPECT_TRUE(ops::def(Prim::random_bits).has(ops::Rule::Batch));
}

// ---- errors ----

TEST(RandomErrors, BadKeysAndData) {
  Tensor f = Tensor::from_vector<float>({1.f, 2.f});
  expect_error([&] { ops::random_bits(f, {2}); }, ErrorKind::DType, "[random_bits] the key must be u32");
  Tensor k3 = Tensor::from_vector<uint32_t>({1, 2, 3});
  expect_error([&] { ops::random_normal(k3, {2}); }, ErrorKind::Shape, "last axis of size 2");
  expect_error([&] { ops::random_split(ops::random_key(0), -1); }, ErrorKind::Value, "[random_split]");
  expect_error([&] { ops::random_bits(ops::random_key(0), {2, -1}); }, ErrorKind::Value, "negative dimension");
  // The primitive's own checks (what the API guarantees): data must be u32 with the key's leading shape.
  Tensor keys = ops::random_split(ops::random_key(0), 3);
  expect_error([&] { engine::bind1(Prim::random_fold_in, {keys, ops::arange(2, DType::U32)}); }, ErrorKind::Shape,
               "[random_fold_in] the data must have the key's shape");
  expect_error([&] { engine::bind1(Prim::random_fold_in, {keys, ops::arange(3, DType::I32)}); }, ErrorKind::DType,
               "the data must be u32");
  expect_error([&] { engine::bind1(Prim::random_bits, {k3}, ops::Params().set("shape", Shape{2})); }, ErrorKind::Shape,
               "[random_bits]");
}

// Random ops are constants to differentiation: grad through a function that draws noise works and treats the
// noise as fixed.
TEST(RandomGrad, NoiseIsAConstant) {
  Tensor key = ops::random_key(5);
  auto f = [&](const Tensor& x) { return ops::sum(x * ops::random_normal(key, {3}, DType::F64)); };
  Tensor x = Tensor::from_vector<double>({1.0, 2.0, 3.0});
  Tensor g = engine::grad(f)(x);
  EXPECT_EQ(g.to_vector<double>(), ops::random_normal(key, {3}, DType::F64).to_vector<double>());
}

}  // namespace
