// jit against eager execution, and both against a floor:
//   - BM_JitCallOverheadTiny / BM_EagerTiny: x * 2 + 1 on f32[4], i.e. the fixed cost of one jitted call on a
//     cache hit against the same three ops dispatched eagerly;
//   - BM_TrainStep{Eager,Jit}/hidden/batch: one canonical MLP training step (tests/support/canonical.h: in 32,
//     depth 4, out 8, value_and_grad + Adam), jit reusing its outputs as the next call's inputs;
//   - BM_TrainStepMatmulFloor/hidden/batch: only that step's matmuls, run through raw oneDNN with every
//     primitive and memory object made outside the loop. No implementation of the step can beat it by much
//     (the matmuls dominate), so jit / floor says how far the engine is from that bound.
// bench/jit_step_report.sh runs this and prints the ratios.
#include <benchmark/benchmark.h>

#include <oneapi/dnnl/dnnl.hpp>
#include <random>
#include <unordered_map>

#include "engine/compile/jit.h"
#include "engine/compile/program.h"
#include "ops/api.h"
#include "tests/support/canonical.h"

namespace {

using engine::Tensor;
constexpr int kIn = 32, kDepth = 4, kOut = 8;

Tensor tiny_fn(const Tensor& x) { return x * 2.0 + 1.0; }

void BM_EagerTiny(benchmark::State& st) {
  const Tensor x = Tensor::from_vector<float>({1.f, 2.f, 3.f, 4.f});
  for (auto _ : st) benchmark::DoNotOptimize(tiny_fn(x));
}
BENCHMARK(BM_EagerTiny);

void BM_JitCallOverheadTiny(benchmark::State& st) {
  const Tensor x = Tensor::from_vector<float>({1.f, 2.f, 3.f, 4.f});
  auto f = engine::jit(tiny_fn);
  benchmark::DoNotOptimize(f(x));  // compile: the loop measures cache hits only
  for (auto _ : st) benchmark::DoNotOptimize(f(x));
  if (f.stats().misses != 1) st.SkipWithError("jit recompiled inside the loop");
}
BENCHMARK(BM_JitCallOverheadTiny);

// ---- the training step ----

struct StepInputs {
  canonical::MlpParams p;
  canonical::AdamState s;
  Tensor x, y;
};

StepInputs make_inputs(int hidden, int batch) {
  StepInputs in;
  in.p = canonical::init_mlp(kIn, hidden, kDepth, kOut, 1);
  in.s = canonical::init_adam(in.p);
  const Tensor key = ops::random_key(2);
  in.x = ops::random_normal(ops::random_fold_in(key, 0), {batch, kIn});
  in.y = ops::random_normal(ops::random_fold_in(key, 1), {batch, kOut});
  return in;
}

void BM_TrainStepEager(benchmark::State& st) {
  StepInputs in = make_inputs(int(st.range(0)), int(st.range(1)));
  for (auto _ : st) {
    auto [p, s, loss] = canonical::train_step(in.p, in.s, in.x, in.y);
    benchmark::DoNotOptimize(loss);
    in.p = std::move(p);
    in.s = std::move(s);
  }
  st.SetItemsProcessed(st.iterations() * st.range(1));
}

void run_jitted_step(benchmark::State& st, engine::JitOptions opt) {
  StepInputs in = make_inputs(int(st.range(0)), int(st.range(1)));
  opt.name = "train_step";
  auto step = engine::jit(
      [](const canonical::MlpParams& p, const canonical::AdamState& s, const Tensor& x, const Tensor& y) {
        return canonical::train_step(p, s, x, y);
      },
      opt);
  auto once = [&] {
    auto [p, s, loss] = step(in.p, in.s, in.x, in.y);
    benchmark::DoNotOptimize(loss);
    in.p = std::move(p);
    in.s = std::move(s);
  };
  once();  // compile outside the loop
  for (auto _ : st) once();
  if (step.stats().misses != 1) st.SkipWithError("jit recompiled inside the loop");
  st.SetItemsProcessed(st.iterations() * st.range(1));
  st.counters["arena_MB"] = double(step.executable(in.p, in.s, in.x, in.y)->program().plan.arena_bytes) / 1e6;
}

void BM_TrainStepJit(benchmark::State& st) { run_jitted_step(st, {}); }

// Parameters and optimizer state donated: the updates are written into their own buffers.
void BM_TrainStepJitDonated(benchmark::State& st) {
  engine::JitOptions opt;
  opt.donate_argnums = {0, 1};
  run_jitted_step(st, opt);
}

// Elementwise residuals recomputed in the backward pass instead of stored (smaller arena).
void BM_TrainStepJitRemat(benchmark::State& st) {
  engine::JitOptions opt;
  opt.remat_elementwise = true;
  run_jitted_step(st, opt);
}

// The step's matmuls, for L = kDepth hidden layers plus the output layer (layer i: X_i [B, K_i] @ W_i [K_i, N_i]):
//   forward   Y_i  = X_i @ W_i         for every layer              (L + 1)
//   backward  dW_i = X_i^T @ dY_i      for every layer              (L + 1)
//             dX_i = dY_i @ W_i^T      for every layer but the first (x needs no gradient)  (L)
// 3L + 2 = 14 matmuls. Transposed operands are strided views of the row-major buffers, as the engine's are.
class MatmulFloor {
 public:
  MatmulFloor(int hidden, int batch) : eng_(dnnl::engine::kind::cpu, 0), stream_(eng_) {
    const int64_t B = batch;
    for (int i = 0; i <= kDepth; ++i) {
      const int64_t K = i == 0 ? kIn : hidden, N = i == kDepth ? kOut : hidden;
      float *x = buffer(B * K), *w = buffer(K * N), *y = buffer(B * N), *dy = buffer(B * N), *dw = buffer(K * N);
      add({B, K}, {K, 1}, x, {K, N}, {N, 1}, w, y);     // Y = X @ W
      add({K, B}, {1, K}, x, {B, N}, {N, 1}, dy, dw);   // dW = X^T @ dY
      if (i > 0) add({B, N}, {N, 1}, dy, {N, K}, {1, N}, w, buffer(B * K));  // dX = dY @ W^T
    }
  }
  size_t size() const { return prims_.size(); }
  void run() {
    for (size_t i = 0; i < prims_.size(); ++i) prims_[i].execute(stream_, args_[i]);
    stream_.wait();
  }

