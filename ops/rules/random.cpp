// Rules of the Random family: iota, random_bits and random_fold_in. None is differentiable (integer outputs;
// iota has no operands at all). The random primitives treat every leading axis of the key as a key axis
// (key u32[K..., 2]), so batching only moves the batch axis of the key (and of fold_in's data) to the front:
// one kernel call hashes every example's counters, and the bits of each example are those it would get alone.
// The bit mapping (which counter feeds which element) is documented in engine/random/threefry.h.
#include <string>
#include <vector>

#include "ops/rules/rule_util.h"

namespace ops {

namespace {

using engine::DType;
using engine::ErrorKind;
using rules::check_arity;

constexpr const char* kNotDifferentiable = "not differentiable: integer output";

void check_key(Prim p, std::span<const AVal> in) {
  const AVal& k = in[0];
  if (k.dtype != DType::U32)
    rules::shape_fail(p, in, std::string("the key must be u32, got ") + engine::dtype_name(k.dtype),
                      "make keys with ops::random_key and derive them with ops::random_split / random_fold_in",
                      ErrorKind::DType);
  if (k.rank() == 0 || k.shape.back() != 2)
    rules::shape_fail(p, in, "the key must have a last axis of size 2 (u32[..., 2]), got " + k.str(),
                      "a key is u32[2]; a batch of keys is u32[n, 2]");
}

void check_dims(Prim p, std::span<const AVal> in, const Shape& shape) {
  for (int64_t d : shape)
    if (d < 0)
      rules::shape_fail(p, in, "negative dimension in shape " + engine::shape_str(shape), {}, ErrorKind::Value);
}

// The key axes K... of a key u32[K..., 2].
Shape key_axes(const AVal& key) { return Shape(key.shape.begin(), key.shape.end() - 1); }

void set_not_differentiable(PrimDef& d) {
  d.traits = kRandom | kNonDifferentiable;
  d.absent_reason[int(Rule::Jvp)] = kNotDifferentiable;
  d.absent_reason[int(Rule::Vjp)] = kNotDifferentiable;
}

// ---- iota[shape, dtype, axis] ----

void register_iota() {
  PrimDef& d = def_mut(Prim::iota);
  set_not_differentiable(d);
  d.absent_reason[int(Rule::Jvp)] = "not differentiable: no operands (its output is a constant)";
  d.absent_reason[int(Rule::Vjp)] = "not differentiable: no operands (its output is a constant)";
  d.absent_reason[int(Rule::Batch)] =
      "never called: iota has no operands, so it is never batched (under vmap it is an unmapped constant)";
  d.shape = [](std::span<const AVal> in, const Params& p) {
    constexpr Prim k = Prim::iota;
    check_arity(k, in, 0);
    const Shape& shape = p.get_ints("shape");
    check_dims(k, in, shape);
    const DType dt = p.get_dtype("dtype");
    if (dt == DType::Bool)
      rules::shape_fail(k, in, "does not support dtype bool", "use i32, u32, f32 or f64", ErrorKind::DType);
    const int64_t axis = p.get_int("axis");
    if (axis < 0 || axis >= int64_t(shape.size()))
      rules::shape_fail(k, in,
                        "axis " + std::to_string(axis) + " is out of range for shape " + engine::shape_str(shape),
                        "use an axis in [0, rank); iota needs rank >= 1", ErrorKind::Value);
    return std::vector<AVal>{AVal{shape, dt, false}};
  };
}

// ---- random_bits[shape](key u32[K..., 2]) -> u32[K..., shape...] ----

void register_random_bits() {
  PrimDef& d = def_mut(Prim::random_bits);
  set_not_differentiable(d);
  d.shape = [](std::span<const AVal> in, const Params& p) {
    constexpr Prim k = Prim::random_bits;
    check_arity(k, in, 1);
    check_key(k, in);
    const Shape& shape = p.get_ints("shape");
    check_dims(k, in, shape);
    Shape out = key_axes(in[0]);
    out.insert(out.end(), shape.begin(), shape.end());
    return std::vector<AVal>{AVal{out, DType::U32, false}};
  };
  // The batch axis becomes one more key axis.
  d.batch = [](const TensorList& vals, const std::vector<int>& bdims, int64_t, const Params& p) {
    Tensor key = rules::bdim_to_front(vals[0], bdims[0]);
    return Batched{{engine::bind1(Prim::random_bits, {key}, p)}, {0}};
  };
}

// ---- random_fold_in(key u32[K..., 2], data u32[K...]) -> u32[K..., 2] ----

void register_random_fold_in() {
  PrimDef& d = def_mut(Prim::random_fold_in);
  set_not_differentiable(d);
  d.shape = [](std::span<const AVal> in, const Params&) {
    constexpr Prim k = Prim::random_fold_in;
    check_arity(k, in, 2);
    check_key(k, in);
    if (in[1].dtype != DType::U32)
      rules::shape_fail(k, in, std::string("the data must be u32, got ") + engine::dtype_name(in[1].dtype),
                        "convert it with ops::convert (ops::random_fold_in takes a uint32_t)", ErrorKind::DType);
    if (in[1].shape != key_axes(in[0]))
      rules::shape_fail(k, in,
                        "the data must have the key's shape without its last axis (" +
                            engine::shape_str(key_axes(in[0])) + "), got " + engine::shape_str(in[1].shape),
                        "fold one value into each key");
    return std::vector<AVal>{AVal{in[0].shape, DType::U32, false}};
  };
  // Both operands get the batch axis in front (an unmapped one is broadcast), then it is one more key axis.
  d.batch = [](const TensorList& vals, const std::vector<int>& bdims, int64_t size, const Params& p) {
    TensorList front = rules::all_front(vals, bdims, size);
    return Batched{{engine::bind1(Prim::random_fold_in, front, p)}, {0}};
  };
}

}  // namespace

void register_random_rules() {
  register_iota();
  register_random_bits();
  register_random_fold_in();
}

}  // namespace ops
