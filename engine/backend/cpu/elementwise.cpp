// CPU kernels of the elementwise families: unary, binary, compare, select, convert and stop_gradient.
// Every kernel has three paths: all operands contiguous (one flat loop), a stride-0 operand (a broadcast
// scalar hoisted out of the loop), and a generic strided path (dims collapsed, innermost runs; transcendental
// ops gather strided runs into a small buffer and reuse the contiguous vector code). Transcendentals use
// SLEEF's 256-bit functions; a ragged tail goes through the same vector function on a padded buffer, so an
// element's value never depends on where it sits or how the work was split across threads.
#include <immintrin.h>
#include <sleef.h>

#include "engine/backend/cpu/elementwise_fns.h"
#include "engine/backend/cpu/kernels.h"
#include "engine/backend/cpu/loops.h"

namespace engine::backend::cpu {

namespace {

using ops::Prim;

constexpr int64_t kBlock = 256;  // gather buffer (elements) for strided operands of vector-math ops
constexpr int64_t kCheap = 1, kTranscendental = 8;  // work per element, for the serial cutoff

[[noreturn]] void bad_dtype(Prim p, const Tensor& x) {
  raise(ErrorKind::Internal, ops::prim_name(p),
        std::string("CPU kernel got unsupported dtype ") + dtype_name(x.dtype()) +
            " (the shape rule should have rejected it)",
        {{x.aval()}}, current_user_loc());
}

Tensor empty_like_aval(const AVal& a) { return Tensor::empty(a.shape, a.dtype); }

// ==========================================================================================================
// 256-bit vector math
// ==========================================================================================================

template <class T>
struct Vec;
template <>
struct Vec<float> {
  static constexpr int W = 8;
  static __m256 load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, __m256 v) { _mm256_storeu_ps(p, v); }
};
template <>
struct Vec<double> {
  static constexpr int W = 4;
  static __m256d load(const double* p) { return _mm256_loadu_pd(p); }
  static void store(double* p, __m256d v) { _mm256_storeu_pd(p, v); }
};

// y[i] = Op::v(x[i]) over contiguous arrays; the tail runs through the same vector function (zero-padded).
template <class Op, class T>
void map_vec(const T* x, T* y, int64_t n) {
  constexpr int W = Vec<T>::W;
  int64_t i = 0;
  for (; i + W <= n; i += W) Vec<T>::store(y + i, Op::v(Vec<T>::load(x + i)));
  if (i < n) {
    alignas(32) T buf[W] = {};
    std::memcpy(buf, x + i, size_t(n - i) * sizeof(T));
    Vec<T>::store(buf, Op::v(Vec<T>::load(buf)));
    std::memcpy(y + i, buf, size_t(n - i) * sizeof(T));
  }
}

template <class Op, class T>
void map_vec2(const T* a, const T* b, T* y, int64_t n) {
  constexpr int W = Vec<T>::W;
  int64_t i = 0;
  for (; i + W <= n; i += W) Vec<T>::store(y + i, Op::v(Vec<T>::load(a + i), Vec<T>::load(b + i)));
  if (i < n) {
    alignas(32) T ba[W] = {}, bb[W] = {};
    std::memcpy(ba, a + i, size_t(n - i) * sizeof(T));
    std::memcpy(bb, b + i, size_t(n - i) * sizeof(T));
    Vec<T>::store(ba, Op::v(Vec<T>::load(ba), Vec<T>::load(bb)));
    std::memcpy(y + i, ba, size_t(n - i) * sizeof(T));
  }
}

#define QGF_SLEEF_OP(Name, fn)                                    \
  struct Name {                                                   \
    static __m256 v(__m256 x) { return Sleef_##fn##f8_u10(x); }   \
    static __m256d v(__m256d x) { return Sleef_##fn##d4_u10(x); } \
  };
QGF_SLEEF_OP(VExp, exp)
QGF_SLEEF_OP(VLog, log)
QGF_SLEEF_OP(VLog1p, log1p)
QGF_SLEEF_OP(VExpm1, expm1)
QGF_SLEEF_OP(VSin, sin)
QGF_SLEEF_OP(VCos, cos)
QGF_SLEEF_OP(VErf, erf)
#undef QGF_SLEEF_OP

// f32 tanh: Cephes' tanhf scheme, vectorized. Below |x| = 0.625 an odd polynomial, x + x^3 P(x^2); above,
// 1 - 2 / (exp(2|x|) + 1) with the sign put back (exp overflows to inf for large |x|, giving exactly 1). Within
// 2 ulp of the true value (tests/test_cpu_kernels.cpp sweeps it), and about twice as fast as SLEEF's
// tanhf8_u10, which dominated every tanh-GELU. f64 keeps SLEEF.
struct VTanh {
  static __m256 v(__m256 x) {
    const __m256 sign_bit = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
    const __m256 ax = _mm256_andnot_ps(sign_bit, x);
    const __m256 e = Sleef_expf8_u10(_mm256_add_ps(ax, ax));
    const __m256 big = _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, one)));
    const __m256 s = _mm256_mul_ps(x, x);
    __m256 p = _mm256_set1_ps(-5.70498872745e-3f);
    p = _mm256_add_ps(_mm256_mul_ps(p, s), _mm256_set1_ps(2.06390887954e-2f));
    p = _mm256_add_ps(_mm256_mul_ps(p, s), _mm256_set1_ps(-5.37397155531e-2f));
    p = _mm256_add_ps(_mm256_mul_ps(p, s), _mm256_set1_ps(1.33314422036e-1f));
    p = _mm256_add_ps(_mm256_mul_ps(p, s), _mm256_set1_ps(-3.33332819422e-1f));
    const __m256 small = _mm256_add_ps(_mm256_mul_ps(_mm256_mul_ps(p, s), ax), ax);
    const __m256 is_small = _mm256_cmp_ps(ax, _mm256_set1_ps(0.625f), _CMP_LT_OQ);
    // Both branches on |x|, then x's sign: tanh is odd, and -0 stays -0.
    return _mm256_or_ps(_mm256_blendv_ps(big, small, is_small), _mm256_and_ps(x, sign_bit));
  }
  static __m256d v(__m256d x) { return Sleef_tanhd4_u10(x); }
};

