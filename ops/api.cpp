// Public op API, part 1: creation, elementwise, reductions, matmul and movement. Each entry point records the
// caller's line, promotes and broadcasts its operands, and binds one primitive (or a few).
#include "ops/api.h"

#include <algorithm>
#include <numeric>

#include "engine/interp/interpreter.h"
#include "ops/registry.h"

namespace ops {

using engine::AVal;
using engine::bind1;
using engine::ErrorKind;
using engine::raise;
using engine::UserLocScope;

namespace {

void require_defined(const Tensor& x, const char* op) {
  if (!x.defined()) raise(ErrorKind::Value, op, "got a null (default-constructed) tensor", {}, engine::current_user_loc());
}

std::vector<AVal> avals(std::initializer_list<const Tensor*> ts) {
  std::vector<AVal> a;
  for (const Tensor* t : ts) a.push_back(t->aval());
  return a;
}

// Converts and broadcasts one operand of an elementwise op. Concrete weak scalars (C++ literals) are rebuilt
// in the target dtype directly instead of paying for a convert.
Tensor prepare(const Tensor& x, DType dt, bool weak, const Shape& shape) {
  Tensor y = x;
  if (y.dtype() != dt || y.weak() != weak) {
    if (y.is_concrete() && y.ndim() == 0 && y.weak())
      y = Tensor::scalar(y.item_as_double(), dt, weak);
    else if (y.dtype() != dt)
      y = bind1(Prim::convert, {y}, Params().set("dtype", dt));
  }
  if (y.shape() != shape) y = broadcast_to(y, shape);
  return y;
}

DType promote_or_raise(const char* op, const std::vector<Tensor>& xs, bool* weak) {
  DType dt = xs[0].dtype();
  bool w = xs[0].weak();
  for (size_t i = 1; i < xs.size(); ++i) {
    DType o;
    bool ow;
    if (!engine::promote_types(dt, w, xs[i].dtype(), xs[i].weak(), &o, &ow))
      raise(ErrorKind::DType, op, "cannot promote these dtypes implicitly", engine::avals_of(xs),
            engine::current_user_loc(), "convert one operand explicitly with ops::convert");
    dt = o;
    w = ow;
  }
  *weak = w;
  return dt;
}

Tensor unary(Prim p, const Tensor& x, const Loc& loc) {
  UserLocScope scope(loc);
  require_defined(x, prim_name(p));
  return bind1(p, {x});
}

// Binary elementwise ops and comparisons share promotion and broadcasting.
Tensor binary(Prim p, const Tensor& a, const Tensor& b, const Loc& loc) {
  UserLocScope scope(loc);
  const char* op = prim_name(p);
  require_defined(a, op);
  require_defined(b, op);
  bool weak;
  DType dt = promote_or_raise(op, {a, b}, &weak);
  Shape out = broadcast_shapes(a.shape(), b.shape(), op, avals({&a, &b}));
  return bind1(p, {prepare(a, dt, weak, out), prepare(b, dt, weak, out)});
}

std::vector<int64_t> normalize_axes(const char* op, const Tensor& x, std::vector<int64_t> axes) {
  if (axes.empty()) {
    axes.resize(x.ndim());
    std::iota(axes.begin(), axes.end(), 0);
    return axes;
  }
  for (auto& a : axes) {
    int n = engine::normalize_axis(a, x.ndim());
    if (n < 0)
      raise(ErrorKind::Value, op, "axis " + std::to_string(a) + " is out of range", {{x.aval()}},
            engine::current_user_loc(), "use axes in [-rank, rank)");
    a = n;
  }
  std::sort(axes.begin(), axes.end());
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end())
    raise(ErrorKind::Value, op, "repeated axis in " + engine::shape_str(axes), {{x.aval()}}, engine::current_user_loc());
  return axes;
}

Tensor keep_dims(const Tensor& r, const Tensor& x, const std::vector<int64_t>& axes) {
  Shape s = x.shape();
  for (int64_t a : axes) s[a] = 1;
  return reshape(r, s);
}

}  // namespace

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op, std::span<const AVal> operands) {
  if (a == b) return a;
  size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1)
      raise(ErrorKind::Shape, op, "shapes " + engine::shape_str(a) + " and " + engine::shape_str(b) +
                                      " cannot be broadcast together",
            operands, engine::current_user_loc(), "dimensions must match or be 1 (aligned from the right)");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

