// The structural rules (Reduce, Matmul and Movement families) tested directly through the registry, without
// the transforms: shape-rule validation and messages through the public API, output avals and traits, the
// residual declarations (by tracing each vjp), jvp against central finite differences, vjp against jvp
// (<u, J v> = <J^T u, v>) with only the declared residuals available, closed forms at ties and out-of-range
// indices, and batching rules against a loop over examples for every placement of the batch axes.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
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
using Ints = std::vector<int64_t>;

// ===========================================================================================================
// Helpers
// ===========================================================================================================

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

std::string here(int line) { return "test_structural_rules.cpp:" + std::to_string(line); }

// Host-made operands (no kernel involved), for the shape-rule tests.
Tensor host(const Shape& s, DType dt = DType::F32) { return Tensor::full(s, 1.0, dt); }

Tensor eval(Prim p, const TensorList& args, const Params& params = {}) {
  return engine::bind1(p, args, params);
}

// Inserts a batch axis at `axis` by stacking xs (each of shape `ex`, dtype dt) on the host.
Tensor stack_at(const std::vector<Tensor>& xs, int axis, const Shape& ex, DType dt) {
  Shape s = ex;
  s.insert(s.begin() + axis, static_cast<int64_t>(xs.size()));
  Tensor out = Tensor::empty(s, dt);
  engine::visit_dtype(dt, [&]<class T>() {
    T* o = out.mutable_data<T>();
    const int64_t outer = engine::numel(std::span<const int64_t>(ex.data(), static_cast<size_t>(axis)));
    const int64_t inner = engine::numel(std::span<const int64_t>(ex.data() + axis, ex.size() - size_t(axis)));
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
    const int64_t inner = engine::numel(std::span<const int64_t>(ex.data() + axis, ex.size() - size_t(axis)));
    for (int64_t i = 0; i < outer; ++i)
      for (int64_t j = 0; j < inner; ++j) o[i * inner + j] = v[(i * n + b) * inner + j];
  });
  return out;
}

// ===========================================================================================================
// The primitives under test
// ===========================================================================================================

using ArgsFn = std::function<TensorList(Rng&)>;

struct Spec {
  Shape shape;
  DType dtype = DType::F64;
  double lo = -1.0, hi = 1.0;
};
ArgsFn gen(std::vector<Spec> specs) {
  return [=](Rng& r) {
    TensorList a;
    for (const Spec& s : specs) a.push_back(rand_tensor(r, s.shape, s.dtype, s.lo, s.hi));
    return a;
  };
}
Spec f64(Shape s) { return {std::move(s)}; }
// Small integers stored as f64: reductions tie often.
ArgsFn tying(Shape s) {
  return [=](Rng& r) {
    return TensorList{Tensor::from_vector(to_f64(rand_tensor(r, s, DType::I32, -1, 2)), s)};
  };
}

struct Case {
  std::string name;
  Prim p;
  ArgsFn args;
  Params params{};
  bool differentiable = true;
  bool smooth = true;  // finite differences are valid at the generated points
  // Declared inputs whose values the vjp's graph does not use: read for their shape only, or (scatter_add
  // into an empty axis) not needed for these params.
  uint32_t shape_reads = 0;
};

Params axes(Ints a) { return Params().set("axes", std::move(a)); }
Params mm(bool ta, bool tb) { return Params().set("transpose_a", ta).set("transpose_b", tb); }

std::vector<Case> reduce_cases() {
  std::vector<Case> c;
  for (Ints a : {Ints{}, Ints{0}, Ints{1}, Ints{0, 2}, Ints{0, 1, 2}}) {
    const std::string s = engine::shape_str(a);
    c.push_back({"reduce_sum" + s, Prim::reduce_sum, gen({f64({2, 3, 4})}), axes(a), true, true, 1u});
    c.push_back({"reduce_max" + s, Prim::reduce_max, gen({f64({2, 3, 4})}), axes(a)});
  }
  c.push_back({"reduce_max_ties", Prim::reduce_max, tying({3, 4}), axes({1}), true, false});
  c.push_back({"reduce_max_ties_all", Prim::reduce_max, tying({2, 3}), axes({0, 1}), true, false});
  return c;
}

