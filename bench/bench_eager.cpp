// Eager dispatch cost per op on tiny tensors: the whole path from the public API (promotion, broadcasting,
// the evaluator, the shape rule, the kernel, the output allocation) against its pieces measured alone.
#include <benchmark/benchmark.h>

#include "engine/interp/interpreter.h"
#include "ops/api.h"
#include "ops/registry.h"

namespace {

using engine::DType;
using engine::Tensor;

Tensor f32x4() { return Tensor::from_vector<float>({1.f, 2.f, 3.f, 4.f}); }

void BM_EagerAdd_f32x4(benchmark::State& st) {
  const Tensor a = f32x4(), b = f32x4();
  for (auto _ : st) benchmark::DoNotOptimize(ops::add(a, b));
}
BENCHMARK(BM_EagerAdd_f32x4);

void BM_EagerExp_f32x4(benchmark::State& st) {
  const Tensor a = f32x4();
  for (auto _ : st) benchmark::DoNotOptimize(ops::exp(a));
}
BENCHMARK(BM_EagerExp_f32x4);

// x * 0.5: a weak literal is rebuilt in x's dtype, then broadcast (a view) before the kernel.
void BM_EagerMulLiteral_f32x4(benchmark::State& st) {
  const Tensor a = f32x4();
  for (auto _ : st) benchmark::DoNotOptimize(a * 0.5);
}
BENCHMARK(BM_EagerMulLiteral_f32x4);

void BM_EagerSum_f32x4(benchmark::State& st) {
  const Tensor a = f32x4();
  for (auto _ : st) benchmark::DoNotOptimize(ops::sum(a));
}
BENCHMARK(BM_EagerSum_f32x4);

void BM_EagerReshape_f32x4(benchmark::State& st) {
  const Tensor a = f32x4();
  for (auto _ : st) benchmark::DoNotOptimize(ops::reshape(a, {2, 2}));
}
BENCHMARK(BM_EagerReshape_f32x4);

void BM_EagerMatmul_f32_4x4(benchmark::State& st) {
  const Tensor a = ops::reshape(Tensor::from_vector<float>(std::vector<float>(16, 1.f)), {4, 4});
  for (auto _ : st) benchmark::DoNotOptimize(ops::matmul(a, a));
}
BENCHMARK(BM_EagerMatmul_f32_4x4);

// ---- the pieces of the add path ----

void BM_Piece_KernelOnly_add(benchmark::State& st) {
  const Tensor a = f32x4(), b = f32x4();
  const ops::PrimDef& d = ops::def(ops::Prim::add);
  const std::vector<Tensor> in{a, b};
  const std::vector<engine::AVal> out{a.aval()};
  const ops::Params p;
  for (auto _ : st) benchmark::DoNotOptimize(d.cpu(in, out, p));
}
BENCHMARK(BM_Piece_KernelOnly_add);

void BM_Piece_ShapeRuleOnly_add(benchmark::State& st) {
  const Tensor a = f32x4(), b = f32x4();
  const ops::PrimDef& d = ops::def(ops::Prim::add);
  const std::vector<engine::AVal> in{a.aval(), b.aval()};
  const ops::Params p;
  for (auto _ : st) benchmark::DoNotOptimize(d.shape(in, p));
}
BENCHMARK(BM_Piece_ShapeRuleOnly_add);

void BM_Piece_BindOnly_add(benchmark::State& st) {
  const Tensor a = f32x4(), b = f32x4();
  for (auto _ : st) benchmark::DoNotOptimize(engine::bind1(ops::Prim::add, {a, b}));
}
BENCHMARK(BM_Piece_BindOnly_add);

void BM_Piece_TensorEmpty_f32x4(benchmark::State& st) {
  for (auto _ : st) benchmark::DoNotOptimize(Tensor::empty({4}, DType::F32));
}
BENCHMARK(BM_Piece_TensorEmpty_f32x4);

}  // namespace

BENCHMARK_MAIN();
