// jit's fused CUDA kernels, the parts that need no GPU: the generated source for every elementwise operation
// in every dtype it takes compiles with NVRTC (for a real and a virtual architecture), inconsistent specs
// are refused with a message naming the register, the disk cache returns what was compiled and ignores a
// damaged file, and the partition of traced graphs into fused groups keeps every equation once and in
// dependency order. With a GPU: jitted functions with fused groups match the CPU and the op-by-op path.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "engine/backend/cuda/fused_program.h"
#include "engine/backend/cuda/fusion_codegen.h"
#include "engine/backend/cuda/nvrtc.h"
#include "engine/compile/jit.h"
#include "engine/compile/passes.h"
#include "engine/core/device.h"
#include "ops/api.h"
#include "tests/support/testing.h"

namespace {

namespace fs = std::filesystem;
using engine::Tensor;
using namespace engine::backend::cuda;
using Read = FusedKernelSpec::Input::Read;
using testing_support::expect_error_mentioning;

#define REQUIRE_NVRTC() \
  if (!nvrtc_available()) GTEST_SKIP() << "NVRTC is not available: " << nvrtc_unavailable_reason()

// A private disk cache per test process, removed at the end.
class CudaFusion : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("qgf_nvrtc_test_" + std::to_string(::getpid()));
    ::setenv("QGF_CACHE_DIR", dir_.c_str(), 1);
  }
  void TearDown() override {
    ::unsetenv("QGF_CACHE_DIR");
    fs::remove_all(dir_);
  }
  fs::path dir_;
};

// One spec per dtype that applies every operation taking that dtype to the inputs (contiguous, scalar and
// strided), feeds compares into selects, and converts to every dtype.
FusedKernelSpec every_op_spec(DT d) {
  FusedKernelSpec s;
  s.rank = 3;
  s.inputs = {{d, Read::Contiguous}, {d, Read::Scalar}, {d, Read::Strided}, {DT::Bool, Read::Strided}};
  const bool is_float = d == DT::F32 || d == DT::F64, is_bool = d == DT::Bool;
  auto add = [&](EwOp op, std::vector<int> args, DT out) {
    FusedKernelSpec::Instr in;
    in.op = op;
    in.value = op == EwOp::select ? s.reg_dtype(args[1]) : s.reg_dtype(args[0]);
    in.out = out;
    in.nargs = int(args.size());
    for (size_t i = 0; i < args.size(); ++i) in.args[i] = args[i];
    s.instrs.push_back(in);
    const int reg = int(s.inputs.size() + s.instrs.size() - 1);
    s.outputs.push_back({reg});
    return reg;
  };
  for (int op = 0; op <= int(EwOp::floor); ++op) {
    const EwOp e = EwOp(op);
    const bool signed_ok = d == DT::I32 || is_float;
    const bool ok = is_float || ((e == EwOp::neg || e == EwOp::abs || e == EwOp::sign) && signed_ok);
    if (ok) add(e, {0}, d);
  }
  if (!is_bool)
    for (int op = int(EwOp::add); op <= int(EwOp::min); ++op)
      if (EwOp(op) != EwOp::pow || is_float) add(EwOp(op), {0, 2}, d);
  for (int op = int(EwOp::eq); op <= int(EwOp::ge); ++op) {
    const int c = add(EwOp(op), {0, 1}, DT::Bool);
    add(EwOp::select, {c, 0, 2}, d);
  }
  add(EwOp::select, {3, 1, 2}, d);
  for (DT to : {DT::Bool, DT::I32, DT::U32, DT::F32, DT::F64}) add(EwOp::convert, {2}, to);
  return s;
}

TEST_F(CudaFusion, EveryOperationCompilesInEveryDtype) {
  REQUIRE_NVRTC();
  for (DT d : {DT::Bool, DT::I32, DT::U32, DT::F32, DT::F64}) {
    const FusedKernelSpec spec = every_op_spec(d);
    const std::string name = "every_op_" + std::to_string(int(d));
    const std::string src = fused_kernel_source(spec, name);
    for (const char* arch : {"sm_90", "compute_75"}) {
      CompiledCode c;
      ASSERT_NO_THROW(c = nvrtc_compile(src, name, arch)) << "dtype " << int(d) << ", " << arch << "\n"
                                                          << src;
      EXPECT_FALSE(c.from_disk);
      EXPECT_EQ(c.cubin, std::string(arch).rfind("sm_", 0) == 0);
      ASSERT_GT(c.image.size(), 100u);
      if (!c.cubin) {  // PTX names the kernel with C linkage and reads the strided operand through a division
        const std::string ptx(c.image.begin(), c.image.end());
        EXPECT_NE(ptx.find(".entry " + name), std::string::npos);
      }
    }
  }
}

