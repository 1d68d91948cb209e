// Elementwise (add, exp) and reduction (sum) throughput in GB/s of memory touched (reads + writes), against
// memcpy (one thread, and split over the OpenMP threads like the kernels), at 1M and 16M f32 elements.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <cstring>
#include <vector>

#include "ops/api.h"

namespace {

using engine::DType;
using engine::Tensor;

Tensor filled(int64_t n, float v) {
  Tensor t = Tensor::empty({n}, DType::F32);
  float* p = t.mutable_data<float>();
  for (int64_t i = 0; i < n; ++i) p[i] = v + float(i % 7) * 0.01f;
  return t;
}

void bytes(benchmark::State& st, int64_t n, int passes) {
  st.SetBytesProcessed(int64_t(st.iterations()) * n * int64_t(sizeof(float)) * passes);
}

void BM_Memcpy_1thread(benchmark::State& st) {
  const int64_t n = st.range(0);
  std::vector<float> a(static_cast<size_t>(n), 1.f), b(static_cast<size_t>(n), 0.f);
  for (auto _ : st) {
    std::memcpy(b.data(), a.data(), size_t(n) * sizeof(float));
    benchmark::DoNotOptimize(b.data());
  }
  bytes(st, n, 2);
}

void BM_Memcpy_omp(benchmark::State& st) {
  const int64_t n = st.range(0);
  std::vector<float> a(static_cast<size_t>(n), 1.f), b(static_cast<size_t>(n), 0.f);
  for (auto _ : st) {
#pragma omp parallel
    {
      const int64_t k = omp_get_num_threads(), t = omp_get_thread_num(), per = (n + k - 1) / k;
      const int64_t s = std::min(n, t * per), e = std::min(n, s + per);
      if (s < e) std::memcpy(b.data() + s, a.data() + s, size_t(e - s) * sizeof(float));
    }
    benchmark::DoNotOptimize(b.data());
  }
  bytes(st, n, 2);
}

void BM_Add(benchmark::State& st) {
  const int64_t n = st.range(0);
  const Tensor a = filled(n, 1.f), b = filled(n, 2.f);
  for (auto _ : st) benchmark::DoNotOptimize(ops::add(a, b));
  bytes(st, n, 3);
}

void BM_Exp(benchmark::State& st) {
  const int64_t n = st.range(0);
  const Tensor a = filled(n, 0.5f);
  for (auto _ : st) benchmark::DoNotOptimize(ops::exp(a));
  bytes(st, n, 2);
}

void BM_Sum(benchmark::State& st) {
  const int64_t n = st.range(0);
  const Tensor a = filled(n, 0.5f);
  for (auto _ : st) benchmark::DoNotOptimize(ops::sum(a));
  bytes(st, n, 1);
}

// Sum over the leading axis of [n / 256, 256] (the bias-gradient pattern: a column reduction).
void BM_SumRows(benchmark::State& st) {
  const int64_t n = st.range(0);
  const Tensor a = ops::reshape(filled(n, 0.5f), {n / 256, 256});
  for (auto _ : st) benchmark::DoNotOptimize(ops::sum(a, {0}));
  bytes(st, n, 1);
}

void sizes(benchmark::internal::Benchmark* b) {
  b->Arg(int64_t(1) << 20)->Arg(int64_t(1) << 24)->UseRealTime();
}
BENCHMARK(BM_Memcpy_1thread)->Apply(sizes);
BENCHMARK(BM_Memcpy_omp)->Apply(sizes);
BENCHMARK(BM_Add)->Apply(sizes);
BENCHMARK(BM_Exp)->Apply(sizes);
BENCHMARK(BM_Sum)->Apply(sizes);
BENCHMARK(BM_SumRows)->Apply(sizes);

}  // namespace

BENCHMARK_MAIN();
