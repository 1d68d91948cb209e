// CUDA kernels of the Movement family: the strided copy (reshape's fallback, concatenate), pad, gather and
// scatter_add (see movement_launch.h). The views (reshape, broadcast_in_dim, transpose, slice) need no kernel.
// Every kernel is a grid-stride loop with one thread per output element; none uses atomics, so scatter_add
// adds each slot's updates in index order, bit-identical to the CPU.
#include <stdint.h>

#include <type_traits>

#include "engine/backend/cuda/indexing.cuh"
#include "engine/backend/cuda/movement_launch.h"

namespace engine::backend::cuda {

namespace {

__device__ __forceinline__ int64_t first_index() { return int64_t(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ __forceinline__ int64_t grid_step() { return int64_t(gridDim.x) * blockDim.x; }

template <class E>
__global__ void copy_kernel(const IndexSpace s, const Operand src, E* dst, const Operand dst_layout) {
  for (int64_t i = first_index(); i < s.numel; i += grid_step()) dst[offset_of(s, dst_layout, i)] = at<E>(s, src, i);
}

template <class E>
__global__ void pad_kernel(const PadArgs a, E* out) {
  const E* src = static_cast<const E*>(a.src.data);
  const E value = static_cast<E>(a.value);  // the low bytes: the host packed the value little-endian
  for (int64_t i = first_index(); i < a.out.numel; i += grid_step()) {
    int64_t rem = i, off = 0;
    bool hit = true;
    for (int d = a.out.rank - 1; d >= 0; --d) {
      const int64_t q = rem / a.out.shape[d], k = rem - q * a.out.shape[d] - a.lo[d];
      rem = q;
      const int64_t j = k / a.step[d];  // meaningful only when hit stays true (k >= 0)
      hit = hit && k >= 0 && j * a.step[d] == k && j < a.in_shape[d];
      off += j * a.src.strides[d];
    }
    out[i] = hit ? src[off] : value;
  }
}

// The CPU's clamp: negative (signed) indices read row 0, indices past the end read the last row.
template <class IT>
__device__ __forceinline__ int64_t clamp_index(IT v, int64_t d) {
  const int64_t w = int64_t(v);
  return w < 0 ? 0 : (w > d - 1 ? d - 1 : w);
}

template <class E, class IT>
__global__ void gather_kernel(const GatherArgs a, E* out, int64_t n) {
  const E* x = static_cast<const E*>(a.x);
  const int64_t I = a.idx_space.numel, S = a.suffix.numel;
  for (int64_t t = first_index(); t < n; t += grid_step()) {
    const int64_t r = t / S, s = t - r * S, p = r / I, i = r - p * I;
    const int64_t j = clamp_index(at<IT>(a.idx_space, a.idx, i), a.axis_size);
    out[t] = x[offset_of(a.prefix, a.prefix_x, p) + j * a.axis_stride + offset_of(a.suffix, a.suffix_x, s)];
  }
}

// Each output slot scans all I indices and adds its matches in order: O(outputs x I) index reads, all of
// the same address across a warp (broadcast, cached). Fine for the action-, batch- and vocabulary-sized
// index sets this engine sees; a sort by slot would make it O(outputs + I log I) if that ever matters.
template <class T, class IT>
__global__ void scatter_add_kernel(const ScatterArgs a, T* out, int64_t n) {
  const IT* idx = static_cast<const IT*>(a.idx);
  const int64_t S = a.suffix, I = a.num_idx;
  for (int64_t t = first_index(); t < n; t += grid_step()) {
    const int64_t r = t / S, s = t - r * S, p = r / a.size, j = r - p * a.size;
    T acc = T(0);
    for (int64_t i = 0; i < I; ++i) {
      if (int64_t(idx[i]) != j) continue;  // a negative or too-large index equals no slot
      const T u = at<T>(a.updates_space, a.updates, (p * I + i) * S + s);
      if constexpr (std::is_integral<T>::value)  // integers wrap, as on the CPU (no signed-overflow UB)
        acc = static_cast<T>(static_cast<uint32_t>(acc) + static_cast<uint32_t>(u));
      else
        acc += u;
    }
    out[t] = acc;
  }
}

// Calls f(E{}) for the unsigned type of the element size.
template <class F>
void visit_bytes(int elem_bytes, F&& f) {
  switch (elem_bytes) {
    case 1:
      return f(uint8_t{});
    case 4:
      return f(uint32_t{});
    default:
      return f(uint64_t{});
  }
}

// Calls f(IT{}) for the index type.
template <class F>
void visit_index(DT d, F&& f) {
  if (d == DT::U32) return f(uint32_t{});
  return f(int32_t{});
}

}  // namespace

void launch_copy(int elem_bytes, const IndexSpace& space, const Operand& src, void* dst, const Operand& dst_layout,
                 cudaStream_t stream) {
  visit_bytes(elem_bytes, [&](auto e) {
    using E = decltype(e);
    copy_kernel<E><<<grid_for(space.numel), kThreads, 0, stream>>>(space, src, static_cast<E*>(dst), dst_layout);
  });
}

void launch_pad(int elem_bytes, const PadArgs& args, void* out, cudaStream_t stream) {
  visit_bytes(elem_bytes, [&](auto e) {
    using E = decltype(e);
    pad_kernel<E><<<grid_for(args.out.numel), kThreads, 0, stream>>>(args, static_cast<E*>(out));
  });
}

void launch_gather(int elem_bytes, DT index_dtype, const GatherArgs& args, void* out, cudaStream_t stream) {
  const int64_t n = args.prefix.numel * args.idx_space.numel * args.suffix.numel;
  visit_bytes(elem_bytes, [&](auto e) {
    visit_index(index_dtype, [&](auto it) {
      using E = decltype(e);
      gather_kernel<E, decltype(it)><<<grid_for(n), kThreads, 0, stream>>>(args, static_cast<E*>(out), n);
    });
  });
}

void launch_scatter_add(DT dtype, DT index_dtype, const ScatterArgs& args, void* out, cudaStream_t stream) {
  const int64_t n = args.prefix * args.size * args.suffix;
  visit_index(index_dtype, [&](auto it) {
    using IT = decltype(it);
    auto run = [&](auto v) {
      using T = decltype(v);
      scatter_add_kernel<T, IT><<<grid_for(n), kThreads, 0, stream>>>(args, static_cast<T*>(out), n);
    };
    switch (dtype) {
      case DT::I32:
        return run(int32_t{});
      case DT::U32:
        return run(uint32_t{});
      case DT::F32:
        return run(float{});
      case DT::F64:
        return run(double{});
      case DT::Bool:
        return;  // the rules reject bool updates
    }
  });
}

}  // namespace engine::backend::cuda