// ---- creation ----
Tensor scalar(double value, DType dtype, const Loc&) { return Tensor::scalar(value, dtype, false); }
// Stored in f64 so the value is exact; being weak, it takes the dtype of the tensor it meets.
Tensor literal(double value, const Loc&) { return Tensor::scalar(value, DType::F64, true); }
Tensor literal_int(int64_t value, const Loc&) { return Tensor::scalar(double(value), DType::I32, true); }
Tensor full(const Shape& shape, double value, DType dtype, const Loc& loc) {
  UserLocScope scope(loc);
  return broadcast_to(Tensor::scalar(value, dtype), shape);
}
Tensor zeros(const Shape& shape, DType dtype, const Loc& loc) { return full(shape, 0.0, dtype, loc); }
Tensor ones(const Shape& shape, DType dtype, const Loc& loc) { return full(shape, 1.0, dtype, loc); }
Tensor zeros_like(const Tensor& x, const Loc& loc) { return full(x.shape(), 0.0, x.dtype(), loc); }
Tensor ones_like(const Tensor& x, const Loc& loc) { return full(x.shape(), 1.0, x.dtype(), loc); }
Tensor full_like(const Tensor& x, double value, const Loc& loc) { return full(x.shape(), value, x.dtype(), loc); }

Tensor iota(const Shape& shape, int axis, DType dtype, const Loc& loc) {
  UserLocScope scope(loc);
  return bind1(Prim::iota, {}, Params().set("shape", shape).set("dtype", dtype).set("axis", int64_t(axis)));
}
Tensor arange(int64_t n, DType dtype, const Loc& loc) { return iota({n}, 0, dtype, loc); }
Tensor eye(int64_t n, DType dtype, const Loc& loc) {
  UserLocScope scope(loc);
  return convert(eq(iota({n, n}, 0), iota({n, n}, 1)), dtype);
}

// ---- elementwise ----
#define OPS_UNARY_API(name) \
  Tensor name(const Tensor& x, const Loc& loc) { return unary(Prim::name, x, loc); }
OPS_UNARY_API(neg)
OPS_UNARY_API(exp)
OPS_UNARY_API(log)
OPS_UNARY_API(log1p)
OPS_UNARY_API(expm1)
OPS_UNARY_API(sin)
OPS_UNARY_API(cos)
OPS_UNARY_API(tanh)
OPS_UNARY_API(logistic)
OPS_UNARY_API(sqrt)
OPS_UNARY_API(rsqrt)
OPS_UNARY_API(abs)
OPS_UNARY_API(sign)
OPS_UNARY_API(erf)
OPS_UNARY_API(floor)
OPS_UNARY_API(stop_gradient)
#undef OPS_UNARY_API

#define OPS_BINARY_API(name, prim) \
  Tensor name(const Tensor& a, const Tensor& b, const Loc& loc) { return binary(Prim::prim, a, b, loc); }
OPS_BINARY_API(add, add)
OPS_BINARY_API(sub, sub)
OPS_BINARY_API(mul, mul)
OPS_BINARY_API(div, div)
OPS_BINARY_API(pow, pow)
OPS_BINARY_API(maximum, max)
OPS_BINARY_API(minimum, min)
OPS_BINARY_API(eq, eq)
OPS_BINARY_API(ne, ne)
OPS_BINARY_API(lt, lt)
OPS_BINARY_API(le, le)
OPS_BINARY_API(gt, gt)
OPS_BINARY_API(ge, ge)
#undef OPS_BINARY_API

Tensor select(const Tensor& cond, const Tensor& on_true, const Tensor& on_false, const Loc& loc) {
  UserLocScope scope(loc);
  for (const Tensor* t : {&cond, &on_true, &on_false}) require_defined(*t, "select");
  if (cond.dtype() != DType::Bool)
    raise(ErrorKind::DType, "select", "the condition must be bool", avals({&cond, &on_true, &on_false}), loc,
          "build the condition with a comparison such as ops::gt");
  bool weak;
  DType dt = promote_or_raise("select", {on_true, on_false}, &weak);
  auto operands = avals({&cond, &on_true, &on_false});
  Shape out = broadcast_shapes(broadcast_shapes(cond.shape(), on_true.shape(), "select", operands), on_false.shape(),
                               "select", operands);
  return bind1(Prim::select, {prepare(cond, DType::Bool, false, out), prepare(on_true, dt, weak, out),
                              prepare(on_false, dt, weak, out)});
}

Tensor convert(const Tensor& x, DType dtype, const Loc& loc) {
  UserLocScope scope(loc);
  require_defined(x, "convert");
  if (x.dtype() == dtype && !x.weak()) return x;
  return bind1(Prim::convert, {x}, Params().set("dtype", dtype));
}