std::vector<Case> matmul_cases() {
  struct M {
    const char* name;
    Shape a, b;
    bool ta, tb;
  };
  const M m[] = {
      {"matmul", {3, 4}, {4, 5}, false, false},
      {"matmul_ta", {4, 3}, {4, 5}, true, false},
      {"matmul_tb", {3, 4}, {5, 4}, false, true},
      {"matmul_tab", {4, 3}, {5, 4}, true, true},
      {"matmul_batched", {2, 3, 4}, {2, 4, 5}, false, false},
      {"matmul_bcast", {2, 1, 3, 4}, {3, 4, 2}, false, false},
      {"matmul_bcast_t", {1, 4, 3}, {2, 2, 4}, true, true},
      {"matmul_shared_b", {2, 3, 4}, {4, 5}, false, false},  // weight gradient folds the batch
      {"matmul_shared_b_tb", {2, 3, 4}, {5, 4}, false, true},
      {"matmul_shared_b_ones", {2, 2, 3, 4}, {1, 4, 5}, false, false},
      {"matmul_shared_a", {3, 4}, {2, 4, 5}, false, false},
      {"matmul_shared_a_ta", {4, 3}, {2, 5, 4}, true, true},
      {"matmul_empty_k", {2, 0}, {0, 3}, false, false},
  };
  std::vector<Case> c;
  for (const M& x : m) c.push_back({x.name, Prim::matmul, gen({f64(x.a), f64(x.b)}), mm(x.ta, x.tb)});
  return c;
}

Params slice_p(Ints s, Ints l, Ints st) {
  return Params().set("start", std::move(s)).set("limit", std::move(l)).set("stride", std::move(st));
}
Params pad_p(Ints lo, Ints hi, Ints in, double v) {
  return Params()
      .set("lo", std::move(lo))
      .set("hi", std::move(hi))
      .set("interior", std::move(in))
      .set("value", v);
}
Params bid(Shape s, Ints d) { return Params().set("shape", std::move(s)).set("dims", std::move(d)); }

std::vector<Case> movement_cases() {
  std::vector<Case> c;
  const Spec i32_wide{{2, 2}, DType::I32, -2, 7};  // indices into size 5, out of range both ways
  c.push_back(
      {"reshape", Prim::reshape, gen({f64({2, 3, 4})}), Params().set("shape", Ints{6, 4}), true, true, 1u});
  c.push_back({"reshape_split", Prim::reshape, gen({f64({2, 3})}), Params().set("shape", Ints{3, 1, 2}), true,
               true, 1u});
  c.push_back(
      {"reshape_scalar", Prim::reshape, gen({f64({1, 1})}), Params().set("shape", Ints{}), true, true, 1u});
  c.push_back({"broadcast_in_dim", Prim::broadcast_in_dim, gen({f64({3, 1})}), bid({2, 3, 4}, {1, 2}), true,
               true, 1u});
  c.push_back({"broadcast_in_dim_new_last", Prim::broadcast_in_dim, gen({f64({3})}), bid({3, 2}, {0}), true,
               true, 1u});
  c.push_back({"broadcast_in_dim_stretch", Prim::broadcast_in_dim, gen({f64({2, 1})}), bid({2, 5, 3}, {0, 1}),
               true, true, 1u});
  c.push_back(
      {"broadcast_in_dim_scalar", Prim::broadcast_in_dim, gen({f64({})}), bid({2, 2}, {}), true, true, 1u});
  c.push_back({"broadcast_in_dim_to_zero", Prim::broadcast_in_dim, gen({f64({1, 3})}), bid({0, 3}, {0, 1}),
               true, true, 1u});
  c.push_back({"transpose", Prim::transpose, gen({f64({2, 3, 4})}), Params().set("perm", Ints{2, 0, 1})});
  c.push_back({"transpose_2d", Prim::transpose, gen({f64({3, 4})}), Params().set("perm", Ints{1, 0})});
  c.push_back({"slice", Prim::slice, gen({f64({6, 5})}), slice_p({1, 0}, {5, 4}, {2, 3}), true, true, 1u});
  c.push_back({"slice_tail", Prim::slice, gen({f64({7})}), slice_p({2}, {7}, {2}), true, true, 1u});
  c.push_back(
      {"slice_empty", Prim::slice, gen({f64({4, 3})}), slice_p({2, 1}, {2, 3}, {1, 1}), true, true, 1u});
  c.push_back({"pad", Prim::pad, gen({f64({3, 2})}), pad_p({1, 0}, {0, 2}, {1, 2}, 0.5)});
  c.push_back({"pad_plain", Prim::pad, gen({f64({3})}), pad_p({2}, {1}, {0}, -1.0)});
  c.push_back({"pad_empty", Prim::pad, gen({f64({0, 2})}), pad_p({1, 1}, {2, 0}, {3, 1}, 2.0)});
  c.push_back({"concatenate", Prim::concatenate, gen({f64({2, 1}), f64({2, 3}), f64({2, 2})}),
               Params().set("axis", int64_t(1)), true, true, 7u});
  c.push_back({"concatenate_axis0", Prim::concatenate, gen({f64({1, 3}), f64({2, 3})}),
               Params().set("axis", int64_t(0)), true, true, 3u});
  c.push_back({"gather_axis0", Prim::gather, gen({f64({5, 3}), i32_wide}), Params().set("axis", int64_t(0)),
               true, true, 1u});
  c.push_back({"gather_axis1_u32", Prim::gather, gen({f64({2, 4, 3}), Spec{{3}, DType::U32, 0, 6}}),
               Params().set("axis", int64_t(1)), true, true, 1u});
  c.push_back({"gather_scalar_index", Prim::gather, gen({f64({2, 4, 3}), Spec{{}, DType::I32, -1, 5}}),
               Params().set("axis", int64_t(1)), true, true, 1u});
  c.push_back({"gather_last_axis", Prim::gather, gen({f64({2, 3}), Spec{{2, 2}, DType::I32, 0, 3}}),
               Params().set("axis", int64_t(1)), true, true, 1u});
  auto sa = [](int64_t axis, int64_t size) { return Params().set("axis", axis).set("size", size); };
  c.push_back({"scatter_add", Prim::scatter_add, gen({Spec{{4}, DType::I32, -1, 6}, f64({4, 3})}), sa(0, 5)});
  c.push_back({"scatter_add_axis1", Prim::scatter_add,
               gen({Spec{{2, 2}, DType::I32, 0, 3}, f64({2, 2, 2, 3})}), sa(1, 3)});
  c.push_back(
      {"scatter_add_u32_last", Prim::scatter_add, gen({Spec{{3}, DType::U32, 0, 5}, f64({2, 3})}), sa(1, 4)});
  c.push_back({"scatter_add_scalar_index", Prim::scatter_add, gen({Spec{{}, DType::I32, 0, 4}, f64({2, 3})}),
               sa(1, 4)});
  c.push_back({"scatter_add_size0", Prim::scatter_add, gen({Spec{{2}, DType::I32, 0, 2}, f64({2, 3})}),
               sa(0, 0), true, true, 1u});
  return c;
}