 private:
  using dims = dnnl::memory::dims;
  float* buffer(int64_t n) {
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    buffers_.emplace_back(size_t(n));
    for (float& v : buffers_.back()) v = u(rng_);
    return buffers_.back().data();
  }
  // dst [M, N] = a [M, K] @ b [K, N], each operand given by logical dims and strides (in elements).
  void add(const dims& ad, const dims& as, float* a, const dims& bd, const dims& bs, float* b, float* dst) {
    using dt = dnnl::memory::data_type;
    const dnnl::memory::desc amd(ad, dt::f32, as), bmd(bd, dt::f32, bs),
        cmd({ad[0], bd[1]}, dt::f32, dnnl::memory::format_tag::ab);
    prims_.emplace_back(dnnl::matmul::primitive_desc(dnnl::matmul::desc(amd, bmd, cmd), eng_));
    args_.push_back({{DNNL_ARG_SRC, dnnl::memory(amd, eng_, a)},
                     {DNNL_ARG_WEIGHTS, dnnl::memory(bmd, eng_, b)},
                     {DNNL_ARG_DST, dnnl::memory(cmd, eng_, dst)}});
  }

  dnnl::engine eng_;
  dnnl::stream stream_;
  std::mt19937 rng_{3};
  std::vector<std::vector<float>> buffers_;  // memories point into these; moving a vector keeps its heap block
  std::vector<dnnl::matmul> prims_;
  std::vector<std::unordered_map<int, dnnl::memory>> args_;
};

void BM_TrainStepMatmulFloor(benchmark::State& st) {
  MatmulFloor floor(int(st.range(0)), int(st.range(1)));
  floor.run();  // warm: oneDNN's JIT kernels and scratchpads
  for (auto _ : st) floor.run();
  st.counters["matmuls"] = double(floor.size());
  st.SetItemsProcessed(st.iterations() * st.range(1));
}

// Parts of the step that no matmul fusion can remove, for the floor analysis in docs/benchmarks.md:
// the Adam update of every parameter (memory-bound: reads p, g, m, v and writes p, m, v) ...
void BM_AdamUpdateJit(benchmark::State& st) {
  StepInputs in = make_inputs(int(st.range(0)), int(st.range(1)));
  auto update = engine::jit([](const canonical::MlpParams& p, const canonical::MlpParams& g,
                               const canonical::AdamState& s) { return canonical::adam_update(p, g, s, 1e-3f); });
  const canonical::MlpParams g = in.p;  // any gradient of the right shapes
  for (auto _ : st) {
    auto [p, s] = update(in.p, g, in.s);
    in.p = std::move(p);
    in.s = std::move(s);
  }
}

// ... and the forward tanh-GELUs of the hidden layers (one fused kernel per layer; the backward needs more).
void BM_HiddenGelusJit(benchmark::State& st) {
  const int64_t hidden = st.range(0), batch = st.range(1);
  const Tensor h = ops::random_normal(ops::random_key(3), {batch, hidden});
  auto gelus = engine::jit([](const Tensor& x) {
    std::vector<Tensor> ys;
    for (int i = 0; i < kDepth; ++i) ys.push_back(ops::gelu(x + double(i), true));
    return ys;
  });
  for (auto _ : st) benchmark::DoNotOptimize(gelus(h));
}

void step_configs(benchmark::internal::Benchmark* b) {
  for (int64_t hidden : {256, 512})
    for (int64_t batch : {256, 1024}) b->Args({hidden, batch});
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}
BENCHMARK(BM_TrainStepEager)->Apply(step_configs);
BENCHMARK(BM_AdamUpdateJit)->Apply(step_configs);
BENCHMARK(BM_HiddenGelusJit)->Apply(step_configs);
BENCHMARK(BM_TrainStepJit)->Apply(step_configs);
BENCHMARK(BM_TrainStepJitDonated)->Apply(step_configs);
BENCHMARK(BM_TrainStepJitRemat)->Apply(step_configs);
BENCHMARK(BM_TrainStepMatmulFloor)->Apply(step_configs);

}  // namespace

BENCHMARK_MAIN();
