// CUDA kernels of the elementwise families (unary, binary, compare, select, convert): one grid-stride kernel
// template over a per-op functor, instantiated for the dtypes each op accepts. The functors mirror the CPU
// kernels (engine/backend/cpu/elementwise.cpp, loops.h) expression for expression, so integer and bool
// results are bit-identical and floating results differ only by the rounding of CUDA's math functions.
#include <stdint.h>

#include <limits>
#include <type_traits>
#include <utility>

#include "engine/backend/cuda/elementwise_launch.h"
#include "engine/backend/cuda/elementwise_ops.cuh"
#include "engine/backend/cuda/indexing.cuh"

namespace engine::backend::cuda {

namespace {

using namespace ew;  // the functors (elementwise_ops.cuh)

// ==========================================================================================================
// The kernel
// ==========================================================================================================

template <int N>
struct Ops {
  Operand o[N];
  // Some operand is neither contiguous nor a broadcast scalar (every stride 0), so offsets need the index
  // decomposed; without one (x * scalar, select(mask, x, 0)) an offset is i or 0, with no division.
  bool strided = false;
};

// Element offsets of linear index i in every operand, with one division per axis shared by all of them (what
// offset_of does per operand). A contiguous operand's offset comes out as i itself: its strides are the
// row-major ones, and size-1 axes, whatever their stride, contribute 0. The axis loop is unrolled over
// kMaxRank so every array index is a constant: indexing the kernel parameters with a runtime axis makes the
// compiler copy them to local memory in every thread, which made a broadcast add 7x slower.
template <int N>
__device__ __forceinline__ void offsets(const IndexSpace& s, const Ops<N>& ops, int64_t i, int64_t (&off)[N]) {
#pragma unroll
  for (int k = 0; k < N; ++k) off[k] = 0;
#pragma unroll
  for (int d = kMaxRank - 1; d >= 0; --d) {
    if (d >= s.rank) continue;
    const int64_t q = i / s.shape[d];
    const int64_t r = i - q * s.shape[d];
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] += r * ops.o[k].strides[d];
    i = q;
  }
}

template <bool Contig, class F, class Out, class... In, size_t... K>
__device__ __forceinline__ Out apply(const IndexSpace& s, const Ops<sizeof...(In)>& ops, int64_t i,
                                     std::index_sequence<K...>) {
  if constexpr (Contig) {
    return F::template f<Out>(static_cast<const In*>(ops.o[K].data)[i]...);
  } else {
    int64_t off[sizeof...(In)];
    if (ops.strided)
      offsets(s, ops, i, off);
    else
#pragma unroll
      for (size_t k = 0; k < sizeof...(In); ++k) off[k] = ops.o[k].contiguous ? i : 0;
    return F::template f<Out>(static_cast<const In*>(ops.o[K].data)[off[K]]...);
  }
}

// out[i] = F(in...[i]) for i in [0, s.numel); out is contiguous. Contig: every operand is contiguous, so the
// linear index addresses them directly.
template <bool Contig, class F, class Out, class... In>
__global__ void __launch_bounds__(kThreads)
    map_kernel(IndexSpace s, Out* __restrict__ out, Ops<sizeof...(In)> ops) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < s.numel; i += step)
    out[i] = apply<Contig, F, Out, In...>(s, ops, i, std::index_sequence_for<In...>{});
}

template <class F, class Out, class... In>
void launch_map(const IndexSpace& s, const Operand* in, void* out, cudaStream_t stream) {
  constexpr int N = int(sizeof...(In));
  Ops<N> ops;
  bool contig = true;
  for (int k = 0; k < N; ++k) {
    ops.o[k] = in[k];
    contig = contig && in[k].contiguous;
    bool scalar = true;
    for (int d = 0; d < s.rank; ++d) scalar = scalar && (in[k].strides[d] == 0 || s.shape[d] == 1);
    ops.strided = ops.strided || !(in[k].contiguous || scalar);
  }
  Out* o = static_cast<Out*>(out);
  if (contig)
    map_kernel<true, F, Out, In...><<<grid_for(s.numel), kThreads, 0, stream>>>(s, o, ops);
  else
    map_kernel<false, F, Out, In...><<<grid_for(s.numel), kThreads, 0, stream>>>(s, o, ops);
}

// ==========================================================================================================
// Dtype dispatch
// ==========================================================================================================

template <class... Ts>
struct Types {};
using Floats = Types<float, double>;
using Signed = Types<int32_t, float, double>;             // neg, abs, sign
using Numeric = Types<int32_t, uint32_t, float, double>;  // arithmetic
using All = Types<bool, int32_t, uint32_t, float, double>;

