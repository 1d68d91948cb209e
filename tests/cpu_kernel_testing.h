// Shared by the CPU kernel tests (test_cpu_kernels*.cpp): operands built as strided views over hand-filled
// storage (contiguous, column-major, padded, broadcast, scalar layouts), value generators, and comparisons
// that treat NaN as equal to NaN and bound float errors in ulps. Expected values come from the core's own
// copy-out (to_vector), never from a kernel.
#pragma once
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "engine/interp/interpreter.h"
#include "ops/api.h"
#include "ops/registry.h"

namespace cpu_kernel_testing {

using engine::AVal;
using engine::DType;
using engine::Shape;
using engine::Tensor;
using ops::Params;
using ops::Prim;
using Ints = std::vector<int64_t>;
using Rng = std::mt19937_64;
using V = std::vector<double>;

inline constexpr DType kAllDT[] = {DType::Bool, DType::I32, DType::U32, DType::F32, DType::F64};
inline constexpr DType kNumDT[] = {DType::I32, DType::U32, DType::F32, DType::F64};
inline constexpr DType kFloatDT[] = {DType::F32, DType::F64};
inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
inline constexpr double kInf = std::numeric_limits<double>::infinity();

// ===========================================================================================================
// Operand construction
// ===========================================================================================================

enum class Lay { Contig, ColMajor, Padded, Bcast0, Scalar };
inline const char* lay_name(Lay l) {
  switch (l) {
    case Lay::Contig:
      return "contig";
    case Lay::ColMajor:
      return "colmajor";
    case Lay::Padded:
      return "padded";
    case Lay::Bcast0:
      return "bcast0";
    case Lay::Scalar:
      return "scalar";
  }
  return "?";
}

// A view with the given strides and offset over fresh storage whose unused slots hold poison; logical
// element i (row-major) is vals[i]. Stride-0 dims must carry equal values (the last write wins).
inline Tensor make_view(DType dt, const V& vals, const Shape& shape, const Ints& strides, int64_t offset) {
  int64_t span = offset + 1;
  for (size_t d = 0; d < shape.size(); ++d) span += std::max<int64_t>(shape[d] - 1, 0) * strides[d];
  auto st = engine::allocate_cpu(size_t(span) * engine::itemsize(dt));
  engine::visit_dtype(dt, [&]<class T>() {
    T* p = static_cast<T*>(st->data);
    const T poison = std::is_floating_point_v<T> ? T(kNaN) : std::is_same_v<T, bool> ? T(1) : T(0x5A5A5A5A);
    for (int64_t i = 0; i < span; ++i) p[i] = poison;
    const int64_t n = engine::numel(shape);
    Ints idx(shape.size(), 0);
    for (int64_t i = 0; i < n; ++i) {
      int64_t off = offset;
      for (size_t d = 0; d < shape.size(); ++d) off += idx[d] * strides[d];
      p[off] = static_cast<T>(vals[size_t(i)]);
      for (int d = int(shape.size()) - 1; d >= 0 && ++idx[d] == shape[d]; --d) idx[d] = 0;
    }
  });
  return Tensor::make_concrete(AVal{shape, dt, false}, st, offset, strides);
}

// Values that survive the dtype exactly (the generator's values are given as doubles).
inline double fit(double v, DType dt) {
  switch (dt) {
    case DType::Bool:
      return v != 0 ? 1 : 0;
    case DType::I32:
      return double(int32_t(std::clamp(std::trunc(v), -2147483648.0, 2147483647.0)));
    case DType::U32:
      return double(uint32_t(std::clamp(std::trunc(v), 0.0, 4294967295.0)));
    case DType::F32:
      return double(float(v));
    case DType::F64:
      return v;
  }
  return v;
}

using Gen = std::function<double(Rng&)>;
inline Gen uniform(double lo, double hi) {
  return [=](Rng& r) { return std::uniform_real_distribution<double>(lo, hi)(r); };
}
inline Gen default_gen(DType dt) {
  switch (dt) {
    case DType::Bool:
      return [](Rng& r) { return double(r() & 1); };
    case DType::I32:
      return [](Rng& r) { return double(int64_t(r() % 2001) - 1000); };
    case DType::U32:
      return [](Rng& r) { return double(r() % 2001); };
    default:
      return uniform(-3, 3);
  }
}

// An operand of `shape` in layout `lay` with values from gen (equal along stride-0 dims).
inline Tensor make_input(Rng& rng, DType dt, const Shape& shape, Lay lay, const Gen& gen) {
  const int r = int(shape.size());
  Ints st(size_t(r), 0);
  int64_t offset = 0;
  Shape src = shape;  // the shape whose values are drawn
  switch (lay) {
    case Lay::Contig:
      st = engine::contiguous_strides(shape);
      break;
    case Lay::ColMajor: {
      int64_t s = 1;
      for (int d = 0; d < r; ++d) {
        st[d] = s;
        s *= std::max<int64_t>(shape[d], 1);
      }
      break;
    }
    case Lay::Padded: {
      int64_t s = 2;
      for (int d = r - 1; d >= 0; --d) {
        st[d] = s;
        s *= shape[d] + 1;
      }
      offset = 3;
      break;
    }
    case Lay::Bcast0:
      st = engine::contiguous_strides(shape);
      if (r > 0) {
        st[0] = 0;
        src[0] = 1;
      }
      break;
    case Lay::Scalar:
      src.assign(size_t(r), 1);
      break;
  }
  V base(size_t(engine::numel(src)));
  for (double& v : base) v = fit(gen(rng), dt);
  // Expand base (shape src) to shape.
  V vals(size_t(engine::numel(shape)));
  Ints idx(size_t(r), 0);
  const Ints sst = engine::contiguous_strides(src);
  for (size_t i = 0; i < vals.size(); ++i) {
    int64_t o = 0;
    for (int d = 0; d < r; ++d) o += (src[d] == 1 ? 0 : idx[d]) * sst[d];
    vals[i] = base[size_t(o)];
    for (int d = r - 1; d >= 0 && ++idx[d] == shape[d]; --d) idx[d] = 0;
  }
  return make_view(dt, vals, shape, st, offset);
}

inline V values(const Tensor& t) {
  V out;
  engine::visit_dtype(t.dtype(), [&]<class T>() {
    for (T v : t.to_vector<T>()) out.push_back(double(v));
  });
  return out;
}

// ===========================================================================================================
// Comparison
// ===========================================================================================================

inline double eps_of(DType dt) {
  return dt == DType::F32 ? double(std::numeric_limits<float>::epsilon())
                          : std::numeric_limits<double>::epsilon();
}
inline double tiny_of(DType dt) {
  return dt == DType::F32 ? double(std::numeric_limits<float>::min()) : std::numeric_limits<double>::min();
}

// "" when got matches want: NaN matches NaN, infinities exactly, finite values within ulps * eps * |want| +
// abs (ints and bools exactly).
inline std::string mismatch(const Tensor& got, const V& want, double ulps, double abs = 0) {
  if (int64_t(want.size()) != got.numel())
    return "size " + std::to_string(got.numel()) + " != " + std::to_string(want.size());
  const V g = values(got);
  const bool fl = engine::is_float(got.dtype());
  for (size_t i = 0; i < g.size(); ++i) {
    const double a = g[i], b = want[i];
    bool ok;
    if (std::isnan(b))
      ok = std::isnan(a);
    else if (std::isinf(b) || !fl)
      ok = a == b;
    else
      ok = std::fabs(a - b) <= ulps * eps_of(got.dtype()) * std::fabs(b) + abs + ulps * tiny_of(got.dtype());
    if (!ok) {
      char buf[200];
      std::snprintf(buf, sizeof buf, "element %zu: got %.17g, want %.17g", i, a, b);
      return std::string(buf) + " (" + got.aval().str() + ")";
    }
  }
  return "";
}

inline std::string bitwise_diff(const Tensor& a, const Tensor& b) {
  if (a.aval() != b.aval()) return "avals differ";
  const Tensor ac = a.contiguous(), bc = b.contiguous();
  const size_t n = size_t(a.numel()) * engine::itemsize(a.dtype());
  return n == 0 || std::memcmp(ac.raw_data(), bc.raw_data(), n) == 0 ? ""
                                                                     : "bits differ for " + a.aval().str();
}

// Integers wrap to 32 bits.
inline double int_wrap(int64_t v, DType dt) {
  return dt == DType::I32 ? double(int32_t(uint32_t(uint64_t(v)))) : double(uint32_t(uint64_t(v)));
}

// Runs f at 1 and 2 threads and requires bitwise-equal results.
inline void expect_thread_invariant(const std::function<Tensor()>& f, const std::string& what) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const Tensor a = f();
  omp_set_num_threads(2);
  const Tensor b = f();
  omp_set_num_threads(saved);
  EXPECT_EQ(bitwise_diff(a, b), "") << what;
}

}  // namespace cpu_kernel_testing
