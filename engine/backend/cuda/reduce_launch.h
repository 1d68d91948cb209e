// The interface between the host-side planning of the Reduce family (reduce.cpp) and its one CUDA kernel
// (reduce.cu): a pass that reduces fixed chunks of every output's reduced elements, with the block shape the
// host picked from the operand's shape alone (never from the device), so results do not depend on the GPU.
#pragma once
#include "engine/backend/cuda/launch.h"

namespace engine::backend::cuda {

enum class ReduceKind : uint8_t { Sum, Max, Argmax };

// One pass over x. Output o (row-major over `kept`) reduces the elements of `red` (row-major linear index r,
// R = red.numel). The reduced range is cut into `chunks` chunks of `chunk` elements; the pass writes
// chunks * kept.numel values, chunk-major: out[c * O + o] reduces r in [c * chunk, min(R, (c + 1) * chunk)).
// A block holds cx chunk-outputs of ry threads each (cx * ry == kThreads, ry a power of two): thread y sums
// r = start + y, start + y + ry, ... in order, then a fixed tree combines the ry partials in shared memory.
// ry_fast: consecutive threads are the ry threads of one output (rows: the reduced elements are adjacent in
// memory); otherwise consecutive threads take consecutive outputs (columns: the kept elements are adjacent).
struct ReducePass {
  const void* x = nullptr;
  IndexSpace kept, red;
  Operand kept_x, red_x;  // x's element strides over `kept` and over `red` (their data is unused)
  int64_t chunk = 1, chunks = 1;
  int cx = kThreads, ry = 1;
  bool ry_fast = true;
};

// ---- planning (host) ----

// Elements a thread sums in order before the tree; a chunk is ry * kPerThread elements.
inline constexpr int64_t kPerThread = 32;
// Column layout (the kept elements adjacent in memory): 8 threads per output, so a warp reads 32 adjacent
// outputs of one reduced row (coalesced), and chunks stay short enough to give every column many blocks.
inline constexpr int kColumnThreads = 8;

// Appends a dim to a group (row-major), merged into the group's last dim when the two step as one.
inline void push_dim(IndexSpace& s, Operand& o, int64_t size, int64_t stride) {
  if (size == 1) return;
  s.numel *= size;
  if (s.rank > 0 && o.strides[s.rank - 1] == stride * size) {
    s.shape[s.rank - 1] *= size;
    o.strides[s.rank - 1] = stride;
    return;
  }
  s.shape[s.rank] = size;
  o.strides[s.rank] = stride;
  ++s.rank;
}

// The block shape and chunking of a pass whose groups are filled in (from the shape and strides alone).
inline void shape_pass(ReducePass& p, bool chunked) {
  const int64_t R = p.red.numel;
  const bool kept_adjacent = p.kept.rank > 0 && p.kept_x.strides[p.kept.rank - 1] == 1;
  const bool red_adjacent = p.red.rank > 0 && p.red_x.strides[p.red.rank - 1] == 1;
  const bool column = kept_adjacent && !red_adjacent;
  const int max_ry = column ? kColumnThreads : kThreads;
  int ry = 1;
  while (ry < max_ry && ry * kPerThread < R) ry *= 2;
  p.ry = ry;
  p.cx = kThreads / ry;
  p.ry_fast = !column;
  const int64_t span = ry * kPerThread;
  p.chunk = chunked && R > span ? span : (R > 1 ? R : 1);
  p.chunks = R == 0 ? 1 : (R + p.chunk - 1) / p.chunk;
}

// x_dtype: the operand's; out_dtype: x_dtype for Sum and Max, I32 or U32 for Argmax. Not Bool.
void launch_reduce(ReduceKind kind, DT x_dtype, DT out_dtype, const ReducePass& pass, void* out,
                   cudaStream_t stream);

}  // namespace engine::backend::cuda