struct VPow {
  static __m256 v(__m256 a, __m256 b) { return Sleef_powf8_u10(a, b); }
  static __m256d v(__m256d a, __m256d b) { return Sleef_powd4_u10(a, b); }
};

// IEEE square root (correctly rounded), not the approximate reciprocal instruction.
struct VSqrt {
  static __m256 v(__m256 x) { return _mm256_sqrt_ps(x); }
  static __m256d v(__m256d x) { return _mm256_sqrt_pd(x); }
};
struct VRsqrt {
  static __m256 v(__m256 x) { return _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_sqrt_ps(x)); }
  static __m256d v(__m256d x) { return _mm256_div_pd(_mm256_set1_pd(1.0), _mm256_sqrt_pd(x)); }
};
struct VFloor {
  static __m256 v(__m256 x) { return _mm256_floor_ps(x); }
  static __m256d v(__m256d x) { return _mm256_floor_pd(x); }
};

// logistic(x) = 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0, with e = exp(-|x|) <= 1: nothing overflows,
// and the result keeps full relative accuracy in both tails.
struct VLogistic {
  static __m256 v(__m256 x) {
    const __m256 ax = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
    const __m256 e = Sleef_expf8_u10(_mm256_sub_ps(_mm256_setzero_ps(), ax));
    const __m256 r = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
    const __m256 neg = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
    return _mm256_blendv_ps(r, _mm256_mul_ps(e, r), neg);
  }
  static __m256d v(__m256d x) {
    const __m256d ax = _mm256_andnot_pd(_mm256_set1_pd(-0.0), x);
    const __m256d e = Sleef_expd4_u10(_mm256_sub_pd(_mm256_setzero_pd(), ax));
    const __m256d r = _mm256_div_pd(_mm256_set1_pd(1.0), _mm256_add_pd(_mm256_set1_pd(1.0), e));
    const __m256d neg = _mm256_cmp_pd(x, _mm256_setzero_pd(), _CMP_LT_OQ);
    return _mm256_blendv_pd(r, _mm256_mul_pd(e, r), neg);
  }
};

