// jit: equality with eager execution, composition with every transform, and the cache (hits, misses with
// explanations, eviction at the bound, the retrace warning, captured-constant warning).
#include <gtest/gtest.h>

#include "engine/compile/jit.h"
#include "engine/compile/passes.h"
#include "engine/compile/program.h"
#include "ops/api.h"
#include "tests/support/testing.h"

namespace {

using namespace testing_support;
using engine::Tensor;

Tensor mlp(const Tensor& w1, const Tensor& w2, const Tensor& x) {
  return ops::matmul(ops::gelu(ops::matmul(x, w1)), w2);
}

TEST(Jit, EqualsEagerAndComposesWithTransforms) {
  Rng rng(1);
  Tensor w1 = rand_tensor(rng, {4, 8}, DType::F64), w2 = rand_tensor(rng, {8, 2}, DType::F64);
  Tensor x = rand_tensor(rng, {5, 4}, DType::F64);
  auto f = [](const Tensor& a, const Tensor& b, const Tensor& xx) { return mlp(a, b, xx); };
  auto loss = [](const Tensor& a, const Tensor& b, const Tensor& xx) { return ops::sum(ops::square(mlp(a, b, xx))); };
  auto jf = engine::jit(f);
  EXPECT_EQ(compare(jf(w1, w2, x), f(w1, w2, x), 1e-12, 1e-12), "");
  // jit(grad(f)), grad(jit(f)), vmap(jit(f)), jit(vmap(grad(f))), jvp(jit(f)).
  auto g_eager = engine::grad(loss)(w1, w2, x);
  EXPECT_EQ(compare(engine::jit(engine::grad(loss))(w1, w2, x), g_eager, 1e-12, 1e-12), "");
  auto jl = engine::jit(loss);
  EXPECT_EQ(compare(engine::grad([&](const Tensor& a, const Tensor& b, const Tensor& xx) { return jl(a, b, xx); })(w1, w2, x),
                    g_eager, 1e-12, 1e-12),
            "");
  auto vj = engine::vmap(jf, {std::nullopt, std::nullopt, 0});
  Tensor xs = rand_tensor(rng, {3, 5, 4}, DType::F64);
  Tensor batched = vj(w1, w2, xs);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(compare(ops::reshape(ops::slice_axis(batched, 0, i, i + 1), {5, 2}),
                      f(w1, w2, ops::reshape(ops::slice_axis(xs, 0, i, i + 1), {5, 4})), 1e-12, 1e-12),
              "");
  // vmap(jit(f)) is traced once per signature, then served from the graph's cache.
  (void)vj(w1, w2, xs);
  auto per_example = engine::jit(engine::vmap(engine::grad(loss), {std::nullopt, std::nullopt, 0}));
  Tensor pe = per_example(w1, w2, xs);
  EXPECT_EQ(pe.shape(), (engine::Shape{3, 4, 8}));
  auto [y, ty] = engine::jvp([&](const Tensor& xx) { return jf(w1, w2, xx); }, x, ops::ones_like(x));
  auto [y2, ty2] = engine::jvp([&](const Tensor& xx) { return f(w1, w2, xx); }, x, ops::ones_like(x));
  EXPECT_EQ(compare(ty, ty2, 1e-12, 1e-12), "");
}

TEST(Jit, CacheHitsMissesExplanationsAndEviction) {
  engine::JitOptions opt;
  opt.name = "square_sum";
  opt.cache_capacity = 2;
  opt.retrace_warn_after = 3;
  auto jf = engine::jit([](const Tensor& x) { return ops::sum(x * x); }, opt);
  (void)jf(ops::ones({3}));
  (void)jf(ops::ones({3}));
  EXPECT_EQ(jf.stats().hits, 1u);
  EXPECT_EQ(jf.stats().misses, 1u);
  std::string why = jf.explain(ops::ones({4}));
  EXPECT_NE(why.find("tensor argument 0 is f32[4]"), std::string::npos) << why;
  EXPECT_NE(why.find("f32[3]"), std::string::npos) << why;
  (void)jf(ops::ones({4}));
  (void)jf(ops::ones({5}));  // evicts f32[3]
  EXPECT_EQ(jf.cache_size(), 2u);
  EXPECT_EQ(jf.stats().evictions, 1u);
  EXPECT_NE(jf.last_warning().find("traced 3 times"), std::string::npos) << jf.last_warning();
  (void)jf(ops::ones({3}));
  EXPECT_EQ(jf.stats().misses, 4u);
}

TEST(Jit, StaticArgumentsArePartOfTheKey) {
  auto jf = engine::jit([](const Tensor& x, int power) {
    Tensor y = x;
    for (int i = 1; i < power; ++i) y = y * x;
    return y;
  });
  Tensor x = ops::full({2}, 2.0);
  EXPECT_EQ(to_f64(jf(x, 2)), (std::vector<double>{4, 4}));
  EXPECT_EQ(to_f64(jf(x, 3)), (std::vector<double>{8, 8}));
  EXPECT_NE(jf.explain(x, 4).find("static"), std::string::npos);
}

TEST(Jit, CapturedConcreteTensorWarns) {
  Tensor w = ops::ones({4, 4});
  auto jf = engine::jit([w](const Tensor& x) { return ops::matmul(x, w); });
  (void)jf(ops::ones({1, 4}));
  EXPECT_NE(jf.last_warning().find("pass it as an argument"), std::string::npos) << jf.last_warning();
}

TEST(Jit, PassesRemoveIdentitiesDuplicatesAndDeadCode) {
  auto g = engine::make_jaxpr([](const Tensor& x) {
    Tensor a = ops::sin(x) * 1.0;
    Tensor b = ops::sin(x);          // duplicate of a
    Tensor dead = ops::exp(x);       // unused
    (void)dead;
    return ops::neg(ops::neg(a + b)) + 0.0;
  })(ops::ones({3}));
  auto opt = engine::passes::run_passes(g);
  opt.verify();
  int sins = 0, exps = 0, negs = 0, muls = 0;
  for (const auto& eq : opt.eqns) {
    sins += eq.prim == ops::Prim::sin;
    exps += eq.prim == ops::Prim::exp;
    negs += eq.prim == ops::Prim::neg;
    muls += eq.prim == ops::Prim::mul;
  }
  EXPECT_EQ(sins, 1) << opt.str();
  EXPECT_EQ(exps, 0) << opt.str();
  EXPECT_EQ(negs, 0) << opt.str();
  EXPECT_EQ(muls, 0) << opt.str();
}

}  // namespace