std::vector<Case> smooth_cases() {
  std::vector<Case> c = reduce_cases();
  for (auto& m : matmul_cases()) c.push_back(m);
  for (auto& m : movement_cases()) c.push_back(m);
  return c;
}

// Everything the batching check runs over, including integer outputs and non-float operands.
std::vector<Case> batch_cases() {
  std::vector<Case> c = smooth_cases();
  const Spec ints{{3, 4}, DType::I32, -5, 5};
  c.push_back({"reduce_sum_i32", Prim::reduce_sum, gen({ints}), axes({1}), false});
  c.push_back({"reduce_max_i32", Prim::reduce_max, gen({ints}), axes({0}), false});
  c.push_back(
      {"reduce_max_u32", Prim::reduce_max, gen({Spec{{3, 4}, DType::U32, 0, 9}}), axes({0, 1}), false});
  c.push_back({"argmax_axis0", Prim::argmax, tying({3, 4}),
               Params().set("axis", int64_t(0)).set("index_dtype", DType::I32), false});
  c.push_back({"argmax_axis1_u32", Prim::argmax, gen({f64({2, 3, 4})}),
               Params().set("axis", int64_t(1)).set("index_dtype", DType::U32), false});
  c.push_back({"transpose_bool", Prim::transpose, gen({Spec{{2, 3}, DType::Bool}}),
               Params().set("perm", Ints{1, 0}), false});
  c.push_back({"gather_i32_x", Prim::gather, gen({ints, Spec{{2}, DType::I32, 0, 3}}),
               Params().set("axis", int64_t(0)), false});
  c.push_back(
      {"concatenate_i32", Prim::concatenate, gen({ints, ints}), Params().set("axis", int64_t(0)), false});
  c.push_back({"pad_i32", Prim::pad, gen({ints}), pad_p({1, 0}, {0, 1}, {0, 1}, 7.0), false});
  return c;
}

bool is_float_input(const Tensor& t) { return engine::is_float(t.dtype()); }

// ===========================================================================================================
// (a) Shape rules through the public API: kinds, messages, output avals
// ===========================================================================================================

// Runs fn(at) with a source location that the public API records; the message must name that location (the
// user's line), besides the fragments in `parts`.
template <class Fn>
void expect_api_error(Fn&& fn, ErrorKind k, std::vector<std::string> parts) {
  const ops::Loc at = ops::Loc::current();
  parts.push_back(here(int(at.line())));
  expect_error([&] { fn(at); }, k, parts);
}
using At = const ops::Loc&;

TEST(StructuralShape, MatmulErrors) {
  Tensor a = host({4, 8}), b = host({7, 2});
  expect_api_error([&](At at) { (void)ops::matmul(a, b, false, false, at); }, ErrorKind::Shape,
                   {"[matmul]", "contraction dims differ: K=8 vs K=7", "f32[4,8], f32[7,2]", "hint:"});
  expect_api_error(
      [&](At at) {
        (void)ops::matmul(host({8, 4}), b, true, false, at);
      },
      ErrorKind::Shape, {"[matmul]", "K=8 vs K=7", "f32[8,4], f32[7,2]", "[..., K, M]"});
  expect_api_error(
      [&](At at) {
        (void)ops::matmul(host({2, 3, 4}), host({5, 4, 6}), false, false, at);
      },
      ErrorKind::Shape, {"[matmul]", "batch dims [2] and [5] cannot be broadcast", "f32[2,3,4], f32[5,4,6]"});
  // The primitive's own checks, past the API's promotion and 1-D handling.
  auto bind = [](TensorList args) { return [args] { (void)eval(Prim::matmul, args, mm(false, false)); }; };
  expect_error(bind({host({3}), host({3, 2})}), ErrorKind::Shape,
               {"[matmul]", "rank >= 2", "f32[3], f32[3,2]"});
  expect_error(bind({host({2, 3}), host({3, 2}, DType::F64)}), ErrorKind::DType,
               {"[matmul]", "same dtype", "f32 and f64", "f32[2,3], f64[3,2]"});
  expect_error(bind({host({2, 3}, DType::I32), host({3, 2}, DType::I32)}), ErrorKind::DType,
               {"[matmul]", "f32 and f64", "i32[2,3], i32[3,2]"});
}

