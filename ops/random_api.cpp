// Public op API, random numbers: keys, splitting, folding in, raw bits, and uniform and normal samples built
// from random_bits with ordinary primitives (u32 division by a power of two is a right shift; convert; mul).
// Keys are u32[K..., 2]: every function also takes a batch of keys and then draws per key (out = K... + shape),
// which is also what vmap over keys turns into, with no loop. Keys, splits and fold-ins follow JAX's
// Threefry "partitionable" scheme (engine/random/threefry.h), so random_key / random_split / random_fold_in /
// random_bits give the same u32 values as jax.random.PRNGKey / split / fold_in / bits do there.
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

// The bits of `key` for shape + [words]: `words` independent u32 words per element, returned separately.
std::vector<Tensor> words(const Tensor& key, const Shape& shape, int64_t n) {
  Shape s = shape;
  s.push_back(n);
  Tensor bits = random_bits(key, s);
  Shape out = key_axes(key);
  out.insert(out.end(), shape.begin(), shape.end());
  std::vector<Tensor> ws;
  for (int64_t w = 0; w < n; ++w) ws.push_back(reshape(slice_axis(bits, -1, w, w + 1), out));
  return ws;
}

// Uniform on [0, 1) with 24 random bits (f32) or 53 (f64, from two words), from `w` (one word per element for
// f32, two for f64). Every value is k * 2^-24 or k * 2^-53 with k < 2^24 or 2^53: exact, never 1.0.
// With `open_left`, k + 1 is used instead: uniform on (0, 1], for logarithms.
Tensor unit_interval(const std::vector<Tensor>& w, DType dtype, bool open_left) {
  Tensor k;
  double scale;
  if (dtype == DType::F32) {
    k = convert(div(w[0], u32(256.0)), DType::F32);  // the top 24 bits
    scale = 0x1p-24;
  } else {
    // hi * 2^21 + (lo >> 11): 53 bits, exact in f64.
    k = add(mul(convert(w[0], DType::F64), scalar(0x1p21, DType::F64)),
            convert(div(w[1], u32(2048.0)), DType::F64));
    scale = 0x1p-53;
  }
  if (open_left) k = add(k, scalar(1.0, dtype));
  return mul(k, scalar(scale, dtype));
}

void require_float(const char* op, DType dtype) {
  if (!engine::is_float(dtype))
    raise(ErrorKind::DType, op, std::string("samples floats, not ") + engine::dtype_name(dtype), {},
          engine::current_user_loc(), "pass DType::F32 or DType::F64, and convert afterwards if needed");
}

// The largest value of `dtype` below hi (hi itself is excluded from [lo, hi)).
double below(double hi, DType dtype) {
  if (dtype == DType::F32) {
    float h = static_cast<float>(hi);
    if (static_cast<double>(h) >= hi) h = std::nextafter(h, -std::numeric_limits<float>::infinity());
    return h;
  }
  return std::nextafter(hi, -std::numeric_limits<double>::infinity());
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
  if (!(lo < hi) || !std::isfinite(lo) || !std::isfinite(hi))
    raise(ErrorKind::Value, "random_uniform",
          "needs finite bounds with lo < hi, got [" + std::to_string(lo) + ", " + std::to_string(hi) + ")",
          {{key.aval()}}, loc);
  Tensor u = unit_interval(words(key, shape, dtype == DType::F32 ? 1 : 2), dtype, false);
  if (lo == 0.0 && hi == 1.0) return u;
  // Rounding of u * (hi - lo) + lo can reach hi (or fall below lo): clamp into [lo, hi).
  Tensor x = add(mul(u, literal(hi - lo)), literal(lo));
  return minimum(maximum(x, scalar(lo, dtype)), scalar(below(hi, dtype), dtype));
}

Tensor random_normal(const Tensor& key, const Shape& shape, DType dtype, const Loc& loc) {
  UserLocScope scope(loc);
  require_key(key, "random_normal");
  require_float("random_normal", dtype);
  // Box-Muller: sqrt(-2 log u1) cos(2 pi u2), u1 on (0, 1] (so the log is finite), u2 on [0, 1).
  const int64_t per = dtype == DType::F32 ? 1 : 2;
  std::vector<Tensor> w = words(key, shape, 2 * per);
  Tensor u1 = unit_interval({w.begin(), w.begin() + per}, dtype, true);
  Tensor u2 = unit_interval({w.begin() + per, w.end()}, dtype, false);
  Tensor r = sqrt(mul(log(u1), literal(-2.0)));
  return mul(r, cos(mul(u2, literal(2.0 * std::numbers::pi))));
}

}  // namespace ops
