// jit's lowering, checked from outside: the program's structure (fusion into one kernel, matmul epilogues,
// far fewer steps than equations), bitwise equality with eager execution on the canonical workloads, random
// stacks of transforms with and without jit, independence from the thread count, and golden IR/program text
// (tests/golden/*.txt; QGF_UPDATE_GOLDEN=1 rewrites them).
//
// Why bitwise: a fused kernel runs every primitive through the eager kernel's own per-element loop
// (backend/cpu/fused.h), a planned matmul gets the same oneDNN primitive as the eager kernel when the operand
// layouts are the same (lowering binds views with the strides the eager views have), and the compiled
// reductions use the eager reductions' fixed chunks. The passes only drop identities (x*1, x+0, -(-x), identity
// views), merge identical equations (CSE) and remove dead ones: none reorders floating-point arithmetic. So jit
// reproduces eager results bit for bit, and a difference is a bug, not round-off. The one benign exception
// these tests would flag: simplify's x + 0 -> x keeps a -0.0 that eager turns into +0.0 (equal values,
// different bytes); no workload here meets it.
#include <gtest/gtest.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "engine/backend/cpu/loops.h"
#include "engine/compile/jit.h"
#include "engine/compile/passes.h"
#include "engine/compile/program.h"
#include "ops/api.h"
#include "tests/support/canonical.h"
#include "tests/support/testing.h"

#ifndef QGF_SOURCE_DIR
#error "tests/CMakeLists.txt must define QGF_SOURCE_DIR for test_jit_lowering"
#endif

namespace {

namespace fs = std::filesystem;
using namespace testing_support;
using canonical::AdamState;
using canonical::MlpParams;
using engine::backend::cpu::FusedProgram;
using engine::Step;
using engine::Tensor;
using ops::Prim;

// ---- comparisons ----

// "" when two f32 tensors have the same aval and the same bytes; else how they differ.
std::string bit_diff(const Tensor& actual, const Tensor& expected) {
  if (!(actual.aval() == expected.aval())) return "avals differ: " + actual.aval().str() + " vs " + expected.aval().str();
  const std::vector<float> a = actual.to_vector<float>(), e = expected.to_vector<float>();
  if (std::memcmp(a.data(), e.data(), a.size() * sizeof(float)) == 0) return "";
  size_t count = 0, first = 0;
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::memcmp(&a[i], &e[i], sizeof(float)) == 0) continue;
    if (count++ == 0) first = i;
    worst = std::max(worst, std::abs(double(a[i]) - double(e[i])) / std::max(std::abs(double(e[i])), 1e-30));
  }
  std::ostringstream os;
  os.precision(9);
  os << count << " of " << a.size() << " elements differ; first at " << first << ": " << a[first] << " vs "
     << e[first] << "; max relative difference " << worst;
  return os.str();
}

// bit_diff over every leaf of two trees of the same structure ("" when all are equal).
template <class T>
std::string tree_bit_diff(const T& actual, const T& expected) {
  const std::vector<Tensor> a = engine::tree_leaves(actual), e = engine::tree_leaves(expected);
  if (a.size() != e.size()) return "leaf counts differ";
  std::string out;
  for (size_t k = 0; k < a.size(); ++k)
    if (std::string d = bit_diff(a[k], e[k]); !d.empty()) out += "\n  leaf " + std::to_string(k) + ": " + d;
  return out;
}

// Bitwise comparisons are only meaningful on finite values (NaN payloads, and NaN != NaN).
template <class T>
bool tree_finite(const T& t) {
  for (const Tensor& x : engine::tree_leaves(t))
    for (float v : x.to_vector<float>())
      if (!std::isfinite(v)) return false;
  return true;
}

// ---- program structure ----

int count_kind(const engine::Program& p, Step::Kind k) {
  return static_cast<int>(std::count_if(p.steps.begin(), p.steps.end(), [&](const Step& s) { return s.kind == k; }));
}

bool has_instr(const FusedProgram& fp, Prim prim) {
  return std::any_of(fp.instrs.begin(), fp.instrs.end(), [&](const FusedProgram::Instr& i) { return i.prim == prim; });
}

