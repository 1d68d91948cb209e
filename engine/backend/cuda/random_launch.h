// The plain interface between random.cpp (engine types, registration) and random.cu (the kernels) for iota,
// random_bits and random_fold_in. Keys are u32[K..., 2]: `keys` is the index space of the key axes K...,
// `key` reads word 0 of each key over it and `word_stride` steps from word 0 to word 1 (any strides, so
// batched and broadcast keys need no copy). Outputs are contiguous. The caller checks the launch.
#pragma once
#include "engine/backend/cuda/launch.h"

namespace engine::backend::cuda {

// out[i] = (i / inner) % dim converted to `dt`, for i in [0, n): the iota along an axis of extent `dim` with
// `inner` elements after it. n must be positive.
void launch_iota(DT dt, int64_t n, int64_t inner, int64_t dim, void* out, cudaStream_t stream);

// out[k * per + i] = threefry_bits32(key k, i) for each key k of `keys` and i in [0, per); keys.numel * per
// must be positive.
void launch_random_bits(const IndexSpace& keys, const Operand& key, int64_t word_stride, int64_t per,
                        uint32_t* out, cudaStream_t stream);

// (out[2k], out[2k+1]) = threefry2x32(key k, (0, data[k])) for each key k of `keys` (data is u32 over the
// same index space); keys.numel must be positive.
void launch_random_fold_in(const IndexSpace& keys, const Operand& key, int64_t word_stride,
                           const Operand& data, uint32_t* out, cudaStream_t stream);

}  // namespace engine::backend::cuda