// ---- reductions ----
Tensor sum(const Tensor& x, std::vector<int64_t> axes, bool keepdims, const Loc& loc) {
  UserLocScope scope(loc);
  require_defined(x, "reduce_sum");
  axes = normalize_axes("reduce_sum", x, std::move(axes));
  Tensor src = x.dtype() == DType::Bool ? convert(x, DType::I32) : x;
  Tensor r = bind1(Prim::reduce_sum, {src}, Params().set("axes", axes));
  return keepdims ? keep_dims(r, x, axes) : r;
}

Tensor max(const Tensor& x, std::vector<int64_t> axes, bool keepdims, const Loc& loc) {
  UserLocScope scope(loc);
  require_defined(x, "reduce_max");
  axes = normalize_axes("reduce_max", x, std::move(axes));
  Tensor r = bind1(Prim::reduce_max, {x}, Params().set("axes", axes));
  return keepdims ? keep_dims(r, x, axes) : r;
}

Tensor min(const Tensor& x, std::vector<int64_t> axes, bool keepdims, const Loc& loc) {
  UserLocScope scope(loc);
  require_defined(x, "reduce_min");
  if (x.dtype() == DType::U32 || x.dtype() == DType::Bool)
    raise(ErrorKind::DType, "reduce_min", "is defined as -max(-x) and needs a signed dtype", {{x.aval()}}, loc,
          "convert to i32 or f32 first");
  return neg(max(neg(x), std::move(axes), keepdims));
}

Tensor argmax(const Tensor& x, int64_t axis, bool keepdims, const Loc& loc) {
  UserLocScope scope(loc);
  require_defined(x, "argmax");
  auto axes = normalize_axes("argmax", x, {axis});
  Tensor r = bind1(Prim::argmax, {x}, Params().set("axis", axes[0]).set("index_dtype", DType::I32));
  return keepdims ? keep_dims(r, x, axes) : r;
}

// ---- matmul ----
Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b, const Loc& loc) {
  UserLocScope scope(loc);
  require_defined(a, "matmul");
  require_defined(b, "matmul");
  if (a.ndim() == 0 || b.ndim() == 0)
    raise(ErrorKind::Shape, "matmul", "operands must have at least one dimension", avals({&a, &b}), loc,
          "use ops::mul for scaling by a scalar");
  bool weak;
  DType dt = promote_or_raise("matmul", {a, b}, &weak);
  if (!engine::is_float(dt))
    raise(ErrorKind::DType, "matmul", "supports f32 and f64 operands", avals({&a, &b}), loc,
          "convert the operands with ops::convert");
  Tensor a2 = a.dtype() == dt ? a : convert(a, dt), b2 = b.dtype() == dt ? b : convert(b, dt);
  const bool a_vec = a.ndim() == 1, b_vec = b.ndim() == 1;
  if (a_vec) a2 = reshape(a2, transpose_a ? Shape{a.dim(0), 1} : Shape{1, a.dim(0)});
  if (b_vec) b2 = reshape(b2, transpose_b ? Shape{1, b.dim(0)} : Shape{b.dim(0), 1});
  Tensor r = bind1(Prim::matmul, {a2, b2}, Params().set("transpose_a", transpose_a).set("transpose_b", transpose_b));
  if (a_vec || b_vec) {
    Shape s = r.shape();
    if (a_vec) s.erase(s.end() - 2);  // the M axis of 1
    if (b_vec) s.erase(s.end() - 1);  // the N axis of 1
    r = reshape(r, s);
  }
  return r;
}

// ---- movement ----
Tensor reshape(const Tensor& x, Shape shape, const Loc& loc) {
  UserLocScope scope(loc);
  require_defined(x, "reshape");
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) raise(ErrorKind::Value, "reshape", "more than one -1 in " + engine::shape_str(shape), {{x.aval()}}, loc);
      infer = static_cast<int>(i);
    } else if (shape[i] < 0) {
      raise(ErrorKind::Value, "reshape", "negative dimension in " + engine::shape_str(shape), {{x.aval()}}, loc);
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || x.numel() % known != 0)
      raise(ErrorKind::Shape, "reshape", "cannot infer -1 in " + engine::shape_str(shape), {{x.aval()}}, loc,
            "the other dimensions must divide the element count");
    shape[infer] = x.numel() / known;
  }
  if (shape == x.shape()) return x;
  return bind1(Prim::reshape, {x}, Params().set("shape", shape));
}