// ---- 1. structure ----

TEST(JitLowering, GeluIsOneFusedKernel) {
  Rng rng(1);
  const Tensor x = rand_tensor(rng, {64, 128}, DType::F32, -3, 3);
  auto f = engine::jit([](const Tensor& a) { return ops::gelu(a, true); });
  const auto exe = f.executable(x);
  const engine::Program& prog = exe->program();
  ASSERT_EQ(prog.steps.size(), 1u) << exe->program_str();
  const Step& st = prog.steps[0];
  ASSERT_EQ(st.kind, Step::Kind::Fused) << exe->program_str();
  ASSERT_TRUE(st.fused);
  EXPECT_TRUE(has_instr(*st.fused, Prim::tanh)) << exe->program_str();
  EXPECT_EQ(st.fused->numel, 64 * 128);
  EXPECT_EQ(bit_diff(f(x), ops::gelu(x, true)), "");
}

TEST(JitLowering, AdamLeafIsOneFusedKernelWithAllThreeOutputs) {
  Rng rng(2);
  const engine::Shape shape{64, 128};
  const Tensor p = rand_tensor(rng, shape, DType::F32), g = rand_tensor(rng, shape, DType::F32),
               m = rand_tensor(rng, shape, DType::F32, -0.1, 0.1), v = rand_tensor(rng, shape, DType::F32, 0, 0.1);
  const Tensor t = ops::scalar(3.0, DType::F32);
  auto f = engine::jit([](const Tensor& a, const Tensor& b, const Tensor& c, const Tensor& d, const Tensor& e) {
    return canonical::adam_leaf(a, b, c, d, e, canonical::kDefaultLr);
  });
  const auto exe = f.executable(p, g, m, v, t);
  const engine::Program& prog = exe->program();
  ASSERT_EQ(prog.steps.size(), 1u) << exe->program_str();
  const Step& st = prog.steps[0];
  ASSERT_EQ(st.kind, Step::Kind::Fused) << exe->program_str();
  EXPECT_EQ(st.fused->numel, 64 * 128);
  // The kernel writes the three results itself: each graph output is one of the step's outputs, and each is
  // returned from its own output buffer (no copy after the kernel).
  ASSERT_EQ(exe->graph.outputs.size(), 3u);
  for (int o : exe->graph.outputs)
    EXPECT_NE(std::find(st.out_vars.begin(), st.out_vars.end(), o), st.out_vars.end()) << exe->program_str();
  ASSERT_EQ(prog.outputs.size(), 3u);
  for (const engine::OutputRule& r : prog.outputs) EXPECT_EQ(r.kind, engine::OutputRule::Kind::Buffer);
  EXPECT_EQ(tree_bit_diff(f(p, g, m, v, t), canonical::adam_leaf(p, g, m, v, t, canonical::kDefaultLr)), "");
}

TEST(JitLowering, DenseLayerIsOneMatmulWithEpilogue) {
  Rng rng(3);
  const Tensor x = rand_tensor(rng, {64, 128}, DType::F32), w = rand_tensor(rng, {128, 96}, DType::F32, -0.2, 0.2),
               b = rand_tensor(rng, {96}, DType::F32);
  auto f = engine::jit([](const Tensor& xx, const Tensor& ww, const Tensor& bb) {
    return ops::gelu(ops::matmul(xx, ww) + bb, true);  // bb broadcasts over the rows
  });
  const auto exe = f.executable(x, w, b);
  const engine::Program& prog = exe->program();
  ASSERT_EQ(prog.steps.size(), 1u) << exe->program_str();
  const Step& st = prog.steps[0];
  ASSERT_EQ(st.kind, Step::Kind::Matmul) << exe->program_str();
  ASSERT_TRUE(st.fused) << "the bias add and GELU should be the matmul's epilogue:\n" << exe->program_str();
  EXPECT_TRUE(has_instr(*st.fused, Prim::add) && has_instr(*st.fused, Prim::tanh)) << exe->program_str();
  EXPECT_EQ(bit_diff(f(x, w, b), ops::gelu(ops::matmul(x, w) + b, true)), "");
}