// ==========================================================================================================
// Unary driver
// ==========================================================================================================

// A contiguous kernel y[0..n) = f(x[0..n)).
template <class T, class U>
using ContigUnary = void (*)(const T* __restrict x, U* __restrict y, int64_t n);

template <class T, class U>
void run_strided_unary(ContigUnary<T, U> fn, const T* x, int64_t sx, U* y, int64_t n) {
  if (sx == 1) return fn(x, y, n);
  if (sx == 0) {
    U v;
    fn(x, &v, 1);
    std::fill(y, y + n, v);
    return;
  }
  T buf[kBlock];
  for (int64_t i = 0; i < n; i += kBlock) {
    const int64_t m = std::min(kBlock, n - i);
    for (int64_t j = 0; j < m; ++j) buf[j] = x[(i + j) * sx];
    fn(buf, y + i, m);
  }
}

template <class T, class U>
void unary_apply(ContigUnary<T, U> fn, const Tensor& x, const Tensor& out, int64_t cost) {
  const int64_t n = out.numel();
  if (n == 0) return;
  const T* xp = ptr<const T>(x);
  U* yp = ptr<U>(out);
  if (dense(x)) {
    parallel_for(n, cost, [&](int64_t b, int64_t e) { fn(xp + b, yp + b, e - b); });
    return;
  }
  const std::span<const int64_t> st[2] = {out.strides(), x.strides()};
  const Layout<2> L = collapse<2>(out.shape(), st);
  parallel_for(n, cost, [&](int64_t b, int64_t e) {
    for_each_run(L, b, e, [&](const int64_t* off, int64_t len) {
      run_strided_unary<T, U>(fn, xp + off[1], L.inner(1), yp + off[0], len);
    });
  });
}

template <class Op, class T>
void vec_unary(const T* __restrict x, T* __restrict y, int64_t n) {
  map_vec<Op, T>(x, y, n);
}

template <class F, class T, class U>
void scalar_unary(const T* __restrict x, U* __restrict y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = F::template f<T, U>(x[i]);
}

// Scalar unary functions (integers wrap; floats keep the sign of zero and NaN).
struct SNeg {
  template <class T, class U>
  static U f(T x) {
    if constexpr (std::is_integral_v<T>)
      return static_cast<U>(0u - static_cast<uint32_t>(x));
    else
      return -x;
  }
};
struct SAbs {
  template <class T, class U>
  static U f(T x) {
    if constexpr (std::is_integral_v<T>)
      return x < 0 ? static_cast<U>(0u - static_cast<uint32_t>(x)) : x;
    else
      return std::fabs(x);
  }
};
struct SSign {
  template <class T, class U>
  static U f(T x) {
    return x > T(0) ? U(1) : x < T(0) ? U(-1) : x;  // 0 -> 0 (with its sign), NaN -> NaN
  }
};
struct SConvert {
  template <class T, class U>
  static U f(T x) {
    return convert_value<U, T>(x);
  }
};

// Builds the kernel of a float-only vector-math unary primitive.
template <class Op>
ops::Kernel float_unary_kernel(Prim p) {
  return [p](const TensorList& in, const std::vector<AVal>& oa, const Params&) {
    Tensor out = empty_like_aval(oa[0]);
    switch (in[0].dtype()) {
      case DType::F32:
        unary_apply<float, float>(&vec_unary<Op, float>, in[0], out, kTranscendental);
        break;
      case DType::F64:
        unary_apply<double, double>(&vec_unary<Op, double>, in[0], out, kTranscendental);
        break;
      default:
        bad_dtype(p, in[0]);
    }
    return TensorList{out};
  };
}