TEST(StructuralShape, ReductionErrors) {
  expect_api_error(
      [&](At at) {
        (void)ops::max(host({2, 3}, DType::Bool), {}, false, at);
      },
      ErrorKind::DType, {"[reduce_max]", "bool", "bool[2,3]"});
  expect_api_error(
      [&](At at) {
        (void)ops::argmax(host({0, 3}), 0, false, at);
      },
      ErrorKind::Shape, {"[argmax]", "empty", "f32[0,3]"});
  auto bind = [](Prim p, Params params) { return [p, params] { (void)eval(p, {host({2, 3})}, params); }; };
  expect_error(bind(Prim::reduce_sum, axes({1, 0})), ErrorKind::Value,
               {"[reduce_sum]", "sorted and unique", "f32[2,3]"});
  expect_error(bind(Prim::reduce_max, axes({2})), ErrorKind::Value,
               {"[reduce_max]", "axis 2 is out of range", "f32[2,3]"});
  expect_error(bind(Prim::argmax, Params().set("axis", int64_t(1)).set("index_dtype", DType::F32)),
               ErrorKind::DType, {"[argmax]", "index_dtype", "f32[2,3]"});
}

TEST(StructuralShape, MovementErrors) {
  Tensor x = host({4, 8});
  expect_api_error(
      [&](At at) {
        (void)ops::reshape(x, {5, 6}, at);
      },
      ErrorKind::Shape, {"[reshape]", "element count differs", "32 elements", "[5,6]", "f32[4,8]"});
  expect_api_error(
      [&](At at) {
        (void)ops::broadcast_in_dim(host({3}), {4, 5}, {1}, at);
      },
      ErrorKind::Shape,
      {"[broadcast_in_dim]", "operand axis 0 of size 3 cannot broadcast to output axis 1 of size 5",
       "f32[3]"});
  expect_api_error(
      [&](At at) {
        (void)ops::broadcast_in_dim(host({1, 1}), {2, 2}, {1, 0}, at);
      },
      ErrorKind::Value, {"[broadcast_in_dim]", "strictly increasing", "f32[1,1]"});
  expect_api_error(
      [&](At at) {
        (void)ops::broadcast_in_dim(host({2, 2}), {2, 2}, {0}, at);
      },
      ErrorKind::Value, {"[broadcast_in_dim]", "1 entries for an operand of rank 2", "f32[2,2]"});
  expect_api_error(
      [&](At at) {
        (void)ops::transpose(x, {0, 0}, at);
      },
      ErrorKind::Value, {"[transpose]", "not a permutation", "f32[4,8]"});
  expect_api_error(
      [&](At at) {
        (void)ops::slice(x, {0, 2}, {4, 9}, {}, at);
      },
      ErrorKind::Value, {"[slice]", "slice [2:9] of axis 1 is out of bounds for its size 8", "f32[4,8]"});
  expect_api_error(
      [&](At at) {
        (void)ops::slice(x, {3, 0}, {2, 8}, {}, at);
      },
      ErrorKind::Value, {"[slice]", "[3:2]", "f32[4,8]"});
  expect_api_error(
      [&](At at) {
        (void)ops::slice(x, {0, 0}, {4, 8}, {1, 0}, at);
      },
      ErrorKind::Value, {"[slice]", "stride 0", "f32[4,8]"});
  expect_api_error(
      [&](At at) {
        (void)ops::pad(x, {-1, 0}, {0, 0}, 0.0, at);
      },
      ErrorKind::Value, {"[pad]", "negative padding on axis 0", "lo=-1", "f32[4,8]"});
  expect_error(
      [&] {
        (void)eval(Prim::pad, {x}, pad_p({0, 0}, {0, 0}, {0, -2}, 0.0));
      },
      ErrorKind::Value, {"[pad]", "interior=-2", "f32[4,8]"});
  expect_api_error(
      [&](At at) {
        (void)ops::concatenate({host({2, 3}), host({3, 4})}, 1, at);
      },
      ErrorKind::Shape,
      {"[concatenate]", "operand 1 has shape [3,4]", "outside axis 1", "f32[2,3], f32[3,4]"});
  expect_api_error(
      [&](At at) {
        (void)ops::concatenate({host({2, 3}), host({2, 3, 1})}, 0, at);
      },
      ErrorKind::Shape, {"[concatenate]", "f32[2,3], f32[2,3,1]"});
  expect_error(
      [&] {
        (void)eval(Prim::concatenate, {host({2}), host({2}, DType::F64)}, Params().set("axis", int64_t(0)));
      },
      ErrorKind::DType, {"[concatenate]", "dtype f64", "f32[2], f64[2]"});
  expect_api_error([&](At at) { (void)ops::take(x, host({3}), 0, at); }, ErrorKind::DType,
                   {"[gather]", "indices must be i32 or u32, got f32", "f32[4,8], f32[3]"});
  expect_api_error(
      [&](At at) {
        (void)ops::take(host({0, 3}), host({2}, DType::I32), 0, at);
      },
      ErrorKind::Shape, {"[gather]", "empty", "f32[0,3], i32[2]"});
  expect_api_error(
      [&](At at) {
        (void)ops::scatter_add(host({3}, DType::I32), host({4, 2}), 0, 5, at);
      },
      ErrorKind::Shape, {"[scatter_add]", "updates [4,2] must be P + [3] + S", "i32[3], f32[4,2]"});
  expect_api_error(
      [&](At at) {
        (void)ops::scatter_add(host({4}, DType::I32), host({4, 2}), 0, -1, at);
      },
      ErrorKind::Value, {"[scatter_add]", "size -1 is negative", "i32[4], f32[4,2]"});
  expect_api_error(
      [&](At at) {
        (void)ops::scatter_add(host({4}, DType::F32), host({4, 2}), 0, 5, at);
      },
      ErrorKind::DType, {"[scatter_add]", "indices must be i32 or u32", "f32[4], f32[4,2]"});
}