TEST(JitLowering, LayerNormBlockPutsTheBiasAddInTheMatmulEpilogue) {
  Rng rng(4);
  const Tensor x = rand_tensor(rng, {64, 128}, DType::F32), w = rand_tensor(rng, {128, 96}, DType::F32, -0.2, 0.2),
               b = rand_tensor(rng, {96}, DType::F32), gamma = rand_tensor(rng, {96}, DType::F32, 0.5, 1.5),
               beta = rand_tensor(rng, {96}, DType::F32);
  auto layer = [](const Tensor& xx, const Tensor& ww, const Tensor& bb, const Tensor& gg, const Tensor& be) {
    return ops::gelu(ops::layer_norm(ops::matmul(xx, ww) + bb, gg, be), true);
  };
  auto f = engine::jit(layer);
  const auto exe = f.executable(x, w, b, gamma, beta);
  const engine::Program& prog = exe->program();
  const std::string text = exe->program_str();
  ASSERT_EQ(count_kind(prog, Step::Kind::Matmul), 1) << text;
  EXPECT_EQ(count_kind(prog, Step::Kind::Generic), 0) << text;
  const Step& mm = *std::find_if(prog.steps.begin(), prog.steps.end(),
                                 [](const Step& s) { return s.kind == Step::Kind::Matmul; });
  ASSERT_TRUE(mm.fused) << "the bias add should be the matmul's epilogue:\n" << text;
  EXPECT_TRUE(has_instr(*mm.fused, Prim::add)) << text;
  // LayerNorm's two row reductions split the rest; GELU and the normalization end in one fused kernel.
  EXPECT_EQ(count_kind(prog, Step::Kind::Reduce), 2) << text;
  EXPECT_EQ(prog.steps.back().kind, Step::Kind::Fused) << text;
  EXPECT_TRUE(has_instr(*prog.steps.back().fused, Prim::tanh)) << text;
  EXPECT_EQ(bit_diff(f(x, w, b, gamma, beta), layer(x, w, b, gamma, beta)), "");
}

auto jit_train_step() {
  return engine::jit([](const MlpParams& p, const AdamState& s, const Tensor& x, const Tensor& y) {
    return canonical::train_step(p, s, x, y, canonical::kDefaultLr);
  });
}

TEST(JitLowering, TrainStepHasFarFewerStepsThanEquationsAndNoGenericStep) {
  Rng rng(5);
  const MlpParams p = canonical::init_mlp(16, 64, 4, 4, 11);
  const AdamState s = canonical::init_adam(p);
  const Tensor x = rand_tensor(rng, {32, 16}, DType::F32), y = rand_tensor(rng, {32, 4}, DType::F32);
  auto step = jit_train_step();
  const auto exe = step.executable(p, s, x, y);
  const engine::Program& prog = exe->program();
  const size_t steps = prog.steps.size(), eqns = exe->graph.eqns.size();
  EXPECT_LT(steps * 2, eqns) << steps << " steps for " << eqns << " equations:\n" << exe->program_str();
  EXPECT_EQ(count_kind(prog, Step::Kind::Generic), 0) << exe->program_str();
  // One step per matmul of the math and no more: 5 forward (4 layers and the head); backward, the head's and
  // the upper 3 layers' weight and input gradients, and the first layer's weight gradient only (x is data).
  EXPECT_EQ(count_kind(prog, Step::Kind::Matmul), 5 + 2 * 4 + 1) << exe->program_str();
  std::cout << "[train_step] " << steps << " steps for " << eqns << " equations ("
            << count_kind(prog, Step::Kind::Fused) << " fused, " << count_kind(prog, Step::Kind::Matmul)
            << " matmul, " << count_kind(prog, Step::Kind::Reduce) << " reduce)\n";
}

// ---- 2. bitwise equality with eager execution ----

struct Workload {
  MlpParams p;
  AdamState s;
  Tensor x, y;
};

Workload make_workload(int in, int hidden, int depth, int out, int batch, uint64_t seed) {
  Rng rng(seed);
  Workload w{canonical::init_mlp(in, hidden, depth, out, seed), {}, rand_tensor(rng, {batch, in}, DType::F32),
             rand_tensor(rng, {batch, out}, DType::F32)};
  w.s = canonical::init_adam(w.p);
  return w;
}

