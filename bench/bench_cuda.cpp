// CUDA backend: the engine's eager f32 matmul on device tensors against the raw cuBLASLt calls it makes, on
// the same pointers with the same plan and algorithm (engine/backend/cuda/matmul.h), so the difference is the
// engine's overhead (API, evaluator, shape rule, plan lookup, output allocation); and an eager elementwise op
// (tanh) against a device-to-device copy, in GB/s of memory touched. Shapes: square 256, 1024, 4096; an MLP
// layer with 1024 rows of 1024 features times a 1024x1024 weight, forward (x W) and its two backward products
// (g W^T, x^T g); a strided batch of 64 256x256 products. Each iteration times a burst of calls between CUDA
// events and reports the GPU time per call: steady-state eager throughput, where the host's dispatch overlaps
// the kernels and shows only when it is the bottleneck. host_us is the host time to issue one call. Every
// benchmark skips with "no GPU" when none is present.
#include <benchmark/benchmark.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <vector>

#include "engine/backend/cuda/matmul.h"
#include "engine/backend/cuda/runtime.h"
#include "ops/api.h"
#include "ops/registry.h"

namespace {

namespace cu = engine::backend::cuda;
using engine::Device;
using engine::DType;
using engine::Tensor;

bool have_gpu(benchmark::State& st) {
  if (engine::device_available(Device::CUDA)) return true;
  st.SkipWithError("no GPU");
  return false;
}

Tensor device_random(engine::Shape shape, uint32_t seed) {
  std::mt19937 rng{seed};
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> v(size_t(engine::numel(shape)));
  for (auto& x : v) x = u(rng);
  return engine::to_device(Tensor::from_vector(v, std::move(shape)), Device::CUDA);
}

// Calls per timed burst: about `work_per_burst` units of work, at least 1 and at most 256 calls.
int burst_for(double work_per_call, double work_per_burst) {
  return int(std::clamp(work_per_burst / work_per_call, 1.0, 256.0));
}

struct Events {
  cudaEvent_t start = nullptr, stop = nullptr;
  Events() {
    cu::check(cudaEventCreate(&start), "bench", "cudaEventCreate");
    cu::check(cudaEventCreate(&stop), "bench", "cudaEventCreate");
  }
  ~Events() {
    (void)cudaEventDestroy(start);
    (void)cudaEventDestroy(stop);
  }
  Events(const Events&) = delete;
  Events& operator=(const Events&) = delete;
};

// Runs fn once to warm up (plans, the allocator's pool), then times bursts of `burst` calls with events on
// the engine's stream, setting each iteration's time to the burst's GPU time per call. An engine::Error in
// the warm-up (an op without a CUDA kernel) skips the benchmark with its message.
template <class Fn>
void time_bursts(benchmark::State& st, int burst, Fn&& fn) {
  try {
    fn();
    cu::synchronize();
  } catch (const engine::Error& e) {
    st.SkipWithError(e.what());
    return;
  }
  Events ev;
  double host_s = 0;
  for (auto _ : st) {
    cu::check(cudaEventRecord(ev.start, cu::stream()), "bench", "cudaEventRecord");
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < burst; ++i) fn();
    host_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    cu::check(cudaEventRecord(ev.stop, cu::stream()), "bench", "cudaEventRecord");
    cu::check(cudaEventSynchronize(ev.stop), "bench", "cudaEventSynchronize");
    float ms = 0;
    cu::check(cudaEventElapsedTime(&ms, ev.start, ev.stop), "bench", "cudaEventElapsedTime");
    st.SetIterationTime(double(ms) * 1e-3 / burst);
  }
  st.counters["host_us"] = host_s * 1e6 / (double(st.iterations()) * burst);
  st.counters["burst"] = burst;
}

// ---- matmul: args M, N, K, batch, transpose_a, transpose_b (a is [B, M, K] or [B, K, M], b [B, K, N] or
// [B, N, K]; B = 1 means plain matrices) ----

struct MatmulCase {
  int64_t M, N, K, B;
  bool ta, tb;
  Tensor a, b;
  double flops;

  explicit MatmulCase(const benchmark::State& st)
      : M(st.range(0)),
        N(st.range(1)),
        K(st.range(2)),
        B(st.range(3)),
        ta(st.range(4) != 0),
        tb(st.range(5) != 0) {
    a = device_random(shape(ta ? K : M, ta ? M : K), 1);
    b = device_random(shape(tb ? N : K, tb ? K : N), 2);
    flops = 2.0 * double(M) * double(N) * double(K) * double(B);
  }
  engine::Shape shape(int64_t r, int64_t c) const {
    return B > 1 ? engine::Shape{B, r, c} : engine::Shape{r, c};
  }
};

