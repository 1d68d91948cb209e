// CUDA kernel of the Reduce family (reduce_sum, reduce_max, argmax): one templated pass (see reduce_launch.h)
// instantiated per combining op and dtype. No atomics: each output's value is a fixed function of the pass's
// shape parameters (each thread sums a fixed strided subset in order, then a fixed shared-memory tree), so
// it does not depend on scheduling, on the grid size or on the GPU.
#include <stdint.h>

#include <limits>
#include <type_traits>

#include "engine/backend/cuda/indexing.cuh"
#include "engine/backend/cuda/reduce_launch.h"

namespace engine::backend::cuda {

namespace {

// Integer sums wrap (two's complement), as on the CPU: unsigned arithmetic has no overflow UB.
template <class T>
__device__ __forceinline__ T add(T a, T b) {
  if constexpr (std::is_integral<T>::value)
    return static_cast<T>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
  else
    return a + b;
}

template <class T>
__device__ __forceinline__ T lowest() {
  if constexpr (std::is_floating_point<T>::value)
    return -std::numeric_limits<T>::infinity();
  else
    return std::numeric_limits<T>::lowest();
}

// Each op: Acc (a plain aggregate, since it lives in __shared__), identity, push (one element, with its
// reduced index), an associative combine, and the value written out.
template <class T>
struct SumOp {
  using Acc = T;
  using Out = T;
  __device__ static Acc identity() { return T(0); }
  __device__ static Acc combine(Acc a, Acc b) { return add(a, b); }
  __device__ static Acc push(Acc a, T x, int64_t) { return add(a, x); }
  __device__ static Out result(Acc a) { return a; }
};

template <class T>
struct MaxOp {
  using Acc = T;
  using Out = T;
  __device__ static Acc identity() { return lowest<T>(); }
  // NaN-propagating: a NaN on either side wins (x != x only for NaN; always false for integers).
  __device__ static Acc combine(Acc a, Acc b) { return (b > a || b != b) ? b : a; }
  __device__ static Acc push(Acc a, T x, int64_t) { return combine(a, x); }
  __device__ static Out result(Acc a) { return a; }
};

template <class T>
struct ValIdx {
  T v;
  int64_t i;
};

// The maximum under a total order: NaN above everything, then by value, ties broken by the smaller index.
// It is associative and commutative, so any fixed tree returns exactly the CPU's answer: the first index of
// the maximum, or of the first NaN.
template <class T, class I>
struct ArgmaxOp {
  using Acc = ValIdx<T>;
  using Out = I;
  __device__ static Acc identity() { return {lowest<T>(), std::numeric_limits<int64_t>::max()}; }
  __device__ static Acc combine(Acc a, Acc b) {
    const bool an = a.v != a.v, bn = b.v != b.v;
    if (an != bn) return an ? a : b;
    if (!an && a.v != b.v) return b.v > a.v ? b : a;
    return b.i < a.i ? b : a;
  }
  __device__ static Acc push(Acc a, T x, int64_t r) { return combine(a, Acc{x, r}); }
  __device__ static Out result(Acc a) { return static_cast<I>(a.i); }
};

__device__ __forceinline__ int64_t reduced_offset(const ReducePass& p, int64_t r) {
  // After the host's collapsing the reduced elements are usually one strided run: skip the division.
  return p.red.rank == 1 ? r * p.red_x.strides[0] : offset_of(p.red, p.red_x, r);
}

template <class Op, class T>
__global__ void __launch_bounds__(kThreads) reduce_kernel(const ReducePass p, typename Op::Out* out) {
  using Acc = typename Op::Acc;
  __shared__ Acc part[kThreads];
  const T* x = static_cast<const T*>(p.x);
  const int t = int(threadIdx.x);
  const int tx = p.ry_fast ? t / p.ry : t % p.cx;  // which output of the block's tile
  const int ty = p.ry_fast ? t % p.ry : t / p.cx;  // which of that output's ry threads
  Acc* mine = part + tx * p.ry;                    // the ry partials of output tx
  const int64_t O = p.kept.numel, R = p.red.numel;
  const int64_t total = p.chunks * O;
  const int64_t tiles = (total + p.cx - 1) / p.cx;
  // Grid-stride over tiles; the loop bounds are uniform per block, so every thread reaches each barrier.
  for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const int64_t v = tile * p.cx + tx;
    Acc acc = Op::identity();
    if (v < total) {
      const int64_t c = v / O, o = v - c * O;
      const T* base = x + offset_of(p.kept, p.kept_x, o);
      const int64_t stop = (c + 1) * p.chunk, end = stop < R ? stop : R;
      for (int64_t r = c * p.chunk + ty; r < end; r += p.ry) acc = Op::push(acc, base[reduced_offset(p, r)], r);
    }
    mine[ty] = acc;
    __syncthreads();
    for (int s = p.ry / 2; s > 0; s /= 2) {
      if (ty < s) mine[ty] = Op::combine(mine[ty], mine[ty + s]);
      __syncthreads();
    }
    if (ty == 0 && v < total) out[v] = Op::result(mine[0]);
    __syncthreads();  // the next tile overwrites `part`
  }
}

template <class Op, class T>
void launch(const ReducePass& p, void* out, cudaStream_t stream) {
  const int64_t tiles = (p.chunks * p.kept.numel + p.cx - 1) / p.cx;
  const int64_t kMaxBlocks = 65535 * 8;  // as grid_for: the grid-stride loop covers the rest
  const unsigned blocks = unsigned(tiles < 1 ? 1 : (tiles > kMaxBlocks ? kMaxBlocks : tiles));
  reduce_kernel<Op, T><<<blocks, kThreads, 0, stream>>>(p, static_cast<typename Op::Out*>(out));
}

// Calls f(T{}) for the value type of d. Bool never arrives: the rules reject bool operands.
template <class F>
void visit_value(DT d, F&& f) {
  switch (d) {
    case DT::I32:
      return f(int32_t{});
    case DT::U32:
      return f(uint32_t{});
    case DT::F32:
      return f(float{});
    case DT::F64:
      return f(double{});
    case DT::Bool:
      return;
  }
}

}  // namespace

void launch_reduce(ReduceKind kind, DT x_dtype, DT out_dtype, const ReducePass& pass, void* out,
                   cudaStream_t stream) {
  visit_value(x_dtype, [&](auto tag) {
    using T = decltype(tag);
    switch (kind) {
      case ReduceKind::Sum:
        return launch<SumOp<T>, T>(pass, out, stream);
      case ReduceKind::Max:
        return launch<MaxOp<T>, T>(pass, out, stream);
      case ReduceKind::Argmax:
        if (out_dtype == DT::U32) return launch<ArgmaxOp<T, uint32_t>, T>(pass, out, stream);
        return launch<ArgmaxOp<T, int32_t>, T>(pass, out, stream);
    }
  });
}

}  // namespace engine::backend::cuda
