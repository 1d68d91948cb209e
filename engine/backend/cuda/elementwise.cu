// CUDA kernels of the elementwise families (unary, binary, compare, select, convert): one grid-stride kernel
// template over a per-op functor, instantiated for the dtypes each op accepts. The functors mirror the CPU
// kernels (engine/backend/cpu/elementwise.cpp, loops.h) expression for expression, so integer and bool
// results are bit-identical and floating results differ only by the rounding of CUDA's math functions.
#include <stdint.h>

#include <limits>
#include <type_traits>
#include <utility>

#include "engine/backend/cuda/elementwise_launch.h"
#include "engine/backend/cuda/indexing.cuh"

namespace engine::backend::cuda {

namespace {

// ==========================================================================================================
// Per-op functors: U f<U>(operands...) with U the result type
// ==========================================================================================================

// f32/f64 overload pairs of CUDA's math functions (never the approximate intrinsics), so one template serves
// both widths and a float can never be promoted to double by accident.
namespace m {
#define QGF_EW_MATH(name, ff, fd)                                   \
  __device__ __forceinline__ float name(float x) { return ff(x); } \
  __device__ __forceinline__ double name(double x) { return fd(x); }
QGF_EW_MATH(exp, ::expf, ::exp)
QGF_EW_MATH(log, ::logf, ::log)
QGF_EW_MATH(log1p, ::log1pf, ::log1p)
QGF_EW_MATH(expm1, ::expm1f, ::expm1)
QGF_EW_MATH(sin, ::sinf, ::sin)
QGF_EW_MATH(cos, ::cosf, ::cos)
QGF_EW_MATH(tanh, ::tanhf, ::tanh)
QGF_EW_MATH(erf, ::erff, ::erf)
QGF_EW_MATH(sqrt, ::sqrtf, ::sqrt)
QGF_EW_MATH(floor, ::floorf, ::floor)
QGF_EW_MATH(fabs, ::fabsf, ::fabs)
#undef QGF_EW_MATH
__device__ __forceinline__ float pow(float a, float b) { return ::powf(a, b); }
__device__ __forceinline__ double pow(double a, double b) { return ::pow(a, b); }

// 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0 with e = exp(-|x|) <= 1: nothing overflows and both tails
// keep full relative accuracy (the CPU's formula; NaN stays NaN through r).
template <class T>
__device__ __forceinline__ T logistic(T x) {
  const T e = exp(-fabs(x));
  const T r = T(1) / (T(1) + e);
  return x < T(0) ? e * r : r;
}
}  // namespace m

template <class T>
inline constexpr bool kInt = std::is_integral<T>::value;

#define QGF_EW_UNARY(Name, expr)                 \
  struct Name {                                  \
    template <class U, class T>                  \
    __device__ static U f(T x) {                 \
      return expr;                               \
    }                                            \
  };
QGF_EW_UNARY(Exp, m::exp(x))
QGF_EW_UNARY(Log, m::log(x))
QGF_EW_UNARY(Log1p, m::log1p(x))
QGF_EW_UNARY(Expm1, m::expm1(x))
QGF_EW_UNARY(Sin, m::sin(x))
QGF_EW_UNARY(Cos, m::cos(x))
QGF_EW_UNARY(Tanh, m::tanh(x))
QGF_EW_UNARY(Erf, m::erf(x))
QGF_EW_UNARY(Logistic, m::logistic(x))
QGF_EW_UNARY(Sqrt, m::sqrt(x))
// An IEEE division of a correctly rounded root, as the CPU computes it (rsqrt() has 2 ulp error).
QGF_EW_UNARY(Rsqrt, T(1) / m::sqrt(x))
QGF_EW_UNARY(Floor, m::floor(x))
// 0 -> 0 with its sign, NaN -> NaN.
QGF_EW_UNARY(Sign, x > T(0) ? U(1) : x < T(0) ? U(-1) : x)
#undef QGF_EW_UNARY

// Integers wrap (computed in uint32_t: INT_MIN negates to itself); floats flip or clear the sign bit only.
struct Neg {
  template <class U, class T>
  __device__ static U f(T x) {
    if constexpr (kInt<T>)
      return U(0u - uint32_t(x));
    else
      return -x;
  }
};
struct Abs {
  template <class U, class T>
  __device__ static U f(T x) {
    if constexpr (kInt<T>)
      return x < 0 ? U(0u - uint32_t(x)) : x;
    else
      return m::fabs(x);
  }
};

// Integer arithmetic wraps: computed in uint32_t, where overflow is defined.
#define QGF_EW_ARITH(Name, op)                 \
  struct Name {                                \
    template <class U, class T>                \
    __device__ static U f(T a, T b) {          \
      if constexpr (kInt<T>)                   \
        return U(uint32_t(a) op uint32_t(b));  \
      else                                     \
        return a op b;                         \
    }                                          \
  };
QGF_EW_ARITH(Add, +)
QGF_EW_ARITH(Sub, -)
QGF_EW_ARITH(Mul, *)
#undef QGF_EW_ARITH

// Integer division truncates toward zero; x / 0 is 0 (documented), and INT_MIN / -1 wraps to INT_MIN (the
// hardware sequence would give something else, and C++ calls both undefined).
struct Div {
  template <class U, class T>
  __device__ static U f(T a, T b) {
    if constexpr (kInt<T>) {
      if (b == 0) return U(0);
      if constexpr (std::is_signed<T>::value)
        if (b == T(-1)) return U(0u - uint32_t(a));
    }
    return a / b;
  }
};
struct Pow {
  template <class U, class T>
  __device__ static U f(T a, T b) {
    return m::pow(a, b);
  }
};

#define QGF_EW_BINARY(Name, expr)          \
  struct Name {                            \
    template <class U, class T>            \
    __device__ static U f(T a, T b) {      \
      return expr;                         \
    }                                      \
  };
// NaN on either side wins (a != a is false for integers); at +0 vs -0 the second operand, as on the CPU.
QGF_EW_BINARY(Max, (a > b || a != a) ? a : b)
QGF_EW_BINARY(Min, (a < b || a != a) ? a : b)
QGF_EW_BINARY(Eq, a == b)
QGF_EW_BINARY(Ne, a != b)
QGF_EW_BINARY(Lt, a < b)
QGF_EW_BINARY(Le, a <= b)
QGF_EW_BINARY(Gt, a > b)
QGF_EW_BINARY(Ge, a >= b)
#undef QGF_EW_BINARY

// The condition is read as its storage byte, as the CPU reads it.
struct Select {
  template <class U, class T>
  __device__ static U f(uint8_t c, T on_true, T on_false) {
    return c ? on_true : on_false;
  }
};

// The engine's convert (loops.h convert_value): float -> int truncates toward zero, clamps to the target's
// range, NaN -> 0 (a bare cvt would saturate too but C++ leaves it undefined); -> bool is x != 0.
struct Convert {
  template <class U, class T>
  __device__ static U f(T v) {
    if constexpr (std::is_same<U, bool>::value) {
      return v != T(0);
    } else if constexpr (!kInt<T> && kInt<U>) {
      constexpr U umin = std::numeric_limits<U>::lowest(), umax = std::numeric_limits<U>::max();
      constexpr T lo = T(umin), hi = T(umax);
      return v != v ? U(0) : v <= lo ? umin : v >= hi ? umax : static_cast<U>(v);
    } else {
      return static_cast<U>(v);
    }
  }
};

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
