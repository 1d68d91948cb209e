// CUDA kernels of the Reduce family (reduce_sum, reduce_max, argmax): the host-side planning; the kernel is
// in reduce.cu. The operand is read in place through its strides, whatever view it is: its dims are split
// into the kept group (the output's axes, in order) and the reduced group, size-1 dims dropped and neighbours
// that step as one merged. The block shape follows from the shape and strides only, never from the GPU, so
// results are reproducible across devices. Long reductions are cut into fixed chunks: the partials land in a
// [chunks, outputs] buffer that the next pass reduces the same way, so a full reduction spreads over many
// blocks and each f32 sum is a tree of short in-order runs (pairwise-like accuracy).
#include <algorithm>
#include <vector>

#include "engine/backend/cuda/kernels.h"
#include "engine/backend/cuda/operands.h"
#include "engine/backend/cuda/reduce_launch.h"
#include "engine/backend/cuda/runtime.h"
#include "engine/interp/interpreter.h"
#include "ops/registry.h"

namespace engine::backend::cuda {

namespace {

using ops::Params;
using ops::Prim;
using ops::TensorList;
using Ints = std::vector<int64_t>;

ReducePass plan(const Tensor& x, const Ints& axes, bool chunked, const char* op) {
  (void)index_space(x.shape(), op);  // raises above kMaxRank dims
  struct Axis {
    int64_t size, stride;
    bool reduced;
  };
  std::vector<Axis> dims;
  bool any_kept = false;
  for (int i = 0; i < x.ndim(); ++i) {
    const bool reduced = std::binary_search(axes.begin(), axes.end(), int64_t(i));
    dims.push_back({x.shape()[size_t(i)], x.strides()[size_t(i)], reduced});
    any_kept |= !reduced && x.shape()[size_t(i)] != 1;
  }
  // A full reduction may visit the elements in any fixed order: memory order makes a permuted contiguous
  // operand one run. (argmax always has one reduced axis, so its indices are unaffected.)
  if (!any_kept)
    std::stable_sort(dims.begin(), dims.end(),
                     [](const Axis& a, const Axis& b) { return a.stride > b.stride; });
  ReducePass p;
  p.x = x.device_data();
  for (const Axis& a : dims) {
    if (a.reduced)
      push_dim(p.red, p.red_x, a.size, a.stride);
    else
      push_dim(p.kept, p.kept_x, a.size, a.stride);
  }
  shape_pass(p, chunked);
  return p;
}

// Runs the passes: the first reads the operand, each later one the previous pass's [chunks, O] partials.
Tensor run_reduce(Prim prim, ReduceKind kind, const Tensor& x, const Ints& axes, const AVal& out_aval) {
  const char* name = ops::prim_name(prim);
  if (x.dtype() == DType::Bool)
    raise(ErrorKind::Internal, name, "CUDA kernel got a bool operand", {{x.aval()}}, current_user_loc());
  Tensor out = empty(out_aval.shape, out_aval.dtype);
  const int64_t O = out.numel();
  if (O == 0) return out;
  // argmax is not chunked: its partials would need their indices too, and its rows are short in practice.
  ReducePass p = plan(x, axes, kind != ReduceKind::Argmax, name);
  Tensor partial;  // the buffer the next pass reads (frees are stream-ordered, so dropping one is safe)
  for (;;) {
    const bool last = p.chunks == 1;
    Tensor dst = last ? out : empty({p.chunks * O}, x.dtype());
    launch_reduce(kind, dt(x.dtype()), dt(out.dtype()), p, out_ptr(dst), stream());
    check_launch(name);
    if (last) return out;
    ReducePass next;
    next.x = dst.device_data();
    push_dim(next.kept, next.kept_x, O, 1);
    push_dim(next.red, next.red_x, p.chunks, O);
    shape_pass(next, true);
    partial = dst;
    p = next;
  }
}

template <Prim P, ReduceKind K>
TensorList reduce_kernel(const TensorList& in, const std::vector<AVal>& oa, const Params& params) {
  if constexpr (K == ReduceKind::Argmax)
    return {run_reduce(P, K, in[0], {params.get_int("axis")}, oa[0])};
  else
    return {run_reduce(P, K, in[0], params.get_ints("axes"), oa[0])};
}

}  // namespace

void register_reduce_kernels() {
  ops::def_mut(Prim::reduce_sum).cuda = reduce_kernel<Prim::reduce_sum, ReduceKind::Sum>;
  ops::def_mut(Prim::reduce_max).cuda = reduce_kernel<Prim::reduce_max, ReduceKind::Max>;
  ops::def_mut(Prim::argmax).cuda = reduce_kernel<Prim::argmax, ReduceKind::Argmax>;
}

}  // namespace engine::backend::cuda