TEST_F(CudaFusion, DiskCacheReturnsTheSameImageAndSurvivesDamage) {
  REQUIRE_NVRTC();
  FusedKernelSpec s;
  s.rank = 1;
  s.inputs = {{DT::F32, Read::Contiguous}, {DT::F32, Read::Contiguous}};
  s.instrs = {{EwOp::mul, DT::F32, DT::F32, {0, 1, -1}, 2}, {EwOp::tanh, DT::F32, DT::F32, {2, -1, -1}, 1}};
  s.outputs = {{3}};
  const std::string src = fused_kernel_source(s, "cached");
  const CompiledCode first = nvrtc_compile(src, "cached", "sm_90");
  const CompiledCode again = nvrtc_compile(src, "cached", "sm_90");
  EXPECT_FALSE(first.from_disk);
  EXPECT_TRUE(again.from_disk);
  EXPECT_EQ(first.image, again.image);
  // Damage every cached file: the next call recompiles instead of loading garbage.
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(fs::path(nvrtc_cache_dir()))) {
    std::ofstream(e.path(), std::ios::binary | std::ios::trunc) << "QGF-NVRTC-1\nsomething else";
    ++files;
  }
  EXPECT_EQ(files, 1u);
  const CompiledCode fresh = nvrtc_compile(src, "cached", "sm_90");
  EXPECT_FALSE(fresh.from_disk);
  EXPECT_EQ(fresh.image, first.image);
}

TEST_F(CudaFusion, InconsistentSpecsAndBadSourceAreClearErrors) {
  FusedKernelSpec s;
  s.rank = 1;
  s.inputs = {{DT::F32, Read::Contiguous}, {DT::I32, Read::Contiguous}};
  s.instrs = {{EwOp::add, DT::F32, DT::F32, {0, 1, -1}, 2}};
  s.outputs = {{2}};
  expect_error_mentioning([&] { (void)fused_kernel_source(s, "k"); }, {"r2", "operand r1", "int32_t"});
  s.instrs = {{EwOp::add, DT::F32, DT::F32, {0, -1, -1}, 1}};
  expect_error_mentioning([&] { (void)fused_kernel_source(s, "k"); }, {"Add takes 2 operands"});
  if (nvrtc_available())
    expect_error_mentioning([&] { (void)nvrtc_compile("this is not CUDA", "broken", "sm_90"); },
                            {"nvrtc", "broken", "sm_90"});
}

// Traces fn and runs jit's passes, as jit does before the device program sees the graph.
engine::Graph optimized(const engine::FlatFn& fn, const std::vector<engine::AVal>& avals) {
  return engine::passes::run_passes(engine::make_graph(fn, avals));
}

void expect_close(const Tensor& a, const Tensor& b, double rtol, const std::string& what) {
  ASSERT_EQ(a.shape(), b.shape()) << what;
  const std::vector<float> x = a.to_vector<float>(), y = b.to_vector<float>();
  for (size_t i = 0; i < x.size(); ++i)
    ASSERT_NEAR(x[i], y[i], rtol * (1 + std::abs(y[i]))) << what << " at element " << i;
}

void expect_valid_partition(const engine::Graph& g, const std::vector<PlannedStep>& steps) {
  std::vector<int> seen(g.eqns.size(), 0);
  std::set<int> defined(g.inputs.begin(), g.inputs.end());
  defined.insert(g.consts.begin(), g.consts.end());
  for (const PlannedStep& st : steps) {
    std::set<int> inside;
    for (int k : st.eqns) {
      ++seen[size_t(k)];
      for (int v : g.eqns[size_t(k)].inputs)
        EXPECT_TRUE(defined.count(v) || inside.count(v))
            << "equation " << k << " reads a value not yet computed";
      for (int v : g.eqns[size_t(k)].outputs) inside.insert(v);
    }
    defined.insert(inside.begin(), inside.end());
  }
  for (size_t k = 0; k < seen.size(); ++k) EXPECT_EQ(seen[k], 1) << "equation " << k;
}

TEST(CudaFusionPartition, MlpLayerFusesItsElementwiseTail) {
  // gelu(x @ w + b) * 0.5 + x: the matmul and the bias broadcast are steps of their own; everything after
  // them is one group, which the broadcast does not split.
  const auto f = [](const std::vector<Tensor>& a) {
    Tensor h = ops::add(ops::matmul(a[0], a[1]), a[2]);
    Tensor y = ops::mul(ops::tanh(h), h);
    return std::vector<Tensor>{ops::add(ops::mul(y, ops::literal(0.5)), a[0])};
  };
  const engine::Graph g =
      optimized(f, {engine::AVal{{8, 16}, engine::DType::F32}, engine::AVal{{16, 16}, engine::DType::F32},
                    engine::AVal{{16}, engine::DType::F32}});
  const std::vector<PlannedStep> steps = partition_for_cuda(g);
  expect_valid_partition(g, steps);
  int fused = 0;
  size_t fused_eqns = 0;
  for (const PlannedStep& st : steps)
    if (st.kind == PlannedStep::Kind::Fused) {
      ++fused;
      fused_eqns = st.eqns.size();
      EXPECT_EQ(st.outputs.size(), 1u) << "only the result leaves the group";
    }
  EXPECT_EQ(fused, 1) << g.str(false);
  EXPECT_GE(fused_eqns, 5u) << g.str(false);  // add, tanh, mul, mul, add
}

