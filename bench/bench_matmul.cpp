// The engine's f32 matmul (ops::matmul, eager: API, evaluator, shape rule, cached oneDNN primitive, output
// allocation) against a raw oneDNN matmul whose primitive and memory objects are created once outside the
// loop. The difference is the engine's overhead. Shapes: [M, K] x [K, N] for M in {1, 256, 1024}, N = K in
// {256, 512, 1024}.
#include <benchmark/benchmark.h>

#include <oneapi/dnnl/dnnl.hpp>
#include <random>

#include "ops/api.h"

namespace {

using engine::Tensor;

Tensor random_matrix(int64_t r, int64_t c, uint64_t seed) {
  std::mt19937 rng{uint32_t(seed)};
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> v(size_t(r * c));
  for (auto& x : v) x = u(rng);
  return ops::reshape(Tensor::from_vector(v), {r, c});
}

void set_counters(benchmark::State& st, int64_t M, int64_t N, int64_t K) {
  st.counters["GFLOP/s"] = benchmark::Counter(double(2 * M * N * K) * double(st.iterations()),
                                              benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}

void BM_Engine(benchmark::State& st) {
  const int64_t M = st.range(0), N = st.range(1), K = N;
  const Tensor a = random_matrix(M, K, 1), b = random_matrix(K, N, 2);
  benchmark::DoNotOptimize(ops::matmul(a, b));  // warm: the primitive cache
  for (auto _ : st) benchmark::DoNotOptimize(ops::matmul(a, b));
  set_counters(st, M, N, K);
}

void BM_RawOneDNN(benchmark::State& st) {
  const int64_t M = st.range(0), N = st.range(1), K = N;
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream s(eng);
  dnnl::memory::desc amd({M, K}, dt::f32, tag::ab), bmd({K, N}, dt::f32, tag::ab),
      cmd({M, N}, dt::f32, tag::ab);
  dnnl::matmul prim(dnnl::matmul::primitive_desc(dnnl::matmul::desc(amd, bmd, cmd), eng));
  const Tensor a = random_matrix(M, K, 1), b = random_matrix(K, N, 2);
  std::vector<float> c(size_t(M * N));
  dnnl::memory am(amd, eng, const_cast<void*>(a.raw_data())), bm(bmd, eng, const_cast<void*>(b.raw_data())),
      cm(cmd, eng, c.data());
  for (auto _ : st) {
    prim.execute(s, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
    s.wait();
    benchmark::DoNotOptimize(c.data());
  }
  set_counters(st, M, N, K);
}

void shapes(benchmark::internal::Benchmark* b) {
  for (int64_t m : {1, 256, 1024})
    for (int64_t n : {256, 512, 1024}) b->Args({m, n});
  b->ArgNames({"M", "NK"});
}
BENCHMARK(BM_Engine)->Apply(shapes)->UseRealTime();
BENCHMARK(BM_RawOneDNN)->Apply(shapes)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