TEST(JitLowering, MlpForwardIsBitwiseEager) {
  const Workload w = make_workload(16, 64, 3, 4, 32, 21);
  auto f = engine::jit([](const MlpParams& p, const Tensor& x) { return canonical::mlp_forward(p, x); });
  const Tensor eager = canonical::mlp_forward(w.p, w.x);
  ASSERT_TRUE(tree_finite(eager));
  EXPECT_EQ(bit_diff(f(w.p, w.x), eager), "") << f.program(w.p, w.x);
}

TEST(JitLowering, MlpLossGradientIsBitwiseEager) {
  const Workload w = make_workload(16, 64, 3, 4, 32, 22);
  auto f = engine::jit(
      [](const MlpParams& p, const Tensor& x, const Tensor& y) { return engine::grad(canonical::mlp_loss)(p, x, y); });
  const MlpParams eager = engine::grad(canonical::mlp_loss)(w.p, w.x, w.y);
  ASSERT_TRUE(tree_finite(eager));
  EXPECT_EQ(tree_bit_diff(f(w.p, w.x, w.y), eager), "") << f.program(w.p, w.x, w.y);
}

TEST(JitLowering, AdamUpdateIsBitwiseEager) {
  const Workload w = make_workload(16, 64, 3, 4, 32, 23);
  const MlpParams g = engine::grad(canonical::mlp_loss)(w.p, w.x, w.y);
  // Non-zero moments and step count, so every term of the update matters.
  const AdamState s = canonical::adam_update(w.p, g, w.s, canonical::kDefaultLr).second;
  auto f = engine::jit([](const MlpParams& p, const MlpParams& gg, const AdamState& ss) {
    return canonical::adam_update(p, gg, ss, canonical::kDefaultLr);
  });
  const auto eager = canonical::adam_update(w.p, g, s, canonical::kDefaultLr);
  const auto jitted = f(w.p, g, s);
  ASSERT_TRUE(tree_finite(eager.first) && tree_finite(eager.second));
  EXPECT_EQ(tree_bit_diff(jitted.first, eager.first), "") << f.program(w.p, g, s);
  EXPECT_EQ(tree_bit_diff(jitted.second, eager.second), "") << f.program(w.p, g, s);
}

TEST(JitLowering, GuidedStepIsBitwiseEager) {
  constexpr int kObs = 5, kAct = 3, kBatch = 16;
  const MlpParams flow = canonical::init_mlp(kObs + kAct + 1, 32, 2, kAct, 31);
  const MlpParams critic = canonical::init_mlp(kObs + kAct, 32, 2, 1, 32);
  Rng rng(33);
  const Tensor obs = rand_tensor(rng, {kBatch, kObs}, DType::F32), act = rand_tensor(rng, {kBatch, kAct}, DType::F32);
  const Tensor t = ops::scalar(0.25, DType::F32);
  // dt and the guidance scale are static arguments: part of the cache key, constants of the graph.
  auto f = engine::jit([](const MlpParams& fl, const MlpParams& cr, const Tensor& o, const Tensor& a, const Tensor& tt,
                          double dt, double scale) { return canonical::guided_step(fl, cr, o, a, tt, dt, scale); });
  const Tensor eager = canonical::guided_step(flow, critic, obs, act, t, 0.1, 2.0);
  ASSERT_TRUE(tree_finite(eager));
  EXPECT_EQ(bit_diff(f(flow, critic, obs, act, t, 0.1, 2.0), eager), "") << f.program(flow, critic, obs, act, t, 0.1, 2.0);
}

