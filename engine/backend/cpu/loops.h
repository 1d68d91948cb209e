// Shared machinery of the CPU kernels: OpenMP partitioning with a serial cutoff (tiny ops never touch the
// thread pool), dimension collapsing for strided loops, a strided copy, and value conversions without UB.
#pragma once
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <type_traits>

#include "engine/core/tensor.h"
#include "engine/interp/interpreter.h"
#include "ops/registry.h"

namespace engine::backend::cpu {

using ops::Params;
using ops::TensorList;

// Below this many elements of work a kernel runs on the calling thread: waking the pool costs a few
// microseconds, which is what a 32K-element add takes on one core.
inline constexpr int64_t kSerialCutoff = 32768;
inline constexpr int kMaxRank = 32;

inline int max_threads() { return omp_in_parallel() ? 1 : omp_get_max_threads(); }

// Calls f(begin, end) on contiguous pieces of [0, n), one per thread, or once when the work (n * cost, in
// element-operations) is below the cutoff. Pieces are aligned to `align` items so vector loops stay aligned.
// Callers must not make results depend on where the pieces fall (every kernel computes each output element
// the same way whatever the split; reductions use fixed chunks instead).
template <class F>
void parallel_for(int64_t n, int64_t cost, F&& f, int64_t align = 16) {
  if (n <= 0) return;
  const int threads = max_threads();
  if (threads <= 1 || n * cost < kSerialCutoff || n < 2) {
    f(int64_t(0), n);
    return;
  }
  const int64_t min_items = std::max<int64_t>(1, kSerialCutoff / (2 * std::max<int64_t>(cost, 1)));
  const int nt = static_cast<int>(std::min<int64_t>(threads, std::max<int64_t>(1, n / min_items)));
  if (nt <= 1) {
    f(int64_t(0), n);
    return;
  }
#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num(), k = omp_get_num_threads();
    int64_t per = (n + k - 1) / k;
    if (align > 1) per = (per + align - 1) / align * align;
    const int64_t b = std::min<int64_t>(n, per * t), e = std::min<int64_t>(n, b + per);
    if (b < e) f(b, e);
  }
}

// A strided iteration space over N operands after collapsing: size-1 dims dropped, and adjacent dims merged
// where every operand steps through them as through one dim. Rank 0 becomes one dim of size 1.
template <int N>
struct Layout {
  int rank = 0;
  int64_t shape[kMaxRank];
  int64_t strides[N][kMaxRank];
  int64_t inner(int k) const { return strides[k][rank - 1]; }
};

[[noreturn]] void rank_too_large(int rank);

template <int N>
Layout<N> collapse(std::span<const int64_t> shape, const std::span<const int64_t> (&strides)[N]) {
  Layout<N> L;
  const int r = static_cast<int>(shape.size());
  if (r > kMaxRank) rank_too_large(r);
  for (int d = 0; d < r; ++d) {
    if (shape[d] == 1) continue;
    const int j = L.rank;
    bool merge = j > 0;
    for (int k = 0; k < N && merge; ++k) merge = L.strides[k][j - 1] == strides[k][d] * shape[d];
    if (merge) {
      L.shape[j - 1] *= shape[d];
      for (int k = 0; k < N; ++k) L.strides[k][j - 1] = strides[k][d];
    } else {
      L.shape[j] = shape[d];
      for (int k = 0; k < N; ++k) L.strides[k][j] = strides[k][d];
      ++L.rank;
    }
  }
  if (L.rank == 0) {
    L.rank = 1;
    L.shape[0] = 1;
    for (int k = 0; k < N; ++k) L.strides[k][0] = 1;
  }
  return L;
}

// Calls f(offsets, len) for each innermost run of the row-major elements [begin, end) of L; offsets[k] is
// operand k's element offset of the run's first element (the run steps by L.inner(k)).
template <int N, class F>
void for_each_run(const Layout<N>& L, int64_t begin, int64_t end, F&& f) {
  const int r = L.rank;
  int64_t idx[kMaxRank];
  int64_t off[N] = {};
  int64_t rem = begin;
  for (int d = r - 1; d >= 0; --d) {
    idx[d] = rem % L.shape[d];
    rem /= L.shape[d];
    for (int k = 0; k < N; ++k) off[k] += idx[d] * L.strides[k][d];
  }
  const int64_t inner = L.shape[r - 1];
  int64_t pos = begin;
  while (pos < end) {
    const int64_t len = std::min(inner - idx[r - 1], end - pos);
    f(static_cast<const int64_t*>(off), len);
    pos += len;
    for (int k = 0; k < N; ++k) off[k] += len * L.strides[k][r - 1];
    idx[r - 1] += len;
    for (int d = r - 1; d > 0 && idx[d] == L.shape[d]; --d) {
      for (int k = 0; k < N; ++k) off[k] -= L.shape[d] * L.strides[k][d] - L.strides[k][d - 1];
      idx[d] = 0;
      ++idx[d - 1];
    }
  }
}

// Kernels receive concrete tensors only: these skip the handle's concreteness checks on the hot path.
inline bool dense(const Tensor& t) {
  const Shape& sh = t.shape();
  const std::vector<int64_t>& st = t.strides();
  int64_t expect = 1;
  for (size_t i = sh.size(); i-- > 0;) {
    if (sh[i] != 1 && st[i] != expect) return false;
    expect *= sh[i];
  }
  return true;
}
template <class T>
inline T* ptr(const Tensor& t) {
  return static_cast<T*>(t.storage()->data) + t.offset();
}

// Copies the elements of a strided view into another strided view of the same shape (element size isz).
void strided_copy(void* dst, std::span<const int64_t> dst_strides, const void* src,
                  std::span<const int64_t> src_strides, std::span<const int64_t> shape, size_t isz);

// A contiguous copy of t's values (t itself when already contiguous).
Tensor contiguous(const Tensor& t);

// Value conversion with the engine's convert semantics: float -> int truncates toward zero, clamps to the
// target range, NaN -> 0; -> bool is x != 0.
template <class To, class From>
inline To convert_value(From v) {
  if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To>) {
    // Written as selects with the cast reached only in range, so the loops that use it vectorize.
    constexpr From lo = From(std::numeric_limits<To>::lowest()), hi = From(std::numeric_limits<To>::max());
    return v != v    ? To(0)
           : v <= lo ? std::numeric_limits<To>::lowest()
           : v >= hi ? std::numeric_limits<To>::max()
                     : static_cast<To>(v);
  } else {
    return static_cast<To>(v);
  }
}

}  // namespace engine::backend::cpu
