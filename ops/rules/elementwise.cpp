// Rules of the elementwise families: Unary, Binary, Compare, Select and Convert (convert, stop_gradient).
// Derivatives live in two tables (one row per unary primitive, one row of partials per binary primitive) and
// one loop per table turns each row into its jvp (t * d) and vjp (ct * d); elementwise Jacobians are
// diagonal, so the transpose multiplies by the same factor. Every rule emits ops through the public API, so
// rules are themselves differentiable and batchable. All primitives here share one batching rule.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <optional>
#include <string>
#include <vector>

#include "ops/rules/rule_util.h"

namespace ops {

namespace {

using engine::DType;
using engine::ErrorKind;
using rules::check_arity;

// ---- dtype sets (bit i: DType i) ----
constexpr uint32_t bit(DType d) { return 1u << static_cast<int>(d); }
constexpr uint32_t kFloats = bit(DType::F32) | bit(DType::F64);
constexpr uint32_t kSigned = bit(DType::I32) | kFloats;   // neg, abs, sign
constexpr uint32_t kNumeric = kSigned | bit(DType::U32);  // arithmetic: everything but bool
constexpr uint32_t kAll = kNumeric | bit(DType::Bool);

std::string dtype_set_str(uint32_t mask) {
  std::vector<std::string> names;
  for (int i = 0; i < engine::kNumDTypes; ++i)
    if (mask & (1u << i)) names.push_back(engine::dtype_name(static_cast<DType>(i)));
  std::string s;
  for (size_t i = 0; i < names.size(); ++i)
    s += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  return s;
}

// ---- shape-rule checks (shared by the families) ----
void check_dtype(Prim p, std::span<const AVal> in, size_t i, uint32_t allowed,
                 const char* role = "operands") {
  if (allowed & bit(in[i].dtype)) return;
  rules::shape_fail(p, in,
                    std::string("does not support ") + engine::dtype_name(in[i].dtype) + " " + role +
                        " (supported: " + dtype_set_str(allowed) + ")",
                    "convert the operand first with ops::convert", ErrorKind::DType);
}

void check_same_shape(Prim p, std::span<const AVal> in, size_t i, size_t j) {
  if (in[i].shape == in[j].shape) return;
  rules::shape_fail(p, in,
                    "operands must have identical shapes, got " + engine::shape_str(in[i].shape) + " and " +
                        engine::shape_str(in[j].shape),
                    "the public API broadcasts its operands; the primitive itself does not");
}

void check_same_dtype(Prim p, std::span<const AVal> in, size_t i, size_t j) {
  if (in[i].dtype == in[j].dtype) return;
  rules::shape_fail(p, in,
                    std::string("operands must have the same dtype, got ") + engine::dtype_name(in[i].dtype) +
                        " and " + engine::dtype_name(in[j].dtype),
                    "the public API promotes its operands; or convert one with ops::convert",
                    ErrorKind::DType);
}

// ---- helpers for the derivative tables ----

// A weakly typed scalar in like's dtype: it never changes the dtype of what it meets, even a weak operand.
Tensor constant(double v, const Tensor& like) { return Tensor::scalar(v, like.dtype(), /*weak=*/true); }

// 1 where pred holds, else 0, in the dtype of `like` (a mask: carries no tangent).
Tensor indicator(const Tensor& pred, const Tensor& like) { return ops::convert(pred, like.dtype()); }

Tensor add_tangents(const Tensor& a, const Tensor& b) {
  if (!a.defined()) return b;
  if (!b.defined()) return a;
  return ops::add(a, b);
}

// ---- the shared batching rule ----
// Elementwise primitives need operands of one shape, so the batch axes must line up. When every mapped
// operand carries its batch axis at the same position b, unmapped operands are broadcast into position b (a
// stride-0 view in eager mode) and the primitive is applied directly, output batched at b; otherwise the
// mapped operands are moved to the front and the output is batched at 0. The exact primitive is re-bound
// (with its params): the operands already have the shapes and dtypes it requires.
BatchRule elementwise_batch(Prim p) {
  return [p](const TensorList& vals, const std::vector<int>& bdims, int64_t size, const Params& params) {
    int b = bdims[rules::first_mapped(bdims)];
    const bool agree =
        std::all_of(bdims.begin(), bdims.end(), [b](int d) { return d == rules::kNotMapped || d == b; });
    if (!agree) b = 0;  // all go to the front
    TensorList args;
    args.reserve(vals.size());
    for (size_t i = 0; i < vals.size(); ++i) {
      const Tensor& x = vals[i];
      if (bdims[i] == rules::kNotMapped) {
        Shape s = x.shape();
        s.insert(s.begin() + b, size);
        std::vector<int64_t> dims;
        for (int k = 0; k < x.ndim(); ++k) dims.push_back(k < b ? k : k + 1);
        args.push_back(ops::broadcast_in_dim(x, s, dims));
      } else {
        args.push_back(bdims[i] == b ? x : ops::moveaxis(x, bdims[i], b));
      }
    }
    return Batched{{engine::bind1(p, args, params)}, {b}};
  };
}

// ============================================================================================================
// Unary
// ============================================================================================================

// How the tangent relates to the derivative term d(x, y) (x the operand, y the output).
enum class DKind : uint8_t {
  Scale,     // t * d(x, y)
  Quotient,  // t / d(x, y): saves an op when the derivative is a reciprocal
  Negate,    // -t
  Zero,      // piecewise constant: the tangent is a symbolic zero
};
using UnaryD = Tensor (*)(const Tensor& x, const Tensor& y);
using In = const Tensor&;  // keeps the table rows short

// What d reads, which is what the vjp keeps as residuals.
enum Reads : uint8_t { kNone = 0, kX = 1, kY = 2, kXY = 3 };

struct UnaryRow {
  Prim p;
  uint32_t dtypes;
  DKind kind;
  Reads reads;
  UnaryD d;  // null for Negate and Zero
};

const UnaryRow kUnary[] = {
    {Prim::neg, kSigned, DKind::Negate, kNone, nullptr},
    {Prim::exp, kFloats, DKind::Scale, kY, [](In, In y) { return y; }},
    {Prim::log, kFloats, DKind::Quotient, kX, [](In x, In) { return x; }},
    {Prim::log1p, kFloats, DKind::Quotient, kX, [](In x, In) { return x + 1.0; }},
    {Prim::expm1, kFloats, DKind::Scale, kY, [](In, In y) { return y + 1.0; }},
    {Prim::sin, kFloats, DKind::Scale, kX, [](In x, In) { return ops::cos(x); }},
    {Prim::cos, kFloats, DKind::Scale, kX, [](In x, In) { return -ops::sin(x); }},
    {Prim::tanh, kFloats, DKind::Scale, kY, [](In, In y) { return 1.0 - y * y; }},
    {Prim::logistic, kFloats, DKind::Scale, kY, [](In, In y) { return y * (1.0 - y); }},
    {Prim::sqrt, kFloats, DKind::Quotient, kY, [](In, In y) { return y * 2.0; }},
    {Prim::rsqrt, kFloats, DKind::Scale, kXY, [](In x, In y) { return y / x * -0.5; }},
    {Prim::abs, kSigned, DKind::Scale, kX, [](In x, In) { return ops::sign(x); }},
    {Prim::sign, kSigned, DKind::Zero, kNone, nullptr},
    {Prim::erf, kFloats, DKind::Scale, kX,
     [](In x, In) { return ops::exp(-(x * x)) * constant(2.0 / std::sqrt(std::numbers::pi), x); }},
    {Prim::floor, kFloats, DKind::Zero, kNone, nullptr},
};

Tensor apply_unary(const UnaryRow& r, const Tensor& t, const Tensor& x, const Tensor& y) {
  switch (r.kind) {
    case DKind::Scale:
      return ops::mul(t, r.d(x, y));
    case DKind::Quotient:
      return ops::div(t, r.d(x, y));
    case DKind::Negate:
      return ops::neg(t);
    case DKind::Zero:
      break;
  }
  return Tensor();
}

void register_unary() {
  for (const UnaryRow& row : kUnary) {
    PrimDef& d = def_mut(row.p);
    d.traits = kElementwise | (row.kind == DKind::Negate ? kLinear : 0u);
    d.shape = [p = row.p, dtypes = row.dtypes](std::span<const AVal> in, const Params&) {
      check_arity(p, in, 1);
      check_dtype(p, in, 0, dtypes);
      return std::vector<AVal>{in[0]};
    };
    d.jvp = [row](const TensorList& primals, const TensorList& tangents, const TensorList& outs,
                  const Params&) {
      if (!tangents[0].defined()) return TensorList{Tensor()};
      return TensorList{apply_unary(row, tangents[0], primals[0], outs[0])};
    };
    d.vjp = [row](const TensorList& cts, const TensorList& primals, const TensorList& outs, const Params&,
                  const std::vector<bool>& wants) {
      if (!wants[0] || !cts[0].defined()) return TensorList{Tensor()};
      return TensorList{apply_unary(row, cts[0], primals[0], outs[0])};
    };
    d.vjp_reads_inputs = (row.reads & kX) ? 1u : 0u;
    d.vjp_reads_outputs = (row.reads & kY) != 0;
    d.batch = elementwise_batch(row.p);
  }
}

// ============================================================================================================
// Binary and Compare
// ============================================================================================================

// One partial derivative: the contribution of an operand's tangent t to the output tangent.
enum class PKind : uint8_t { Identity, Negate, Scale, Quotient };
using BinaryD = Tensor (*)(const Tensor& x, const Tensor& y, const Tensor& out);
struct Partial {
  PKind kind;
  BinaryD f = nullptr;  // for Scale (t * f) and Quotient (t / f)
};

// What the partials read: bit 0 x, bit 1 y (the vjp_reads_inputs mask), bit 2 the output.
constexpr uint8_t kRx = 1, kRy = 2, kRxy = 3, kRout = 4;

struct BinaryRow {
  Prim p;
  uint32_t dtypes;
  uint8_t reads;
  Partial dx, dy;
};

// max/min at ties: each side gets half (as JAX), so the gradient of max(x, x) is 1. A NaN operand makes every
// comparison false: both sides get 0. (gt + ge) / 2 is 1 above, 1/2 at a tie, 0 below.
Tensor upper_share(const Tensor& a, const Tensor& b) {
  return (indicator(ops::gt(a, b), a) + indicator(ops::ge(a, b), a)) * 0.5;
}

const BinaryRow kBinary[] = {
    {Prim::add, kNumeric, 0, {PKind::Identity}, {PKind::Identity}},
    {Prim::sub, kNumeric, 0, {PKind::Identity}, {PKind::Negate}},
    {Prim::mul,
     kNumeric,
     kRxy,
     {PKind::Scale, [](In, In y, In) { return y; }},
     {PKind::Scale, [](In x, In, In) { return x; }}},
    // d/dy (x / y) = -x / y^2, written (x / y) / y so that y^2 cannot overflow first.
    {Prim::div,
     kNumeric,
     kRxy,
     {PKind::Quotient, [](In, In y, In) { return y; }},
     {PKind::Scale, [](In x, In y, In) { return -(x / y / y); }}},
    // As JAX: d/dx is y x^(y-1) except 0 where y == 0 (so 0^0 has derivative 0, not 0 * inf); d/dy is
    // out log(x) with log(x) replaced by 0 where x == 0 (there out is 0 or 1, and the limit is taken as 0).
    {Prim::pow,
     kFloats,
     kRxy | kRout,
     {PKind::Scale,
      [](In x, In y, In) {
        Tensor zero = constant(0.0, x);
        return ops::select(ops::eq(y, zero), zero, y * ops::pow(x, y - 1.0));
      }},
     {PKind::Scale,
      [](In x, In, In out) {
        return out * ops::log(ops::select(ops::eq(x, constant(0.0, x)), constant(1.0, x), x));
      }}},
    {Prim::max,
     kNumeric,
     kRxy,
     {PKind::Scale, [](In x, In y, In) { return upper_share(x, y); }},
     {PKind::Scale, [](In x, In y, In) { return upper_share(y, x); }}},
    {Prim::min,
     kNumeric,
     kRxy,
     {PKind::Scale, [](In x, In y, In) { return upper_share(y, x); }},
     {PKind::Scale, [](In x, In y, In) { return upper_share(x, y); }}},
};

Tensor apply_partial(const Partial& d, const Tensor& t, const Tensor& x, const Tensor& y, const Tensor& out) {
  switch (d.kind) {
    case PKind::Identity:
      return t;
    case PKind::Negate:
      return ops::neg(t);
    case PKind::Scale:
      return ops::mul(t, d.f(x, y, out));
    case PKind::Quotient:
      return ops::div(t, d.f(x, y, out));
  }
  return Tensor();
}

// Operands of identical shape and dtype from `dtypes`; the output aval is `out_dtype` (or the operands' own
// dtype), weak only when both operands are.
std::vector<AVal> binary_shape(Prim p, std::span<const AVal> in, uint32_t dtypes,
                               std::optional<DType> out_dtype) {
  check_arity(p, in, 2);
  check_dtype(p, in, 0, dtypes);
  check_same_dtype(p, in, 0, 1);
  check_same_shape(p, in, 0, 1);
  if (out_dtype) return {AVal{in[0].shape, *out_dtype, false}};
  return {AVal{in[0].shape, in[0].dtype, in[0].weak && in[1].weak}};
}

void register_binary() {
  for (const BinaryRow& row : kBinary) {
    PrimDef& d = def_mut(row.p);
    const bool linear = row.dx.kind <= PKind::Negate && row.dy.kind <= PKind::Negate;
    d.traits = kElementwise | (linear ? kLinear : 0u);
    d.shape = [p = row.p, dtypes = row.dtypes](std::span<const AVal> in, const Params&) {
      return binary_shape(p, in, dtypes, std::nullopt);
    };
    d.jvp = [row](const TensorList& primals, const TensorList& tangents, const TensorList& outs,
                  const Params&) {
      Tensor t;
      if (tangents[0].defined()) t = apply_partial(row.dx, tangents[0], primals[0], primals[1], outs[0]);
      if (tangents[1].defined())
        t = add_tangents(t, apply_partial(row.dy, tangents[1], primals[0], primals[1], outs[0]));
      return TensorList{t};
    };
    d.vjp = [row](const TensorList& cts, const TensorList& primals, const TensorList& outs, const Params&,
                  const std::vector<bool>& wants) {
      TensorList r(2);
      if (!cts[0].defined()) return r;
      if (wants[0]) r[0] = apply_partial(row.dx, cts[0], primals[0], primals[1], outs[0]);
      if (wants[1]) r[1] = apply_partial(row.dy, cts[0], primals[0], primals[1], outs[0]);
      return r;
    };
    d.vjp_reads_inputs = row.reads & kRxy;
    d.vjp_reads_outputs = (row.reads & kRout) != 0;
    d.batch = elementwise_batch(row.p);
  }

  // Comparisons: bool outputs carry no tangent. The rules exist (returning symbolic zeros) so that a direct
  // call is harmless, though the transforms skip non-differentiable primitives.
  for (Prim p : {Prim::eq, Prim::ne, Prim::lt, Prim::le, Prim::gt, Prim::ge}) {
    PrimDef& d = def_mut(p);
    d.traits = kElementwise | kNonDifferentiable;
    d.shape = [p](std::span<const AVal> in, const Params&) { return binary_shape(p, in, kAll, DType::Bool); };
    d.jvp = [](const TensorList&, const TensorList&, const TensorList&, const Params&) {
      return TensorList{Tensor()};
    };
    d.vjp = [](const TensorList&, const TensorList&, const TensorList&, const Params&,
               const std::vector<bool>&) { return TensorList(2); };
    d.batch = elementwise_batch(p);
  }
}

// ============================================================================================================
// Select, convert, stop_gradient
// ============================================================================================================

void register_select() {
  PrimDef& d = def_mut(Prim::select);
  d.traits = kElementwise;
  d.shape = [](std::span<const AVal> in, const Params&) {
    check_arity(Prim::select, in, 3);
    check_dtype(Prim::select, in, 0, bit(DType::Bool), "conditions");
    check_same_dtype(Prim::select, in, 1, 2);
    check_same_shape(Prim::select, in, 0, 1);
    check_same_shape(Prim::select, in, 0, 2);
    return std::vector<AVal>{AVal{in[1].shape, in[1].dtype, in[1].weak && in[2].weak}};
  };
  // The missing side of a half-symbolic tangent is a scalar zero the API broadcasts (a view in eager mode).
  d.jvp = [](const TensorList& primals, const TensorList& tangents, const TensorList& outs, const Params&) {
    const Tensor &tt = tangents[1], &tf = tangents[2];
    if (!tt.defined() && !tf.defined()) return TensorList{Tensor()};
    Tensor zero = constant(0.0, outs[0]);
    return TensorList{ops::select(primals[0], tt.defined() ? tt : zero, tf.defined() ? tf : zero)};
  };
  d.vjp = [](const TensorList& cts, const TensorList& primals, const TensorList&, const Params&,
             const std::vector<bool>& wants) {
    TensorList r(3);
    const Tensor& ct = cts[0];
    if (!ct.defined()) return r;
    Tensor zero = constant(0.0, ct);
    if (wants[1]) r[1] = ops::select(primals[0], ct, zero);
    if (wants[2]) r[2] = ops::select(primals[0], zero, ct);
    return r;
  };
  d.vjp_reads_inputs = 1u;  // the condition
  d.batch = elementwise_batch(Prim::select);
}

void register_convert() {
  PrimDef& c = def_mut(Prim::convert);
  c.traits = kElementwise | kLinear;  // linear float -> float; other conversions carry no tangent
  c.shape = [](std::span<const AVal> in, const Params& p) {
    check_arity(Prim::convert, in, 1);
    return std::vector<AVal>{AVal{in[0].shape, p.get_dtype("dtype"), false}};
  };
  c.jvp = [](const TensorList& primals, const TensorList& tangents, const TensorList&, const Params& p) {
    const DType to = p.get_dtype("dtype");
    if (!tangents[0].defined() || !engine::is_float(primals[0].dtype()) || !engine::is_float(to))
      return TensorList{Tensor()};
    return TensorList{ops::convert(tangents[0], to)};
  };
  // The cotangent goes back to the operand's dtype. VjpRule is given no input avals, so the operand is kept
  // as a residual only to learn that dtype (an aval-only residual would do).
  c.vjp = [](const TensorList& cts, const TensorList& primals, const TensorList&, const Params&,
             const std::vector<bool>& wants) {
    if (!wants[0] || !cts[0].defined() || !engine::is_float(primals[0].dtype()) ||
        !engine::is_float(cts[0].dtype()))
      return TensorList{Tensor()};
    return TensorList{ops::convert(cts[0], primals[0].dtype())};
  };
  c.vjp_reads_inputs = 1u;
  c.batch = elementwise_batch(Prim::convert);

  PrimDef& s = def_mut(Prim::stop_gradient);
  s.traits = kElementwise | kView;  // the kernel may hand back its operand
  s.shape = [](std::span<const AVal> in, const Params&) {
    check_arity(Prim::stop_gradient, in, 1);
    return std::vector<AVal>{in[0]};
  };
  s.jvp = [](const TensorList&, const TensorList&, const TensorList&, const Params&) {
    return TensorList{Tensor()};
  };
  s.vjp = [](const TensorList&, const TensorList&, const TensorList&, const Params&,
             const std::vector<bool>&) { return TensorList{Tensor()}; };
  s.batch = elementwise_batch(Prim::stop_gradient);
}

}  // namespace

void register_elementwise_rules() {
  register_unary();
  register_binary();
  register_select();
  register_convert();
}

}  // namespace ops