TEST(StructuralShape, TracedErrorsNameTheOp) {
  // Shape rules also run while tracing, where no kernel is involved.
  expect_error(
      [&] {
        (void)engine::make_graph([](const TensorList& xs) { return TensorList{ops::matmul(xs[0], xs[1])}; },
                                 {AVal{{4, 8}, DType::F32, false}, AVal{{7, 2}, DType::F32, false}});
      },
      ErrorKind::Shape, {"[matmul]", "K=8 vs K=7", "f32[4,8], f32[7,2]"});
}

TEST(StructuralShape, OutputAvals) {
  auto shape = [](Prim p, std::vector<AVal> in, const Params& params) {
    auto out = ops::def(p).shape(in, params);
    EXPECT_EQ(out.size(), 1u);
    return out[0];
  };
  const AVal w{{2, 3, 4}, DType::F32, true}, s{{2, 3, 4}, DType::F32, false};
  EXPECT_EQ(shape(Prim::reduce_sum, {s}, axes({0, 2})).shape, (Shape{3}));
  EXPECT_TRUE(shape(Prim::reduce_sum, {w}, axes({1})).weak);
  EXPECT_FALSE(shape(Prim::reduce_max, {s}, axes({1})).weak);
  AVal am = shape(Prim::argmax, {w}, Params().set("axis", int64_t(2)).set("index_dtype", DType::U32));
  EXPECT_EQ(am.shape, (Shape{2, 3}));
  EXPECT_EQ(am.dtype, DType::U32);
  EXPECT_FALSE(am.weak);
  const AVal a{{5, 1, 3, 4}, DType::F64, true}, b{{2, 4, 6}, DType::F64, true},
      bs{{2, 4, 6}, DType::F64, false};
  AVal c = shape(Prim::matmul, {a, b}, mm(false, false));
  EXPECT_EQ(c.shape, (Shape{5, 2, 3, 6}));
  EXPECT_EQ(c.dtype, DType::F64);
  EXPECT_TRUE(c.weak);
  EXPECT_FALSE(shape(Prim::matmul, {a, bs}, mm(false, false)).weak);
  EXPECT_EQ(
      shape(Prim::matmul, {AVal{{4, 3}, DType::F32, false}, AVal{{5, 4}, DType::F32, false}}, mm(true, true))
          .shape,
      (Shape{3, 5}));
  EXPECT_EQ(shape(Prim::slice, {AVal{{7, 5}, DType::F32, false}}, slice_p({1, 0}, {7, 5}, {3, 2})).shape,
            (Shape{2, 3}));
  EXPECT_EQ(shape(Prim::pad, {AVal{{3, 0}, DType::F32, false}}, pad_p({1, 2}, {0, 1}, {2, 5}, 0.0)).shape,
            (Shape{8, 3}));
  EXPECT_TRUE(shape(Prim::transpose, {w}, Params().set("perm", Ints{2, 0, 1})).weak);
  EXPECT_EQ(shape(Prim::transpose, {w}, Params().set("perm", Ints{2, 0, 1})).shape, (Shape{4, 2, 3}));
  EXPECT_EQ(shape(Prim::gather, {AVal{{5, 3}, DType::F32, false}, AVal{{2, 4}, DType::U32, false}},
                  Params().set("axis", int64_t(1)))
                .shape,
            (Shape{5, 2, 4}));
  EXPECT_EQ(shape(Prim::scatter_add, {AVal{{2, 4}, DType::I32, false}, AVal{{5, 2, 4, 3}, DType::F32, false}},
                  Params().set("axis", int64_t(1)).set("size", int64_t(7)))
                .shape,
            (Shape{5, 7, 3}));
  AVal cat =
      ops::def(Prim::concatenate)
          .shape(std::vector<AVal>{w, AVal{{2, 1, 4}, DType::F32, true}, AVal{{2, 2, 4}, DType::F32, false}},
                 Params().set("axis", int64_t(1)))[0];
  EXPECT_EQ(cat.shape, (Shape{2, 6, 4}));
  EXPECT_FALSE(cat.weak);
}

