// Property tests over every primitive and composite: numerical gradients in f64 (forward and reverse, to
// second order), jvp/vjp consistency, and vmap against an explicit loop for every in_axes combination, batch
// sizes 0, 1 and 3, out_axes 0 and -1, plus nested vmap. A final test fails if any primitive has no case.
#include <gtest/gtest.h>

#include <set>

#include "engine/transforms/transforms.h"
#include "ops/api.h"
#include "ops/registry.h"
#include "tests/support/testing.h"

namespace {

using namespace testing_support;
using engine::Tensor;
using ops::Prim;
using ArgsFn = std::function<std::vector<Tensor>(Rng&)>;

struct Case {
  std::string name;
  std::vector<Prim> covers;
  FlatFn f;
  ArgsFn args;
  bool grad = true;
  GradCheck opt{};
};

// ---- argument generators ----
ArgsFn uni(std::vector<Shape> shapes, double lo = -1.5, double hi = 1.5) {
  return [=](Rng& r) {
    std::vector<Tensor> a;
    for (const auto& s : shapes) a.push_back(rand_tensor(r, s, DType::F64, lo, hi));
    return a;
  };
}
ArgsFn away(std::vector<Shape> shapes, double lo, double hi) {
  return [=](Rng& r) {
    std::vector<Tensor> a;
    for (const auto& s : shapes) a.push_back(rand_away_from_zero(r, s, lo, hi));
    return a;
  };
}
ArgsFn cat(std::vector<ArgsFn> parts) {
  return [=](Rng& r) {
    std::vector<Tensor> a;
    for (const auto& p : parts)
      for (auto& t : p(r)) a.push_back(t);
    return a;
  };
}
ArgsFn ints(Shape s, int64_t lo, int64_t hi, DType dt = DType::I32) {
  return [=](Rng& r) { return std::vector<Tensor>{rand_tensor(r, s, dt, double(lo), double(hi))}; };
}
ArgsFn bools(Shape s) {
  return [=](Rng& r) { return std::vector<Tensor>{rand_tensor(r, s, DType::Bool)}; };
}
// Values k + 0.5 +- 0.3: away from the integers where floor jumps.
ArgsFn off_integer(Shape s) {
  return [=](Rng& r) {
    Tensor t = rand_tensor(r, s, DType::F64, -0.3, 0.3);
    Tensor k = rand_tensor(r, s, DType::I32, -3, 3);
    auto a = to_f64(t), b = to_f64(k);
    for (size_t i = 0; i < a.size(); ++i) a[i] += b[i] + 0.5;
    return std::vector<Tensor>{Tensor::from_vector(a, s)};
  };
}

template <class Fn>
FlatFn f1(Fn fn) {
  return [fn](const std::vector<Tensor>& x) { return std::vector<Tensor>{fn(x[0])}; };
}
template <class Fn>
FlatFn f2(Fn fn) {
  return [fn](const std::vector<Tensor>& x) { return std::vector<Tensor>{fn(x[0], x[1])}; };
}
template <class Fn>
FlatFn f3(Fn fn) {
  return [fn](const std::vector<Tensor>& x) { return std::vector<Tensor>{fn(x[0], x[1], x[2])}; };
}

std::vector<Case> all_cases() {
  std::vector<Case> c;
  const Shape s{3, 4};
  // ---- unary: (name, prim, fn, domain) ----
  struct U {
    const char* name;
    Prim p;
    Tensor (*fn)(const Tensor&, const ops::Loc&);
    ArgsFn args;
  };
  const U unary[] = {
      {"neg", Prim::neg, ops::neg, uni({s})},
      {"exp", Prim::exp, ops::exp, uni({s})},
      {"log", Prim::log, ops::log, uni({s}, 0.3, 3.0)},
      {"log1p", Prim::log1p, ops::log1p, uni({s}, -0.6, 2.0)},
      {"expm1", Prim::expm1, ops::expm1, uni({s})},
      {"sin", Prim::sin, ops::sin, uni({s}, -3, 3)},
      {"cos", Prim::cos, ops::cos, uni({s}, -3, 3)},
      {"tanh", Prim::tanh, ops::tanh, uni({s}, -2, 2)},
      {"logistic", Prim::logistic, ops::logistic, uni({s}, -4, 4)},
      {"sqrt", Prim::sqrt, ops::sqrt, uni({s}, 0.3, 3.0)},
      {"rsqrt", Prim::rsqrt, ops::rsqrt, uni({s}, 0.3, 3.0)},
      {"abs", Prim::abs, ops::abs, away({s}, 0.2, 2.0)},
      {"sign", Prim::sign, ops::sign, away({s}, 0.2, 2.0)},
      {"erf", Prim::erf, ops::erf, uni({s}, -2, 2)},
      {"floor", Prim::floor, ops::floor, off_integer(s)},
  };
  for (const U& u : unary)
    c.push_back({u.name, {u.p}, f1([fn = u.fn](const Tensor& x) { return fn(x, ops::Loc::current()); }), u.args});

  // ---- binary ----
  struct B {
    const char* name;
    Prim p;
    Tensor (*fn)(const Tensor&, const Tensor&, const ops::Loc&);
    ArgsFn args;
  };
  const B binary[] = {
      {"add", Prim::add, ops::add, uni({s, s})},
      {"sub", Prim::sub, ops::sub, uni({s, s})},
      {"mul", Prim::mul, ops::mul, uni({s, s})},
      {"div", Prim::div, ops::div, cat({uni({s}), away({s}, 0.5, 2.0)})},
      {"pow", Prim::pow, ops::pow, cat({uni({s}, 0.5, 2.0), uni({s}, -1.5, 1.5)})},
      {"max", Prim::max, ops::maximum, uni({s, s})},
      {"min", Prim::min, ops::minimum, uni({s, s})},
      {"add_broadcast", Prim::broadcast_in_dim, ops::add, uni({{3, 1}, {4}})},
  };
  for (const B& b : binary)
    c.push_back({b.name, {b.p}, f2([fn = b.fn](const Tensor& x, const Tensor& y) { return fn(x, y, ops::Loc::current()); }),
                 b.args});
  const B compare[] = {
      {"eq", Prim::eq, ops::eq, ints(s, -2, 2)}, {"ne", Prim::ne, ops::ne, uni({s, s})},
      {"lt", Prim::lt, ops::lt, uni({s, s})},    {"le", Prim::le, ops::le, uni({s, s})},
      {"gt", Prim::gt, ops::gt, uni({s, s})},    {"ge", Prim::ge, ops::ge, uni({s, s})},
  };
  for (const B& b : compare) {
    ArgsFn args = b.p == Prim::eq ? cat({ints(s, -2, 2), ints(s, -2, 2)}) : b.args;
    c.push_back({b.name, {b.p}, f2([fn = b.fn](const Tensor& x, const Tensor& y) { return fn(x, y, ops::Loc::current()); }),
                 args, /*grad=*/false});
  }

  // ---- select, convert, stop_gradient ----
  c.push_back({"select", {Prim::select}, f3([](const Tensor& k, const Tensor& a, const Tensor& b) { return ops::select(k, a, b); }),
               cat({bools(s), uni({s, s})})});
  c.push_back({"convert_f32_roundtrip", {Prim::convert},
               f1([](const Tensor& x) { return ops::convert(ops::convert(x, DType::F32) * 2.0, DType::F64); }), uni({s}),
               true, GradCheck{2, 1e-3, 1e-3, 1e-3, true, true, 1e-5}});
  c.push_back({"convert_to_int", {Prim::convert}, f1([](const Tensor& x) { return ops::convert(x * 3.0, DType::I32); }),
               uni({s}), false});
  c.push_back({"stop_gradient", {Prim::stop_gradient},
               f1([](const Tensor& x) { return ops::stop_gradient(x) * 2.0; }), uni({s}), false});

  // ---- reductions ----
  for (std::vector<int64_t> axes : {std::vector<int64_t>{}, {0}, {1}, {0, 2}}) {
    std::string suffix = "_axes";
    for (int64_t a : axes) suffix += std::to_string(a);
    if (axes.empty()) suffix += "all";
    c.push_back({"reduce_sum" + suffix, {Prim::reduce_sum}, f1([axes](const Tensor& x) { return ops::sum(x, axes); }),
                 uni({{2, 3, 4}})});
    c.push_back({"reduce_max" + suffix, {Prim::reduce_max}, f1([axes](const Tensor& x) { return ops::max(x, axes); }),
                 uni({{2, 3, 4}})});
  }
  c.push_back({"argmax", {Prim::argmax}, f1([](const Tensor& x) { return ops::argmax(x, 1); }), uni({{2, 5}}), false});
  c.push_back({"sum_keepdims", {Prim::reduce_sum, Prim::reshape},
               f1([](const Tensor& x) { return ops::sum(x, {1}, true) * x; }), uni({s})});

  // ---- matmul ----
  struct M {
    const char* name;
    Shape a, b;
    bool ta, tb;
  };
  const M mm[] = {{"matmul", {3, 4}, {4, 5}, false, false},     {"matmul_ta", {4, 3}, {4, 5}, true, false},
                  {"matmul_tb", {3, 4}, {5, 4}, false, true},   {"matmul_tab", {4, 3}, {5, 4}, true, true},
                  {"matmul_batched", {2, 3, 4}, {2, 4, 5}, false, false},
                  {"matmul_bcast", {2, 1, 3, 4}, {3, 4, 2}, false, false},
                  {"matmul_shared_b", {2, 3, 4}, {4, 5}, false, false}};
  for (const M& m : mm)
    c.push_back({m.name, {Prim::matmul},
                 f2([ta = m.ta, tb = m.tb](const Tensor& a, const Tensor& b) { return ops::matmul(a, b, ta, tb); }),
                 uni({m.a, m.b})});
  c.push_back({"matmul_vec", {Prim::matmul}, f2([](const Tensor& a, const Tensor& b) { return ops::matmul(a, b); }),
               uni({{4}, {4, 3}})});

  // ---- movement ----
  c.push_back({"reshape", {Prim::reshape}, f1([](const Tensor& x) { return ops::reshape(x, {2, 6}) * 1.0; }), uni({s})});
  c.push_back({"broadcast_in_dim", {Prim::broadcast_in_dim},
               f1([](const Tensor& x) { return ops::broadcast_in_dim(x, {2, 3, 4}, {1, 2}) * ops::iota({2, 3, 4}, 0, DType::F64); }),
               uni({{3, 1}})});
  c.push_back({"transpose", {Prim::transpose}, f1([](const Tensor& x) { return ops::transpose(x, {2, 0, 1}); }),
               uni({{2, 3, 4}})});
  c.push_back({"slice", {Prim::slice}, f1([](const Tensor& x) { return ops::slice(x, {1, 0}, {5, 4}, {2, 3}); }),
               uni({{6, 5}})});
  c.push_back({"pad", {Prim::pad}, f1([](const Tensor& x) { return engine::bind1(Prim::pad, {x}, ops::Params().set("lo", std::vector<int64_t>{1, 0}).set("hi", std::vector<int64_t>{0, 2}).set("interior", std::vector<int64_t>{1, 2}).set("value", 0.5)); }),
               uni({{3, 2}})});
  c.push_back({"concatenate", {Prim::concatenate},
               f3([](const Tensor& a, const Tensor& b, const Tensor& d) { return ops::concatenate({a, b, d}, 1); }),
               uni({{2, 1}, {2, 3}, {2, 2}})});
  c.push_back({"stack", {Prim::concatenate}, f2([](const Tensor& a, const Tensor& b) { return ops::stack({a, b}, 1); }),
               uni({{3}, {3}})});
  c.push_back({"gather_axis0", {Prim::gather}, f2([](const Tensor& x, const Tensor& i) { return ops::take(x, i, 0); }),
               cat({uni({{5, 3}}), ints({2, 2}, 0, 5)})});
  c.push_back({"gather_axis1", {Prim::gather}, f2([](const Tensor& x, const Tensor& i) { return ops::take(x, i, 1); }),
               cat({uni({{2, 4, 3}}), ints({3}, 0, 4, DType::U32)})});
  c.push_back({"scatter_add", {Prim::scatter_add},
               f2([](const Tensor& i, const Tensor& u) { return ops::scatter_add(i, u, 0, 5); }),
               cat({ints({4}, 0, 5), uni({{4, 3}})})});
  c.push_back({"scatter_add_axis1", {Prim::scatter_add},
               f2([](const Tensor& i, const Tensor& u) { return ops::scatter_add(i, u, 1, 3); }),
               cat({ints({2, 2}, 0, 3), uni({{2, 2, 2, 3}})})});

  // ---- creation and random ----
  c.push_back({"iota", {Prim::iota}, f1([](const Tensor& x) { return x * ops::iota({3, 4}, 1, DType::F64); }), uni({s})});
  c.push_back({"random_bits", {Prim::random_bits}, f1([](const Tensor& k) { return ops::random_bits(k, {3, 2}); }),
               ints({2}, 0, 1 << 30, DType::U32), false});
  c.push_back({"random_fold_in", {Prim::random_fold_in},
               f1([](const Tensor& k) { return ops::random_fold_in(k, 7); }), ints({2}, 0, 1 << 30, DType::U32), false});
  c.push_back({"random_uniform", {Prim::random_bits}, f1([](const Tensor& k) { return ops::random_uniform(k, {4}); }),
               ints({2}, 0, 1 << 30, DType::U32), false});
  c.push_back({"random_normal", {Prim::random_bits},
               f1([](const Tensor& k) { return ops::random_normal(k, {4}, DType::F64); }), ints({2}, 0, 1 << 30, DType::U32),
               false});

  // ---- call (checkpoint) ----
  c.push_back({"checkpoint", {Prim::call},
               f2([](const Tensor& x, const Tensor& y) {
                 return engine::checkpoint([](const Tensor& a, const Tensor& b) { return ops::sin(a) * ops::exp(b); })(x, y);
               }),
               uni({s, s})});

  // ---- composites ----
  c.push_back({"square", {}, f1([](const Tensor& x) { return ops::square(x); }), uni({s})});
  c.push_back({"relu", {}, f1([](const Tensor& x) { return ops::relu(x); }), away({s}, 0.2, 2.0)});
  c.push_back({"mean", {}, f1([](const Tensor& x) { return ops::mean(x, {1}); }), uni({s})});
  c.push_back({"var", {}, f1([](const Tensor& x) { return ops::var(x, {1}); }), uni({s})});
  c.push_back({"softmax", {}, f1([](const Tensor& x) { return ops::softmax(x); }), uni({s})});
  c.push_back({"log_softmax", {}, f1([](const Tensor& x) { return ops::log_softmax(x); }), uni({s})});
  c.push_back({"logsumexp", {}, f1([](const Tensor& x) { return ops::logsumexp(x, {1}); }), uni({s})});
  c.push_back({"layer_norm", {},
               f3([](const Tensor& x, const Tensor& g, const Tensor& b) { return ops::layer_norm(x, g, b, 1e-5); }),
               uni({s, {4}, {4}})});
  c.push_back({"gelu_tanh", {}, f1([](const Tensor& x) { return ops::gelu(x, true); }), uni({s}, -3, 3)});
  c.push_back({"gelu_erf", {}, f1([](const Tensor& x) { return ops::gelu(x, false); }), uni({s}, -3, 3)});
  c.push_back({"mse", {}, f2([](const Tensor& a, const Tensor& b) { return ops::mse(a, b); }), uni({s, s})});
  c.push_back({"clip", {}, f1([](const Tensor& x) { return ops::clip(x, -0.5, 0.5); }), away({s}, 0.55, 2.0)});
  c.push_back({"clip_inside", {}, f1([](const Tensor& x) { return ops::clip(x, -2.0, 2.0); }), uni({s})});
  c.push_back({"one_hot", {}, f1([](const Tensor& i) { return ops::one_hot(i, 5); }), ints({3}, 0, 5), false});
  return c;
}

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class PrimitiveProperties : public ::testing::TestWithParam<Case> {};

TEST_P(PrimitiveProperties, NumericalGradients) {
  const Case& c = GetParam();
  if (!c.grad) GTEST_SKIP() << "not differentiable";
  Rng rng(std::hash<std::string>{}(c.name));
  for (int trial = 0; trial < 2; ++trial) {
    std::string err = check_grads(c.f, c.args(rng), c.opt, rng);
    EXPECT_TRUE(err.empty()) << c.name << ":\n" << err;
  }
}

TEST_P(PrimitiveProperties, VmapMatchesLoop) {
  const Case& c = GetParam();
  Rng rng(std::hash<std::string>{}(c.name) + 1);
  std::string err = check_vmap(c.f, c.args, rng);
  EXPECT_TRUE(err.empty()) << c.name << ":\n" << err;
}

TEST_P(PrimitiveProperties, NestedVmapMatchesLoop) {
  const Case& c = GetParam();
  Rng rng(std::hash<std::string>{}(c.name) + 2);
  std::string err = check_nested_vmap(c.f, c.args, rng);
  EXPECT_TRUE(err.empty()) << c.name << ":\n" << err;
}

TEST_P(PrimitiveProperties, VmapOfGradMatchesLoop) {
  const Case& c = GetParam();
  if (!c.grad) GTEST_SKIP() << "not differentiable";
  // Per-example gradients of sum(f(x) * w) (w a fixed random weighting), with respect to every float input.
  Rng rng(std::hash<std::string>{}(c.name) + 3);
  FlatFn g = [&c](const std::vector<Tensor>& xs) {
    auto [outs, pb] = engine::vjp_flat(c.f, xs);
    std::vector<Tensor> cts;
    for (const auto& o : outs) cts.push_back(engine::is_float(o.dtype()) ? ops::cos(o) : Tensor());
    std::vector<Tensor> gs = pb(cts), res;
    for (size_t i = 0; i < gs.size(); ++i)
      if (engine::is_float(xs[i].dtype())) res.push_back(gs[i]);
    return res;
  };
  std::string err = check_vmap(g, c.args, rng, 1e-10, 1e-10);
  EXPECT_TRUE(err.empty()) << c.name << ":\n" << err;
}

INSTANTIATE_TEST_SUITE_P(All, PrimitiveProperties, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(PrimitiveProperties, EveryPrimitiveHasACase) {
  std::set<Prim> covered;
  for (const Case& c : all_cases())
    for (Prim p : c.covers) covered.insert(p);
  for (int i = 0; i < ops::kNumPrims; ++i)
    EXPECT_TRUE(covered.count(static_cast<Prim>(i))) << "no property case covers " << ops::prim_name(static_cast<Prim>(i));
}

}  // namespace