TEST(CudaFusionPartition, ValuesUsedByAReductionLeaveTheGroupAndShapesSplitGroups) {
  // softmax-like: exp(x - max) feeds a reduction and a later division; the reduced [4,1] values form
  // groups of their own shape.
  const auto f = [](const std::vector<Tensor>& a) {
    Tensor e = ops::exp(ops::sub(a[0], ops::max(a[0], {1}, true)));
    Tensor s = ops::sum(e, {1}, true);
    return std::vector<Tensor>{ops::div(e, s), ops::log(ops::add(s, ops::literal(1.0)))};
  };
  const engine::Graph g = optimized(f, {engine::AVal{{4, 32}, engine::DType::F32}});
  const std::vector<PlannedStep> steps = partition_for_cuda(g);
  expect_valid_partition(g, steps);
  for (const PlannedStep& st : steps)
    if (st.kind == PlannedStep::Kind::Fused) {
      const engine::Shape& shape = g.vars[size_t(g.eqns[size_t(st.eqns[0])].outputs[0])].shape;
      for (int k : st.eqns) EXPECT_EQ(g.vars[size_t(g.eqns[size_t(k)].outputs[0])].shape, shape);
      EXPECT_FALSE(st.outputs.empty());
    }
}

// With a GPU: the fused path against the CPU and against the op-by-op path (QGF_CUDA_FUSION=0 is read when
// an executable is first run on the device, so the two use separately traced functions).
TEST(CudaFusionGpu, FusedJitMatchesTheCpuAndTheUnfusedPath) {
  if (!engine::device_available(engine::Device::CUDA)) GTEST_SKIP() << "no CUDA device present";
  const auto body = [](const Tensor& x, const Tensor& w, const Tensor& b) {
    Tensor h = ops::add(ops::matmul(x, w), b);
    Tensor g = ops::mul(ops::mul(h, ops::literal(0.5)),
                        ops::add(ops::erf(ops::mul(h, ops::literal(0.7071067811865476))), ops::literal(1.0)));
    return ops::select(ops::gt(g, ops::literal(0.1)), ops::logistic(g),
                       ops::sub(g, ops::transpose(g, {1, 0})));
  };
  Tensor x = ops::random_normal(ops::random_key(1), {64, 64});
  Tensor w = ops::random_normal(ops::random_key(2), {64, 64});
  Tensor b = ops::random_normal(ops::random_key(3), {64});
  const Tensor cpu = engine::jit(body)(x, w, b);
  const auto xd = engine::to_device(x, engine::Device::CUDA), wd = engine::to_device(w, engine::Device::CUDA),
             bd = engine::to_device(b, engine::Device::CUDA);
  const Tensor fused = engine::jit(body)(xd, wd, bd);
  ::setenv("QGF_CUDA_FUSION", "0", 1);
  const Tensor unfused = engine::jit(body)(xd, wd, bd);
  ::unsetenv("QGF_CUDA_FUSION");
  expect_close(fused, cpu, 1e-4, "fused vs cpu");
  expect_close(fused, unfused, 1e-6, "fused vs op by op");
}

// CUDA-graph replay (QGF_CUDA_GRAPHS=1, read when an executable first runs on the device): from the third
// call on, the function replays a captured graph; every call, with new arguments on the device or on the
// host, must give what step-by-step execution gives.
TEST(CudaGraphsGpu, ReplayMatchesStepByStepAcrossCalls) {
  if (!engine::device_available(engine::Device::CUDA)) GTEST_SKIP() << "no CUDA device present";
  const auto body = [](const Tensor& x, const Tensor& w) {
    Tensor h = ops::tanh(ops::matmul(x, w));
    return std::vector<Tensor>{ops::add(h, ops::literal(1.0)), ops::sum(ops::mul(h, h), {1})};
  };
  auto plain = engine::jit(body);
  const auto d = [](const Tensor& t) { return engine::to_device(t, engine::Device::CUDA); };
  const Tensor w = d(ops::random_normal(ops::random_key(7), {32, 16}));
  (void)plain(d(ops::random_normal(ops::random_key(8), {4, 32})), w);  // built without graphs
  ::setenv("QGF_CUDA_GRAPHS", "1", 1);
  auto replayed = engine::jit(body);
  for (uint32_t call = 0; call < 6; ++call) {
    Tensor x = ops::random_normal(ops::random_key(100 + call), {4, 32});
    if (call % 2 == 0) x = d(x);  // odd calls pass a host argument, which is staged too
    const std::vector<Tensor> a = replayed(x, w), b = plain(d(x), w);
    ASSERT_EQ(a.size(), b.size());
    for (size_t k = 0; k < a.size(); ++k) {
      EXPECT_EQ(a[k].device(), engine::Device::CUDA);
      expect_close(a[k], b[k], 1e-6, "call " + std::to_string(call) + ", output " + std::to_string(k));
    }
  }
  ::unsetenv("QGF_CUDA_GRAPHS");
}

}  // namespace