TEST(JitLowering, ThreeTrainStepsAreBitwiseEager) {
  Workload w = make_workload(16, 64, 4, 4, 32, 24);
  auto step = jit_train_step();
  MlpParams pe = w.p, pj = w.p;
  AdamState se = w.s, sj = w.s;
  for (int i = 0; i < 3; ++i) {
    auto [np, ns, loss] = canonical::train_step(pe, se, w.x, w.y, canonical::kDefaultLr);
    auto [npj, nsj, lossj] = step(pj, sj, w.x, w.y);
    ASSERT_TRUE(tree_finite(np) && tree_finite(ns) && tree_finite(loss));
    EXPECT_EQ(bit_diff(lossj, loss), "") << "iteration " << i;
    EXPECT_EQ(tree_bit_diff(npj, np), "") << "iteration " << i;
    EXPECT_EQ(tree_bit_diff(nsj, ns), "") << "iteration " << i;
    pe = np, se = ns, pj = npj, sj = nsj;  // each path continues from its own results
  }
  EXPECT_EQ(step.stats().misses, 1u);
}

// ---- 3. random stacks of transforms, with and without jit ----

using Fn = std::function<Tensor(const Tensor&, const Tensor&)>;
enum class Tr { Jit, Grad, Vmap, Jvp };
const char* tr_name(Tr t) {
  switch (t) {
    case Tr::Jit: return "jit";
    case Tr::Grad: return "grad";
    case Tr::Vmap: return "vmap";
    case Tr::Jvp: return "jvp";
  }
  return "?";
}

// A random function (a, b) -> f32 shaped like a ([4, 3]): 2 to 5 ops on a running value h = a.
struct RandomFn {
  std::vector<int> ops;
  std::string str() const {
    static const char* names[] = {"tanh", "exp(0.5h)", "h*b", "h+b", "sin", "h+0.25*rowsum(h)", "h@(b^T b)/4"};
    std::string s;
    for (int o : ops) s += std::string(s.empty() ? "" : " -> ") + names[o];
    return s;
  }
  Tensor operator()(const Tensor& a, const Tensor& b) const {
    Tensor h = a;
    for (int o : ops) {
      switch (o) {
        case 0: h = ops::tanh(h); break;
        case 1: h = ops::exp(0.5 * h); break;
        case 2: h = h * b; break;
        case 3: h = h + b; break;
        case 4: h = ops::sin(h); break;
        case 5: h = h + 0.25 * ops::sum(h, {1}, true); break;
        case 6: h = ops::matmul(h, ops::matmul(b, b, true, false) * 0.25); break;
      }
    }
    return h;
  }
};

// Applies one transform to a function of (a, b) whose result is shaped like a; the result keeps that form.
// grad differentiates the sum with respect to a; jvp pushes the tangent b through a and returns y + J b; vmap
// maps both arguments over a new leading axis. Without use_jit, jit is the identity (the reference).
Fn apply(Tr t, Fn f, bool use_jit) {
  switch (t) {
    case Tr::Jit: {
      if (!use_jit) return f;
      auto j = engine::jit(f);
      return [j](const Tensor& a, const Tensor& b) { return j(a, b); };
    }
    case Tr::Grad:
      return [f](const Tensor& a, const Tensor& b) {
        return engine::grad([&](const Tensor& x) { return ops::sum(f(x, b)); })(a);
      };
    case Tr::Vmap:
      return [f](const Tensor& a, const Tensor& b) { return engine::vmap(f)(a, b); };
    case Tr::Jvp:
      return [f](const Tensor& a, const Tensor& b) {
        auto [y, y_dot] = engine::jvp([&](const Tensor& x) { return f(x, b); }, a, b);
        return y + y_dot;
      };
  }
  return f;
}