// Builds the kernel of a signed-numeric scalar unary primitive (i32, f32, f64).
template <class F>
ops::Kernel signed_unary_kernel(Prim p) {
  return [p](const TensorList& in, const std::vector<AVal>& oa, const Params&) {
    Tensor out = empty_like_aval(oa[0]);
    switch (in[0].dtype()) {
      case DType::I32:
        unary_apply<int32_t, int32_t>(&scalar_unary<F, int32_t, int32_t>, in[0], out, kCheap);
        break;
      case DType::F32:
        unary_apply<float, float>(&scalar_unary<F, float, float>, in[0], out, kCheap);
        break;
      case DType::F64:
        unary_apply<double, double>(&scalar_unary<F, double, double>, in[0], out, kCheap);
        break;
      default:
        bad_dtype(p, in[0]);
    }
    return TensorList{out};
  };
}

TensorList convert_kernel(const TensorList& in, const std::vector<AVal>& oa, const Params&) {
  Tensor out = empty_like_aval(oa[0]);
  visit_dtype(in[0].dtype(), [&]<class T>() {
    visit_dtype(oa[0].dtype,
                [&]<class U>() { unary_apply<T, U>(&scalar_unary<SConvert, T, U>, in[0], out, kCheap); });
  });
  return {out};
}

// ==========================================================================================================
// Binary driver (also compare: U = bool)
// ==========================================================================================================

template <class T, class U>
using StridedBinary = void (*)(const T* a, int64_t sa, const T* b, int64_t sb, U* __restrict o, int64_t n);

template <class T, class U>
void binary_apply(StridedBinary<T, U> fn, const Tensor& a, const Tensor& b, const Tensor& out, int64_t cost) {
  const int64_t n = out.numel();
  if (n == 0) return;
  const T* ap = ptr<const T>(a);
  const T* bp = ptr<const T>(b);
  U* op = ptr<U>(out);
  if (dense(a) && dense(b)) {
    parallel_for(n, cost, [&](int64_t s, int64_t e) { fn(ap + s, 1, bp + s, 1, op + s, e - s); });
    return;
  }
  const std::span<const int64_t> st[3] = {out.strides(), a.strides(), b.strides()};
  const Layout<3> L = collapse<3>(out.shape(), st);
  parallel_for(n, cost, [&](int64_t s, int64_t e) {
    for_each_run(L, s, e, [&](const int64_t* off, int64_t len) {
      fn(ap + off[1], L.inner(1), bp + off[2], L.inner(2), op + off[0], len);
    });
  });
}

// Cheap ops: plain loops the compiler vectorizes, specialized for a broadcast scalar on either side.
template <class F, class T, class U>
void scalar_binary(const T* a, int64_t sa, const T* b, int64_t sb, U* __restrict o, int64_t n) {
  if (sa == 1 && sb == 1) {
    const T* __restrict x = a;
    const T* __restrict y = b;
    for (int64_t i = 0; i < n; ++i) o[i] = F::template f<T, U>(x[i], y[i]);
  } else if (sa == 0 && sb == 1) {
    const T s = a[0];
    const T* __restrict y = b;
    for (int64_t i = 0; i < n; ++i) o[i] = F::template f<T, U>(s, y[i]);
  } else if (sa == 1 && sb == 0) {
    const T s = b[0];
    const T* __restrict x = a;
    for (int64_t i = 0; i < n; ++i) o[i] = F::template f<T, U>(x[i], s);
  } else {
    for (int64_t i = 0; i < n; ++i) o[i] = F::template f<T, U>(a[i * sa], b[i * sb]);
  }
}

