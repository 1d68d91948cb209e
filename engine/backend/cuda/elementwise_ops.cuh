// The elementwise operations as device functors, U F::f<U>(operands...) with U the result type: shared by
// the eager kernels (elementwise.cu, compiled by nvcc) and the fused kernels jit generates at run time
// (fusion_codegen.cpp; NVRTC compiles this file's text, embedded at build time, ahead of the generated code).
// So fused and unfused CUDA code compute the same expressions. The functors mirror the CPU kernels
// (engine/backend/cpu/elementwise.cpp, loops.h) expression for expression: integer and bool results are
// bit-identical to the CPU's, and floating results differ only by the rounding of CUDA's math functions.
// NVRTC has no standard headers, so this file uses none: the few traits it needs are below.
#pragma once
#ifdef __CUDACC_RTC__
typedef unsigned char uint8_t;
typedef int int32_t;
typedef unsigned int uint32_t;
typedef long long int64_t;
#else
#include <stdint.h>
#endif

namespace engine::backend::cuda::ew {

template <class A, class B>
inline constexpr bool kSame = false;
template <class A>
inline constexpr bool kSame<A, A> = true;
// Integral as std::is_integral says for the engine's dtypes (bool counts; the dtype sets keep it out of
// arithmetic).
template <class T>
inline constexpr bool kInt = kSame<T, bool> || kSame<T, int32_t> || kSame<T, uint32_t>;
template <class T>
inline constexpr bool kSigned = kSame<T, int32_t> || kSame<T, float> || kSame<T, double>;
template <class T>
struct Limits;
template <>
struct Limits<int32_t> {
  static constexpr int32_t lowest = -2147483647 - 1, max = 2147483647;
};
template <>
struct Limits<uint32_t> {
  static constexpr uint32_t lowest = 0u, max = 4294967295u;
};

// f32/f64 overload pairs of CUDA's math functions (never the approximate intrinsics), so one template serves
// both widths and a float can never be promoted to double by accident.
namespace m {
#define QGF_EW_MATH(name, ff, fd)                                  \
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

#define QGF_EW_UNARY(Name, expr) \
  struct Name {                  \
    template <class U, class T>  \
    __device__ static U f(T x) { \
      return expr;               \
    }                            \
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
#define QGF_EW_ARITH(Name, op)                \
  struct Name {                               \
    template <class U, class T>               \
    __device__ static U f(T a, T b) {         \
      if constexpr (kInt<T>)                  \
        return U(uint32_t(a) op uint32_t(b)); \
      else                                    \
        return a op b;                        \
    }                                         \
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
      if constexpr (kSigned<T>)
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

#define QGF_EW_BINARY(Name, expr)     \
  struct Name {                       \
    template <class U, class T>       \
    __device__ static U f(T a, T b) { \
      return expr;                    \
    }                                 \
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
    if constexpr (kSame<U, bool>) {
      return v != T(0);
    } else if constexpr (!kInt<T> && kInt<U>) {
      constexpr U umin = Limits<U>::lowest, umax = Limits<U>::max;
      constexpr T lo = T(umin), hi = T(umax);
      return v != v ? U(0) : v <= lo ? umin : v >= hi ? umax : static_cast<U>(v);
    } else {
      return static_cast<U>(v);
    }
  }
};

}  // namespace engine::backend::cuda::ew
