// The strided copy of matmul_launch.h. Elements are moved as 4- or 8-byte words, so one kernel serves f32
// and f64 (the bits are copied, not the values).
#include "engine/backend/cuda/indexing.cuh"
#include "engine/backend/cuda/matmul_launch.h"

namespace engine::backend::cuda {

namespace {

template <class W>
__global__ void strided_copy_kernel(IndexSpace s, Operand src, W* dst) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < s.numel; i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = at<W>(s, src, i);
}

}  // namespace

void launch_strided_copy(const IndexSpace& s, const Operand& src, int elem_bytes, void* dst, cudaStream_t stream) {
  if (elem_bytes == 8)
    strided_copy_kernel<<<grid_for(s.numel), kThreads, 0, stream>>>(s, src, static_cast<uint64_t*>(dst));
  else
    strided_copy_kernel<<<grid_for(s.numel), kThreads, 0, stream>>>(s, src, static_cast<uint32_t*>(dst));
}

}  // namespace engine::backend::cuda