TEST(Jit, DonatedArgumentsReceiveTheOutputs) {
  engine::JitOptions opt;
  opt.donate_argnums = {0};
  auto sgd = engine::jit([](const Tensor& p, const Tensor& g) { return p - g * 0.5; }, opt);
  auto plain = engine::jit([](const Tensor& p, const Tensor& g) { return p - g * 0.5; });
  const Tensor g = ops::full({64, 32}, 2.0);
  Tensor p = Tensor::from_vector(std::vector<float>(64 * 32, 3.0f), {64, 32});  // dense (full() is a broadcast)
  const void* buffer = p.raw_data();
  const Tensor expected = plain(p, g);
  p = sgd(p, g);  // p's buffer now holds the result
  EXPECT_EQ(p.raw_data(), buffer);
  EXPECT_EQ(p.to_vector<float>(), expected.to_vector<float>());
  // The same tensor passed as the donated and another argument: donation is refused, values stay right.
  Tensor q = Tensor::from_vector(std::vector<float>(64 * 32, 4.0f), {64, 32});
  const Tensor r = sgd(q, q);
  EXPECT_NE(r.raw_data(), q.raw_data());
  EXPECT_EQ(r.to_vector<float>()[0], 2.0f);
  EXPECT_EQ(q.to_vector<float>()[0], 4.0f);
  // An argument read after the output is written is not overwritten early: out = (p + 1) @ p^T keeps p alive.
  auto late = engine::jit([](const Tensor& a) { return ops::matmul(a + 1.0, ops::transpose(a, {1, 0})); }, opt);
  const Tensor a = Tensor::from_vector(std::vector<float>(64, 1.0f), {8, 8});
  const Tensor out = late(a);
  EXPECT_EQ(out.to_vector<float>()[0], 16.0f);
}