TEST(JitLowering, RandomTransformStacksMatchTheirUnjittedForm) {
  const std::vector<std::vector<Tr>> kNamed = {
      {Tr::Grad, Tr::Vmap, Tr::Jit}, {Tr::Jit, Tr::Grad}, {Tr::Jit, Tr::Vmap}, {Tr::Jit, Tr::Jvp}};
  int bitwise = 0, total = 0;
  std::string bit_report;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Rng rng(1000 + seed);
    RandomFn base;
    const int nops = 2 + int(rng() % 4);
    for (int i = 0; i < nops; ++i) base.ops.push_back(int(rng() % 7));
    // Innermost first. The first seeds take the stacks most used in practice, jit(vmap(grad(f))), grad(jit(f)),
    // vmap(jit(f)) and jvp(jit(f)); the others draw depth 1 (rarely: that is plain jit), 2 or 3 at random.
    std::vector<Tr> stack;
    if (seed < kNamed.size()) {
      stack = kNamed[seed];
    } else {
      const int depth = rng() % 6 == 0 ? 1 : 2 + int(rng() % 2);
      for (int i = 0; i < depth; ++i) stack.push_back(Tr(rng() % 4));
      if (std::find(stack.begin(), stack.end(), Tr::Jit) == stack.end()) stack[rng() % stack.size()] = Tr::Jit;
    }
    std::string desc;
    for (Tr t : stack) desc = std::string(tr_name(t)) + "(" + desc;
    desc += "f" + std::string(stack.size(), ')') + " with f = " + base.str();

    Fn jitted = base, plain = base;
    engine::Shape shape{4, 3};
    int64_t batch = 2;
    for (Tr t : stack) {
      jitted = apply(t, jitted, true);
      plain = apply(t, plain, false);
      if (t == Tr::Vmap) shape.insert(shape.begin(), batch++);
    }
    const Tensor a = rand_tensor(rng, shape, DType::F32), b = rand_tensor(rng, shape, DType::F32);
    const Tensor expected = plain(a, b);
    Tensor actual;
    try {
      actual = jitted(a, b);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "seed " << seed << ": " << desc << " threw: " << e.what();
      continue;
    }
    ASSERT_TRUE(tree_finite(expected)) << desc;
    // First within 1e-5 relative (a readable failure for a real error), then bitwise: under an outer transform
    // jit binds its graph as a `call` whose equations the transform processes just as it would the unjitted
    // function's, and a jit outermost runs the same kernels (see the top of this file).
    double scale = 0;
    for (float v : expected.to_vector<float>()) scale = std::max(scale, double(std::abs(v)));
    EXPECT_EQ(compare(actual, expected, 1e-6 * std::max(scale, 1.0), 1e-5), "") << "seed " << seed << ": " << desc;
    ++total;
    if (std::getenv("QGF_SHOW_STACKS")) std::cout << "  seed " << seed << ": " << desc << "\n";
    if (bit_diff(actual, expected).empty()) ++bitwise;
    else bit_report += "\n  seed " + std::to_string(seed) + ": " + desc + ": " + bit_diff(actual, expected);
  }
  std::cout << "[random stacks] " << bitwise << " of " << total << " bitwise equal" << bit_report << "\n";
  EXPECT_EQ(bitwise, total) << bit_report;
}

// ---- 4. independence from the thread count ----

// Restores OpenMP's thread count when the test ends, however it ends.
struct ThreadCountGuard {
  int saved = omp_get_max_threads();
  ~ThreadCountGuard() { omp_set_num_threads(saved); }
};

TEST(JitLowering, TrainStepIsBitwiseIndependentOfTheThreadCount) {
  ThreadCountGuard guard;
  struct Size {
    int hidden, batch;
  };
  // The small size runs mostly serially; at 256 x 256 the elementwise kernels split across threads (checked
  // below). This also holds oneDNN's matmuls to giving the same bits on one thread and on two for these shapes,
  // and an executable planned on one thread to running correctly on two.
  for (Size sz : {Size{64, 32}, Size{256, 256}}) {
    SCOPED_TRACE("hidden " + std::to_string(sz.hidden) + ", batch " + std::to_string(sz.batch));
    const Workload w = make_workload(32, sz.hidden, 4, 8, sz.batch, 41);
    auto run = [&](const auto& step) {
      auto [np, ns, loss] = step(w.p, w.s, w.x, w.y);
      std::vector<Tensor> leaves = engine::tree_leaves(np);
      for (const Tensor& t : engine::tree_leaves(ns)) leaves.push_back(t);
      leaves.push_back(loss);
      return leaves;
    };
    omp_set_num_threads(1);
    auto step = jit_train_step();  // compiled with one thread
    const std::vector<Tensor> one = run(step);
    omp_set_num_threads(2);
    const std::vector<Tensor> two = run(step);           // the same executable on two threads
    const std::vector<Tensor> fresh = run(jit_train_step());  // compiled with two threads
    const auto eager = canonical::train_step(w.p, w.s, w.x, w.y, canonical::kDefaultLr);
    std::vector<Tensor> eager_leaves = engine::tree_leaves(std::get<0>(eager));
    for (const Tensor& t : engine::tree_leaves(std::get<1>(eager))) eager_leaves.push_back(t);
    eager_leaves.push_back(std::get<2>(eager));
    ASSERT_TRUE(tree_finite(one));
    EXPECT_EQ(tree_bit_diff(two, one), "");
    EXPECT_EQ(tree_bit_diff(fresh, one), "");
    EXPECT_EQ(tree_bit_diff(eager_leaves, one), "");
    if (sz.hidden == 256) {  // the test is only meaningful if some fused kernel is over the serial cutoff
      const engine::Program& prog = step.executable(w.p, w.s, w.x, w.y)->program();
      EXPECT_TRUE(std::any_of(prog.steps.begin(), prog.steps.end(), [](const Step& s) {
        return s.fused && s.fused->numel * s.fused->cost >= engine::backend::cpu::kSerialCutoff;
      }));
    }
  }
}