// Vector-math ops: strided operands are gathered into buffers (a broadcast scalar fills one once).
template <class Op, class T>
void vec_binary(const T* a, int64_t sa, const T* b, int64_t sb, T* __restrict o, int64_t n) {
  if (sa == 1 && sb == 1) return map_vec2<Op, T>(a, b, o, n);
  T ba[kBlock], bb[kBlock];
  if (sa == 0) std::fill(ba, ba + kBlock, a[0]);
  if (sb == 0) std::fill(bb, bb + kBlock, b[0]);
  for (int64_t i = 0; i < n; i += kBlock) {
    const int64_t m = std::min(kBlock, n - i);
    if (sa != 0)
      for (int64_t j = 0; j < m; ++j) ba[j] = a[(i + j) * sa];
    if (sb != 0)
      for (int64_t j = 0; j < m; ++j) bb[j] = b[(i + j) * sb];
    map_vec2<Op, T>(ba, bb, o + i, m);
  }
}

// Integer arithmetic wraps (computed in uint32_t: no signed-overflow UB).
template <class T>
T wrap(uint32_t v) {
  return static_cast<T>(v);
}

struct SAdd {
  template <class T, class U>
  static U f(T a, T b) {
    if constexpr (std::is_integral_v<T>)
      return wrap<T>(uint32_t(a) + uint32_t(b));
    else
      return a + b;
  }
};
struct SSub {
  template <class T, class U>
  static U f(T a, T b) {
    if constexpr (std::is_integral_v<T>)
      return wrap<T>(uint32_t(a) - uint32_t(b));
    else
      return a - b;
  }
};
struct SMul {
  template <class T, class U>
  static U f(T a, T b) {
    if constexpr (std::is_integral_v<T>)
      return wrap<T>(uint32_t(a) * uint32_t(b));
    else
      return a * b;
  }
};
// Integer division truncates toward zero; x / 0 is 0 (documented), and INT_MIN / -1 wraps to INT_MIN.
struct SDiv {
  template <class T, class U>
  static U f(T a, T b) {
    if constexpr (std::is_integral_v<T>) {
      if (b == 0) return 0;
      if constexpr (std::is_signed_v<T>)
        if (b == -1) return wrap<T>(0u - uint32_t(a));
      return a / b;
    } else {
      return a / b;
    }
  }
};
// NaN-propagating max/min: a NaN on either side wins.
struct SMax {
  template <class T, class U>
  static U f(T a, T b) {
    if constexpr (std::is_floating_point_v<T>)
      return (a > b || a != a) ? a : b;
    else
      return a > b ? a : b;
  }
};
struct SMin {
  template <class T, class U>
  static U f(T a, T b) {
    if constexpr (std::is_floating_point_v<T>)
      return (a < b || a != a) ? a : b;
    else
      return a < b ? a : b;
  }
};
#define QGF_CMP(Name, expr)     \
  struct Name {                 \
    template <class T, class U> \
    static U f(T a, T b) {      \
      return expr;              \
    }                           \
  };
QGF_CMP(SEq, a == b)
QGF_CMP(SNe, a != b)
QGF_CMP(SLt, a < b)
QGF_CMP(SLe, a <= b)
QGF_CMP(SGt, a > b)
QGF_CMP(SGe, a >= b)
#undef QGF_CMP

// Arithmetic on i32, u32, f32, f64.
template <class F>
ops::Kernel numeric_binary_kernel(Prim p, int64_t cost) {
  return [p, cost](const TensorList& in, const std::vector<AVal>& oa, const Params&) {
    Tensor out = empty_like_aval(oa[0]);
    switch (in[0].dtype()) {
      case DType::I32:
        binary_apply<int32_t, int32_t>(&scalar_binary<F, int32_t, int32_t>, in[0], in[1], out, cost);
        break;
      case DType::U32:
        binary_apply<uint32_t, uint32_t>(&scalar_binary<F, uint32_t, uint32_t>, in[0], in[1], out, cost);
        break;
      case DType::F32:
        binary_apply<float, float>(&scalar_binary<F, float, float>, in[0], in[1], out, cost);
        break;
      case DType::F64:
        binary_apply<double, double>(&scalar_binary<F, double, double>, in[0], in[1], out, cost);
        break;
      default:
        bad_dtype(p, in[0]);
    }
    return TensorList{out};
  };
}