TEST(StructuralTraits, BitsAndCoverage) {
  auto has = [](Prim p, uint32_t bit) { return (ops::def(p).traits & bit) != 0; };
  for (Prim p : {Prim::reduce_sum, Prim::reduce_max, Prim::argmax}) EXPECT_TRUE(has(p, ops::kReduction));
  for (Prim p : {Prim::reshape, Prim::broadcast_in_dim, Prim::transpose, Prim::slice}) {
    EXPECT_TRUE(has(p, ops::kView)) << ops::prim_name(p);
    EXPECT_TRUE(has(p, ops::kLinear)) << ops::prim_name(p);
  }
  for (Prim p : {Prim::reduce_sum, Prim::concatenate, Prim::gather, Prim::scatter_add})
    EXPECT_TRUE(has(p, ops::kLinear)) << ops::prim_name(p);
  for (Prim p : {Prim::reduce_max, Prim::matmul, Prim::pad})
    EXPECT_FALSE(has(p, ops::kLinear)) << ops::prim_name(p);
  for (Prim p : {Prim::pad, Prim::concatenate, Prim::gather, Prim::scatter_add})
    EXPECT_FALSE(has(p, ops::kView));
  EXPECT_FALSE(ops::def(Prim::argmax).differentiable());
  for (int i = 0; i < ops::kNumPrims; ++i) {
    const ops::PrimDef& d = ops::def(static_cast<Prim>(i));
    if (d.family != ops::Family::Reduce && d.family != ops::Family::Matmul &&
        d.family != ops::Family::Movement)
      continue;
    if (d.family == ops::Family::Movement) {
      EXPECT_TRUE(d.traits & ops::kMovement) << d.name;
    }
    if (d.prim != Prim::argmax) {
      EXPECT_TRUE(d.differentiable()) << d.name;
    }
    for (ops::Rule r : {ops::Rule::Shape, ops::Rule::Jvp, ops::Rule::Vjp, ops::Rule::Batch})
      EXPECT_TRUE(d.has(r)) << d.name << " lacks " << ops::rule_name(r);
  }
  // argmax states that it has no tangent and no cotangent.
  Tensor x = host({2, 3}, DType::F64);
  const ops::PrimDef& am = ops::def(Prim::argmax);
  Params p = Params().set("axis", int64_t(1)).set("index_dtype", DType::I32);
  EXPECT_FALSE(am.jvp({x}, {x}, {Tensor()}, p)[0].defined());
  EXPECT_FALSE(am.vjp({host({2}, DType::I32)}, {Tensor()}, {Tensor()}, p, {true})[0].defined());
}

// The declared residuals: every input the traced vjp uses is declared, and the declared-but-unused ones are
// exactly those read for their shape alone (which a graph cannot show).
TEST(StructuralResiduals, DeclarationsMatchWhatTheVjpReads) {
  Rng rng(7);
  for (const Case& c : smooth_cases()) {
    const ops::PrimDef& d = ops::def(c.p);
    TensorList xs = c.args(rng);
    const AVal out = d.shape(engine::avals_of(xs), c.params)[0];
    std::vector<AVal> in_avals = engine::avals_of(xs);
    in_avals.insert(in_avals.begin(), out);  // cotangent
    in_avals.push_back(out);                 // output
    const size_t n = xs.size();
    engine::Graph g = engine::make_graph(
        [&](const TensorList& a) {
          TensorList primals(a.begin() + 1, a.begin() + 1 + long(n));
          std::vector<bool> wants(n);
          for (size_t i = 0; i < n; ++i) wants[i] = is_float_input(xs[i]);
          TensorList r = d.vjp({a[0]}, primals, {a.back()}, c.params, wants);
          EXPECT_EQ(r.size(), n) << c.name;
          TensorList defined;
          for (auto& t : r)
            if (t.defined()) defined.push_back(t);
          return defined;
        },
        in_avals);
    std::set<int> used(g.outputs.begin(), g.outputs.end());
    for (const auto& e : g.eqns) used.insert(e.inputs.begin(), e.inputs.end());
    for (size_t i = 0; i < n; ++i) {
      const bool declared = (d.vjp_reads_inputs >> i) & 1u;
      const bool reads = used.count(g.inputs[1 + i]) > 0;
      const bool shape_only = (c.shape_reads >> i) & 1u;
      EXPECT_EQ(declared, reads || shape_only)
          << c.name << ": input " << i << (declared ? " declared but unused" : " read but not declared");
      if (shape_only) {
        EXPECT_FALSE(reads) << c.name << ": input " << i << " is marked shape-only but its value is read";
      }
    }
    EXPECT_EQ(d.vjp_reads_outputs, used.count(g.inputs.back()) > 0) << c.name << ": output residual";
  }
}

