// CUDA kernels of the Movement family: the host side; the kernels are in movement.cu. As on the CPU, reshape,
// broadcast_in_dim, transpose and slice return views (new strides over the operand's device Storage, so they
// launch nothing; reshape copies only when no strides can express it), while pad, concatenate, gather and
// scatter_add write fresh contiguous outputs. Operands are read in place through their strides.
#include <cstring>
#include <vector>

#include "engine/backend/cpu/loops.h"  // convert_value: pad's fill value with the engine's conversion rules
#include "engine/backend/cuda/kernels.h"
#include "engine/backend/cuda/movement_launch.h"
#include "engine/backend/cuda/operands.h"
#include "engine/backend/cuda/runtime.h"
#include "engine/interp/interpreter.h"
#include "ops/registry.h"

namespace engine::backend::cuda {

namespace {

using ops::Params;
using ops::Prim;
using ops::TensorList;
using Ints = std::vector<int64_t>;

Tensor view_of(const Tensor& x, const AVal& aval, int64_t offset, Ints strides) {
  return Tensor::make_concrete(aval, x.storage(), offset, std::move(strides));
}

int elem_bytes(DType d) { return int(itemsize(d)); }

// Strides over `shape`, flagged contiguous when they are the row-major ones (size-1 dims ignored), so the
// kernels can use the linear index directly.
Operand layout(std::span<const int64_t> shape, std::span<const int64_t> strides) {
  Operand o;
  o.contiguous = true;
  int64_t expect = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    o.strides[i] = strides[i];
    if (shape[i] != 1 && strides[i] != expect) o.contiguous = false;
    expect *= shape[i];
  }
  return o;
}

// Copies x's elements into device memory at dst, laid out by dst_strides over x's shape.
void copy_into(const Tensor& x, void* dst, std::span<const int64_t> dst_strides, const char* op) {
  const IndexSpace space = index_space(x.shape(), op);
  if (space.numel == 0) return;
  launch_copy(elem_bytes(x.dtype()), space, operand(x), dst, layout(x.shape(), dst_strides), stream());
  check_launch(op);
}

Tensor contiguous_copy(const Tensor& x, const char* op) {
  if (x.is_contiguous()) return x;
  Tensor out = empty(x.shape(), x.dtype());
  copy_into(x, out_ptr(out), engine::contiguous_strides(x.shape()), op);
  return out;
}

// ---- the views ----

// Strides that present `old` (strides `os`) as `shape` without copying, when they exist. Walks both shapes
// from the innermost dim: each maximal run of old dims that is contiguous in memory (size-1 dims never break
// a run) must be matched by new dims of the same element count, which then step through that run.
bool view_strides(const Shape& old, const Ints& os, const Shape& shape, Ints& ns) {
  ns.assign(shape.size(), 0);
  if (engine::numel(old) <= 1) {  // empty or one element: any strides will do
    ns = engine::contiguous_strides(shape);
    return true;
  }
  int64_t nd = int64_t(shape.size()) - 1;
  int64_t base = os.back(), run = 1, matched = 1;
  for (int64_t d = int64_t(old.size()) - 1; d >= 0; --d) {
    run *= old[size_t(d)];
    if (d > 0 && (old[size_t(d) - 1] == 1 || os[size_t(d) - 1] == run * base)) continue;  // the run goes on
    while (nd >= 0 && (matched < run || shape[size_t(nd)] == 1)) {
      ns[size_t(nd)] = matched * base;
      matched *= shape[size_t(nd)];
      --nd;
    }
    if (matched != run) return false;
    if (d > 0) {
      base = os[size_t(d) - 1];
      run = matched = 1;
    }
  }
  return nd < 0;
}

TensorList reshape_kernel(const TensorList& in, const std::vector<AVal>& oa, const Params&) {
  const Tensor& x = in[0];
  Ints st;
  if (view_strides(x.shape(), x.strides(), oa[0].shape, st))
    return {view_of(x, oa[0], x.offset(), std::move(st))};
  Tensor out = empty(oa[0].shape, oa[0].dtype);
  copy_into(x, out_ptr(out), engine::contiguous_strides(x.shape()), "reshape");
  return {out};
}

TensorList broadcast_in_dim_kernel(const TensorList& in, const std::vector<AVal>& oa, const Params& p) {
  const Tensor& x = in[0];
  const Ints& dims = p.get_ints("dims");
  Ints st(oa[0].shape.size(), 0);  // new axes, and operand axes of size 1, repeat one element
  for (size_t i = 0; i < dims.size(); ++i)
    if (x.shape()[i] != 1) st[size_t(dims[i])] = x.strides()[i];
  return {view_of(x, oa[0], x.offset(), std::move(st))};
}

TensorList transpose_kernel(const TensorList& in, const std::vector<AVal>& oa, const Params& p) {
  const Tensor& x = in[0];
  Ints st;
  for (int64_t a : p.get_ints("perm")) st.push_back(x.strides()[size_t(a)]);
  return {view_of(x, oa[0], x.offset(), std::move(st))};
}

TensorList slice_kernel(const TensorList& in, const std::vector<AVal>& oa, const Params& p) {
  const Tensor& x = in[0];
  const Ints &start = p.get_ints("start"), &stride = p.get_ints("stride");
  int64_t off = x.offset();
  Ints st(start.size());
  for (size_t i = 0; i < start.size(); ++i) {
    off += start[i] * x.strides()[i];
    st[i] = x.strides()[i] * stride[i];
  }
  if (oa[0].numel() == 0) off = x.offset();  // never read; keeps the offset inside the storage
  return {view_of(x, oa[0], off, std::move(st))};
}

// ---- the copies ----

// The fill value's bits, converted as the CPU converts it (float -> int truncates and saturates, NaN -> 0,
// -> bool is != 0), in the low bytes of a little-endian word.
uint64_t fill_bits(DType d, double value) {
  uint64_t bits = 0;
  visit_dtype(d, [&]<class T>() {
    const T v = cpu::convert_value<T>(value);
    std::memcpy(&bits, &v, sizeof v);
  });
  return bits;
}

TensorList pad_kernel(const TensorList& in, const std::vector<AVal>& oa, const Params& p) {
  const Tensor& x = in[0];
  Tensor out = empty(oa[0].shape, oa[0].dtype);
  if (out.numel() == 0) return {out};
  const Ints &lo = p.get_ints("lo"), &interior = p.get_ints("interior");
  PadArgs a;
  a.out = index_space(out.shape(), "pad");
  a.src = operand(x);
  for (int d = 0; d < x.ndim(); ++d) {
    a.in_shape[d] = x.shape()[size_t(d)];
    a.lo[d] = lo[size_t(d)];
    a.step[d] = interior[size_t(d)] + 1;
  }
  a.value = fill_bits(x.dtype(), p.get_double("value"));
  launch_pad(elem_bytes(x.dtype()), a, out_ptr(out), stream());
  check_launch("pad");
  return {out};
}

TensorList concatenate_kernel(const TensorList& in, const std::vector<AVal>& oa, const Params& p) {
  Tensor out = empty(oa[0].shape, oa[0].dtype);
  const size_t axis = size_t(p.get_int("axis"));
  const int64_t step = out.strides()[axis] * elem_bytes(out.dtype());  // bytes per index along the axis
  char* base = static_cast<char*>(out_ptr(out));
  int64_t pos = 0;
  for (const Tensor& x : in) {
    copy_into(x, base + pos * step, out.strides(), "concatenate");  // skips empty operands
    pos += x.shape()[axis];
  }
  return {out};
}

// x's dims [begin, end) as an index space, with x's strides over them.
void dim_range(const Tensor& x, int begin, int end, IndexSpace& space, Operand& strides) {
  const Shape shape(x.shape().begin() + begin, x.shape().begin() + end);
  space = index_space(shape, "gather");
  strides = layout(shape, std::span<const int64_t>(x.strides()).subspan(size_t(begin), size_t(end - begin)));
}

// out[p, i, s] = x[p, clamp(idx[i]), s].
TensorList gather_kernel(const TensorList& in, const std::vector<AVal>& oa, const Params& params) {
  const Tensor &x = in[0], &idx = in[1];
  Tensor out = empty(oa[0].shape, oa[0].dtype);
  if (out.numel() == 0) return {out};
  const int axis = int(params.get_int("axis"));
  (void)index_space(x.shape(), "gather");  // raises above kMaxRank dims
  GatherArgs a;
  a.x = x.device_data();
  dim_range(x, 0, axis, a.prefix, a.prefix_x);
  dim_range(x, axis + 1, x.ndim(), a.suffix, a.suffix_x);
  a.axis_stride = x.strides()[size_t(axis)];
  a.axis_size = x.shape()[size_t(axis)];
  a.idx_space = index_space(idx.shape(), "gather");
  a.idx = operand(idx);
  launch_gather(elem_bytes(x.dtype()), dt(idx.dtype()), a, out_ptr(out), stream());
  check_launch("gather");
  return {out};
}

// out[p, idx[i], s] += updates[p, i, s], i in order; indices outside [0, size) are dropped.
TensorList scatter_add_kernel(const TensorList& in, const std::vector<AVal>& oa, const Params& params) {
  const Tensor &idx = in[0], &u = in[1];
  if (u.dtype() == DType::Bool)
    raise(ErrorKind::Internal, "scatter_add", "CUDA kernel got bool updates", {{u.aval()}},
          current_user_loc());
  Tensor out = empty(oa[0].shape, oa[0].dtype);
  const int64_t n = out.numel();
  if (n == 0) return {out};
  if (idx.numel() == 0) {  // nothing scattered: all zeros (0 is all-zero bits in every dtype)
    check(cudaMemsetAsync(out_ptr(out), 0, size_t(n) * itemsize(out.dtype()), stream()), "scatter_add",
          "cudaMemsetAsync");
    return {out};
  }
  const Shape& os = oa[0].shape;
  const size_t axis = size_t(params.get_int("axis"));
  // Every output slot scans the indices: a contiguous copy spares it the strided index math.
  const Tensor ic = contiguous_copy(idx, "scatter_add");
  ScatterArgs a;
  a.idx = ic.device_data();
  a.num_idx = idx.numel();
  a.prefix = engine::numel(std::span<const int64_t>(os).first(axis));
  a.size = params.get_int("size");
  a.suffix = engine::numel(std::span<const int64_t>(os).subspan(axis + 1));
  a.updates_space = index_space(u.shape(), "scatter_add");
  a.updates = operand(u);
  launch_scatter_add(dt(u.dtype()), dt(idx.dtype()), a, out_ptr(out), stream());
  check_launch("scatter_add");
  return {out};
}

}  // namespace

void register_movement_kernels() {
  ops::def_mut(Prim::reshape).cuda = reshape_kernel;
  ops::def_mut(Prim::broadcast_in_dim).cuda = broadcast_in_dim_kernel;
  ops::def_mut(Prim::transpose).cuda = transpose_kernel;
  ops::def_mut(Prim::slice).cuda = slice_kernel;
  ops::def_mut(Prim::pad).cuda = pad_kernel;
  ops::def_mut(Prim::concatenate).cuda = concatenate_kernel;
  ops::def_mut(Prim::gather).cuda = gather_kernel;
  ops::def_mut(Prim::scatter_add).cuda = scatter_add_kernel;
}

}  // namespace engine::backend::cuda