template <class F>
ops::Kernel compare_kernel() {
  return [](const TensorList& in, const std::vector<AVal>& oa, const Params&) {
    Tensor out = empty_like_aval(oa[0]);
    visit_dtype(in[0].dtype(), [&]<class T>() {
      binary_apply<T, bool>(&scalar_binary<F, T, bool>, in[0], in[1], out, kCheap);
    });
    return TensorList{out};
  };
}

TensorList pow_kernel(const TensorList& in, const std::vector<AVal>& oa, const Params&) {
  Tensor out = empty_like_aval(oa[0]);
  switch (in[0].dtype()) {
    case DType::F32:
      binary_apply<float, float>(&vec_binary<VPow, float>, in[0], in[1], out, kTranscendental);
      break;
    case DType::F64:
      binary_apply<double, double>(&vec_binary<VPow, double>, in[0], in[1], out, kTranscendental);
      break;
    default:
      bad_dtype(Prim::pow, in[0]);
  }
  return {out};
}

// ==========================================================================================================
// select(cond, on_true, on_false)
// ==========================================================================================================

template <class T>
void select_run(const uint8_t* c, int64_t sc, const T* t, int64_t st, const T* f, int64_t sf, T* __restrict o,
                int64_t n) {
  if (sc == 1 && st == 1 && sf == 1) {
    const uint8_t* __restrict cc = c;
    const T* __restrict tt = t;
    const T* __restrict ff = f;
    for (int64_t i = 0; i < n; ++i) o[i] = cc[i] ? tt[i] : ff[i];
  } else if (sc == 1 && st == 1 && sf == 0) {  // select(mask, x, 0): the common masking pattern
    const T fv = f[0];
    for (int64_t i = 0; i < n; ++i) o[i] = c[i] ? t[i] : fv;
  } else if (sc == 1 && st == 0 && sf == 1) {
    const T tv = t[0];
    for (int64_t i = 0; i < n; ++i) o[i] = c[i] ? tv : f[i];
  } else {
    for (int64_t i = 0; i < n; ++i) o[i] = c[i * sc] ? t[i * st] : f[i * sf];
  }
}

TensorList select_kernel(const TensorList& in, const std::vector<AVal>& oa, const Params&) {
  Tensor out = empty_like_aval(oa[0]);
  const int64_t n = out.numel();
  if (n == 0) return {out};
  visit_dtype(oa[0].dtype, [&]<class T>() {
    const uint8_t* cp = ptr<const uint8_t>(in[0]);  // bool storage read as bytes: vectorizes
    const T* tp = ptr<const T>(in[1]);
    const T* fp = ptr<const T>(in[2]);
    T* op = ptr<T>(out);
    if (dense(in[0]) && dense(in[1]) && dense(in[2])) {
      parallel_for(n, kCheap, [&](int64_t s, int64_t e) {
        select_run<T>(cp + s, 1, tp + s, 1, fp + s, 1, op + s, e - s);
      });
      return;
    }
    const std::span<const int64_t> st[4] = {out.strides(), in[0].strides(), in[1].strides(), in[2].strides()};
    const Layout<4> L = collapse<4>(out.shape(), st);
    parallel_for(n, kCheap, [&](int64_t s, int64_t e) {
      for_each_run(L, s, e, [&](const int64_t* off, int64_t len) {
        select_run<T>(cp + off[1], L.inner(1), tp + off[2], L.inner(2), fp + off[3], L.inner(3), op + off[0],
                      len);
      });
    });
  });
  return {out};
}

// ---- the same loops as run functions over one strided run, for the fused kernels of compiled code ----

