// The CUDA backend against the CPU backend, in the style of ggml's test-backend-ops: every primitive on random
// operands in every dtype it accepts and in several layouts (contiguous, transposed view, stride-0 broadcast,
// rank 0, empty, larger than one grid), compared within per-dtype tolerances (integers and bools exactly);
// random bits bitwise; transforms (grad, vmap, jit, checkpoint) on device tensors; and the device errors,
// which need no GPU. Tests that need a GPU skip when none is present, so CI (no GPU) compiles and skips them.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <random>
#include <set>

#include "engine/core/device.h"
#include "engine/transforms/transforms.h"
#include "engine/compile/jit.h"
#include "ops/api.h"
#include "ops/registry.h"
#include "tests/support/canonical.h"
#include "tests/support/testing.h"

namespace {

using engine::Device;
using engine::DType;
using engine::Shape;
using engine::Tensor;
using ops::Prim;
using Rng = std::mt19937_64;
using Inputs = std::vector<Tensor>;

bool gpu() { return engine::device_available(Device::CUDA); }
#define REQUIRE_GPU() \
  if (!gpu()) GTEST_SKIP() << "no CUDA device present (or no CUDA backend in this build)"

constexpr DType kAllDtypes[] = {DType::Bool, DType::I32, DType::U32, DType::F32, DType::F64};

// Values in [lo, hi] (integers: rounded; u32: clamped at 0; bool: fair coin).
Tensor random_tensor(Rng& rng, const Shape& shape, DType dt, double lo = -3, double hi = 3) {
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> v(size_t(engine::numel(shape)));
  for (double& x : v) {
    x = u(rng);
    if (dt == DType::I32) x = std::round(x * 10);
    if (dt == DType::U32) x = std::round(std::fabs(x) * 10);
    if (dt == DType::Bool) x = x > (lo + hi) / 2 ? 1 : 0;
  }
  return ops::convert(Tensor::from_vector(v, shape), dt);
}

// NaN, infinities, signed zeros, a denormal and ordinary values, for the float special-value cases.
Tensor special_values(DType dt) {
  const double inf = INFINITY;
  std::vector<double> v = {NAN, inf, -inf, 0.0, -0.0, 1e-310, -1.5, 2.5, 88.0, -88.0, 1e30, -1e30, 0.5, 3.0};
  return ops::convert(Tensor::from_vector(v, Shape{int64_t(v.size())}), dt);
}

Inputs on(Device d, const Inputs& xs) {
  Inputs out;
  for (const Tensor& x : xs) out.push_back(engine::to_device(x, d));
  return out;
}

struct Tolerance {
  double rtol = 0, atol = 0;
};
Tolerance default_tolerance(DType dt) {
  if (dt == DType::F32) return {2e-6, 1e-6};
  if (dt == DType::F64) return {1e-13, 1e-14};
  return {};
}

// Compares a CUDA result (copied back) with the CPU's: same dtype and shape; NaN where the CPU has NaN;
// equal infinities; |a - b| <= atol + rtol |b| elsewhere (exact for integers and bools).
::testing::AssertionResult close(const Tensor& cuda, const Tensor& cpu, Tolerance tol) {
  if (cuda.device() != Device::CUDA) return ::testing::AssertionFailure() << "result is not on the CUDA device";
  if (cuda.aval().str() != cpu.aval().str())
    return ::testing::AssertionFailure() << "aval " << cuda.aval().str() << " vs cpu " << cpu.aval().str();
  const Tensor a = ops::convert(engine::to_device(cuda, Device::CPU), DType::F64);
  const Tensor b = ops::convert(cpu, DType::F64);
  const std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
  int bad = 0;
  std::string first;
  for (size_t i = 0; i < va.size(); ++i) {
    const double x = va[i], y = vb[i];
    bool ok;
    if (std::isnan(y)) {
      ok = std::isnan(x);
    } else if (std::isinf(y)) {
      ok = x == y;
    } else {
      ok = std::fabs(x - y) <= tol.atol + tol.rtol * std::fabs(y);
    }
    if (!ok && bad++ == 0)
      first = "element " + std::to_string(i) + ": cuda " + std::to_string(x) + " vs cpu " + std::to_string(y);
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << va.size() << " elements differ; first " << first;
}

// One parity case: a primitive, how to make its operands (on the CPU), and the op (through the public API,
// which may wrap the operands in views first so the kernel sees strided layouts).
struct Case {
  std::string name;
  Prim prim;
  std::function<Inputs(Rng&)> make;
  std::function<Tensor(const Inputs&)> op;
  double tol_scale = 1;  // multiplies the dtype's tolerance (long sums, matmuls)
};

// Runs a case on both backends. A case the CPU refuses (a dtype the primitive does not take) must be refused
// on CUDA too, and counts as not run. Returns whether it ran.
bool run_case(const Case& c, Rng& rng) {
  SCOPED_TRACE(c.name);
  const Inputs host = c.make(rng);
  Tensor ref;
  try {
    ref = c.op(host);
  } catch (const engine::Error&) {
    EXPECT_THROW(c.op(on(Device::CUDA, host)), engine::Error) << "the CPU refuses this case; CUDA must too";
    return false;
  }
  const Tensor got = c.op(on(Device::CUDA, host));
  Tolerance tol = default_tolerance(ref.dtype());
  tol.rtol *= c.tol_scale;
  tol.atol *= c.tol_scale;
  EXPECT_TRUE(close(got, ref, tol));
  return true;
}

// ---- the case table ----

using UnaryFn = Tensor (*)(const Tensor&, const std::source_location&);
using BinaryFn = Tensor (*)(const Tensor&, const Tensor&, const std::source_location&);

struct UnaryOp {
  Prim prim;
  UnaryFn fn;
  double lo, hi;  // the domain the float cases draw from
};
struct BinaryOp {
  Prim prim;
  BinaryFn fn;
  double lo, hi;
};

// Layouts every elementwise op is run in: the operand as given, a transposed view, a stride-0 broadcast, a
// rank-0 scalar, an empty tensor and one larger than a single grid of blocks.
struct Layout {
  const char* name;
  Shape shape;
  std::function<Tensor(const Tensor&)> view;  // applied to each operand on its device
};
std::vector<Layout> layouts() {
  return {
      {"contiguous", {37, 129}, [](const Tensor& x) { return x; }},
      {"transposed", {129, 37}, [](const Tensor& x) { return ops::transpose(x); }},
      {"broadcast", {129}, [](const Tensor& x) { return ops::broadcast_to(x, {37, 129}); }},
      {"scalar", {}, [](const Tensor& x) { return x; }},
      {"empty", {0, 5}, [](const Tensor& x) { return x; }},
      {"large", {(1 << 21) + 7}, [](const Tensor& x) { return x; }},
  };
}

void add_elementwise_cases(std::vector<Case>& cases) {
  const UnaryOp unary[] = {
      {Prim::neg, ops::neg, -3, 3},     {Prim::exp, ops::exp, -10, 10},     {Prim::log, ops::log, 0.01, 50},
      {Prim::log1p, ops::log1p, -0.9, 5}, {Prim::expm1, ops::expm1, -5, 5}, {Prim::sin, ops::sin, -6, 6},
      {Prim::cos, ops::cos, -6, 6},     {Prim::tanh, ops::tanh, -6, 6},     {Prim::logistic, ops::logistic, -20, 20},
      {Prim::sqrt, ops::sqrt, 0, 50},   {Prim::rsqrt, ops::rsqrt, 0.01, 50}, {Prim::abs, ops::abs, -3, 3},
      {Prim::sign, ops::sign, -3, 3},   {Prim::erf, ops::erf, -4, 4},       {Prim::floor, ops::floor, -5, 5},
  };
  const BinaryOp binary[] = {
      {Prim::add, ops::add, -3, 3}, {Prim::sub, ops::sub, -3, 3},         {Prim::mul, ops::mul, -3, 3},
      {Prim::div, ops::div, -3, 3}, {Prim::pow, ops::pow, 0.1, 3},        {Prim::max, ops::maximum, -3, 3},
      {Prim::min, ops::minimum, -3, 3}, {Prim::eq, ops::eq, -1, 1},       {Prim::ne, ops::ne, -1, 1},
      {Prim::lt, ops::lt, -1, 1},   {Prim::le, ops::le, -1, 1},           {Prim::gt, ops::gt, -1, 1},
      {Prim::ge, ops::ge, -1, 1},
  };
  for (const Layout& l : layouts())
    for (DType dt : kAllDtypes) {
      const std::string suffix = std::string(" ") + dtype_name(dt) + " " + l.name;
      for (const UnaryOp& u : unary)
        cases.push_back({ops::prim_name(u.prim) + suffix, u.prim,
                         [u, l, dt](Rng& r) { return Inputs{random_tensor(r, l.shape, dt, u.lo, u.hi)}; },
                         [u, l](const Inputs& in) { return u.fn(l.view(in[0]), std::source_location::current()); }});
      for (const BinaryOp& b : binary)
        cases.push_back({ops::prim_name(b.prim) + suffix, b.prim,
                         [b, l, dt](Rng& r) {
                           return Inputs{random_tensor(r, l.shape, dt, b.lo, b.hi),
                                         random_tensor(r, l.shape, dt, b.lo, b.hi)};
                         },
                         [b, l](const Inputs& in) {
                           return b.fn(l.view(in[0]), l.view(in[1]), std::source_location::current());
                         }});
      cases.push_back({"select" + suffix, Prim::select,
                       [l, dt](Rng& r) {
                         return Inputs{random_tensor(r, l.shape, DType::Bool), random_tensor(r, l.shape, dt),
                                       random_tensor(r, l.shape, dt)};
                       },
                       [l](const Inputs& in) { return ops::select(l.view(in[0]), l.view(in[1]), l.view(in[2])); }});
      for (DType to : kAllDtypes)
        cases.push_back({"convert to " + std::string(dtype_name(to)) + suffix, Prim::convert,
                         [l, dt](Rng& r) { return Inputs{random_tensor(r, l.shape, dt, -300, 300)}; },
                         [l, to](const Inputs& in) { return ops::convert(l.view(in[0]), to); }});
      cases.push_back({"stop_gradient" + suffix, Prim::stop_gradient,
                       [l, dt](Rng& r) { return Inputs{random_tensor(r, l.shape, dt)}; },
                       [l](const Inputs& in) { return ops::stop_gradient(l.view(in[0])); }});
    }
  // Special values (NaN, infinities, signed zeros, overflow) through every float op, and integer division by
  // zero, whose results the CPU defines.
  for (DType dt : {DType::F32, DType::F64}) {
    for (const UnaryOp& u : unary)
      cases.push_back({std::string(ops::prim_name(u.prim)) + " special " + dtype_name(dt), u.prim,
                       [dt](Rng&) { return Inputs{special_values(dt)}; },
                       [u](const Inputs& in) { return u.fn(in[0], std::source_location::current()); }});
    for (const BinaryOp& b : binary)
      cases.push_back({std::string(ops::prim_name(b.prim)) + " special " + dtype_name(dt), b.prim,
                       [dt](Rng&) {
                         Tensor s = special_values(dt);
                         return Inputs{s, ops::transpose(ops::broadcast_to(s, {14, 14}))};
                       },
                       [b](const Inputs& in) {
                         return b.fn(ops::broadcast_to(in[0], {14, 14}), in[1], std::source_location::current());
                       }});
    for (DType to : kAllDtypes)
      cases.push_back({"convert special to " + std::string(dtype_name(to)), Prim::convert,
                       [dt](Rng&) { return Inputs{special_values(dt)}; },
                       [to](const Inputs& in) { return ops::convert(in[0], to); }});
  }
  for (DType dt : {DType::I32, DType::U32})
    cases.push_back({std::string("div by zero ") + dtype_name(dt), Prim::div,
                     [dt](Rng& r) {
                       return Inputs{random_tensor(r, {64}, dt, -5, 5),
                                     ops::convert(Tensor::from_vector(std::vector<double>(64, 0.0)), dt)};
                     },
                     [](const Inputs& in) { return ops::div(in[0], in[1]); }});
}

void add_reduce_cases(std::vector<Case>& cases) {
  const std::vector<std::vector<int64_t>> axes_list = {{}, {0}, {1}, {2}, {0, 2}, {0, 1, 2}};
  for (DType dt : kAllDtypes)
    for (const auto& axes : axes_list)
      for (bool transposed : {false, true}) {
        std::string suffix = std::string(" ") + dtype_name(dt) + " axes " + std::to_string(axes.size()) +
                             (axes.empty() ? "" : "@" + std::to_string(axes[0])) + (transposed ? " view" : "");
        auto view = [transposed](const Tensor& x) { return transposed ? ops::transpose(x, {2, 0, 1}) : x; };
        auto make = [dt](Rng& r) { return Inputs{random_tensor(r, {13, 300, 7}, dt)}; };
        cases.push_back({"reduce_sum" + suffix, Prim::reduce_sum, make,
                         [view, axes](const Inputs& in) { return ops::sum(view(in[0]), axes); }, 20});
        cases.push_back({"reduce_max" + suffix, Prim::reduce_max, make,
                         [view, axes](const Inputs& in) { return ops::max(view(in[0]), axes); }});
        if (axes.size() == 1)
          cases.push_back({"argmax" + suffix, Prim::argmax, make,
                           [view, axes](const Inputs& in) { return ops::argmax(view(in[0]), axes[0]); }});
      }
  // A long f32 sum (one row of 4M elements and 4M rows of one), ties and NaN for max and argmax, empty axes.
  cases.push_back({"reduce_sum long row", Prim::reduce_sum,
                   [](Rng& r) { return Inputs{random_tensor(r, {1 << 22}, DType::F32, 0, 1)}; },
                   [](const Inputs& in) { return ops::sum(in[0]); }, 50});
  cases.push_back({"reduce_sum many rows", Prim::reduce_sum,
                   [](Rng& r) { return Inputs{random_tensor(r, {1 << 20, 3}, DType::F32)}; },
                   [](const Inputs& in) { return ops::sum(in[0], {1}); }});
  for (Prim p : {Prim::reduce_max, Prim::argmax})
    cases.push_back({std::string(ops::prim_name(p)) + " ties and NaN", p,
                     [](Rng&) {
                       return Inputs{Tensor::from_vector<float>(
                           {1, 3, 3, 2, NAN, 0, 5, 5, 5, -INFINITY, -INFINITY, -INFINITY}, Shape{4, 3})};
                     },
                     [p](const Inputs& in) { return p == Prim::argmax ? ops::argmax(in[0], 1) : ops::max(in[0], {1}); }});
  cases.push_back({"reduce_sum empty", Prim::reduce_sum,
                   [](Rng& r) { return Inputs{random_tensor(r, {0, 4}, DType::F32)}; },
                   [](const Inputs& in) { return ops::sum(in[0], {0}); }});
}

void add_matmul_cases(std::vector<Case>& cases) {
  struct Mm {
    Shape a, b;
    bool ta, tb;
  };
  const Mm shapes[] = {{{33, 65}, {65, 17}, false, false}, {{65, 33}, {65, 17}, true, false},
                       {{33, 65}, {17, 65}, false, true},  {{65, 33}, {17, 65}, true, true},
                       {{3, 33, 65}, {65, 17}, false, false}, {{3, 33, 65}, {3, 65, 17}, false, false},
                       {{2, 3, 8, 5}, {2, 3, 5, 4}, false, false}, {{1, 64}, {64, 1}, false, false},
                       {{5, 0}, {0, 7}, false, false},      {{512, 512}, {512, 512}, false, false}};
  for (DType dt : kAllDtypes)
    for (const Mm& m : shapes)
      for (bool view : {false, true}) {
        const std::string name = "matmul " + std::string(dtype_name(dt)) + " " + engine::shape_str(m.a) + " @ " +
                                 engine::shape_str(m.b) + (m.ta ? " ta" : "") + (m.tb ? " tb" : "") +
                                 (view ? " via views" : "");
        // "via views": the operands arrive as transposed views of their transposes (strided layouts).
        auto swap_last = [](const Tensor& x) {
          std::vector<int64_t> perm(size_t(x.ndim()));
          for (size_t i = 0; i < perm.size(); ++i) perm[i] = int64_t(i);
          std::swap(perm[perm.size() - 1], perm[perm.size() - 2]);
          return ops::transpose(x, perm);
        };
        cases.push_back({name, Prim::matmul,
                         [m, dt, view, swap_last](Rng& r) {
                           Inputs in{random_tensor(r, m.a, dt, -1, 1), random_tensor(r, m.b, dt, -1, 1)};
                           if (view) in = {swap_last(in[0]).contiguous(), swap_last(in[1]).contiguous()};
                           return in;
                         },
                         [m, view, swap_last](const Inputs& in) {
                           if (!view) return ops::matmul(in[0], in[1], m.ta, m.tb);
                           return ops::matmul(swap_last(in[0]), swap_last(in[1]), m.ta, m.tb);
                         },
                         200});
      }
}

void add_movement_cases(std::vector<Case>& cases) {
  for (DType dt : kAllDtypes) {
    const std::string s = std::string(" ") + dtype_name(dt);
    auto make = [dt](Shape shape) { return [dt, shape](Rng& r) { return Inputs{random_tensor(r, shape, dt)}; }; };
    cases.push_back({"reshape" + s, Prim::reshape, make({6, 35}),
                     [](const Inputs& in) { return ops::reshape(in[0], {5, 7, 6}); }});
    cases.push_back({"reshape of a view" + s, Prim::reshape, make({6, 35}),
                     [](const Inputs& in) { return ops::reshape(ops::transpose(in[0]), {5, 42}); }});
    cases.push_back({"broadcast_in_dim" + s, Prim::broadcast_in_dim, make({7, 1}),
                     [](const Inputs& in) { return ops::broadcast_in_dim(in[0], {3, 7, 9}, {1, 2}); }});
    cases.push_back({"transpose" + s, Prim::transpose, make({4, 5, 6}),
                     [](const Inputs& in) { return ops::transpose(in[0], {2, 0, 1}); }});
    cases.push_back({"slice" + s, Prim::slice, make({20, 30}),
                     [](const Inputs& in) { return ops::slice(in[0], {2, 1}, {19, 29}, {3, 2}); }});
    cases.push_back({"pad" + s, Prim::pad, make({5, 6}),
                     [](const Inputs& in) { return ops::pad(in[0], {1, -2}, {3, 0}, 2.0); }});
    cases.push_back({"concatenate" + s, Prim::concatenate,
                     [dt](Rng& r) {
                       return Inputs{random_tensor(r, {4, 3}, dt), random_tensor(r, {4, 5}, dt),
                                     random_tensor(r, {4, 1}, dt)};
                     },
                     [](const Inputs& in) { return ops::concatenate({in[0], ops::transpose(ops::transpose(in[1])), in[2]}, 1); }});
    cases.push_back({"gather" + s, Prim::gather,
                     [dt](Rng& r) {
                       return Inputs{random_tensor(r, {10, 6}, dt),
                                     Tensor::from_vector<int32_t>({0, 9, 3, 3, 7, 1, 9, 0}, Shape{2, 4})};
                     },
                     [](const Inputs& in) { return ops::take(in[0], in[1], 0); }});
    cases.push_back({"scatter_add" + s, Prim::scatter_add,
                     [dt](Rng& r) {
                       return Inputs{Tensor::from_vector<int32_t>({0, 4, 4, 2, 0, 4}, Shape{6}),
                                     random_tensor(r, {3, 6}, dt)};
                     },
                     [](const Inputs& in) { return ops::scatter_add(in[0], in[1], 1, 5); }});
  }
  // Interior padding only arises in transforms (the vjp of a strided slice pads its cotangent).
  cases.push_back({"pad interior (grad of a strided slice)", Prim::pad,
                   [](Rng& r) { return Inputs{random_tensor(r, {9, 8}, DType::F32)}; },
                   [](const Inputs& in) {
                     auto f = [](const Tensor& x) { return ops::sum(ops::square(ops::slice(x, {1, 0}, {9, 8}, {3, 2}))); };
                     return engine::grad(f)(in[0]);
                   }});
}

void add_random_cases(std::vector<Case>& cases) {
  cases.push_back({"random_bits", Prim::random_bits, [](Rng&) { return Inputs{ops::random_key(1234)}; },
                   [](const Inputs& in) { return ops::random_bits(in[0], {1000, 3}); }});
  cases.push_back({"random_bits batched keys", Prim::random_bits,
                   [](Rng&) { return Inputs{ops::random_split(ops::random_key(7), 5)}; },
                   [](const Inputs& in) { return engine::vmap([](const Tensor& k) { return ops::random_bits(k, {17}); })(in[0]); }});
  cases.push_back({"random_fold_in", Prim::random_fold_in, [](Rng&) { return Inputs{ops::random_key(99)}; },
                   [](const Inputs& in) { return ops::random_split(ops::random_fold_in(in[0], 42), 9); }});
  cases.push_back({"random_normal", Prim::random_bits, [](Rng&) { return Inputs{ops::random_key(5)}; },
                   [](const Inputs& in) { return ops::random_normal(in[0], {4096}); }, 4});
  for (DType dt : kAllDtypes)
    cases.push_back({std::string("iota ") + dtype_name(dt), Prim::iota, [](Rng&) { return Inputs{}; },
                     [dt](const Inputs&) { return ops::iota({7, 300}, 1, dt); }});
}

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  add_elementwise_cases(cases);
  add_reduce_cases(cases);
  add_matmul_cases(cases);
  add_movement_cases(cases);
  add_random_cases(cases);
  return cases;
}

TEST(CudaParity, EveryPrimitiveMatchesTheCpu) {
  REQUIRE_GPU();
  Rng rng(20261125);
  std::map<Prim, int> ran;
  int total = 0;
  for (const Case& c : all_cases()) {
    // iota has no operands: it lands on the default device.
    std::optional<engine::DeviceScope> scope;
    if (c.prim == Prim::iota) {
      const Tensor ref = c.op({});
      scope.emplace(Device::CUDA);
      EXPECT_TRUE(close(c.op({}), ref, {})) << c.name;
      ++ran[c.prim], ++total;
      continue;
    }
    if (run_case(c, rng)) ++ran[c.prim], ++total;
  }
  std::string missing;
  for (int i = 0; i < ops::kNumPrims; ++i) {
    const Prim p = static_cast<Prim>(i);
    if (p != Prim::call && !ran.count(p)) missing += std::string(" ") + ops::prim_name(p);
  }
  EXPECT_TRUE(missing.empty()) << "primitives no parity case ran:" << missing;
  std::cout << "[parity] " << total << " cases ran over " << ran.size() << " primitives\n";
}

TEST(CudaParity, RandomBitsAreBitwiseTheCpus) {
  REQUIRE_GPU();
  const Tensor key = ops::random_key(20261125);
  const Tensor cpu = ops::random_bits(key, {333, 77});
  const Tensor cuda = ops::random_bits(engine::to_device(key, Device::CUDA), {333, 77});
  EXPECT_EQ(testing_support::raw_bytes(engine::to_device(cuda, Device::CPU)), testing_support::raw_bytes(cpu));
}

// ---- transforms and jit on device tensors ----

template <class T>
T tree_on(const T& tree, Device d) {
  return engine::tree_map(tree, [d](const Tensor& x) { return engine::to_device(x, d); });
}

struct MlpCase {
  canonical::MlpParams params = canonical::init_mlp(12, 64, 3, 5, 7);
  Tensor x = canonical::init_mlp(64, 12, 1, 1, 8).w[0];  // [64, 12]: any values
  Tensor y = ops::zeros({64, 5});
};

template <class T>
void expect_tree_close(const T& cuda, const T& cpu, double rtol, const std::string& what) {
  const auto a = engine::tree_leaves(cuda), b = engine::tree_leaves(cpu);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_TRUE(close(a[i], b[i], {rtol, rtol})) << what << " leaf " << i;
}

TEST(CudaTransforms, GradVmapJitAndCheckpointMatchTheCpu) {
  REQUIRE_GPU();
  MlpCase m;
  const auto p_d = tree_on(m.params, Device::CUDA);
  const Tensor x_d = engine::to_device(m.x, Device::CUDA), y_d = engine::to_device(m.y, Device::CUDA);
  auto g = engine::grad(canonical::mlp_loss);
  expect_tree_close(g(p_d, x_d, y_d), g(m.params, m.x, m.y), 1e-4, "grad");
  auto jg = engine::jit(g);
  expect_tree_close(jg(p_d, x_d, y_d), jg(m.params, m.x, m.y), 1e-4, "jit(grad)");
  auto cg = engine::grad(engine::checkpoint(canonical::mlp_loss));
  expect_tree_close(cg(p_d, x_d, y_d), cg(m.params, m.x, m.y), 1e-4, "grad(checkpoint)");
  // Per-example gradients: x and y mapped over their rows.
  auto per_example = engine::vmap(
      [](const canonical::MlpParams& p, const Tensor& xi, const Tensor& yi) {
        return engine::grad(canonical::mlp_loss)(p, ops::expand_dims(xi, 0), ops::expand_dims(yi, 0));
      },
      {std::nullopt, 0, 0});
  expect_tree_close(per_example(p_d, x_d, y_d), per_example(m.params, m.x, m.y), 1e-4, "vmap(grad)");
}

TEST(CudaTransforms, JittedTrainStepsMatchTheCpu) {
  REQUIRE_GPU();
  MlpCase m;
  auto step = engine::jit([](const canonical::MlpParams& p, const canonical::AdamState& s, const Tensor& x,
                             const Tensor& y) { return canonical::train_step(p, s, x, y); });
  auto cpu = std::make_tuple(m.params, canonical::init_adam(m.params), Tensor());
  auto cuda = std::make_tuple(tree_on(m.params, Device::CUDA), tree_on(canonical::init_adam(m.params), Device::CUDA),
                              Tensor());
  const Tensor x_d = engine::to_device(m.x, Device::CUDA), y_d = engine::to_device(m.y, Device::CUDA);
  for (int i = 0; i < 3; ++i) {
    cpu = step(std::get<0>(cpu), std::get<1>(cpu), m.x, m.y);
    cuda = step(std::get<0>(cuda), std::get<1>(cuda), x_d, y_d);
    EXPECT_TRUE(close(std::get<2>(cuda), std::get<2>(cpu), {1e-4, 1e-6})) << "loss of step " << i;
  }
  expect_tree_close(std::get<0>(cuda), std::get<0>(cpu), 1e-4, "parameters after 3 steps");
}

TEST(CudaTransforms, DefaultDeviceScopeMovesHostOperands) {
  REQUIRE_GPU();
  const Tensor host = ops::full({4, 3}, 2.0);
  engine::DeviceScope scope(Device::CUDA);
  const Tensor y = ops::ones({4, 3}) + host;  // creation and the host operand follow the default device
  EXPECT_EQ(y.device(), Device::CUDA);
  EXPECT_EQ(y.to_vector<float>(), std::vector<float>(12, 3.0f));
}

TEST(CudaTransforms, MixingLargeHostAndDeviceOperandsIsAClearError) {
  REQUIRE_GPU();
  const Tensor d = engine::to_device(ops::ones({4, 3}), Device::CUDA);
  testing_support::expect_error_mentioning([&] { (void)(d + ops::ones({4, 3})); },
                                           {"[add]", "different devices", "cpu", "cuda", "to_device"});
  // Scalars follow the device operand.
  EXPECT_EQ((d * 2.0f).device(), Device::CUDA);
}

// ---- errors without a GPU (these run in CI) ----

TEST(CudaDevice, UnavailableDeviceIsAClearError) {
  if (gpu()) GTEST_SKIP() << "a GPU is present";
  const Tensor x = ops::ones({3});
  testing_support::expect_error_mentioning([&] { (void)engine::to_device(x, Device::CUDA); }, {"[to_device]", "cuda"});
  testing_support::expect_error_mentioning([&] { engine::set_default_device(Device::CUDA); },
                                           {"[set_default_device]", "cuda"});
  EXPECT_EQ(engine::default_device(), Device::CPU);
  EXPECT_EQ(x.device(), Device::CPU);
}

TEST(CudaDevice, ParseDeviceNamesBothAndRejectsOthers) {
  EXPECT_EQ(engine::parse_device("cpu"), Device::CPU);
  EXPECT_EQ(engine::parse_device("cuda"), Device::CUDA);
  testing_support::expect_error_mentioning([] { (void)engine::parse_device("tpu"); }, {"tpu", "cpu or cuda"});
}

TEST(CudaDevice, EveryPrimitiveHasACudaKernelInACudaBuild) {
#ifndef QGF_HAVE_CUDA
  GTEST_SKIP() << "this build has no CUDA backend";
#else
  for (int i = 0; i < ops::kNumPrims; ++i) {
    const ops::PrimDef& d = ops::def(static_cast<Prim>(i));
    EXPECT_TRUE(d.has(ops::Rule::CudaKernel)) << d.name << ": " << d.why_absent(ops::Rule::CudaKernel);
  }
#endif
}

}  // namespace