TEST(Jit, RematerializationIsBitwiseEqualAndSavesArenaMemory) {
  Rng rng(5);
  const Tensor w1 = rand_tensor(rng, {32, 64}, DType::F32), w2 = rand_tensor(rng, {64, 8}, DType::F32);
  const Tensor x = rand_tensor(rng, {128, 32}, DType::F32);
  auto loss = [](const Tensor& a, const Tensor& b, const Tensor& xs) { return ops::sum(mlp(a, b, xs)); };
  auto g = [&](const Tensor& a, const Tensor& b, const Tensor& xs) {
    return engine::grad(loss, engine::argnums<0, 1>)(a, b, xs);
  };
  engine::JitOptions opt;
  opt.remat_elementwise = true;
  auto stored = engine::jit(g);
  auto remat = engine::jit(g, opt);
  const auto [s0, s1] = stored(w1, w2, x);
  const auto [r0, r1] = remat(w1, w2, x);
  EXPECT_EQ(s0.to_vector<float>(), r0.to_vector<float>());
  EXPECT_EQ(s1.to_vector<float>(), r1.to_vector<float>());
  const auto& ps = stored.executable(w1, w2, x)->program();
  const auto& pr = remat.executable(w1, w2, x)->program();
  EXPECT_LT(pr.plan.arena_bytes, ps.plan.arena_bytes);
  EXPECT_GT(remat.executable(w1, w2, x)->graph.eqns.size(), stored.executable(w1, w2, x)->graph.eqns.size());
}

TEST(Jit, VmapOfJitStillRunsCompiled) {
  Rng rng(2);
  const Tensor w1 = rand_tensor(rng, {4, 8}, DType::F32), w2 = rand_tensor(rng, {8, 2}, DType::F32);
  const Tensor xs = rand_tensor(rng, {3, 5, 4}, DType::F32);
  auto jf = engine::jit([](const Tensor& a, const Tensor& b, const Tensor& x) { return mlp(a, b, x); });
  auto vj = engine::vmap(jf, {std::nullopt, std::nullopt, 0});
  (void)vj(w1, w2, xs);  // traces and compiles the batched graph
  const uint64_t before = engine::eval_dispatch_count();
  const Tensor out = vj(w1, w2, xs);
  // One `call` of the batched, compiled graph: not one kernel per primitive of the MLP.
  EXPECT_EQ(engine::eval_dispatch_count() - before, 1u);
  const Tensor again = engine::vmap([](const Tensor& a, const Tensor& b, const Tensor& x) { return mlp(a, b, x); },
                                    {std::nullopt, std::nullopt, 0})(w1, w2, xs);
  EXPECT_EQ(out.to_vector<float>(), again.to_vector<float>());
}

// Regression: an output that is a partial view of an intermediate is copied out after the last step, so the
// intermediate's arena slot must not be handed to later steps.
TEST(Jit, PartialViewOutputsSurviveLaterSteps) {
  Rng rng(9);
  const Tensor x = rand_tensor(rng, {16, 16}, DType::F32);
  auto f = [](const Tensor& a) {
    const Tensor y = ops::exp(a);
    const Tensor first_row = ops::reshape(ops::slice_axis(y, 0, 0, 1), {16});
    Tensor z = ops::matmul(y, a);
    for (int i = 0; i < 4; ++i) z = ops::matmul(ops::tanh(z), a);  // later steps that want arena slots
    return std::make_pair(first_row, z);
  };
  const auto [e1, e2] = f(x);
  const auto [j1, j2] = engine::jit(f)(x);
  EXPECT_EQ(j1.to_vector<float>(), e1.to_vector<float>());
  EXPECT_EQ(j2.to_vector<float>(), e2.to_vector<float>());
}