// ---- 5. golden IR and program text ----

const fs::path kGoldenDir = fs::path(QGF_SOURCE_DIR) / "tests" / "golden";



std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// A line diff by longest common subsequence: hunks of "-" (golden only) and "+" (now only) lines with two
// lines of context, each headed by its line numbers; at most max_lines lines of output.
std::string line_diff(const std::string& expected, const std::string& actual, size_t max_lines = 60) {
  const std::vector<std::string> e = lines_of(expected), a = lines_of(actual);
  // Only the region between the common prefix and suffix goes through the quadratic table.
  size_t pre = 0, suf = 0;
  while (pre < e.size() && pre < a.size() && e[pre] == a[pre]) ++pre;
  while (suf < e.size() - pre && suf < a.size() - pre && e[e.size() - 1 - suf] == a[a.size() - 1 - suf]) ++suf;
  const size_t n = e.size() - pre - suf, m = a.size() - pre - suf;
  struct Op {
    char tag;
    size_t ei, ai;  // line indices in e and a (the one of the side the line belongs to)
  };
  std::vector<Op> ops;
  for (size_t k = 0; k < pre; ++k) ops.push_back({' ', k, k});
  if (n * m > 4'000'000) {  // too large for the table: the whole region removed, then added
    for (size_t i = 0; i < n; ++i) ops.push_back({'-', pre + i, pre});
    for (size_t j = 0; j < m; ++j) ops.push_back({'+', pre + n, pre + j});
  } else {
    std::vector<std::vector<int>> L(n + 1, std::vector<int>(m + 1, 0));  // LCS lengths of the suffixes
    for (size_t i = n; i-- > 0;)
      for (size_t j = m; j-- > 0;)
        L[i][j] = e[pre + i] == a[pre + j] ? L[i + 1][j + 1] + 1 : std::max(L[i + 1][j], L[i][j + 1]);
    size_t i = 0, j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && e[pre + i] == a[pre + j]) {
        ops.push_back({' ', pre + i++, pre + j++});
      } else if (i < n && (j == m || L[i + 1][j] >= L[i][j + 1])) {
        ops.push_back({'-', pre + i++, pre + j});
      } else {
        ops.push_back({'+', pre + i, pre + j++});
      }
    }
  }
  for (size_t k = 0; k < suf; ++k) ops.push_back({' ', pre + n + k, pre + m + k});
  constexpr size_t kContext = 2;
  std::vector<bool> show(ops.size(), false);
  for (size_t k = 0; k < ops.size(); ++k)
    if (ops[k].tag != ' ')
      for (size_t d = k >= kContext ? k - kContext : 0; d <= k + kContext && d < ops.size(); ++d) show[d] = true;
  std::string out;
  size_t lines = 0;
  for (size_t k = 0; k < ops.size(); ++k) {
    if (!show[k]) continue;
    if (lines++ == max_lines) {
      out += "... (diff truncated)\n";
      break;
    }
    if (k == 0 || !show[k - 1])
      out += "@@ golden line " + std::to_string(ops[k].ei + 1) + ", now line " + std::to_string(ops[k].ai + 1) + " @@\n";
    out += std::string(1, ops[k].tag) + " " + (ops[k].tag == '+' ? a[ops[k].ai] : e[ops[k].ei]) + "\n";
  }
  return out;
}