Tensor broadcast_in_dim(const Tensor& x, const Shape& shape, std::vector<int64_t> dims, const Loc& loc) {
  UserLocScope scope(loc);
  require_defined(x, "broadcast_in_dim");
  return bind1(Prim::broadcast_in_dim, {x}, Params().set("shape", shape).set("dims", std::move(dims)));
}

Tensor broadcast_to(const Tensor& x, const Shape& shape, const Loc& loc) {
  UserLocScope scope(loc);
  require_defined(x, "broadcast_to");
  if (x.shape() == shape) return x;
  if (static_cast<size_t>(x.ndim()) > shape.size())
    raise(ErrorKind::Shape, "broadcast_to", "target " + engine::shape_str(shape) + " has lower rank", {{x.aval()}}, loc);
  std::vector<int64_t> dims(x.ndim());
  std::iota(dims.begin(), dims.end(), int64_t(shape.size() - x.ndim()));
  return broadcast_in_dim(x, shape, dims);
}

Tensor transpose(const Tensor& x, std::vector<int64_t> perm, const Loc& loc) {
  UserLocScope scope(loc);
  require_defined(x, "transpose");
  if (perm.empty()) {
    perm.resize(x.ndim());
    for (int i = 0; i < x.ndim(); ++i) perm[i] = x.ndim() - 1 - i;
  }
  bool identity = true;
  for (size_t i = 0; i < perm.size(); ++i) identity &= perm[i] == int64_t(i);
  if (identity && perm.size() == size_t(x.ndim())) return x;
  return bind1(Prim::transpose, {x}, Params().set("perm", std::move(perm)));
}

Tensor moveaxis(const Tensor& x, int64_t from, int64_t to, const Loc& loc) {
  UserLocScope scope(loc);
  int f = engine::normalize_axis(from, x.ndim()), t = engine::normalize_axis(to, x.ndim());
  if (f < 0 || t < 0)
    raise(ErrorKind::Value, "moveaxis", "axis out of range (" + std::to_string(from) + " -> " + std::to_string(to) + ")",
          {{x.aval()}}, loc);
  if (f == t) return x;
  std::vector<int64_t> perm;
  for (int i = 0; i < x.ndim(); ++i)
    if (i != f) perm.push_back(i);
  perm.insert(perm.begin() + t, f);
  return transpose(x, perm);
}

Tensor expand_dims(const Tensor& x, int64_t axis, const Loc& loc) {
  UserLocScope scope(loc);
  int a = engine::normalize_axis(axis, x.ndim() + 1);
  if (a < 0) raise(ErrorKind::Value, "expand_dims", "axis " + std::to_string(axis) + " out of range", {{x.aval()}}, loc);
  Shape s = x.shape();
  s.insert(s.begin() + a, 1);
  return reshape(x, s);
}

Tensor squeeze(const Tensor& x, std::vector<int64_t> axes, const Loc& loc) {
  UserLocScope scope(loc);
  axes = normalize_axes("squeeze", x, std::move(axes));
  Shape s;
  for (int i = 0; i < x.ndim(); ++i) {
    bool drop = std::find(axes.begin(), axes.end(), i) != axes.end();
    if (drop && x.dim(i) != 1)
      raise(ErrorKind::Shape, "squeeze", "axis " + std::to_string(i) + " has size " + std::to_string(x.dim(i)) +
                                             ", not 1", {{x.aval()}}, loc);
    if (!drop) s.push_back(x.dim(i));
  }
  return reshape(x, s);
}

Tensor slice(const Tensor& x, std::vector<int64_t> start, std::vector<int64_t> limit, std::vector<int64_t> stride,
             const Loc& loc) {
  UserLocScope scope(loc);
  require_defined(x, "slice");
  if (stride.empty()) stride.assign(x.ndim(), 1);
  return bind1(Prim::slice, {x}, Params().set("start", std::move(start)).set("limit", std::move(limit)).set("stride", std::move(stride)));
}

Tensor slice_axis(const Tensor& x, int64_t axis, int64_t start, int64_t limit, int64_t stride, const Loc& loc) {
  UserLocScope scope(loc);
  int a = engine::normalize_axis(axis, x.ndim());
  if (a < 0) raise(ErrorKind::Value, "slice", "axis " + std::to_string(axis) + " out of range", {{x.aval()}}, loc);
  std::vector<int64_t> st(x.ndim(), 0), lim(x.shape()), str(x.ndim(), 1);
  st[a] = start;
  lim[a] = limit;
  str[a] = stride;
  return slice(x, st, lim, str);
}

