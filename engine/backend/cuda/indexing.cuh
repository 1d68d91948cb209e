// Device-side indexing over launch.h's IndexSpace and Operand: the element offset of a row-major linear
// index.
#pragma once
#include "engine/backend/cuda/launch.h"

namespace engine::backend::cuda {

__device__ __forceinline__ int64_t offset_of(const IndexSpace& s, const Operand& o, int64_t i) {
  if (o.contiguous) return i;
  int64_t off = 0;
  for (int d = s.rank - 1; d >= 0; --d) {
    const int64_t q = i / s.shape[d];
    off += (i - q * s.shape[d]) * o.strides[d];
    i = q;
  }
  return off;
}

template <class T>
__device__ __forceinline__ const T& at(const IndexSpace& s, const Operand& o, int64_t i) {
  return static_cast<const T*>(o.data)[offset_of(s, o, i)];
}

}  // namespace engine::backend::cuda
