// Rules of the Movement family: reshape, broadcast_in_dim, transpose, slice, pad, concatenate, gather and
// scatter_add. All are linear in their float operand (pad up to its constant fill), so each vjp is the
// transposed movement: reshape back, sum the broadcast axes, inverse permutation, pad <-> strided slice,
// slices of a concatenation, gather <-> scatter_add. Batching keeps the batch axis where it is whenever the
// op can carry it along, and flattens the batch into the indexed axis for gather/scatter_add with mapped
// indices (offsets iota * size), so no rule ever loops over the batch.
//
// Some vjps need an operand's shape, which the cotangent does not determine (reshape, broadcast_in_dim,
// slice, concatenate, gather): they declare the operand as read, since rules see operands only as residuals.
#include <algorithm>
#include <string>
#include <vector>

#include "ops/rules/rule_util.h"

namespace ops {

namespace {

using engine::DType;
using engine::ErrorKind;
using rules::check_arity;
using Ints = std::vector<int64_t>;

// ===========================================================================================================
// Helpers
// ===========================================================================================================

// A per-axis parameter must have one entry per operand axis.
void check_len(Prim p, std::span<const AVal> in, const char* name, const Ints& v) {
  if (int64_t(v.size()) != in[0].rank())
    rules::shape_fail(p, in,
                      std::string(name) + " " + engine::shape_str(v) + " has " + std::to_string(v.size()) +
                          " entries for an operand of rank " + std::to_string(in[0].rank()),
                      "give one entry per operand axis", ErrorKind::Value);
}

void check_index_dtype(Prim p, std::span<const AVal> in, size_t i) {
  if (in[i].dtype != DType::I32 && in[i].dtype != DType::U32)
    rules::shape_fail(p, in,
                      std::string("indices must be i32 or u32, got ") + engine::dtype_name(in[i].dtype),
                      "convert the indices with ops::convert", ErrorKind::DType);
}

Tensor sum_over(const Tensor& x, const Ints& axes) { return axes.empty() ? x : ops::sum(x, axes); }

// x with a new axis of size n at `pos`, broadcast (a stride-0 view in eager mode).
Tensor broadcast_new_axis(const Tensor& x, int pos, int64_t n) {
  Shape s = x.shape();
  s.insert(s.begin() + pos, n);
  Ints dims;
  for (int k = 0; k < x.ndim(); ++k) dims.push_back(k < pos ? k : k + 1);
  return ops::broadcast_in_dim(x, s, dims);
}

Ints inserted(Ints v, int pos, int64_t value) {
  v.insert(v.begin() + pos, value);
  return v;
}

Tensor pad_exact(const Tensor& x, const Ints& lo, const Ints& hi, const Ints& interior, double value) {
  return engine::bind1(Prim::pad, {x},
                       Params().set("lo", lo).set("hi", hi).set("interior", interior).set("value", value));
}

// Gather clamps indices into [0, d-1] (d >= 1); rules that re-express it reproduce the clamp exactly.
Tensor clamp_index(const Tensor& idx, int64_t d) {
  Tensor c = ops::minimum(idx, ops::literal_int(d - 1));
  return idx.dtype() == DType::I32 ? ops::maximum(c, ops::literal_int(0)) : c;
}

// Scatter_add drops indices outside [0, size): true where an index is kept.
Tensor index_in_range(const Tensor& idx, int64_t size) {
  if (size == 0) return ops::ne(idx, idx);  // all false
  return ops::eq(clamp_index(idx, size), idx);
}

// ===========================================================================================================
// reshape[shape]
// ===========================================================================================================

void register_reshape() {
  PrimDef& d = def_mut(Prim::reshape);
  d.traits = kMovement | kLinear | kView;
  d.shape = [](std::span<const AVal> in, const Params& p) {
    constexpr Prim k = Prim::reshape;
    check_arity(k, in, 1);
    const Ints& shape = p.get_ints("shape");
    for (int64_t s : shape)
      if (s < 0)
        rules::shape_fail(k, in, "negative dimension in target shape " + engine::shape_str(shape),
                          "the public API resolves a single -1; the primitive needs explicit sizes",
                          ErrorKind::Value);
    if (engine::numel(shape) != in[0].numel())
      rules::shape_fail(k, in,
                        "element count differs: " + std::to_string(in[0].numel()) +
                            " elements cannot take shape " + engine::shape_str(shape) + " (" +
                            std::to_string(engine::numel(shape)) + " elements)",
                        "the target shape must have as many elements as the operand");
    return std::vector<AVal>{AVal{shape, in[0].dtype, in[0].weak}};
  };
  d.jvp = [](const TensorList&, const TensorList& t, const TensorList&, const Params& p) {
    if (!t[0].defined()) return TensorList{Tensor()};
    return TensorList{ops::reshape(t[0], p.get_ints("shape"))};
  };
  d.vjp = [](const TensorList& cts, const TensorList& primals, const TensorList&, const Params&,
             const std::vector<bool>& wants) {
    if (!wants[0]) return TensorList{Tensor()};
    return TensorList{ops::reshape(cts[0], primals[0].shape())};  // the operand's shape only
  };
  d.vjp_reads_inputs = 1u;
  d.batch = [](const TensorList& vals, const std::vector<int>& bdims, int64_t n, const Params& p) {
    Shape s = p.get_ints("shape");
    s.insert(s.begin(), n);
    return Batched{{ops::reshape(rules::bdim_to_front(vals[0], bdims[0]), s)}, {0}};
  };
}

// ===========================================================================================================
// broadcast_in_dim[shape, dims]
// ===========================================================================================================

void register_broadcast_in_dim() {
  PrimDef& d = def_mut(Prim::broadcast_in_dim);
  d.traits = kMovement | kLinear | kView;
  d.shape = [](std::span<const AVal> in, const Params& p) {
    constexpr Prim k = Prim::broadcast_in_dim;
    check_arity(k, in, 1);
    const Ints &shape = p.get_ints("shape"), &dims = p.get_ints("dims");
    for (int64_t s : shape)
      if (s < 0)
        rules::shape_fail(k, in, "negative dimension in target shape " + engine::shape_str(shape), {},
                          ErrorKind::Value);
    check_len(k, in, "dims", dims);
    for (size_t i = 0; i < dims.size(); ++i) {
      if (dims[i] < 0 || dims[i] >= int64_t(shape.size()))
        rules::shape_fail(k, in,
                          "dims " + engine::shape_str(dims) + " name an axis outside the target shape " +
                              engine::shape_str(shape),
                          "each entry is the output axis of one operand axis", ErrorKind::Value);
      if (i > 0 && dims[i] <= dims[i - 1])
        rules::shape_fail(k, in, "dims " + engine::shape_str(dims) + " must be strictly increasing",
                          "use ops::transpose to reorder axes", ErrorKind::Value);
      const int64_t from = in[0].shape[i], to = shape[dims[i]];
      if (from != 1 && from != to)
        rules::shape_fail(k, in,
                          "operand axis " + std::to_string(i) + " of size " + std::to_string(from) +
                              " cannot broadcast to output axis " + std::to_string(dims[i]) + " of size " +
                              std::to_string(to) + " (target " + engine::shape_str(shape) + ")",
                          "a broadcast axis must have size 1 or the target size");
    }
    return std::vector<AVal>{AVal{shape, in[0].dtype, in[0].weak}};
  };
  d.jvp = [](const TensorList&, const TensorList& t, const TensorList&, const Params& p) {
    if (!t[0].defined()) return TensorList{Tensor()};
    return TensorList{ops::broadcast_in_dim(t[0], p.get_ints("shape"), p.get_ints("dims"))};
  };
  // Sum the new axes and the size-1 axes that were stretched; the reshape restores the size-1 axes.
  d.vjp = [](const TensorList& cts, const TensorList& primals, const TensorList&, const Params& p,
             const std::vector<bool>& wants) {
    if (!wants[0]) return TensorList{Tensor()};
    const Shape& xs = primals[0].shape();  // the operand's shape only
    const Ints& dims = p.get_ints("dims");
    const Tensor& ct = cts[0];
    Ints axes;
    size_t k = 0;
    for (int64_t j = 0; j < ct.ndim(); ++j) {
      if (k < dims.size() && dims[k] == j) {
        if (xs[k] == 1 && ct.dim(int(j)) != 1) axes.push_back(j);
        ++k;
      } else {
        axes.push_back(j);
      }
    }
    return TensorList{ops::reshape(sum_over(ct, axes), xs)};
  };
  d.vjp_reads_inputs = 1u;
  // The batch axis stays in place: it becomes an output axis between its neighbours' targets.
  d.batch = [](const TensorList& vals, const std::vector<int>& bdims, int64_t n, const Params& p) {
    const int b = bdims[0];
    const Ints& dims = p.get_ints("dims");
    const int64_t pos = b == 0 ? 0 : dims[b - 1] + 1;
    Ints nd;
    for (int i = 0; i < int(dims.size()); ++i) {
      if (i == b) nd.push_back(pos);
      nd.push_back(i < b ? dims[i] : dims[i] + 1);
    }
    if (b == int(dims.size())) nd.push_back(pos);
    Shape s = inserted(p.get_ints("shape"), int(pos), n);
    return Batched{{ops::broadcast_in_dim(vals[0], s, nd)}, {int(pos)}};
  };
}

// ===========================================================================================================
// transpose[perm]
// ===========================================================================================================

void register_transpose() {
  PrimDef& d = def_mut(Prim::transpose);
  d.traits = kMovement | kLinear | kView;
  d.shape = [](std::span<const AVal> in, const Params& p) {
    constexpr Prim k = Prim::transpose;
    check_arity(k, in, 1);
    const Ints& perm = p.get_ints("perm");
    check_len(k, in, "perm", perm);
    std::vector<char> seen(perm.size(), 0);
    Shape out;
    for (int64_t a : perm) {
      if (a < 0 || a >= int64_t(perm.size()) || seen[a])
        rules::shape_fail(k, in, "perm " + engine::shape_str(perm) + " is not a permutation of the axes",
                          "list every axis in [0, rank) exactly once", ErrorKind::Value);
      seen[a] = 1;
      out.push_back(in[0].shape[a]);
    }
    return std::vector<AVal>{AVal{out, in[0].dtype, in[0].weak}};
  };
  d.jvp = [](const TensorList&, const TensorList& t, const TensorList&, const Params& p) {
    if (!t[0].defined()) return TensorList{Tensor()};
    return TensorList{ops::transpose(t[0], p.get_ints("perm"))};
  };
  d.vjp = [](const TensorList& cts, const TensorList&, const TensorList&, const Params& p,
             const std::vector<bool>& wants) {
    if (!wants[0]) return TensorList{Tensor()};
    const Ints& perm = p.get_ints("perm");
    Ints inv(perm.size());
    for (size_t i = 0; i < perm.size(); ++i) inv[perm[i]] = int64_t(i);
    return TensorList{ops::transpose(cts[0], inv)};
  };
  // One transpose that also brings the batch axis to the front.
  d.batch = [](const TensorList& vals, const std::vector<int>& bdims, int64_t, const Params& p) {
    const int b = bdims[0];
    Ints np{b};
    for (int64_t a : p.get_ints("perm")) np.push_back(a < b ? a : a + 1);
    return Batched{{ops::transpose(vals[0], np)}, {0}};
  };
}

// ===========================================================================================================
// slice[start, limit, stride] and pad[lo, hi, interior, value]: each other's transpose
// ===========================================================================================================

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

void register_slice() {
  PrimDef& d = def_mut(Prim::slice);
  d.traits = kMovement | kLinear | kView;
  d.shape = [](std::span<const AVal> in, const Params& p) {
    constexpr Prim k = Prim::slice;
    check_arity(k, in, 1);
    const Ints &start = p.get_ints("start"), &limit = p.get_ints("limit"), &stride = p.get_ints("stride");
    check_len(k, in, "start", start);
    check_len(k, in, "limit", limit);
    check_len(k, in, "stride", stride);
    Shape out;
    for (int i = 0; i < in[0].rank(); ++i) {
      const int64_t dim = in[0].shape[i];
      if (stride[i] < 1)
        rules::shape_fail(
            k, in, "stride " + std::to_string(stride[i]) + " on axis " + std::to_string(i) + " is not >= 1",
            {}, ErrorKind::Value);
      if (start[i] < 0 || start[i] > limit[i] || limit[i] > dim)
        rules::shape_fail(k, in,
                          "slice [" + std::to_string(start[i]) + ":" + std::to_string(limit[i]) +
                              "] of axis " + std::to_string(i) + " is out of bounds for its size " +
                              std::to_string(dim),
                          "need 0 <= start <= limit <= size on every axis", ErrorKind::Value);
      out.push_back(ceil_div(limit[i] - start[i], stride[i]));
    }
    return std::vector<AVal>{AVal{out, in[0].dtype, in[0].weak}};
  };
  d.jvp = [](const TensorList&, const TensorList& t, const TensorList&, const Params& p) {
    if (!t[0].defined()) return TensorList{Tensor()};
    return TensorList{ops::slice(t[0], p.get_ints("start"), p.get_ints("limit"), p.get_ints("stride"))};
  };
  // Scatter the cotangent back into place: pad with the start before, the stride's gaps between elements,
  // and whatever remains of the operand's axis after the last taken element.
  d.vjp = [](const TensorList& cts, const TensorList& primals, const TensorList&, const Params& p,
             const std::vector<bool>& wants) {
    if (!wants[0]) return TensorList{Tensor()};
    const Shape& xs = primals[0].shape();  // the operand's shape only
    const Ints &start = p.get_ints("start"), &stride = p.get_ints("stride");
    const Tensor& ct = cts[0];
    Ints hi(xs.size()), interior(xs.size());
    for (size_t i = 0; i < xs.size(); ++i) {
      const int64_t o = ct.dim(int(i));
      hi[i] = o == 0 ? xs[i] - start[i] : xs[i] - start[i] - (o - 1) * stride[i] - 1;
      interior[i] = stride[i] - 1;
    }
    return TensorList{pad_exact(ct, start, hi, interior, 0.0)};
  };
  d.vjp_reads_inputs = 1u;
  d.batch = [](const TensorList& vals, const std::vector<int>& bdims, int64_t n, const Params& p) {
    const int b = bdims[0];
    return Batched{{ops::slice(vals[0], inserted(p.get_ints("start"), b, 0),
                               inserted(p.get_ints("limit"), b, n), inserted(p.get_ints("stride"), b, 1))},
                   {b}};
  };
}

// pad is affine (its fill value is a constant), so it is not marked kLinear; its derivative pads with zeros.
void register_pad() {
  PrimDef& d = def_mut(Prim::pad);
  d.traits = kMovement;
  d.shape = [](std::span<const AVal> in, const Params& p) {
    constexpr Prim k = Prim::pad;
    check_arity(k, in, 1);
    const Ints &lo = p.get_ints("lo"), &hi = p.get_ints("hi"), &interior = p.get_ints("interior");
    check_len(k, in, "lo", lo);
    check_len(k, in, "hi", hi);
    check_len(k, in, "interior", interior);
    (void)p.get_double("value");
    Shape out;
    for (int i = 0; i < in[0].rank(); ++i) {
      if (lo[i] < 0 || hi[i] < 0 || interior[i] < 0)
        rules::shape_fail(k, in,
                          "negative padding on axis " + std::to_string(i) + " (lo=" + std::to_string(lo[i]) +
                              ", hi=" + std::to_string(hi[i]) + ", interior=" + std::to_string(interior[i]) +
                              ")",
                          "padding amounts must be >= 0; use ops::slice to cut", ErrorKind::Value);
      const int64_t dim = in[0].shape[i];
      out.push_back(lo[i] + hi[i] + dim + std::max<int64_t>(dim - 1, 0) * interior[i]);
    }
    return std::vector<AVal>{AVal{out, in[0].dtype, in[0].weak}};
  };
  d.jvp = [](const TensorList&, const TensorList& t, const TensorList&, const Params& p) {
    if (!t[0].defined()) return TensorList{Tensor()};
    Params zero = p;
    zero.set("value", 0.0);
    return TensorList{engine::bind1(Prim::pad, {t[0]}, zero)};
  };
  // The operand's elements sit at lo + j * (interior + 1); its size follows from the output's.
  d.vjp = [](const TensorList& cts, const TensorList&, const TensorList&, const Params& p,
             const std::vector<bool>& wants) {
    if (!wants[0]) return TensorList{Tensor()};
    const Ints &lo = p.get_ints("lo"), &hi = p.get_ints("hi"), &interior = p.get_ints("interior");
    const Tensor& ct = cts[0];
    Ints limit(lo.size()), stride(lo.size());
    for (size_t i = 0; i < lo.size(); ++i) {
      const int64_t m = ct.dim(int(i)) - lo[i] - hi[i];
      const int64_t dim = m == 0 ? 0 : (m + interior[i]) / (interior[i] + 1);
      stride[i] = interior[i] + 1;
      limit[i] = dim == 0 ? lo[i] : lo[i] + (dim - 1) * stride[i] + 1;
    }
    return TensorList{ops::slice(ct, lo, limit, stride)};
  };
  d.batch = [](const TensorList& vals, const std::vector<int>& bdims, int64_t, const Params& p) {
    const int b = bdims[0];
    Params np = p;
    np.set("lo", inserted(p.get_ints("lo"), b, 0))
        .set("hi", inserted(p.get_ints("hi"), b, 0))
        .set("interior", inserted(p.get_ints("interior"), b, 0));
    return Batched{{engine::bind1(Prim::pad, {vals[0]}, np)}, {b}};
  };
}

// ===========================================================================================================
// concatenate[axis]
// ===========================================================================================================

void register_concatenate() {
  PrimDef& d = def_mut(Prim::concatenate);
  d.traits = kMovement | kLinear;
  d.shape = [](std::span<const AVal> in, const Params& p) {
    constexpr Prim k = Prim::concatenate;
    if (in.empty()) rules::shape_fail(k, in, "needs at least one operand", {}, ErrorKind::Value);
    const int64_t axis = p.get_int("axis");
    const int r = in[0].rank();
    if (axis < 0 || axis >= r)
      rules::shape_fail(
          k, in, "axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(r),
          r == 0 ? "scalars cannot be concatenated; use ops::stack" : "use an axis in [0, rank)",
          ErrorKind::Value);
    Shape out = in[0].shape;
    bool weak = in[0].weak;
    for (size_t i = 1; i < in.size(); ++i) {
      if (in[i].dtype != in[0].dtype)
        rules::shape_fail(k, in,
                          "operand " + std::to_string(i) + " has dtype " + engine::dtype_name(in[i].dtype) +
                              ", operand 0 has " + engine::dtype_name(in[0].dtype),
                          "ops::concatenate promotes its operands; or convert them with ops::convert",
                          ErrorKind::DType);
      bool same = in[i].rank() == r;
      for (int a = 0; same && a < r; ++a) same = a == axis || in[i].shape[a] == in[0].shape[a];
      if (!same)
        rules::shape_fail(k, in,
                          "operand " + std::to_string(i) + " has shape " + engine::shape_str(in[i].shape) +
                              ", which does not match operand 0's " + engine::shape_str(in[0].shape) +
                              " outside axis " + std::to_string(axis),
                          "operands must have the same rank and equal sizes on every other axis");
      out[axis] += in[i].shape[axis];
      weak = weak && in[i].weak;
    }
    return std::vector<AVal>{AVal{out, in[0].dtype, weak}};
  };
  d.jvp = [](const TensorList& primals, const TensorList& t, const TensorList&, const Params& p) {
    bool any = false;
    for (const Tensor& x : t) any |= x.defined();
    if (!any) return TensorList{Tensor()};
    TensorList ts;
    for (size_t i = 0; i < t.size(); ++i) ts.push_back(rules::instantiate(t[i], primals[i].aval()));
    return TensorList{engine::bind1(Prim::concatenate, ts, p)};
  };
  // Operands are read for their sizes along the axis only.
  d.vjp = [](const TensorList& cts, const TensorList& primals, const TensorList&, const Params& p,
             const std::vector<bool>& wants) {
    const int64_t axis = p.get_int("axis");
    TensorList r(primals.size());
    int64_t off = 0;
    for (size_t i = 0; i < primals.size(); ++i) {
      if (!primals[i].defined())
        throw engine::Error(
            ErrorKind::Unsupported,
            "[concatenate] reverse mode supports at most 32 operands (the residual mask is 32 "
            "bits); concatenate in groups");
      const int64_t len = primals[i].dim(int(axis));
      if (wants[i]) r[i] = ops::slice_axis(cts[0], axis, off, off + len);
      off += len;
    }
    return r;
  };
  d.vjp_reads_inputs = ~0u;
  d.batch = [](const TensorList& vals, const std::vector<int>& bdims, int64_t n, const Params& p) {
    Params np = p;
    np.set("axis", p.get_int("axis") + 1);
    return Batched{{engine::bind1(Prim::concatenate, rules::all_front(vals, bdims, n), np)}, {0}};
  };
}

// ===========================================================================================================
// gather[axis](x, idx) and scatter_add[axis, size](idx, updates): each other's transpose
// ===========================================================================================================

void register_gather() {
  PrimDef& d = def_mut(Prim::gather);
  d.traits = kMovement | kLinear;  // linear in x; the indices are integers
  d.shape = [](std::span<const AVal> in, const Params& p) {
    constexpr Prim k = Prim::gather;
    check_arity(k, in, 2);
    check_index_dtype(k, in, 1);
    const AVal &x = in[0], &idx = in[1];
    const int64_t axis = p.get_int("axis");
    if (axis < 0 || axis >= x.rank())
      rules::shape_fail(
          k, in, "axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(x.rank()),
          x.rank() == 0 ? "cannot index into a scalar" : "use an axis in [0, rank)", ErrorKind::Value);
    if (x.shape[axis] == 0 && idx.numel() > 0)
      rules::shape_fail(k, in, "cannot gather from axis " + std::to_string(axis) + ", which is empty");
    Shape out(x.shape.begin(), x.shape.begin() + axis);
    out.insert(out.end(), idx.shape.begin(), idx.shape.end());
    out.insert(out.end(), x.shape.begin() + axis + 1, x.shape.end());
    return std::vector<AVal>{AVal{out, x.dtype, x.weak}};
  };
  d.jvp = [](const TensorList& primals, const TensorList& t, const TensorList&, const Params& p) {
    if (!t[0].defined()) return TensorList{Tensor()};
    return TensorList{ops::take(t[0], primals[1], p.get_int("axis"))};
  };
  // scatter_add drops out-of-range indices where gather clamps them: clamp first so the cotangent lands
  // where the forward read. x is read for its size along the axis only.
  d.vjp = [](const TensorList& cts, const TensorList& primals, const TensorList&, const Params& p,
             const std::vector<bool>& wants) {
    if (!wants[0]) return TensorList{Tensor(), Tensor()};
    const int64_t axis = p.get_int("axis"), size = primals[0].dim(int(axis));
    const Tensor idx = size > 0 ? clamp_index(primals[1], size) : primals[1];
    return TensorList{ops::scatter_add(idx, cts[0], axis, size), Tensor()};
  };
  d.vjp_reads_inputs = 3u;
  d.batch = [](const TensorList& vals, const std::vector<int>& bdims, int64_t n, const Params& p) {
    const int bx = bdims[0], bi = bdims[1];
    const int64_t axis = p.get_int("axis");
    const Tensor &x = vals[0], &idx = vals[1];
    if (bi == rules::kNotMapped) {  // the batch axis of x passes through, shifted by the index rank
      const int64_t pa = axis < bx ? axis : axis + 1;
      const int ob = bx < pa ? bx : bx - 1 + idx.ndim();
      return Batched{{ops::take(x, idx, pa)}, {ob}};
    }
    if (bx == rules::kNotMapped)  // every example reads the same x: the index batch axis passes through
      return Batched{{ops::take(x, idx, axis)}, {int(axis) + bi}};
    // Both mapped: example b's indices address rows [b * size, (b + 1) * size) of x with the batch folded
    // into the indexed axis. Clamp per example first, so an out-of-range index stays within its own example.
    const int64_t pa = axis < bx ? axis : axis + 1, size = x.dim(int(pa));
    Tensor xm = ops::moveaxis(x, bx, axis);  // [..., n, size, ...]
    Shape fs = x.shape();
    fs.erase(fs.begin() + bx);
    fs[axis] = n * size;
    Tensor xf = ops::reshape(xm, fs);
    Tensor i0 = rules::bdim_to_front(idx, bi);
    if (size > 0) i0 = clamp_index(i0, size);
    Tensor flat = ops::add(i0, ops::mul(ops::iota(i0.shape(), 0, i0.dtype()), ops::literal_int(size)));
    return Batched{{ops::take(xf, flat, axis)}, {int(axis)}};
  };
}

void register_scatter_add() {
  PrimDef& d = def_mut(Prim::scatter_add);
  d.traits = kMovement | kLinear;  // linear in the updates
  d.shape = [](std::span<const AVal> in, const Params& p) {
    constexpr Prim k = Prim::scatter_add;
    check_arity(k, in, 2);
    check_index_dtype(k, in, 0);
    const AVal &idx = in[0], &u = in[1];
    if (u.dtype == DType::Bool)
      rules::shape_fail(k, in, "does not support bool updates", "convert the updates with ops::convert",
                        ErrorKind::DType);
    const int64_t axis = p.get_int("axis"), size = p.get_int("size");
    if (size < 0)
      rules::shape_fail(k, in, "size " + std::to_string(size) + " is negative", {}, ErrorKind::Value);
    if (axis < 0 || axis > u.rank())
      rules::shape_fail(
          k, in,
          "axis " + std::to_string(axis) + " is out of range for updates of rank " + std::to_string(u.rank()),
          {}, ErrorKind::Value);
    const int64_t kr = idx.rank();
    const bool fits =
        axis + kr <= u.rank() && std::equal(idx.shape.begin(), idx.shape.end(), u.shape.begin() + axis);
    if (!fits)
      rules::shape_fail(k, in,
                        "updates " + engine::shape_str(u.shape) + " must be P + " +
                            engine::shape_str(idx.shape) + " + S with P of length " + std::to_string(axis) +
                            " (the index shape at axis " + std::to_string(axis) + ")",
                        "updates.shape = x.shape[:axis] + indices.shape + x.shape[axis+1:]");
    Shape out(u.shape.begin(), u.shape.begin() + axis);
    out.push_back(size);
    out.insert(out.end(), u.shape.begin() + axis + kr, u.shape.end());
    return std::vector<AVal>{AVal{out, u.dtype, u.weak}};
  };
  d.jvp = [](const TensorList& primals, const TensorList& t, const TensorList&, const Params& p) {
    if (!t[1].defined()) return TensorList{Tensor()};
    return TensorList{ops::scatter_add(primals[0], t[1], p.get_int("axis"), p.get_int("size"))};
  };
  // Updates at dropped (out-of-range) indices got no cotangent; gather would clamp them, so mask them.
  d.vjp = [](const TensorList& cts, const TensorList& primals, const TensorList&, const Params& p,
             const std::vector<bool>& wants) {
    if (!wants[1]) return TensorList{Tensor(), Tensor()};
    const int64_t axis = p.get_int("axis"), size = p.get_int("size");
    const Tensor& idx = primals[0];
    const Tensor& ct = cts[0];
    Shape us(ct.shape().begin(), ct.shape().begin() + axis);
    us.insert(us.end(), idx.shape().begin(), idx.shape().end());
    us.insert(us.end(), ct.shape().begin() + axis + 1, ct.shape().end());
    if (size == 0) return TensorList{Tensor(), ops::zeros(us, ct.dtype())};
    Ints dims(idx.ndim());
    for (int i = 0; i < idx.ndim(); ++i) dims[i] = axis + i;
    Tensor keep = ops::broadcast_in_dim(index_in_range(idx, size), us, dims);
    Tensor g = ops::take(ct, idx, axis);
    return TensorList{Tensor(), ops::select(keep, g, Tensor::scalar(0.0, g.dtype(), true))};
  };
  d.vjp_reads_inputs = 1u;
  d.batch = [](const TensorList& vals, const std::vector<int>& bdims, int64_t n, const Params& p) {
    const int bi = bdims[0], bu = bdims[1];
    const int64_t axis = p.get_int("axis"), size = p.get_int("size");
    const Tensor &idx = vals[0], &u = vals[1];
    if (bi == rules::kNotMapped) {
      // The batch axis of the updates passes through when it lies outside the index block [axis, axis + k).
      const int k = idx.ndim();
      if (bu <= axis) return Batched{{ops::scatter_add(idx, u, axis + 1, size)}, {bu}};
      if (bu >= axis + k) return Batched{{ops::scatter_add(idx, u, axis, size)}, {bu - k + 1}};
      return Batched{{ops::scatter_add(idx, ops::moveaxis(u, bu, axis), axis + 1, size)}, {int(axis)}};
    }
    // Mapped indices: each example needs its own output, so the batch folds into the scattered axis (size
    // n * size) with indices offset by b * size; dropped indices go to n * size, which is dropped as well.
    Tensor i0 = rules::bdim_to_front(idx, bi);  // [n, I...]
    Tensor u0 = bu == rules::kNotMapped ? broadcast_new_axis(u, int(axis), n) : ops::moveaxis(u, bu, axis);
    Tensor offs = ops::mul(ops::iota(i0.shape(), 0, i0.dtype()), ops::literal_int(size));
    Tensor flat = ops::select(index_in_range(i0, size), ops::add(i0, offs), ops::literal_int(n * size));
    Tensor r = ops::scatter_add(flat, u0, axis, n * size);  // [P..., n * size, S...]
    Shape s = r.shape();
    s[axis] = size;
    s.insert(s.begin() + axis, n);
    return Batched{{ops::reshape(r, s)}, {int(axis)}};
  };
}

}  // namespace

void register_movement_rules() {
  register_reshape();
  register_broadcast_in_dim();
  register_transpose();
  register_slice();
  register_pad();
  register_concatenate();
  register_gather();
  register_scatter_add();
}

}  // namespace ops