// The three texts of one function: its graph before and after the passes, and jit's program for it.
template <class F, class... Args>
std::string golden_text(const std::string& title, const F& f, const Args&... args) {
  const engine::Graph before = engine::make_jaxpr(f)(args...);
  const engine::Graph after = engine::passes::run_passes(before);
  auto jf = engine::jit(f);
  const auto exe = jf.executable(args...);
  // The program names the variables of jit's optimized graph: it must be the graph printed above it.
  EXPECT_EQ(exe->graph.str(false), after.str(false)) << title;
  return "# " + title + "\n# Regenerate with: QGF_UPDATE_GOLDEN=1 <build>/tests/test_jit_lowering\n" +
         "== graph before passes ==\n" + before.str(false) + "\n== graph after passes ==\n" + after.str(false) +
         "\n== program ==\n" + exe->program_str();
}

void check_golden(const std::string& name, const std::string& actual) {
  const fs::path path = kGoldenDir / (name + ".txt");
  if (testing_support::update_golden_requested()) {
    testing_support::write_file_atomically(path, actual);
    std::cout << "[golden] wrote " << path << "\n";
    return;
  }
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in) << path << " is missing. Generate it with:\n  QGF_UPDATE_GOLDEN=1 <build>/tests/test_jit_lowering";
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string expected = ss.str();
  EXPECT_TRUE(expected == actual) << path << " differs from what jit produces now:\n"
                                  << line_diff(expected, actual)
                                  << "If the change is intended, regenerate and review the diff:\n"
                                     "  QGF_UPDATE_GOLDEN=1 <build>/tests/test_jit_lowering && git diff tests/golden";
}

TEST(JitLoweringGolden, MlpForward) {
  const Workload w = make_workload(4, 32, 2, 2, 8, 51);
  check_golden("mlp_forward",
               golden_text("mlp_forward: MLP 4 -> 2 x 32 (LayerNorm, GELU) -> 2, batch 8",
                           [](const MlpParams& p, const Tensor& x) { return canonical::mlp_forward(p, x); }, w.p, w.x));
}

TEST(JitLoweringGolden, MlpLossGradient) {
  const Workload w = make_workload(4, 32, 2, 2, 8, 52);
  check_golden("mlp_loss_grad",
               golden_text("grad(mlp_loss): MLP 4 -> 2 x 32 -> 2, batch 8, MSE loss",
                           [](const MlpParams& p, const Tensor& x, const Tensor& y) {
                             return engine::grad(canonical::mlp_loss)(p, x, y);
                           },
                           w.p, w.x, w.y));
}

TEST(JitLoweringGolden, AdamLeaf) {
  const Tensor z = ops::zeros({4, 8}), t = ops::scalar(1.0);
  check_golden("adam_leaf", golden_text("adam_leaf: one f32[4,8] parameter, lr 1e-3",
                                        [](const Tensor& p, const Tensor& g, const Tensor& m, const Tensor& v,
                                           const Tensor& tt) {
                                          return canonical::adam_leaf(p, g, m, v, tt, canonical::kDefaultLr);
                                        },
                                        z, z, z, z, t));
}

TEST(JitLoweringGolden, GuidedStep) {
  const MlpParams flow = canonical::init_mlp(3 + 2 + 1, 8, 1, 2, 53), critic = canonical::init_mlp(3 + 2, 8, 1, 1, 54);
  const Tensor obs = ops::zeros({4, 3}), act = ops::zeros({4, 2}), t = ops::scalar(0.5);
  check_golden("guided_step",
               golden_text("guided_step: obs 3, action 2, flow and critic 1 x 8, batch 4, dt 0.1, guidance 2",
                           [](const MlpParams& fl, const MlpParams& cr, const Tensor& o, const Tensor& a,
                              const Tensor& tt) { return canonical::guided_step(fl, cr, o, a, tt, 0.1, 2.0); },
                           flow, critic, obs, act, t));
}

}  // namespace