template <class T, class U, ContigUnary<T, U> Fn>
void unary_run(const void* const* in, const int64_t* s, void* o, int64_t n) {
  run_strided_unary<T, U>(Fn, static_cast<const T*>(in[0]), s[0], static_cast<U*>(o), n);
}
template <class T, class U, StridedBinary<T, U> Fn>
void binary_run(const void* const* in, const int64_t* s, void* o, int64_t n) {
  Fn(static_cast<const T*>(in[0]), s[0], static_cast<const T*>(in[1]), s[1], static_cast<U*>(o), n);
}
template <class T>
void select_run_any(const void* const* in, const int64_t* s, void* o, int64_t n) {
  select_run<T>(static_cast<const uint8_t*>(in[0]), s[0], static_cast<const T*>(in[1]), s[1],
                static_cast<const T*>(in[2]), s[2], static_cast<T*>(o), n);
}

template <class Op>
RunFn float_unary_fn(DType t) {
  if (t == DType::F32) return &unary_run<float, float, &vec_unary<Op, float>>;
  if (t == DType::F64) return &unary_run<double, double, &vec_unary<Op, double>>;
  return nullptr;
}
template <class F>
RunFn signed_unary_fn(DType t) {
  if (t == DType::I32) return &unary_run<int32_t, int32_t, &scalar_unary<F, int32_t, int32_t>>;
  if (t == DType::F32) return &unary_run<float, float, &scalar_unary<F, float, float>>;
  if (t == DType::F64) return &unary_run<double, double, &scalar_unary<F, double, double>>;
  return nullptr;
}
template <class F>
RunFn numeric_binary_fn(DType t) {
  RunFn fn = nullptr;
  if (t != DType::Bool)
    visit_dtype(t, [&]<class T>() { fn = &binary_run<T, T, &scalar_binary<F, T, T>>; });
  return fn;
}
template <class F>
RunFn compare_fn(DType t) {
  RunFn fn = nullptr;
  visit_dtype(t, [&]<class T>() { fn = &binary_run<T, bool, &scalar_binary<F, T, bool>>; });
  return fn;
}

}  // namespace

RunFn elementwise_run_fn(Prim p, DType operand, DType out) {
  switch (p) {
#define QGF_FLOAT_UNARY(prim, Op) \
  case Prim::prim:                \
    return float_unary_fn<Op>(operand);
    QGF_FLOAT_UNARY(exp, VExp)
    QGF_FLOAT_UNARY(log, VLog)
    QGF_FLOAT_UNARY(log1p, VLog1p)
    QGF_FLOAT_UNARY(expm1, VExpm1)
    QGF_FLOAT_UNARY(sin, VSin)
    QGF_FLOAT_UNARY(cos, VCos)
    QGF_FLOAT_UNARY(tanh, VTanh)
    QGF_FLOAT_UNARY(erf, VErf)
    QGF_FLOAT_UNARY(logistic, VLogistic)
    QGF_FLOAT_UNARY(sqrt, VSqrt)
    QGF_FLOAT_UNARY(rsqrt, VRsqrt)
    QGF_FLOAT_UNARY(floor, VFloor)
#undef QGF_FLOAT_UNARY
    case Prim::neg: return signed_unary_fn<SNeg>(operand);
    case Prim::abs: return signed_unary_fn<SAbs>(operand);
    case Prim::sign: return signed_unary_fn<SSign>(operand);
    case Prim::add: return numeric_binary_fn<SAdd>(operand);
    case Prim::sub: return numeric_binary_fn<SSub>(operand);
    case Prim::mul: return numeric_binary_fn<SMul>(operand);
    case Prim::div: return numeric_binary_fn<SDiv>(operand);
    case Prim::max: return numeric_binary_fn<SMax>(operand);
    case Prim::min: return numeric_binary_fn<SMin>(operand);
    case Prim::pow:
      return operand == DType::F32   ? &binary_run<float, float, &vec_binary<VPow, float>>
             : operand == DType::F64 ? &binary_run<double, double, &vec_binary<VPow, double>>
                                     : nullptr;
    case Prim::eq: return compare_fn<SEq>(operand);
    case Prim::ne: return compare_fn<SNe>(operand);
    case Prim::lt: return compare_fn<SLt>(operand);
    case Prim::le: return compare_fn<SLe>(operand);
    case Prim::gt: return compare_fn<SGt>(operand);
    case Prim::ge: return compare_fn<SGe>(operand);
    case Prim::select: {
      RunFn fn = nullptr;
      visit_dtype(out, [&]<class T>() { fn = &select_run_any<T>; });
      return fn;
    }
    case Prim::convert: {
      RunFn fn = nullptr;
      visit_dtype(operand, [&]<class T>() {
        visit_dtype(out, [&]<class U>() { fn = &unary_run<T, U, &scalar_unary<SConvert, T, U>>; });
      });
      return fn;
    }
    default:
      return nullptr;
  }
}