Tensor pad(const Tensor& x, std::vector<int64_t> lo, std::vector<int64_t> hi, double value, const Loc& loc) {
  UserLocScope scope(loc);
  require_defined(x, "pad");
  std::vector<int64_t> interior(lo.size(), 0);
  return bind1(Prim::pad, {x}, Params().set("lo", std::move(lo)).set("hi", std::move(hi))
                                   .set("interior", std::move(interior)).set("value", value));
}

Tensor concatenate(const std::vector<Tensor>& xs, int64_t axis, const Loc& loc) {
  UserLocScope scope(loc);
  if (xs.empty()) raise(ErrorKind::Value, "concatenate", "needs at least one operand", {}, loc);
  for (const auto& x : xs) require_defined(x, "concatenate");
  int a = engine::normalize_axis(axis, xs[0].ndim());
  if (a < 0) raise(ErrorKind::Value, "concatenate", "axis " + std::to_string(axis) + " out of range", engine::avals_of(xs), loc);
  if (xs.size() == 1) return xs[0];
  bool weak;
  DType dt = promote_or_raise("concatenate", xs, &weak);
  std::vector<Tensor> ys;
  for (const auto& x : xs) ys.push_back(x.dtype() == dt ? x : convert(x, dt));
  return bind1(Prim::concatenate, ys, Params().set("axis", int64_t(a)));
}

Tensor stack(const std::vector<Tensor>& xs, int64_t axis, const Loc& loc) {
  UserLocScope scope(loc);
  if (xs.empty()) raise(ErrorKind::Value, "stack", "needs at least one operand", {}, loc);
  std::vector<Tensor> ys;
  for (const auto& x : xs) {
    require_defined(x, "stack");
    if (x.shape() != xs[0].shape())
      raise(ErrorKind::Shape, "stack", "operands must have equal shapes", engine::avals_of(xs), loc);
    ys.push_back(expand_dims(x, axis));
  }
  return concatenate(ys, engine::normalize_axis(axis, xs[0].ndim() + 1));
}

Tensor take(const Tensor& x, const Tensor& indices, int64_t axis, const Loc& loc) {
  UserLocScope scope(loc);
  require_defined(x, "gather");
  require_defined(indices, "gather");
  int a = engine::normalize_axis(axis, x.ndim());
  if (a < 0) raise(ErrorKind::Value, "gather", "axis " + std::to_string(axis) + " out of range", avals({&x, &indices}), loc);
  return bind1(Prim::gather, {x, indices}, Params().set("axis", int64_t(a)));
}

Tensor scatter_add(const Tensor& indices, const Tensor& updates, int64_t axis, int64_t size, const Loc& loc) {
  UserLocScope scope(loc);
  require_defined(indices, "scatter_add");
  require_defined(updates, "scatter_add");
  return bind1(Prim::scatter_add, {indices, updates}, Params().set("axis", axis).set("size", size));
}

}  // namespace ops

namespace engine {

Operand::Operand(double v, const std::source_location& l) : t(ops::literal(v)), loc(l) {}
Operand::Operand(float v, const std::source_location& l) : t(ops::literal(v)), loc(l) {}
Operand::Operand(int v, const std::source_location& l) : t(ops::literal_int(v)), loc(l) {}

namespace {
Tensor checked_int_literal(long double v, const std::source_location& l) {
  if (v < -2147483648.0L || v > 2147483647.0L)
    raise(ErrorKind::Value, "literal", "integer " + std::to_string(static_cast<long long>(v)) + " does not fit in i32",
          {}, l, "convert it to double, or build a tensor with an explicit dtype");
  return ops::literal_int(static_cast<int64_t>(v));
}
}  // namespace

Operand::Operand(long v, const std::source_location& l) : t(checked_int_literal(v, l)), loc(l) {}
Operand::Operand(long long v, const std::source_location& l) : t(checked_int_literal(v, l)), loc(l) {}
Operand::Operand(unsigned long v, const std::source_location& l) : t(checked_int_literal(v, l)), loc(l) {}

Tensor operator+(const Operand& a, const Operand& b) { return ops::add(a.t, b.t, a.loc); }
Tensor operator-(const Operand& a, const Operand& b) { return ops::sub(a.t, b.t, a.loc); }
Tensor operator*(const Operand& a, const Operand& b) { return ops::mul(a.t, b.t, a.loc); }
Tensor operator/(const Operand& a, const Operand& b) { return ops::div(a.t, b.t, a.loc); }
Tensor operator-(const Tensor& a) { return ops::neg(a); }

}  // namespace engine