template <class T>
struct Tag {
  using type = T;
};

template <class T>
constexpr DT dt_of() {
  return std::is_same<T, bool>::value       ? DT::Bool
         : std::is_same<T, int32_t>::value  ? DT::I32
         : std::is_same<T, uint32_t>::value ? DT::U32
         : std::is_same<T, float>::value    ? DT::F32
                                            : DT::F64;
}

// Calls fn(Tag<T>{}) for the T of `set` whose dtype is d; false when the set has none.
template <class... Ts, class Fn>
bool visit(Types<Ts...>, DT d, Fn&& fn) {
  return ((d == dt_of<Ts>() ? (fn(Tag<Ts>{}), true) : false) || ...);
}

// Result type Out(T) of the op's value type T.
enum class Result { Same, Bool };

template <class F, int Arity, Result R, class... Ts>
bool map_op(Types<Ts...> set, DT d, const IndexSpace& s, const Operand* in, void* out, cudaStream_t st) {
  return visit(set, d, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using Out = std::conditional_t<R == Result::Bool, bool, T>;
    if constexpr (Arity == 1)
      launch_map<F, Out, T>(s, in, out, st);
    else
      launch_map<F, Out, T, T>(s, in, out, st);
  });
}

bool select_op(DT d, const IndexSpace& s, const Operand* in, void* out, cudaStream_t st) {
  return visit(All{}, d, [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_map<Select, T, uint8_t, T, T>(s, in, out, st);
  });
}

bool convert_op(DT from, DT to, const IndexSpace& s, const Operand* in, void* out, cudaStream_t st) {
  return visit(All{}, from, [&](auto from_tag) {
    using T = typename decltype(from_tag)::type;
    visit(All{}, to, [&](auto to_tag) {
      using U = typename decltype(to_tag)::type;
      launch_map<Convert, U, T>(s, in, out, st);
    });
  });
}

}  // namespace

bool launch_elementwise(EwOp op, DT value, DT out_dt, const IndexSpace& s, const Operand* in, void* out,
                        cudaStream_t stream) {
  switch (op) {
#define QGF_EW_CASE(op_name, F, arity, result, set) \
  case EwOp::op_name:                               \
    return map_op<F, arity, Result::result>(set{}, value, s, in, out, stream);
    QGF_EW_CASE(neg, Neg, 1, Same, Signed)
    QGF_EW_CASE(exp, Exp, 1, Same, Floats)
    QGF_EW_CASE(log, Log, 1, Same, Floats)
    QGF_EW_CASE(log1p, Log1p, 1, Same, Floats)
    QGF_EW_CASE(expm1, Expm1, 1, Same, Floats)
    QGF_EW_CASE(sin, Sin, 1, Same, Floats)
    QGF_EW_CASE(cos, Cos, 1, Same, Floats)
    QGF_EW_CASE(tanh, Tanh, 1, Same, Floats)
    QGF_EW_CASE(logistic, Logistic, 1, Same, Floats)
    QGF_EW_CASE(sqrt, Sqrt, 1, Same, Floats)
    QGF_EW_CASE(rsqrt, Rsqrt, 1, Same, Floats)
    QGF_EW_CASE(abs, Abs, 1, Same, Signed)
    QGF_EW_CASE(sign, Sign, 1, Same, Signed)
    QGF_EW_CASE(erf, Erf, 1, Same, Floats)
    QGF_EW_CASE(floor, Floor, 1, Same, Floats)
    QGF_EW_CASE(add, Add, 2, Same, Numeric)
    QGF_EW_CASE(sub, Sub, 2, Same, Numeric)
    QGF_EW_CASE(mul, Mul, 2, Same, Numeric)
    QGF_EW_CASE(div, Div, 2, Same, Numeric)
    QGF_EW_CASE(pow, Pow, 2, Same, Floats)
    QGF_EW_CASE(max, Max, 2, Same, Numeric)
    QGF_EW_CASE(min, Min, 2, Same, Numeric)
    QGF_EW_CASE(eq, Eq, 2, Bool, All)
    QGF_EW_CASE(ne, Ne, 2, Bool, All)
    QGF_EW_CASE(lt, Lt, 2, Bool, All)
    QGF_EW_CASE(le, Le, 2, Bool, All)
    QGF_EW_CASE(gt, Gt, 2, Bool, All)
    QGF_EW_CASE(ge, Ge, 2, Bool, All)
#undef QGF_EW_CASE
    case EwOp::select:
      return select_op(value, s, in, out, stream);
    case EwOp::convert:
      return convert_op(value, out_dt, s, in, out, stream);
  }
  return false;
}

}  // namespace engine::backend::cuda
