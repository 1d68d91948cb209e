// The elementwise rules (Unary, Binary, Compare, Select, Convert families) tested directly through the
// registry, without the transforms: shape-rule validation and error messages, jvp against central finite
// differences, vjp against jvp (<u, J v> = <J^T u, v>) with only the declared residuals available, the exact
// residual declarations (by tracing each vjp), and batching rules against a loop over the batch.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <numbers>
#include <set>

#include "engine/interp/interpreter.h"
#include "engine/interp/trace.h"
#include "ops/api.h"
#include "ops/registry.h"
#include "tests/support/testing.h"

namespace {

using namespace testing_support;
using engine::AVal;
using engine::ErrorKind;
using ops::Params;
using ops::Prim;
using ops::TensorList;

// ---- helpers ----

template <class Fn>
void expect_error(Fn&& fn, ErrorKind k, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "expected an error of kind " << engine::error_kind_name(k);
  } catch (const engine::Error& e) {
    EXPECT_EQ(e.kind(), k) << e.what();
    for (const auto& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << "missing '" << p << "' in: " << e.what();
  }
}

std::string here(int line) { return "test_elementwise_rules.cpp:" + std::to_string(line); }

Tensor eval(Prim p, const TensorList& args, const Params& params = {}) {
  return engine::bind1(p, args, params);
}

Tensor host_zeros(const Shape& s) { return Tensor::full(s, 0.0, DType::F64); }

// Inserts a batch axis at `axis` by stacking xs (all of shape `ex`, dtype dt) on the host.
Tensor stack_at(const std::vector<Tensor>& xs, int axis, const Shape& ex, DType dt) {
  Shape s = ex;
  s.insert(s.begin() + axis, static_cast<int64_t>(xs.size()));
  Tensor out = Tensor::empty(s, dt);
  engine::visit_dtype(dt, [&]<class T>() {
    T* o = out.mutable_data<T>();
    const int64_t outer = engine::numel(std::span<const int64_t>(ex.data(), static_cast<size_t>(axis)));
    const int64_t inner = engine::numel(ex) / std::max<int64_t>(outer, 1);
    for (size_t b = 0; b < xs.size(); ++b) {
      auto v = xs[b].to_vector<T>();
      for (int64_t i = 0; i < outer; ++i)
        for (int64_t j = 0; j < inner; ++j)
          o[(i * int64_t(xs.size()) + int64_t(b)) * inner + j] = v[i * inner + j];
    }
  });
  return out;
}

// Example b of a batched value (batch axis `axis`), copied out on the host.
Tensor unstack_at(const Tensor& y, int axis, int64_t b) {
  Shape ex = y.shape();
  const int64_t n = ex[axis];
  ex.erase(ex.begin() + axis);
  Tensor out = Tensor::empty(ex, y.dtype());
  engine::visit_dtype(y.dtype(), [&]<class T>() {
    auto v = y.to_vector<T>();
    T* o = out.mutable_data<T>();
    const int64_t outer = engine::numel(std::span<const int64_t>(ex.data(), static_cast<size_t>(axis)));
    const int64_t inner = engine::numel(ex) / std::max<int64_t>(outer, 1);
    for (int64_t i = 0; i < outer; ++i)
      for (int64_t j = 0; j < inner; ++j) o[i * inner + j] = v[(i * n + b) * inner + j];
  });
  return out;
}

// ---- the primitives under test, with per-example argument generators ----

using ArgsFn = std::function<TensorList(Rng&)>;
const Shape kEx{2, 3};

ArgsFn f64s(int n, double lo, double hi) {
  return [=](Rng& r) {
    TensorList a;
    for (int i = 0; i < n; ++i) a.push_back(rand_tensor(r, kEx, DType::F64, lo, hi));
    return a;
  };
}
ArgsFn away(int n, double lo, double hi) {
  return [=](Rng& r) {
    TensorList a;
    for (int i = 0; i < n; ++i) a.push_back(rand_away_from_zero(r, kEx, lo, hi));
    return a;
  };
}
ArgsFn join(std::vector<ArgsFn> parts) {
  return [=](Rng& r) {
    TensorList a;
    for (const auto& p : parts)
      for (auto& t : p(r)) a.push_back(t);
    return a;
  };
}
ArgsFn typed(DType dt, int n, double lo, double hi) {
  return [=](Rng& r) {
    TensorList a;
    for (int i = 0; i < n; ++i) a.push_back(rand_tensor(r, kEx, dt, lo, hi));
    return a;
  };
}
// Small integers as f64: pairs tie often (max/min ties, eq).
ArgsFn tying(int n) {
  return [=](Rng& r) {
    TensorList a;
    for (int i = 0; i < n; ++i)
      a.push_back(Tensor::from_vector(to_f64(rand_tensor(r, kEx, DType::I32, -2, 3)), kEx));
    return a;
  };
}
ArgsFn off_integer() {
  return [](Rng& r) {
    auto v = to_f64(rand_tensor(r, kEx, DType::F64, -0.3, 0.3));
    auto k = to_f64(rand_tensor(r, kEx, DType::I32, -3, 3));
    for (size_t i = 0; i < v.size(); ++i) v[i] += k[i] + 0.5;
    return TensorList{Tensor::from_vector(v, kEx)};
  };
}

struct Case {
  std::string name;
  Prim p;
  ArgsFn args;
  Params params{};
  bool smooth = true;  // finite differences are valid at the generated points
};

std::vector<Case> unary_cases() {
  return {
      {"neg", Prim::neg, f64s(1, -2, 2)},           {"exp", Prim::exp, f64s(1, -2, 2)},
      {"log", Prim::log, f64s(1, 0.3, 3)},          {"log1p", Prim::log1p, f64s(1, -0.6, 2)},
      {"expm1", Prim::expm1, f64s(1, -2, 2)},       {"sin", Prim::sin, f64s(1, -3, 3)},
      {"cos", Prim::cos, f64s(1, -3, 3)},           {"tanh", Prim::tanh, f64s(1, -2, 2)},
      {"logistic", Prim::logistic, f64s(1, -4, 4)}, {"sqrt", Prim::sqrt, f64s(1, 0.3, 3)},
      {"rsqrt", Prim::rsqrt, f64s(1, 0.3, 3)},      {"abs", Prim::abs, away(1, 0.2, 2)},
      {"sign", Prim::sign, away(1, 0.2, 2)},        {"erf", Prim::erf, f64s(1, -2, 2)},
      {"floor", Prim::floor, off_integer()},
  };
}

std::vector<Case> binary_cases() {
  return {
      {"add", Prim::add, f64s(2, -2, 2)},
      {"sub", Prim::sub, f64s(2, -2, 2)},
      {"mul", Prim::mul, f64s(2, -2, 2)},
      {"div", Prim::div, join({f64s(1, -2, 2), away(1, 0.5, 2)})},
      {"pow", Prim::pow, join({f64s(1, 0.5, 2), f64s(1, -1.5, 1.5)})},
      {"max", Prim::max, f64s(2, -2, 2)},
      {"min", Prim::min, f64s(2, -2, 2)},
      // Ties: finite differences of max/min at x == y give (tx + ty) / 2, which is the half-half rule.
      {"max_ties", Prim::max, tying(2)},
      {"min_ties", Prim::min, tying(2)},
  };
}

std::vector<Case> other_cases() {
  return {
      {"select", Prim::select, join({typed(DType::Bool, 1, 0, 1), f64s(2, -2, 2)})},
      {"convert_f64_f32", Prim::convert, f64s(1, -2, 2), Params().set("dtype", DType::F32)},
      {"stop_gradient", Prim::stop_gradient, f64s(1, -2, 2)},
  };
}

// Everything differentiable that the jvp/vjp checks run over.
std::vector<Case> smooth_cases() {
  std::vector<Case> c = unary_cases();
  for (auto& b : binary_cases()) c.push_back(b);
  for (auto& o : other_cases()) c.push_back(o);
  return c;
}

// Everything that the batching check runs over, including integer and bool paths.
std::vector<Case> batch_cases() {
  std::vector<Case> c = smooth_cases();
  for (Prim p : {Prim::eq, Prim::ne, Prim::lt, Prim::le, Prim::gt, Prim::ge})
    c.push_back({std::string(ops::prim_name(p)), p, tying(2), {}, false});
  c.push_back({"eq_bool", Prim::eq, typed(DType::Bool, 2, 0, 1), {}, false});
  c.push_back({"neg_i32", Prim::neg, typed(DType::I32, 1, -5, 5), {}, false});
  c.push_back({"abs_i32", Prim::abs, typed(DType::I32, 1, -5, 5), {}, false});
  c.push_back(
      {"div_i32", Prim::div, join({typed(DType::I32, 1, -9, 9), typed(DType::I32, 1, 1, 4)}), {}, false});
  c.push_back({"add_u32", Prim::add, typed(DType::U32, 2, 0, 100), {}, false});
  c.push_back({"select_i32",
               Prim::select,
               join({typed(DType::Bool, 1, 0, 1), typed(DType::I32, 2, -5, 5)}),
               {},
               false});
  c.push_back({"convert_f64_i32", Prim::convert, f64s(1, -3, 3), Params().set("dtype", DType::I32), false});
  c.push_back({"convert_i32_f64", Prim::convert, typed(DType::I32, 1, -3, 3),
               Params().set("dtype", DType::F64), false});
  c.push_back({"convert_f64_bool", Prim::convert, tying(1), Params().set("dtype", DType::Bool), false});
  return c;
}

// ============================================================================================================
// (a) Shape rules: validation, messages and output avals
// ============================================================================================================

TEST(ElementwiseShape, FloatOnlyUnaryRejectsIntegers) {
  Tensor i = Tensor::full({3}, 1.0, DType::I32);
  using U = Tensor (*)(const Tensor&, const ops::Loc&);
  const std::pair<const char*, U> float_only[] = {
      {"exp", ops::exp},   {"log", ops::log},     {"log1p", ops::log1p}, {"expm1", ops::expm1},
      {"sin", ops::sin},   {"cos", ops::cos},     {"tanh", ops::tanh},   {"logistic", ops::logistic},
      {"sqrt", ops::sqrt}, {"rsqrt", ops::rsqrt}, {"erf", ops::erf},     {"floor", ops::floor},
  };
  for (const auto& [name, fn] : float_only) {
    int line = __LINE__ + 1;
    expect_error([&] { (void)fn(i, ops::Loc::current()); }, ErrorKind::DType,
                 {std::string("[") + name + "]", "i32[3]", "f32 or f64", here(line), "hint:"});
  }
}

TEST(ElementwiseShape, SignedUnaryRejectsBoolAndU32) {
  Tensor b = Tensor::full({2, 2}, 1.0, DType::Bool), u = Tensor::full({4}, 1.0, DType::U32);
  int line = __LINE__ + 1;
  expect_error([&] { (void)ops::neg(b); }, ErrorKind::DType,
               {"[neg]", "bool[2,2]", "i32, f32 or f64", here(line)});
  line = __LINE__ + 1;
  expect_error([&] { (void)ops::abs(u); }, ErrorKind::DType, {"[abs]", "u32[4]", here(line)});
  line = __LINE__ + 1;
  expect_error([&] { (void)ops::sign(b); }, ErrorKind::DType, {"[sign]", "bool[2,2]", here(line)});
}

TEST(ElementwiseShape, BinaryDTypes) {
  Tensor b = Tensor::full({2}, 1.0, DType::Bool), i = Tensor::full({2}, 1.0, DType::I32);
  int line = __LINE__ + 1;
  expect_error([&] { (void)ops::add(b, b); }, ErrorKind::DType, {"[add]", "bool[2], bool[2]", here(line)});
  line = __LINE__ + 1;
  expect_error([&] { (void)ops::pow(i, i); }, ErrorKind::DType,
               {"[pow]", "i32[2], i32[2]", "f32 or f64", here(line)});
  line = __LINE__ + 1;
  expect_error([&] { (void)ops::maximum(b, b); }, ErrorKind::DType, {"[max]", "bool[2]", here(line)});
}

TEST(ElementwiseShape, SelectConditionMustBeBool) {
  Tensor i = Tensor::full({3}, 1.0, DType::I32), f = Tensor::full({3}, 1.0, DType::F32);
  int line = __LINE__ + 1;
  expect_error([&] { (void)ops::select(i, f, f); }, ErrorKind::DType,
               {"[select]", "bool", "i32[3], f32[3], f32[3]", here(line)});
  // The primitive's own rule (bound directly, past the API's check).
  expect_error(
      [&] {
        (void)engine::bind1(Prim::select, {f, f, f});
      },
      ErrorKind::DType, {"[select]", "f32 conditions", "f32[3], f32[3], f32[3]", "hint:"});
}

// The primitives' rules themselves, bound past the API's broadcasting and promotion.
TEST(ElementwiseShape, PrimitiveRulesRequireIdenticalOperands) {
  Tensor a = Tensor::full({3}, 1.0, DType::F32), b = Tensor::full({4}, 1.0, DType::F32);
  Tensor c = Tensor::full({3}, 1.0, DType::F64), k = Tensor::full({4}, 1.0, DType::Bool);
  expect_error(
      [&] {
        (void)engine::bind1(Prim::add, {a, b});
      },
      ErrorKind::Shape, {"[add]", "identical shapes", "[3] and [4]", "f32[3], f32[4]"});
  expect_error(
      [&] {
        (void)engine::bind1(Prim::mul, {a, c});
      },
      ErrorKind::DType, {"[mul]", "same dtype", "f32 and f64", "f32[3], f64[3]"});
  expect_error([&] { (void)engine::bind1(Prim::lt, {a, b}); }, ErrorKind::Shape, {"[lt]", "f32[3], f32[4]"});
  expect_error(
      [&] {
        (void)engine::bind1(Prim::select, {k, a, a});
      },
      ErrorKind::Shape, {"[select]", "bool[4], f32[3], f32[3]"});
  expect_error(
      [&] {
        (void)engine::bind1(Prim::select, {Tensor::full({3}, 1.0, DType::Bool), a, c});
      },
      ErrorKind::DType, {"[select]", "f32 and f64"});
  expect_error([&] { (void)engine::bind1(Prim::add, {a}); }, ErrorKind::Value,
               {"[add]", "expects 2 operands"});
  expect_error(
      [&] {
        (void)engine::bind1(Prim::exp, {a, a});
      },
      ErrorKind::Value, {"[exp]", "expects 1 operand"});
}

TEST(ElementwiseShape, OutputAvalsAndWeakBits) {
  auto shape = [](Prim p, std::vector<AVal> in, const Params& params = {}) {
    auto out = ops::def(p).shape(in, params);
    EXPECT_EQ(out.size(), 1u);
    return out[0];
  };
  const AVal sw{{2, 3}, DType::F32, true}, ss{{2, 3}, DType::F32, false};
  EXPECT_TRUE(shape(Prim::add, {sw, sw}).weak);
  EXPECT_FALSE(shape(Prim::add, {sw, ss}).weak);
  EXPECT_FALSE(shape(Prim::add, {ss, sw}).weak);
  EXPECT_TRUE(shape(Prim::exp, {sw}).weak);
  EXPECT_FALSE(shape(Prim::exp, {ss}).weak);
  AVal cmp = shape(Prim::lt, {sw, sw});
  EXPECT_EQ(cmp.dtype, DType::Bool);
  EXPECT_FALSE(cmp.weak);
  EXPECT_EQ(cmp.shape, (Shape{2, 3}));
  const AVal cond{{2, 3}, DType::Bool, false};
  EXPECT_TRUE(shape(Prim::select, {cond, sw, sw}).weak);
  EXPECT_FALSE(shape(Prim::select, {cond, sw, ss}).weak);
  AVal conv = shape(Prim::convert, {sw}, Params().set("dtype", DType::F64));
  EXPECT_EQ(conv.dtype, DType::F64);
  EXPECT_FALSE(conv.weak);
  EXPECT_EQ(shape(Prim::convert, {cond}, Params().set("dtype", DType::I32)).dtype, DType::I32);
  EXPECT_EQ(shape(Prim::stop_gradient, {ss}), ss);
  EXPECT_EQ(shape(Prim::div, {AVal{{}, DType::U32, false}, AVal{{}, DType::U32, false}}).dtype, DType::U32);
  EXPECT_EQ(shape(Prim::eq, {AVal{{5}, DType::Bool, false}, AVal{{5}, DType::Bool, false}}).dtype,
            DType::Bool);
}

TEST(ElementwiseShape, TracedErrorsNameTheOp) {
  // Shape rules also run under tracing (no kernel involved).
  expect_error(
      [&] {
        (void)engine::make_graph([&](const TensorList& xs) { return TensorList{ops::log(xs[0])}; },
                                 {AVal{{2}, DType::I32, false}});
      },
      ErrorKind::DType, {"[log]", "i32[2]"});
}

TEST(ElementwiseTraits, Bits) {
  for (Prim p : {Prim::neg, Prim::add, Prim::sub, Prim::convert})
    EXPECT_TRUE(ops::def(p).traits & ops::kLinear) << ops::prim_name(p);
  for (Prim p : {Prim::mul, Prim::exp, Prim::pow, Prim::select})
    EXPECT_FALSE(ops::def(p).traits & ops::kLinear) << ops::prim_name(p);
  for (Prim p : {Prim::eq, Prim::ne, Prim::lt, Prim::le, Prim::gt, Prim::ge})
    EXPECT_FALSE(ops::def(p).differentiable()) << ops::prim_name(p);
  for (Prim p : {Prim::floor, Prim::sign, Prim::stop_gradient, Prim::select, Prim::max})
    EXPECT_TRUE(ops::def(p).differentiable()) << ops::prim_name(p);
  for (int i = 0; i < ops::kNumPrims; ++i) {
    const ops::PrimDef& d = ops::def(static_cast<Prim>(i));
    const ops::Family f = d.family;
    if (f != ops::Family::Unary && f != ops::Family::Binary && f != ops::Family::Compare &&
        f != ops::Family::Select && f != ops::Family::Convert)
      continue;
    EXPECT_TRUE(d.traits & ops::kElementwise) << d.name;
    for (ops::Rule r : {ops::Rule::Shape, ops::Rule::Jvp, ops::Rule::Vjp, ops::Rule::Batch})
      EXPECT_TRUE(d.has(r) || !d.absent_reason[int(r)].empty()) << d.name << " lacks " << ops::rule_name(r);
  }
}

// The declared residuals are exactly those the vjp reads: trace each vjp with cotangent, inputs and outputs
// as graph inputs and look at which of them the emitted graph uses.
TEST(ElementwiseResiduals, DeclarationsMatchWhatTheVjpReads) {
  Rng rng(7);
  for (const Case& c : smooth_cases()) {
    const ops::PrimDef& d = ops::def(c.p);
    TensorList xs = c.args(rng);
    AVal out = d.shape(engine::avals_of(xs), c.params)[0];
    std::vector<AVal> in_avals = engine::avals_of(xs);
    in_avals.insert(in_avals.begin(), out);  // cotangent
    in_avals.push_back(out);                 // output
    const size_t n = xs.size();
    engine::Graph g = engine::make_graph(
        [&](const TensorList& a) {
          TensorList primals(a.begin() + 1, a.begin() + 1 + long(n));
          std::vector<bool> wants(n);
          for (size_t i = 0; i < n; ++i) wants[i] = engine::is_float(xs[i].dtype());
          TensorList r = d.vjp({a[0]}, primals, {a.back()}, c.params, wants);
          TensorList defined;
          for (auto& t : r)
            if (t.defined()) defined.push_back(t);
          return defined;
        },
        in_avals);
    std::set<int> used(g.outputs.begin(), g.outputs.end());
    for (const auto& e : g.eqns) used.insert(e.inputs.begin(), e.inputs.end());
    for (size_t i = 0; i < n; ++i) {
      bool declared = (d.vjp_reads_inputs >> i) & 1u;
      bool reads = used.count(g.inputs[1 + i]) > 0;
      if (c.p == Prim::convert) reads = true;  // reads only the operand's dtype, which the graph cannot show
      EXPECT_EQ(declared, reads) << c.name << ": input " << i
                                 << (declared ? " declared but unused" : " read but not declared");
    }
    EXPECT_EQ(d.vjp_reads_outputs, used.count(g.inputs.back()) > 0) << c.name << ": output residual";
  }
}

// ============================================================================================================
// (b) jvp against finite differences, vjp against jvp, on concrete f64 values
// ============================================================================================================

// Central differences of the primitive along the tangents (null = 0), on the host.
Tensor finite_difference(const Case& c, const TensorList& xs, const TensorList& ts, double eps) {
  TensorList xp = xs, xm = xs;
  for (size_t i = 0; i < xs.size(); ++i)
    if (ts[i].defined()) {
      xp[i] = axpy(xs[i], ts[i], eps);
      xm[i] = axpy(xs[i], ts[i], -eps);
    }
  auto yp = to_f64(eval(c.p, xp, c.params)), ym = to_f64(eval(c.p, xm, c.params));
  Tensor y = eval(c.p, xs, c.params);
  std::vector<double> fd(yp.size());
  for (size_t k = 0; k < fd.size(); ++k) fd[k] = (yp[k] - ym[k]) / (2 * eps);
  return Tensor::from_vector(fd, y.shape());
}

TEST(ElementwiseJvp, MatchesFiniteDifferences) {
  Rng rng(11);
  for (const Case& c : smooth_cases()) {
    const ops::PrimDef& d = ops::def(c.p);
    for (int trial = 0; trial < 3; ++trial) {
      TensorList xs = c.args(rng);
      TensorList all(xs.size());
      for (size_t i = 0; i < xs.size(); ++i)
        if (engine::is_float(xs[i].dtype())) all[i] = normal_like(rng, xs[i]);
      // Every subset of the float tangents (null = symbolic zero), including none.
      const size_t n = xs.size();
      for (uint32_t mask = 0; mask < (1u << n); ++mask) {
        TensorList ts(n);
        bool skip = false;
        for (size_t i = 0; i < n; ++i)
          if ((mask >> i) & 1u) {
            if (!all[i].defined()) skip = true;
            ts[i] = all[i];
          }
        if (skip) continue;
        Tensor y = eval(c.p, xs, c.params);
        TensorList t = d.jvp(xs, ts, {y}, c.params);
        ASSERT_EQ(t.size(), 1u) << c.name;
        if (mask == 0) {
          EXPECT_FALSE(t[0].defined()) << c.name << ": zero tangents in, nonzero tangent out";
          continue;
        }
        if (c.p == Prim::convert || c.p == Prim::stop_gradient) continue;  // checked separately
        Tensor got = t[0].defined() ? t[0] : host_zeros(y.shape());
        ASSERT_EQ(got.dtype(), y.dtype()) << c.name;
        ASSERT_EQ(got.shape(), y.shape()) << c.name;
        std::string err = compare(got, finite_difference(c, xs, ts, 1e-6), 1e-7, 1e-6);
        EXPECT_TRUE(err.empty()) << c.name << " (tangent mask " << mask << "): " << err;
      }
    }
  }
}

TEST(ElementwiseVjp, TransposesTheJvpWithDeclaredResidualsOnly) {
  Rng rng(13);
  for (const Case& c : smooth_cases()) {
    const ops::PrimDef& d = ops::def(c.p);
    for (int trial = 0; trial < 3; ++trial) {
      TensorList xs = c.args(rng);
      const size_t n = xs.size();
      Tensor y = eval(c.p, xs, c.params);
      TensorList vs(n);
      std::vector<bool> wants(n);
      for (size_t i = 0; i < n; ++i)
        if ((wants[i] = engine::is_float(xs[i].dtype()))) vs[i] = normal_like(rng, xs[i]);
      Tensor jv = d.jvp(xs, vs, {y}, c.params)[0];
      // Cotangents in the output dtype (f32 for the f64 -> f32 convert).
      Tensor u = normal_like(rng, y);
      if (y.dtype() != DType::F64) u = eval(Prim::convert, {u}, Params().set("dtype", y.dtype()));
      TensorList primals(n), outs{d.vjp_reads_outputs ? y : Tensor()};
      for (size_t i = 0; i < n; ++i)
        if ((d.vjp_reads_inputs >> i) & 1u) primals[i] = xs[i];
      TensorList cts = d.vjp({u}, primals, outs, c.params, wants);
      ASSERT_EQ(cts.size(), n) << c.name;
      double lhs = jv.defined() ? dot(u, jv) : 0.0, rhs = 0;
      for (size_t i = 0; i < n; ++i) {
        if (!cts[i].defined()) continue;
        EXPECT_TRUE(wants[i]) << c.name << ": cotangent for an input that did not want one";
        EXPECT_EQ(cts[i].dtype(), xs[i].dtype()) << c.name;
        EXPECT_EQ(cts[i].shape(), xs[i].shape()) << c.name;
        rhs += dot(cts[i], vs[i]);
      }
      EXPECT_NEAR(lhs, rhs, 1e-6 * (1 + std::abs(lhs))) << c.name;
      // Asking for one input at a time gives that input's cotangent and nothing else.
      for (size_t i = 0; i < n; ++i) {
        if (!wants[i]) continue;
        std::vector<bool> one(n, false);
        one[i] = true;
        TensorList ci = d.vjp({u}, primals, outs, c.params, one);
        for (size_t j = 0; j < n; ++j)
          if (j != i) {
            EXPECT_FALSE(ci[j].defined()) << c.name;
          }
        if (cts[i].defined() && ci[i].defined()) {
          EXPECT_TRUE(compare(ci[i], cts[i], 0, 0).empty()) << c.name;
        } else {
          EXPECT_EQ(cts[i].defined(), ci[i].defined()) << c.name;
        }
      }
    }
  }
}

TEST(ElementwiseJvp, ConvertAndStopGradient) {
  Rng rng(17);
  Tensor x = rand_tensor(rng, kEx, DType::F64), t = normal_like(rng, x);
  const ops::PrimDef& conv = ops::def(Prim::convert);
  Params to32 = Params().set("dtype", DType::F32), toi = Params().set("dtype", DType::I32);
  Tensor y32 = eval(Prim::convert, {x}, to32);
  Tensor t32 = conv.jvp({x}, {t}, {y32}, to32)[0];
  ASSERT_TRUE(t32.defined());
  EXPECT_EQ(t32.dtype(), DType::F32);
  auto tv = to_f64(t), t32v = to_f64(t32);
  for (size_t i = 0; i < tv.size(); ++i) EXPECT_EQ(t32v[i], double(float(tv[i])));
  // Anything involving integers carries no tangent.
  EXPECT_FALSE(conv.jvp({x}, {t}, {eval(Prim::convert, {x}, toi)}, toi)[0].defined());
  Tensor xi = rand_tensor(rng, kEx, DType::I32, -3, 3);
  Params to64 = Params().set("dtype", DType::F64);
  EXPECT_FALSE(conv.jvp({xi}, {Tensor()}, {eval(Prim::convert, {xi}, to64)}, to64)[0].defined());
  // The cotangent returns to the operand's dtype.
  Tensor ct = eval(Prim::convert, {normal_like(rng, x)}, to32);
  Tensor back = conv.vjp({ct}, {x}, {Tensor()}, to32, {true})[0];
  ASSERT_TRUE(back.defined());
  EXPECT_EQ(back.dtype(), DType::F64);
  EXPECT_TRUE(compare(back, Tensor::from_vector(to_f64(ct), kEx), 0, 0).empty());
  // stop_gradient: no tangent, no cotangent.
  const ops::PrimDef& sg = ops::def(Prim::stop_gradient);
  EXPECT_FALSE(sg.jvp({x}, {t}, {x}, {})[0].defined());
  EXPECT_FALSE(sg.vjp({t}, {Tensor()}, {Tensor()}, {}, {true})[0].defined());
  // Comparisons: no tangent.
  EXPECT_FALSE(ops::def(Prim::lt).jvp({x, x}, {t, t}, {eval(Prim::lt, {x, x})}, {})[0].defined());
}

TEST(ElementwiseJvp, PowAndMaxAtSpecialPoints) {
  // pow at x == 0: d/dy of 0^y (y > 0) is 0, not 0 * log(0) = nan; d/dx of x^0 is 0, not 0 * x^-1 = nan.
  Tensor x = Tensor::from_vector<double>({0.0, 0.0, 2.0}), y = Tensor::from_vector<double>({2.0, 0.0, 0.0});
  Tensor out = eval(Prim::pow, {x, y});
  Tensor one = Tensor::full({3}, 1.0, DType::F64);
  const ops::PrimDef& pw = ops::def(Prim::pow);
  EXPECT_EQ(to_f64(pw.jvp({x, y}, {Tensor(), one}, {out}, {})[0]),
            (std::vector<double>{0.0, 0.0, std::log(2.0)}));
  EXPECT_EQ(to_f64(pw.jvp({x, y}, {one, Tensor()}, {out}, {})[0]), (std::vector<double>{0.0, 0.0, 0.0}));
  // max/min: ties split the gradient, NaN sends none to either side.
  Tensor a = Tensor::from_vector<double>({1.0, 2.0, 3.0, NAN}),
         b = Tensor::from_vector<double>({1.0, 5.0, 0.0, 1.0});
  Tensor ct = Tensor::full({4}, 1.0, DType::F64);
  for (Prim p : {Prim::max, Prim::min}) {
    TensorList g = ops::def(p).vjp({ct}, {a, b}, {eval(p, {a, b})}, {}, {true, true});
    std::vector<double> ga = to_f64(g[0]), gb = to_f64(g[1]);
    const bool mx = p == Prim::max;
    EXPECT_EQ(ga, (std::vector<double>{0.5, mx ? 0.0 : 1.0, mx ? 1.0 : 0.0, 0.0})) << ops::prim_name(p);
    EXPECT_EQ(gb, (std::vector<double>{0.5, mx ? 1.0 : 0.0, mx ? 0.0 : 1.0, 0.0})) << ops::prim_name(p);
  }
}

TEST(ElementwiseJvp, KeepsF32) {
  // Rules build their constants in the operand's dtype: f32 stays f32 and erf's 2/sqrt(pi) is not rounded
  // twice.
  Rng rng(19);
  for (const Case& c : unary_cases()) {
    TensorList xs = c.args(rng);
    Tensor x32 = eval(Prim::convert, {xs[0]}, Params().set("dtype", DType::F32));
    Tensor y = eval(c.p, {x32});
    Tensor t = ops::def(c.p).jvp({x32}, {x32}, {y}, {})[0];
    if (t.defined()) {
      EXPECT_EQ(t.dtype(), DType::F32) << c.name;
    }
  }
  Tensor x = Tensor::from_vector<double>({0.0});
  Tensor d =
      ops::def(Prim::erf).jvp({x}, {Tensor::from_vector<double>({1.0})}, {eval(Prim::erf, {x})}, {})[0];
  EXPECT_NEAR(d.item<double>(), 2.0 / std::sqrt(std::numbers::pi), 1e-15);
}

// ============================================================================================================
// (c) Batching rules against a loop over the batch
// ============================================================================================================

TEST(ElementwiseBatch, MatchesLoopForEveryBatchAxisAndSize) {
  Rng rng(23);
  const std::vector<int> axis_choices{-1, 0, 1, 2};
  for (const Case& c : batch_cases()) {
    const ops::PrimDef& d = ops::def(c.p);
    const size_t n = c.args(rng).size();
    size_t combos = 1;
    for (size_t i = 0; i < n; ++i) combos *= axis_choices.size();
    for (size_t combo = 0; combo < combos; ++combo) {
      std::vector<int> bdims(n);
      bool any = false;
      for (size_t i = 0, k = combo; i < n; ++i, k /= axis_choices.size()) {
        bdims[i] = axis_choices[k % axis_choices.size()];
        any |= bdims[i] >= 0;
      }
      if (!any) continue;
      std::vector<uint64_t> dispatches;
      for (int64_t B : {0, 1, 3}) {
        // Examples 0..B-1 feed the mapped operands; one more set is shared by the unmapped ones.
        std::vector<TensorList> ex;
        for (int64_t b = 0; b <= B; ++b) ex.push_back(c.args(rng));
        TensorList vals(n);
        for (size_t i = 0; i < n; ++i) {
          if (bdims[i] < 0) {
            vals[i] = ex[B][i];
            continue;
          }
          std::vector<Tensor> col;
          for (int64_t b = 0; b < B; ++b) col.push_back(ex[b][i]);
          vals[i] = stack_at(col, bdims[i], kEx, ex[B][i].dtype());
        }
        uint64_t before = engine::eval_dispatch_count();
        ops::Batched r = d.batch(vals, bdims, B, c.params);
        dispatches.push_back(engine::eval_dispatch_count() - before);
        std::string where = c.name +
                            " bdims=" + engine::shape_str(std::vector<int64_t>(bdims.begin(), bdims.end())) +
                            " B=" + std::to_string(B);
        ASSERT_EQ(r.outs.size(), 1u) << where;
        ASSERT_EQ(r.bdims.size(), 1u) << where;
        const int ob = r.bdims[0];
        ASSERT_GE(ob, 0) << where;
        ASSERT_LT(ob, r.outs[0].ndim()) << where;
        ASSERT_EQ(r.outs[0].dim(ob), B) << where;
        for (int64_t b = 0; b < B; ++b) {
          TensorList args(n);
          for (size_t i = 0; i < n; ++i) args[i] = ex[bdims[i] < 0 ? B : b][i];
          Tensor want = eval(c.p, args, c.params);
          Tensor got = unstack_at(r.outs[0], ob, b);
          ASSERT_EQ(got.aval(), want.aval()) << where;
          std::string err = compare(got, want, 1e-12, 1e-12);
          EXPECT_TRUE(err.empty()) << where << " example " << b << ": " << err;
        }
      }
      // No per-example work: the number of primitives issued does not depend on the batch size.
      EXPECT_EQ(dispatches[1], dispatches[2]) << c.name;
    }
  }
}

TEST(ElementwiseBatch, EqualAxesApplyInPlaceUnmappedAreBroadcastThere) {
  // When the mapped operands agree on the batch axis, the output keeps it (no transposes).
  Rng rng(29);
  Tensor a = rand_tensor(rng, {2, 4, 3}, DType::F64), b = rand_tensor(rng, {2, 4, 3}, DType::F64);
  Tensor u = rand_tensor(rng, {2, 3}, DType::F64);
  ops::Batched r = ops::def(Prim::add).batch({a, b}, {1, 1}, 4, {});
  EXPECT_EQ(r.bdims[0], 1);
  r = ops::def(Prim::mul).batch({a, u}, {1, -1}, 4, {});
  EXPECT_EQ(r.bdims[0], 1);
  r = ops::def(Prim::exp).batch({a}, {2}, 3, {});
  EXPECT_EQ(r.bdims[0], 2);
  Tensor c = rand_tensor(rng, {2, 3, 4}, DType::F64);
  r = ops::def(Prim::sub).batch({a, c}, {1, 2}, 4, {});  // disagreeing axes: both move to the front
  EXPECT_EQ(r.bdims[0], 0);
}

}  // namespace