// ===========================================================================================================
// (b) jvp against finite differences, vjp against jvp, on concrete f64 values
// ===========================================================================================================

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

TEST(StructuralJvp, MatchesFiniteDifferences) {
  Rng rng(11);
  for (const Case& c : smooth_cases()) {
    if (!c.smooth) continue;
    const ops::PrimDef& d = ops::def(c.p);
    for (int trial = 0; trial < 2; ++trial) {
      TensorList xs = c.args(rng);
      const size_t n = xs.size();
      TensorList all(n);
      for (size_t i = 0; i < n; ++i)
        if (is_float_input(xs[i])) all[i] = normal_like(rng, xs[i]);
      // Every subset of the float tangents (null = symbolic zero), including none.
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
        ASSERT_TRUE(t[0].defined()) << c.name;
        ASSERT_EQ(t[0].aval(), y.aval()) << c.name;
        std::string err = compare(t[0], finite_difference(c, xs, ts, 1e-6), 1e-7, 1e-6);
        EXPECT_TRUE(err.empty()) << c.name << " (tangent mask " << mask << "): " << err;
      }
    }
  }
}

TEST(StructuralVjp, TransposesTheJvpWithDeclaredResidualsOnly) {
  Rng rng(13);
  for (const Case& c : smooth_cases()) {
    const ops::PrimDef& d = ops::def(c.p);
    for (int trial = 0; trial < 2; ++trial) {
      TensorList xs = c.args(rng);
      const size_t n = xs.size();
      Tensor y = eval(c.p, xs, c.params);
      TensorList vs(n);
      std::vector<bool> wants(n);
      for (size_t i = 0; i < n; ++i)
        if ((wants[i] = is_float_input(xs[i]))) vs[i] = normal_like(rng, xs[i]);
      Tensor jv = d.jvp(xs, vs, {y}, c.params)[0];
      Tensor u = normal_like(rng, y);
      TensorList primals(n), outs{d.vjp_reads_outputs ? y : Tensor()};
      for (size_t i = 0; i < n; ++i)
        if ((d.vjp_reads_inputs >> i) & 1u) primals[i] = xs[i];
      TensorList cts = d.vjp({u}, primals, outs, c.params, wants);
      ASSERT_EQ(cts.size(), n) << c.name;
      double lhs = jv.defined() ? dot(u, jv) : 0.0, rhs = 0;
      for (size_t i = 0; i < n; ++i) {
        if (!cts[i].defined()) continue;
        EXPECT_TRUE(wants[i]) << c.name << ": cotangent for an input that did not want one";
        ASSERT_EQ(cts[i].aval(), xs[i].aval()) << c.name << ": cotangent " << i;
        rhs += dot(cts[i], vs[i]);
      }
      EXPECT_NEAR(lhs, rhs, 1e-9 * (1 + std::abs(lhs))) << c.name;
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
        ASSERT_EQ(ci[i].defined(), cts[i].defined()) << c.name;
        if (ci[i].defined()) {
          EXPECT_TRUE(compare(ci[i], cts[i], 0, 0).empty()) << c.name;
        }
      }
    }
  }
}

TEST(StructuralVjp, ReduceMaxSharesTiesEqually) {
  // As JAX: the gradient of a maximum is split equally among the positions that attain it.
  Tensor x = Tensor::from_vector<double>({1, 3, 3, 2, 2, 2, 5, 0, -1}, {3, 3});
  Tensor y = eval(Prim::reduce_max, {x}, axes({1}));
  const ops::PrimDef& d = ops::def(Prim::reduce_max);
  Tensor ct = Tensor::from_vector<double>({1, 3, 2});
  Tensor g = d.vjp({ct}, {x}, {y}, axes({1}), {true})[0];
  EXPECT_EQ(to_f64(g), (std::vector<double>{0, 0.5, 0.5, 1, 1, 1, 2, 0, 0}));
  Tensor t = Tensor::from_vector<double>({0, 1, 3, 3, 6, 9, 1, 7, 7}, {3, 3});
  EXPECT_EQ(to_f64(d.jvp({x}, {t}, {y}, axes({1}))[0]), (std::vector<double>{2, 6, 1}));
}

