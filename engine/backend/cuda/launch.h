// The plain interface between the host-side kernel families (*.cpp, C++20, engine types) and the CUDA kernels
// (*.cu, compiled by nvcc, which see only this header and indexing.cuh): operands as raw pointers with
// element strides over an index space of at most kMaxRank dimensions, dtypes as a small enum.
#pragma once
#include <cuda_runtime_api.h>
#include <stdint.h>

namespace engine::backend::cuda {

inline constexpr int kMaxRank = 8;

// Same order as engine::DType.
enum class DT : uint8_t { Bool, I32, U32, F32, F64 };

// The logical shape a kernel iterates over (row-major linear index).
struct IndexSpace {
  int rank = 0;
  int64_t shape[kMaxRank] = {};
  int64_t numel = 1;
};

// One operand read or written over an IndexSpace: element strides per axis (0 on broadcast axes). `data`
// already points at the operand's first element (its view offset applied). `contiguous` says the strides are
// the row-major ones of the index space, so the kernel may use the linear index directly.
struct Operand {
  const void* data = nullptr;
  int64_t strides[kMaxRank] = {};
  bool contiguous = false;
};

// Threads per block and the grid for n elements (grid-stride loops cover the rest).
inline constexpr int kThreads = 256;
inline unsigned grid_for(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return unsigned(blocks < 1 ? 1 : (blocks > 65535 * 8 ? 65535 * 8 : blocks));
}

}  // namespace engine::backend::cuda
