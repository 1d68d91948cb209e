// Rules of the Reduce family: reduce_sum, reduce_max and argmax. reduce_sum is linear: its vjp broadcasts the
// cotangent back over the reduced axes. reduce_max follows JAX: the derivative flows through every position
// equal to the maximum, shared equally among ties. argmax is piecewise constant and not differentiable.
// Batching never moves data: the reduced axes are shifted around the batch axis.
#include <string>
#include <vector>

#include "ops/rules/rule_util.h"

namespace ops {

namespace {

using engine::DType;
using engine::ErrorKind;
using rules::check_arity;
using Ints = std::vector<int64_t>;

void check_not_bool(Prim p, std::span<const AVal> in) {
  if (in[0].dtype == DType::Bool)
    rules::shape_fail(p, in, "does not support bool operands", "convert to i32 first with ops::convert",
                      ErrorKind::DType);
}

// The primitive's axes are already normalized by the API: sorted, unique, in [0, rank).
void check_axes(Prim p, std::span<const AVal> in, const Ints& axes) {
  const int r = in[0].rank();
  for (size_t i = 0; i < axes.size(); ++i) {
    if (axes[i] < 0 || axes[i] >= r)
      rules::shape_fail(p, in,
                        "axis " + std::to_string(axes[i]) + " is out of range for rank " + std::to_string(r),
                        "use axes in [0, rank) (the public API normalizes negative axes)", ErrorKind::Value);
    if (i > 0 && axes[i] <= axes[i - 1])
      rules::shape_fail(p, in, "axes " + engine::shape_str(axes) + " must be sorted and unique",
                        "the public API sorts and deduplicates them", ErrorKind::Value);
  }
}

Shape drop_axes(const Shape& s, const Ints& axes) {
  Shape out;
  size_t k = 0;
  for (int64_t i = 0; i < int64_t(s.size()); ++i) {
    if (k < axes.size() && axes[k] == i) {
      ++k;
      continue;
    }
    out.push_back(s[i]);
  }
  return out;
}

// The axes that survive the reduction: where the output's axes sit in the operand.
Ints kept_axes(int rank, const Ints& axes) {
  Ints kept;
  size_t k = 0;
  for (int64_t i = 0; i < rank; ++i) {
    if (k < axes.size() && axes[k] == i)
      ++k;
    else
      kept.push_back(i);
  }
  return kept;
}

// reduce_sum over exactly `axes` (no axes: the identity, unlike ops::sum where none means all).
Tensor sum_over(const Tensor& x, const Ints& axes) { return axes.empty() ? x : ops::sum(x, axes); }

// The reduced value broadcast back to the operand's shape.
Tensor spread(const Tensor& y, const Shape& shape, const Ints& axes) {
  if (axes.empty()) return y;
  return ops::broadcast_in_dim(y, shape, kept_axes(static_cast<int>(shape.size()), axes));
}

// ---- shared batching: map the logical axes past the batch axis; the output's batch axis moves left by the
// number of reduced axes in front of it. ----

Batched reduce_batch(Prim p, const TensorList& vals, const std::vector<int>& bdims, const Params& params) {
  const int b = bdims[0];
  Ints phys;
  int out_b = b;
  for (int64_t a : params.get_ints("axes")) {
    const int64_t q = a < b ? a : a + 1;
    phys.push_back(q);
    if (q < b) --out_b;
  }
  Params np = params;
  np.set("axes", phys);
  return Batched{{engine::bind1(p, {vals[0]}, np)}, {out_b}};
}

std::vector<AVal> reduce_shape(Prim p, std::span<const AVal> in, const Params& params) {
  check_arity(p, in, 1);
  check_not_bool(p, in);
  const Ints& axes = params.get_ints("axes");
  check_axes(p, in, axes);
  return {AVal{drop_axes(in[0].shape, axes), in[0].dtype, in[0].weak}};
}

// ---- reduce_sum ----

void register_reduce_sum() {
  PrimDef& d = def_mut(Prim::reduce_sum);
  d.traits = kReduction | kLinear;
  d.shape = [](std::span<const AVal> in, const Params& p) { return reduce_shape(Prim::reduce_sum, in, p); };
  d.jvp = [](const TensorList&, const TensorList& tangents, const TensorList&, const Params& p) {
    if (!tangents[0].defined()) return TensorList{Tensor()};
    return TensorList{sum_over(tangents[0], p.get_ints("axes"))};
  };
  // The operand is read for its shape only (the reduced axes' sizes are not recoverable from the cotangent).
  d.vjp = [](const TensorList& cts, const TensorList& primals, const TensorList&, const Params& p,
             const std::vector<bool>& wants) {
    if (!wants[0]) return TensorList{Tensor()};
    return TensorList{spread(cts[0], primals[0].shape(), p.get_ints("axes"))};
  };
  d.vjp_reads_inputs = 1u;
  d.batch = [](const TensorList& vals, const std::vector<int>& bdims, int64_t, const Params& p) {
    return reduce_batch(Prim::reduce_sum, vals, bdims, p);
  };
}

// ---- reduce_max ----

// 1 where x equals the maximum of its reduction group, else 0 (in x's dtype), and the number of such ties.
// A NaN maximum matches nothing, so its derivative is 0/0 = NaN, as in JAX.
struct Ties {
  Tensor mask, count;
};
Ties ties(const Tensor& x, const Tensor& y, const Ints& axes) {
  Tensor mask = ops::convert(ops::eq(x, spread(y, x.shape(), axes)), x.dtype());
  return {mask, sum_over(mask, axes)};
}

void register_reduce_max() {
  PrimDef& d = def_mut(Prim::reduce_max);
  d.traits = kReduction;
  d.shape = [](std::span<const AVal> in, const Params& p) { return reduce_shape(Prim::reduce_max, in, p); };
  d.jvp = [](const TensorList& primals, const TensorList& tangents, const TensorList& outs, const Params& p) {
    if (!tangents[0].defined()) return TensorList{Tensor()};
    const Ints& axes = p.get_ints("axes");
    Ties t = ties(primals[0], outs[0], axes);
    return TensorList{ops::div(sum_over(ops::mul(tangents[0], t.mask), axes), t.count)};
  };
  d.vjp = [](const TensorList& cts, const TensorList& primals, const TensorList& outs, const Params& p,
             const std::vector<bool>& wants) {
    if (!wants[0]) return TensorList{Tensor()};
    const Ints& axes = p.get_ints("axes");
    Ties t = ties(primals[0], outs[0], axes);
    return TensorList{ops::mul(spread(ops::div(cts[0], t.count), primals[0].shape(), axes), t.mask)};
  };
  d.vjp_reads_inputs = 1u;
  d.vjp_reads_outputs = true;
  d.batch = [](const TensorList& vals, const std::vector<int>& bdims, int64_t, const Params& p) {
    return reduce_batch(Prim::reduce_max, vals, bdims, p);
  };
}

// ---- argmax ----

void register_argmax() {
  PrimDef& d = def_mut(Prim::argmax);
  d.traits = kReduction | kNonDifferentiable;
  d.shape = [](std::span<const AVal> in, const Params& p) {
    constexpr Prim k = Prim::argmax;
    check_arity(k, in, 1);
    check_not_bool(k, in);
    const int64_t axis = p.get_int("axis");
    if (axis < 0 || axis >= in[0].rank())
      rules::shape_fail(
          k, in, "axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(in[0].rank()),
          "use an axis in [0, rank) (the public API normalizes negative axes)", ErrorKind::Value);
    const DType idt = p.get_dtype("index_dtype");
    if (idt != DType::I32 && idt != DType::U32)
      rules::shape_fail(k, in, std::string("index_dtype must be i32 or u32, got ") + engine::dtype_name(idt),
                        {}, ErrorKind::DType);
    if (in[0].shape[axis] == 0)
      rules::shape_fail(k, in, "axis " + std::to_string(axis) + " is empty: an empty axis has no maximum",
                        "check the operand's shape before taking argmax");
    return std::vector<AVal>{AVal{drop_axes(in[0].shape, {axis}), idt, false}};
  };
  // Integer output: the transforms never ask for its tangent; the rules state that there is none.
  d.jvp = [](const TensorList&, const TensorList&, const TensorList&, const Params&) {
    return TensorList{Tensor()};
  };
  d.vjp = [](const TensorList&, const TensorList&, const TensorList&, const Params&,
             const std::vector<bool>&) { return TensorList{Tensor()}; };
  d.batch = [](const TensorList& vals, const std::vector<int>& bdims, int64_t, const Params& p) {
    const int b = bdims[0];
    const int64_t axis = p.get_int("axis");
    const int64_t q = axis < b ? axis : axis + 1;
    Params np = p;
    np.set("axis", q);
    return Batched{{engine::bind1(Prim::argmax, {vals[0]}, np)}, {q < b ? b - 1 : b}};
  };
}

}  // namespace

void register_reduce_rules() {
  register_reduce_sum();
  register_reduce_max();
  register_argmax();
}

}  // namespace ops