int64_t elementwise_cost(Prim p) {
  switch (p) {
    case Prim::exp: case Prim::log: case Prim::log1p: case Prim::expm1: case Prim::sin: case Prim::cos:
    case Prim::tanh: case Prim::erf: case Prim::logistic: case Prim::pow:
      return kTranscendental;
    case Prim::div: case Prim::sqrt: case Prim::rsqrt:
      return 2;
    default:
      return kCheap;
  }
}

void register_elementwise_kernels() {
  auto set = [](Prim p, ops::Kernel k) { ops::def_mut(p).cpu = std::move(k); };
  set(Prim::exp, float_unary_kernel<VExp>(Prim::exp));
  set(Prim::log, float_unary_kernel<VLog>(Prim::log));
  set(Prim::log1p, float_unary_kernel<VLog1p>(Prim::log1p));
  set(Prim::expm1, float_unary_kernel<VExpm1>(Prim::expm1));
  set(Prim::sin, float_unary_kernel<VSin>(Prim::sin));
  set(Prim::cos, float_unary_kernel<VCos>(Prim::cos));
  set(Prim::tanh, float_unary_kernel<VTanh>(Prim::tanh));
  set(Prim::erf, float_unary_kernel<VErf>(Prim::erf));
  set(Prim::logistic, float_unary_kernel<VLogistic>(Prim::logistic));
  set(Prim::sqrt, float_unary_kernel<VSqrt>(Prim::sqrt));
  set(Prim::rsqrt, float_unary_kernel<VRsqrt>(Prim::rsqrt));
  set(Prim::floor, float_unary_kernel<VFloor>(Prim::floor));
  set(Prim::neg, signed_unary_kernel<SNeg>(Prim::neg));
  set(Prim::abs, signed_unary_kernel<SAbs>(Prim::abs));
  set(Prim::sign, signed_unary_kernel<SSign>(Prim::sign));

  set(Prim::add, numeric_binary_kernel<SAdd>(Prim::add, kCheap));
  set(Prim::sub, numeric_binary_kernel<SSub>(Prim::sub, kCheap));
  set(Prim::mul, numeric_binary_kernel<SMul>(Prim::mul, kCheap));
  set(Prim::div, numeric_binary_kernel<SDiv>(Prim::div, 2));
  set(Prim::max, numeric_binary_kernel<SMax>(Prim::max, kCheap));
  set(Prim::min, numeric_binary_kernel<SMin>(Prim::min, kCheap));
  set(Prim::pow, pow_kernel);

  set(Prim::eq, compare_kernel<SEq>());
  set(Prim::ne, compare_kernel<SNe>());
  set(Prim::lt, compare_kernel<SLt>());
  set(Prim::le, compare_kernel<SLe>());
  set(Prim::gt, compare_kernel<SGt>());
  set(Prim::ge, compare_kernel<SGe>());

  set(Prim::select, select_kernel);
  set(Prim::convert, convert_kernel);
  // Identity: the operand itself (the primitive is marked kView; the evaluator fixes the weak bit).
  set(Prim::stop_gradient,
      [](const TensorList& in, const std::vector<AVal>&, const Params&) { return TensorList{in[0]}; });
}

}  // namespace engine::backend::cpu
