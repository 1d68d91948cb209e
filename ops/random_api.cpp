// Public op API, random numbers: keys, splitting, folding in, raw bits, and uniform and normal samples built
// from random_bits with ordinary primitives (u32 division by a power of two is a right shift; convert; mul).
// Keys are u32[K..., 2]: every function also takes a batch of keys and then draws per key (out = K... + shape),
// which is also what vmap over keys turns into, with no loop. Keys, splits and fold-ins follow JAX's
// Threefry "partitionable" scheme (engine/random/threefry.h), so random_key / random_split / random_fold_in /
// random_bits give the same u32 values as jax.random.PRNGKey / split / fold_in / bits do there (64-bit seeds as
// with jax_enable_x64), and random_uniform on [0, 1) the same floats as jax.random.uniform (f32, and f64 with
// x64). One consequence, as in JAX: random_split(key, n)[j] == random_fold_in(key, j).
#include <cmath>
#include <limits>
#include <numbers>
#include <string>

#include "engine/interp/interpreter.h"
#include "ops/api.h"
#include "ops/registry.h"

namespace ops {

using engine::bind1;
using engine::ErrorKind;
using engine::raise;
using engine::UserLocScope;

namespace {

void require_key(const Tensor& key, const char* op) {
  if (!key.defined())
    raise(ErrorKind::Value, op, "got a null (default-constructed) key", {}, engine::current_user_loc(),
          "make one with ops::random_key(seed)");
  if (key.dtype() != DType::U32)
    raise(ErrorKind::DType, op, std::string("the key must be u32, got ") + engine::dtype_name(key.dtype()),
          {{key.aval()}}, engine::current_user_loc(), "make keys with ops::random_key and ops::random_split");
  if (key.ndim() == 0 || key.shape().back() != 2)
    raise(ErrorKind::Shape, op, "the key must have a last axis of size 2 (u32[..., 2])", {{key.aval()}},
          engine::current_user_loc(), "a key is u32[2]; a batch of keys is u32[n, 2]");
}

Shape key_axes(const Tensor& key) { return Shape(key.shape().begin(), key.shape().end() - 1); }

Tensor u32(double v) { return scalar(v, DType::U32); }
Tensor lit(double v, DType dtype) { return scalar(v, dtype); }

// K... + shape: the shape of a draw from a (batch of) key(s).
Shape draw_shape(const Tensor& key, const Shape& shape) {
  Shape out = key_axes(key);
  out.insert(out.end(), shape.begin(), shape.end());
  return out;
}

// Slice w of the last axis, dropped.
Tensor last(const Tensor& x, int64_t w) {
  Shape s(x.shape().begin(), x.shape().end() - 1);
  return reshape(slice_axis(x, -1, w, w + 1), s);
}

// Both output words of counter (0, i) for each element i of `shape` (row-major), as two u32 tensors
// [K..., shape...]: the 64 random bits that jax.random.bits(key, shape, uint64) splits as (hi, lo). A counter
// (0, i) hashed under a key is random_fold_in(key, i), so this is one fold_in over an iota.
std::pair<Tensor, Tensor> word_pair(const Tensor& key, const Shape& shape) {
  const int64_t n = engine::numel(shape);
  if (n > (int64_t(1) << 32))
    raise(ErrorKind::Value, "random_bits", "draws 64-bit samples for at most 2^32 elements per key, got " +
                                               std::to_string(n), {{key.aval()}}, engine::current_user_loc(),
          "split the key and draw in pieces");
  const Shape ka = key_axes(key), out = draw_shape(key, shape);
  const int64_t rk = static_cast<int64_t>(ka.size()), r = static_cast<int64_t>(out.size());
  Shape kshape = out;
  kshape.push_back(2);
  std::vector<int64_t> kdims, ddims;
  for (int64_t i = 0; i < rk; ++i) kdims.push_back(i);
  kdims.push_back(r);
  for (int64_t i = rk; i < r; ++i) ddims.push_back(i);
  Tensor index = broadcast_in_dim(reshape(iota({n}, 0, DType::U32), shape), out, ddims);
  Tensor w = bind1(Prim::random_fold_in, {broadcast_in_dim(key, kshape, kdims), index});
  return {last(w, 0), last(w, 1)};
}

// Uniform on [0, 1) in the two ways jax.random.uniform builds it, so the values agree bit for bit:
// f32 from the top 23 of 32 random bits, k * 2^-23; f64 from the top 52 of 64, k * 2^-52. Exact; never 1.0.
Tensor unit_f32(const Tensor& bits) { return mul(convert(div(bits, u32(512.0)), DType::F32), lit(0x1p-23, DType::F32)); }
Tensor unit_f64(const Tensor& hi, const Tensor& lo) {
  Tensor k = add(mul(convert(hi, DType::F64), lit(0x1p20, DType::F64)), convert(div(lo, u32(4096.0)), DType::F64));
  return mul(k, lit(0x1p-52, DType::F64));
}

void require_float(const char* op, DType dtype) {
  if (!engine::is_float(dtype))
    raise(ErrorKind::DType, op, std::string("samples floats, not ") + engine::dtype_name(dtype), {},
          engine::current_user_loc(), "pass DType::F32 or DType::F64, and convert afterwards if needed");
}

// v rounded into `dtype`, then moved one step toward `dir` if rounding went the wrong way of v.
double round_toward(double v, double dir, DType dtype) {
  if (dtype == DType::F32) {
    float f = static_cast<float>(v);
    if (dir < v ? double(f) >= v : double(f) < v) f = std::nextafter(f, static_cast<float>(dir));
    return f;
  }
  return dir < v ? std::nextafter(v, dir) : v;
}

}  // namespace

Tensor random_key(uint64_t seed, const Loc&) {
  // As jax.random.PRNGKey(seed) with 64-bit seeds: (high word, low word).
  return Tensor::from_vector<uint32_t>({static_cast<uint32_t>(seed >> 32), static_cast<uint32_t>(seed)}, {2});
}

Tensor random_split(const Tensor& key, int64_t n, const Loc& loc) {
  UserLocScope scope(loc);
  require_key(key, "random_split");
  if (n < 0 || n > (int64_t(1) << 32))
    raise(ErrorKind::Value, "random_split", "n = " + std::to_string(n) + " is out of range", {{key.aval()}}, loc,
          "split into 0 to 2^32 keys");
  // key u32[K..., 2] -> u32[K..., n, 2]: new key j is the key with j folded in.
  const Shape ka = key_axes(key);
  const int r = static_cast<int>(ka.size());
  Shape kshape = ka, dshape = ka;
  kshape.push_back(n);
  kshape.push_back(2);
  dshape.push_back(n);
  std::vector<int64_t> dims;
  for (int i = 0; i < r; ++i) dims.push_back(i);
  dims.push_back(r + 1);
  Tensor keys = broadcast_in_dim(key, kshape, dims);
  return bind1(Prim::random_fold_in, {keys, iota(dshape, r, DType::U32)});
}

Tensor random_fold_in(const Tensor& key, uint32_t data, const Loc& loc) {
  UserLocScope scope(loc);
  require_key(key, "random_fold_in");
  return bind1(Prim::random_fold_in, {key, full(key_axes(key), double(data), DType::U32)});
}

Tensor random_bits(const Tensor& key, const Shape& shape, const Loc& loc) {
  UserLocScope scope(loc);
  require_key(key, "random_bits");
  return bind1(Prim::random_bits, {key}, Params().set("shape", shape));
}

Tensor random_uniform(const Tensor& key, const Shape& shape, double lo, double hi, DType dtype, const Loc& loc) {
  UserLocScope scope(loc);
  require_key(key, "random_uniform");
  require_float("random_uniform", dtype);
  constexpr double kInf = std::numeric_limits<double>::infinity();
  // The smallest and largest values of dtype in [lo, hi).
  const double bottom = round_toward(lo, kInf, dtype), top = round_toward(hi, -kInf, dtype);
  if (!(lo < hi) || !std::isfinite(lo) || !std::isfinite(hi) || !(bottom <= top))
    raise(ErrorKind::Value, "random_uniform",
          "needs finite bounds with lo < hi and some " + std::string(engine::dtype_name(dtype)) +
              " value between them, got [" + std::to_string(lo) + ", " + std::to_string(hi) + ")",
          {{key.aval()}}, loc);
  Tensor u;
  if (dtype == DType::F32) {
    u = unit_f32(random_bits(key, shape));
  } else {
    auto [w0, w1] = word_pair(key, shape);
    u = unit_f64(w0, w1);
  }
  if (lo == 0.0 && hi == 1.0) return u;
  // As JAX: u * (hi - lo) + lo with the bounds in dtype. Rounding can reach hi or fall below lo, so the result
  // is clamped into [lo, hi) (JAX clamps only from below).
  double scale = hi - lo, offset = lo;
  if (dtype == DType::F32) {
    offset = static_cast<float>(lo);
    scale = static_cast<float>(hi) - static_cast<float>(lo);
  }
  Tensor x = add(mul(u, lit(scale, dtype)), lit(offset, dtype));
  return minimum(maximum(x, lit(bottom, dtype)), lit(top, dtype));
}

// Box-Muller: sqrt(-2 log u1) cos(2 pi u2). u1 lies on (0, 1] so the log is finite, and is built from every
// random bit (32 for f32, 64 for f64, rounded: (k + 1) * 2^-32 or 2^-64) so the tails reach |z| = 6.7 (f32)
// and 9.4 (f64); u2 is the uniform on [0, 1). (No erfinv primitive exists, so the values differ from
// jax.random.normal, which inverts the normal CDF.)
Tensor random_normal(const Tensor& key, const Shape& shape, DType dtype, const Loc& loc) {
  UserLocScope scope(loc);
  require_key(key, "random_normal");
  require_float("random_normal", dtype);
  Shape pairs = shape;
  pairs.push_back(2);  // element i draws from counters 2i (u1) and 2i + 1 (u2)
  Tensor u1, u2;
  if (dtype == DType::F32) {
    Tensor bits = random_bits(key, pairs);
    u1 = mul(add(convert(last(bits, 0), DType::F32), lit(1.0, DType::F32)), lit(0x1p-32, DType::F32));
    u2 = unit_f32(last(bits, 1));
  } else {
    auto [w0, w1] = word_pair(key, pairs);
    Tensor hi0 = last(w0, 0), lo0 = last(w1, 0);
    u1 = mul(add(mul(convert(hi0, DType::F64), lit(0x1p32, DType::F64)), add(convert(lo0, DType::F64), lit(1.0, DType::F64))),
             lit(0x1p-64, DType::F64));
    u2 = unit_f64(last(w0, 1), last(w1, 1));
  }
  Tensor r = sqrt(mul(log(u1), lit(-2.0, dtype)));
  return mul(r, cos(mul(u2, lit(2.0 * std::numbers::pi, dtype))));
}

}  // namespace ops
