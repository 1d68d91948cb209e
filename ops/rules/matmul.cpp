// Rules of the Matmul family: matmul[transpose_a, transpose_b] with NumPy batch broadcasting. The jvp is the
// product rule; the vjp is two matmuls with the transposes folded into the flags (no transpose ops), followed
// by a sum over the batch dims an operand was broadcast along. Batching moves mapped batch axes to the front
// and lets the primitive's own batch broadcasting do the rest.
#include <algorithm>
#include <string>
#include <vector>

#include "ops/rules/rule_util.h"

namespace ops {

namespace {

using engine::DType;
using engine::ErrorKind;
using Ints = std::vector<int64_t>;

struct Flags {
  bool ta, tb;
};
Flags flags(const Params& p) { return {p.get_bool("transpose_a"), p.get_bool("transpose_b")}; }

Shape batch_dims(const Shape& s) { return Shape(s.begin(), s.end() - 2); }

std::vector<AVal> matmul_shape(std::span<const AVal> in, const Params& p) {
  constexpr Prim k = Prim::matmul;
  if (in.size() != 2)
    rules::shape_fail(k, in, "expects 2 operands, got " + std::to_string(in.size()),
                      "call it through ops::matmul", ErrorKind::Value);
  const AVal &a = in[0], &b = in[1];
  if (a.rank() < 2 || b.rank() < 2)
    rules::shape_fail(k, in,
                      "operands must have rank >= 2, got ranks " + std::to_string(a.rank()) + " and " +
                          std::to_string(b.rank()),
                      "ops::matmul promotes 1-D operands to matrices; the primitive does not");
  if (a.dtype != b.dtype)
    rules::shape_fail(k, in,
                      std::string("operands must have the same dtype, got ") + engine::dtype_name(a.dtype) +
                          " and " + engine::dtype_name(b.dtype),
                      "ops::matmul promotes its operands; or convert one with ops::convert",
                      ErrorKind::DType);
  if (!engine::is_float(a.dtype))
    rules::shape_fail(k, in, std::string("supports f32 and f64 operands, got ") + engine::dtype_name(a.dtype),
                      "convert the operands with ops::convert", ErrorKind::DType);
  const auto [ta, tb] = flags(p);
  const int ra = a.rank(), rb = b.rank();
  const int64_t m = ta ? a.shape[ra - 1] : a.shape[ra - 2], ka = ta ? a.shape[ra - 2] : a.shape[ra - 1];
  const int64_t kb = tb ? b.shape[rb - 1] : b.shape[rb - 2], n = tb ? b.shape[rb - 2] : b.shape[rb - 1];
  if (ka != kb)
    rules::shape_fail(k, in,
                      "contraction dims differ: K=" + std::to_string(ka) + " vs K=" + std::to_string(kb),
                      std::string("a is ") + (ta ? "[..., K, M]" : "[..., M, K]") + " and b is " +
                          (tb ? "[..., N, K]" : "[..., K, N]") + " with these transpose flags");
  const Shape ba = batch_dims(a.shape), bb = batch_dims(b.shape);
  const size_t r = std::max(ba.size(), bb.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    const int64_t da = i < r - ba.size() ? 1 : ba[i - (r - ba.size())];
    const int64_t db = i < r - bb.size() ? 1 : bb[i - (r - bb.size())];
    if (da != db && da != 1 && db != 1)
      rules::shape_fail(k, in,
                        "batch dims " + engine::shape_str(ba) + " and " + engine::shape_str(bb) +
                            " cannot be broadcast together",
                        "batch dims must match or be 1 (aligned from the right)");
    out[i] = da == 1 ? db : da;
  }
  out.push_back(m);
  out.push_back(n);
  return {AVal{out, a.dtype, a.weak && b.weak}};
}

Tensor sum_over(const Tensor& x, const Ints& axes) { return axes.empty() ? x : ops::sum(x, axes); }

// Sums g (shaped like the output's batch dims + the operand's matrix dims) over the batch dims the operand
// was broadcast along, then restores the operand's own shape (its size-1 and missing leading dims).
Tensor unbroadcast(const Tensor& g, const Shape& shape) {
  const int lead = g.ndim() - static_cast<int>(shape.size());
  Ints axes;
  for (int i = 0; i < lead; ++i) axes.push_back(i);
  for (size_t i = 0; i + 2 < shape.size(); ++i)
    if (shape[i] == 1 && g.dim(lead + int(i)) != 1) axes.push_back(lead + int64_t(i));
  return ops::reshape(sum_over(g, axes), shape);
}

int64_t batch_numel(const Tensor& x) { return engine::numel(batch_dims(x.shape())); }

// The cotangent of b when b is shared across the whole batch (its batch dims are all 1 or absent) and a is
// not transposed and carries the full output batch: the batch folds into the rows, so one matmul contracts
// over (batch, M) at once instead of materializing a per-example product [batch..., K, N] and summing it.
// This is the weight gradient of a linear layer applied to [B, T, D] activations.
bool can_fold_b(const Tensor& a, const Tensor& b, const Tensor& ct, bool ta) {
  return !ta && batch_numel(b) == 1 && a.ndim() == ct.ndim() &&
         batch_dims(a.shape()) == batch_dims(ct.shape()) && batch_numel(ct) > 1;
}

Tensor fold_b_grad(const Tensor& a, const Tensor& b, const Tensor& ct, bool tb) {
  const int64_t rows = batch_numel(a) * a.dim(-2);
  Tensor af = ops::reshape(a, {rows, a.dim(-1)});    // [P*M, K]
  Tensor cf = ops::reshape(ct, {rows, ct.dim(-1)});  // [P*M, N]
  Tensor g = tb ? ops::matmul(cf, af, true, false)   // [N, K]
                : ops::matmul(af, cf, true, false);  // [K, N]
  return ops::reshape(g, b.shape());
}

// With C = op_a(A) op_b(B): dop_a(A) = ct op_b(B)^T and dop_b(B) = op_a(A)^T ct; undoing op_a/op_b on the
// results only swaps operands and flags.
TensorList matmul_vjp(const TensorList& cts, const TensorList& primals, const TensorList&, const Params& p,
                      const std::vector<bool>& wants) {
  const auto [ta, tb] = flags(p);
  const Tensor &a = primals[0], &b = primals[1], &ct = cts[0];
  TensorList r(2);
  if (wants[0]) {
    Tensor g = ta ? ops::matmul(b, ct, tb, true) : ops::matmul(ct, b, false, !tb);
    r[0] = unbroadcast(g, a.shape());
  }
  if (wants[1]) {
    if (can_fold_b(a, b, ct, ta)) {
      r[1] = fold_b_grad(a, b, ct, tb);
    } else {
      Tensor g = tb ? ops::matmul(ct, a, true, ta) : ops::matmul(a, ct, !ta, false);
      r[1] = unbroadcast(g, b.shape());
    }
  }
  return r;
}

TensorList matmul_jvp(const TensorList& primals, const TensorList& tangents, const TensorList&,
                      const Params& p) {
  const auto [ta, tb] = flags(p);
  Tensor r;
  if (tangents[0].defined()) r = ops::matmul(tangents[0], primals[1], ta, tb);
  if (tangents[1].defined()) {
    Tensor s = ops::matmul(primals[0], tangents[1], ta, tb);
    r = r.defined() ? ops::add(r, s) : s;
  }
  return {r};
}

// Mapped operands get their batch axis at 0. A mapped operand of lower logical rank than the other gets
// size-1 axes right after it, so that the batch axis lines up with nothing but size-1 or batch axes when the
// batch dims broadcast from the right; unmapped operands broadcast against the batch axis as they are.
Batched matmul_batch(const TensorList& vals, const std::vector<int>& bdims, int64_t, const Params& p) {
  int logical[2];
  for (int i = 0; i < 2; ++i) logical[i] = vals[i].ndim() - (bdims[i] == rules::kNotMapped ? 0 : 1);
  TensorList args(2);
  for (int i = 0; i < 2; ++i) {
    if (bdims[i] == rules::kNotMapped) {
      args[i] = vals[i];
      continue;
    }
    Tensor x = rules::bdim_to_front(vals[i], bdims[i]);
    const int missing = logical[1 - i] - logical[i];
    if (missing > 0) {
      Shape s = x.shape();
      s.insert(s.begin() + 1, missing, 1);
      x = ops::reshape(x, s);
    }
    args[i] = x;
  }
  return Batched{{engine::bind1(Prim::matmul, args, p)}, {0}};
}

}  // namespace

void register_matmul_rules() {
  PrimDef& d = def_mut(Prim::matmul);
  d.traits = 0;  // bilinear, not linear: the vjp reads both operands
  d.shape = matmul_shape;
  d.jvp = matmul_jvp;
  d.vjp = matmul_vjp;
  d.vjp_reads_inputs = 3u;
  d.batch = matmul_batch;
}

}  // namespace ops