void set_flops(benchmark::State& st, double flops) {
  st.counters["TFLOP/s"] =
      benchmark::Counter(flops * double(st.iterations()) * 1e-12, benchmark::Counter::kIsRate);
}

void BM_EngineMatmul(benchmark::State& st) {
  if (!have_gpu(st)) return;
  const MatmulCase c(st);
  time_bursts(st, burst_for(c.flops, 4e10),
              [&] { benchmark::DoNotOptimize(ops::matmul(c.a, c.b, c.ta, c.tb)); });
  set_flops(st, c.flops);
}

void BM_RawCublasLt(benchmark::State& st) {
  if (!have_gpu(st)) return;
  const MatmulCase c(st);
  const Tensor out = cu::empty(c.shape(c.M, c.N), DType::F32);
  cu::MatmulSpec spec;
  spec.M = c.M;
  spec.N = c.N;
  spec.K = c.K;
  spec.batch = c.B;
  spec.stride_a = c.M * c.K;
  spec.stride_b = c.K * c.N;
  spec.ta = c.ta;
  spec.tb = c.tb;
  spec.a = c.a.device_data();
  spec.b = c.b.device_data();
  spec.c = const_cast<void*>(out.device_data());
  const cu::RawMatmul raw(spec);
  time_bursts(st, burst_for(c.flops, 4e10), [&] { raw.run(); });
  set_flops(st, c.flops);
}

void matmul_shapes(benchmark::internal::Benchmark* b) {
  for (int64_t n : {256, 1024, 4096}) b->Args({n, n, n, 1, 0, 0});
  b->Args({1024, 1024, 1024, 1, 0, 0});  // MLP forward: x [1024 rows, 1024] @ W [1024, 1024]
  b->Args({1024, 1024, 1024, 1, 0, 1});  // backward to x: g @ W^T
  b->Args({1024, 1024, 1024, 1, 1, 0});  // backward to W: x^T @ g
  b->Args({256, 256, 256, 64, 0, 0});    // strided batch
  b->ArgNames({"M", "N", "K", "B", "ta", "tb"});
}
BENCHMARK(BM_EngineMatmul)->Apply(matmul_shapes)->UseManualTime();
BENCHMARK(BM_RawCublasLt)->Apply(matmul_shapes)->UseManualTime();

// ---- elementwise: tanh over n floats (one read, one write) against a device-to-device copy ----

void set_bandwidth(benchmark::State& st, int64_t n) {
  st.counters["GB/s"] = benchmark::Counter(2.0 * double(n) * sizeof(float) * double(st.iterations()) * 1e-9,
                                           benchmark::Counter::kIsRate);
}

void BM_EngineTanh(benchmark::State& st) {
  if (!have_gpu(st)) return;
  const int64_t n = st.range(0);
  const Tensor x = device_random({n}, 3);
  time_bursts(st, burst_for(double(n), 1 << 26), [&] { benchmark::DoNotOptimize(ops::tanh(x)); });
  set_bandwidth(st, n);
}

void BM_CopyD2D(benchmark::State& st) {
  if (!have_gpu(st)) return;
  const int64_t n = st.range(0);
  const Tensor x = device_random({n}, 3), y = cu::empty({n}, DType::F32);
  time_bursts(st, burst_for(double(n), 1 << 26), [&] {
    cu::check(cudaMemcpyAsync(const_cast<void*>(y.device_data()), x.device_data(), size_t(n) * sizeof(float),
                              cudaMemcpyDeviceToDevice, cu::stream()),
              "bench", "cudaMemcpyAsync");
  });
  set_bandwidth(st, n);
}

BENCHMARK(BM_EngineTanh)->Arg(1 << 20)->Arg(1 << 24)->UseManualTime();
BENCHMARK(BM_CopyD2D)->Arg(1 << 20)->Arg(1 << 24)->UseManualTime();

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  ops::init_registry();  // registers the CUDA device backend, which device_available consults
  benchmark::AddCustomContext(
      "device", engine::device_available(Device::CUDA) ? engine::describe_device(Device::CUDA) : "no GPU");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
