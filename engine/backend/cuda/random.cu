// CUDA kernels of the Random family (see random_launch.h). Threefry comes from the same header as the CPU
// kernels (engine/random/threefry.h), and every element's bits depend only on its key and its index, so the
// results are bit-identical to the CPU's whatever the grid.
#include "engine/backend/cuda/indexing.cuh"
#include "engine/backend/cuda/random_launch.h"
#include "engine/random/threefry.h"

namespace engine::backend::cuda {

namespace {

template <class T>
__global__ void iota_kernel(int64_t n, int64_t inner, int64_t dim, T* out) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = static_cast<T>((i / inner) % dim);  // from int64_t, as the CPU kernel converts
}

// One thread per element; the key is looked up per element (a division), which costs little next to the 20
// Threefry rounds.
__global__ void random_bits_kernel(IndexSpace keys, Operand key, int64_t word_stride, int64_t per, uint32_t* out) {
  const uint32_t* kp = static_cast<const uint32_t*>(key.data);
  const int64_t n = keys.numel * per;
  for (int64_t pos = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; pos < n;
       pos += int64_t(gridDim.x) * blockDim.x) {
    const int64_t k = pos / per, i = pos - k * per;
    const int64_t off = offset_of(keys, key, k);
    out[pos] = engine::random::threefry_bits32(kp[off], kp[off + word_stride], uint64_t(i));
  }
}

__global__ void random_fold_in_kernel(IndexSpace keys, Operand key, int64_t word_stride, Operand data,
                                      uint32_t* out) {
  const uint32_t* kp = static_cast<const uint32_t*>(key.data);
  for (int64_t k = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; k < keys.numel;
       k += int64_t(gridDim.x) * blockDim.x) {
    const int64_t off = offset_of(keys, key, k);
    const auto r = engine::random::threefry2x32_scalar(kp[off], kp[off + word_stride], 0u, at<uint32_t>(keys, data, k));
    out[2 * k] = r.x0;
    out[2 * k + 1] = r.x1;
  }
}

}  // namespace

void launch_iota(DT dt, int64_t n, int64_t inner, int64_t dim, void* out, cudaStream_t stream) {
  const unsigned grid = grid_for(n);
  switch (dt) {
    case DT::Bool: iota_kernel<<<grid, kThreads, 0, stream>>>(n, inner, dim, static_cast<bool*>(out)); break;
    case DT::I32: iota_kernel<<<grid, kThreads, 0, stream>>>(n, inner, dim, static_cast<int32_t*>(out)); break;
    case DT::U32: iota_kernel<<<grid, kThreads, 0, stream>>>(n, inner, dim, static_cast<uint32_t*>(out)); break;
    case DT::F32: iota_kernel<<<grid, kThreads, 0, stream>>>(n, inner, dim, static_cast<float*>(out)); break;
    case DT::F64: iota_kernel<<<grid, kThreads, 0, stream>>>(n, inner, dim, static_cast<double*>(out)); break;
  }
}

void launch_random_bits(const IndexSpace& keys, const Operand& key, int64_t word_stride, int64_t per, uint32_t* out,
                        cudaStream_t stream) {
  random_bits_kernel<<<grid_for(keys.numel * per), kThreads, 0, stream>>>(keys, key, word_stride, per, out);
}

void launch_random_fold_in(const IndexSpace& keys, const Operand& key, int64_t word_stride, const Operand& data,
                           uint32_t* out, cudaStream_t stream) {
  random_fold_in_kernel<<<grid_for(keys.numel), kThreads, 0, stream>>>(keys, key, word_stride, data, out);
}

}  // namespace engine::backend::cuda
