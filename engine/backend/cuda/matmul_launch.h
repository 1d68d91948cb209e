// The plain interface between matmul.cpp (engine types, cuBLASLt) and matmul_copy.cu: the strided copy that
// makes an operand dense when its layout is not one cuBLASLt can read directly.
#pragma once
#include "engine/backend/cuda/launch.h"

namespace engine::backend::cuda {

// Copies `src` (read over `s` through its strides) into the row-major buffer `dst`, elements of `elem_bytes`
// bytes (4 or 8). s.numel must be positive. The caller checks the launch.
void launch_strided_copy(const IndexSpace& s, const Operand& src, int elem_bytes, void* dst,
                         cudaStream_t stream);

}  // namespace engine::backend::cuda