TEST(StructuralVjp, OutOfRangeIndicesFollowTheForwardSemantics) {
  // gather clamps out-of-range indices, so their cotangent lands on the clamped row; scatter_add drops them,
  // so their updates get no cotangent.
  Tensor x = Tensor::from_vector<double>({1, 2, 3, 4, 5, 6}, {3, 2});
  Tensor idx = Tensor::from_vector<int32_t>({-4, 1, 9});
  Params g0 = Params().set("axis", int64_t(0));
  Tensor ct = Tensor::from_vector<double>({1, 10, 100, 1000, 3, 7}, {3, 2});
  Tensor gx = ops::def(Prim::gather).vjp({ct}, {x, idx}, {Tensor()}, g0, {true, false})[0];
  EXPECT_EQ(to_f64(gx), (std::vector<double>{1, 10, 100, 1000, 3, 7}));
  Params s0 = Params().set("axis", int64_t(0)).set("size", int64_t(3));
  Tensor upd_ct = Tensor::from_vector<double>({1, 2, 3, 4, 5, 6}, {3, 2});
  TensorList su = ops::def(Prim::scatter_add).vjp({upd_ct}, {idx, Tensor()}, {Tensor()}, s0, {false, true});
  EXPECT_FALSE(su[0].defined());
  EXPECT_EQ(to_f64(su[1]), (std::vector<double>{0, 0, 3, 4, 0, 0}));
}

// ===========================================================================================================
// (c) Batching rules against a loop over the batch
// ===========================================================================================================

TEST(StructuralBatch, MatchesLoopForEveryBatchAxisAndSize) {
  Rng rng(23);
  for (const Case& c : batch_cases()) {
    const ops::PrimDef& d = ops::def(c.p);
    const TensorList proto = c.args(rng);
    const size_t n = proto.size();
    // Per operand: not mapped, first axis, a middle axis, last axis.
    std::vector<std::vector<int>> choices(n);
    for (size_t i = 0; i < n; ++i) {
      const int r = proto[i].ndim();
      choices[i] = {-1, 0};
      if (r >= 2) choices[i].push_back(r / 2);
      if (r >= 1) choices[i].push_back(r);
    }
    size_t combos = 1;
    for (const auto& ch : choices) combos *= ch.size();
    for (size_t combo = 0; combo < combos; ++combo) {
      std::vector<int> bdims(n);
      bool any = false;
      for (size_t i = 0, k = combo; i < n; k /= choices[i].size(), ++i) {
        bdims[i] = choices[i][k % choices[i].size()];
        any |= bdims[i] >= 0;
      }
      if (!any) continue;
      std::vector<uint64_t> dispatches;
      const std::string bd = engine::shape_str(Ints(bdims.begin(), bdims.end()));
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
          vals[i] = stack_at(col, bdims[i], ex[B][i].shape(), ex[B][i].dtype());
        }
        const std::string where = c.name + " bdims=" + bd + " B=" + std::to_string(B);
        const uint64_t before = engine::eval_dispatch_count();
        ops::Batched r;
        try {
          r = d.batch(vals, bdims, B, c.params);
        } catch (const std::exception& e) {  // report the case, then go on with the others
          ADD_FAILURE() << where << ": " << e.what();
          continue;
        }
        dispatches.push_back(engine::eval_dispatch_count() - before);
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
      if (dispatches.size() == 3) {
        EXPECT_EQ(dispatches[1], dispatches[2]) << c.name << " bdims=" << bd;
      }
    }
  }
}

TEST(StructuralBatch, BatchAxesStayInPlaceWhereTheOpAllows) {
  Rng rng(29);
  Tensor x = rand_tensor(rng, {2, 5, 3}, DType::F64);  // logical [2, 3], batch 5 at axis 1
  auto bdim = [&](Prim p, const TensorList& v, std::vector<int> b, const Params& params) {
    ops::Batched r = ops::def(p).batch(v, b, 5, params);
    return r.bdims[0];
  };
  EXPECT_EQ(bdim(Prim::reduce_sum, {x}, {1}, axes({0})), 0);
  EXPECT_EQ(bdim(Prim::reduce_sum, {x}, {1}, axes({1})), 1);
  EXPECT_EQ(bdim(Prim::slice, {x}, {1}, slice_p({0, 1}, {2, 3}, {1, 1})), 1);
  EXPECT_EQ(bdim(Prim::pad, {x}, {1}, pad_p({1, 0}, {0, 1}, {0, 0}, 0.0)), 1);
  EXPECT_EQ(bdim(Prim::broadcast_in_dim, {x}, {1}, bid({2, 4, 3}, {0, 2})), 1);
  EXPECT_EQ(bdim(Prim::gather, {x, Tensor::from_vector<int32_t>({0, 1, 1, 0}, {2, 2})}, {1, -1},
                 Params().set("axis", int64_t(0))),
            2);
}

}  // namespace
