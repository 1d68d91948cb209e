// The interface between the host side of the Movement family (movement.cpp) and its CUDA kernels
// (movement.cu). Pure data movement is dtype-blind: those kernels take the element size (1, 4 or 8 bytes)
// and move bits; only scatter_add, which adds, takes the dtype.
#pragma once
#include "engine/backend/cuda/launch.h"

namespace engine::backend::cuda {

// dst (laid out by dst_layout's strides; its data is unused) <- src, element by element over `space`.
void launch_copy(int elem_bytes, const IndexSpace& space, const Operand& src, void* dst,
                 const Operand& dst_layout, cudaStream_t stream);

// The contiguous output `out` of pad: operand element j of axis d lands at lo[d] + j * step[d]
// (step = interior + 1); every other element is `value` (its bits in the low elem_bytes bytes).
struct PadArgs {
  IndexSpace out;
  Operand src;  // the operand's strides, one per axis
  int64_t in_shape[kMaxRank] = {}, lo[kMaxRank] = {}, step[kMaxRank] = {};
  uint64_t value = 0;
};
void launch_pad(int elem_bytes, const PadArgs& args, void* out, cudaStream_t stream);

// out[p, i, s] = x[p, clamp(idx[i], 0, axis_size - 1), s] (contiguous out, P x I x S elements); p and s are
// decomposed over x's leading dims (prefix) and trailing dims (suffix).
struct GatherArgs {
  const void* x = nullptr;
  IndexSpace prefix, suffix;
  Operand prefix_x, suffix_x;  // x's strides over them (data unused)
  int64_t axis_stride = 0, axis_size = 0;
  IndexSpace idx_space;  // the indices' own shape (I elements)
  Operand idx;
};
void launch_gather(int elem_bytes, DT index_dtype, const GatherArgs& args, void* out, cudaStream_t stream);

// out[p, j, s] = sum over i in order with idx[i] == j of updates[p, i, s] (contiguous out, P x size x S);
// indices outside [0, size) match nothing. updates are read at row-major index (p * I + i) * S + s of their
// own shape.
struct ScatterArgs {
  const void* idx = nullptr;  // contiguous, I elements
  int64_t num_idx = 0, prefix = 0, size = 0, suffix = 0;
  IndexSpace updates_space;
  Operand updates;
};
void launch_scatter_add(DT dtype, DT index_dtype, const ScatterArgs& args, void* out, cudaStream_t stream);

}  // namespace engine::backend::cuda
