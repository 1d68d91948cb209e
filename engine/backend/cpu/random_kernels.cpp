// CPU kernels of the Random family: iota, random_bits and random_fold_in. The random kernels hash counters
// with Threefry-2x32 (engine/random/threefry.h, which documents the bit mapping), eight counters at a time in
// AVX2 lanes (GCC vector extensions). An element's bits depend only on its key and its index, so any split of
// the work across threads, and the vector/scalar boundary, give the same bits.
#include <cstring>

#include "engine/backend/cpu/kernels.h"
#include "engine/backend/cpu/loops.h"
#include "engine/random/threefry.h"

namespace engine::backend::cpu {

namespace {

using ops::Prim;
using engine::random::threefry2x32;

typedef uint32_t U32x8 __attribute__((vector_size(32)));
constexpr int kLanes = 8;
constexpr int64_t kThreefryCost = 32;  // element-operations per hashed counter (for the serial cutoff)

inline U32x8 splat(uint32_t s) {
  U32x8 v = {s, s, s, s, s, s, s, s};
  return v;
}
inline U32x8 load8(const uint32_t* p) {
  U32x8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store8(uint32_t* p, U32x8 v) { std::memcpy(p, &v, sizeof v); }

// out[j] = bits of element first + j under key (k0, k1), for j in [0, n).
void bits_run(uint32_t k0, uint32_t k1, uint64_t first, int64_t n, uint32_t* out) {
  const U32x8 lane = {0, 1, 2, 3, 4, 5, 6, 7};
  const U32x8 vk0 = splat(k0), vk1 = splat(k1);
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    const uint64_t i = first + uint64_t(j);
    const U32x8 base = splat(uint32_t(i));
    U32x8 lo = base + lane;
    // A lane whose low word wrapped past 2^32 carries into the high word (the comparison yields -1 there).
    U32x8 hi = splat(uint32_t(i >> 32)) - (U32x8)(lo < base);
    threefry2x32(vk0, vk1, hi, lo);
    store8(out + j, hi ^ lo);
  }
  for (; j < n; ++j) out[j] = engine::random::threefry_bits32(k0, k1, first + uint64_t(j));
}

// random_bits: key u32[K..., 2] -> u32[K..., S...]; each key fills its own block of S elements.
TensorList random_bits_kernel(const TensorList& in, const std::vector<AVal>& oa, const Params& p) {
  const Tensor key = contiguous(in[0]);
  const uint32_t* kp = key.data<uint32_t>();
  const int64_t nkeys = key.numel() / 2, per = engine::numel(p.get_ints("shape"));
  Tensor out = Tensor::empty(oa[0].shape, DType::U32);
  uint32_t* op = out.mutable_data<uint32_t>();
  parallel_for(nkeys * per, kThreefryCost, [&](int64_t b, int64_t e) {
    int64_t pos = b;
    while (pos < e) {
      const int64_t k = pos / per, i = pos % per, len = std::min(e - pos, per - i);
      bits_run(kp[2 * k], kp[2 * k + 1], uint64_t(i), len, op + pos);
      pos += len;
    }
  });
  return {out};
}

// random_fold_in: key u32[K..., 2], data u32[K...] -> u32[K..., 2], the hash of counter (0, data) per key.
// Operands are read through their strides (split passes a key broadcast to [n, 2] and an iota).
TensorList random_fold_in_kernel(const TensorList& in, const std::vector<AVal>& oa, const Params&) {
  const Tensor &key = in[0], &data = in[1];
  const uint32_t* kp = key.data<uint32_t>();
  const uint32_t* dp = data.data<uint32_t>();
  const int64_t kw = key.strides().back();  // stride between a key's two words
  const std::span<const int64_t> st[2] = {std::span(key.strides()).first(key.strides().size() - 1), data.strides()};
  const Layout<2> L = collapse<2>(data.shape(), st);
  const int64_t ks = L.inner(0), ds = L.inner(1);
  Tensor out = Tensor::empty(oa[0].shape, DType::U32);
  uint32_t* op = out.mutable_data<uint32_t>();
  parallel_for(data.numel(), kThreefryCost, [&](int64_t b, int64_t e) {
    int64_t pos = b;
    for_each_run(L, b, e, [&](const int64_t* off, int64_t len) {
      const uint32_t* k = kp + off[0];
      const uint32_t* d = dp + off[1];
      uint32_t* o = op + 2 * pos;
      int64_t j = 0;
      for (; j + kLanes <= len; j += kLanes) {
        uint32_t k0[kLanes], k1[kLanes], c[kLanes], x0[kLanes], x1[kLanes];
        for (int l = 0; l < kLanes; ++l) {
          k0[l] = k[(j + l) * ks];
          k1[l] = k[(j + l) * ks + kw];
          c[l] = d[(j + l) * ds];
        }
        U32x8 c0 = splat(0), c1 = load8(c);
        threefry2x32(load8(k0), load8(k1), c0, c1);
        store8(x0, c0);
        store8(x1, c1);
        for (int l = 0; l < kLanes; ++l) {
          o[2 * (j + l)] = x0[l];
          o[2 * (j + l) + 1] = x1[l];
        }
      }
      for (; j < len; ++j) {
        const auto r = engine::random::threefry2x32_scalar(k[j * ks], k[j * ks + kw], 0u, d[j * ds]);
        o[2 * j] = r.x0;
        o[2 * j + 1] = r.x1;
      }
      pos += len;
    });
  });
  return {out};
}

// iota: out[i...] = i[axis], written as rows of `inner` equal values.
TensorList iota_kernel(const TensorList&, const std::vector<AVal>& oa, const Params& p) {
  const Shape& shape = oa[0].shape;
  const int axis = static_cast<int>(p.get_int("axis"));
  int64_t inner = 1;
  for (size_t d = size_t(axis) + 1; d < shape.size(); ++d) inner *= shape[d];
  const int64_t dim = shape[axis], rows = engine::numel(shape) / std::max<int64_t>(inner, 1);
  Tensor out = Tensor::empty(shape, oa[0].dtype);
  if (inner == 0) return {out};
  visit_dtype(oa[0].dtype, [&]<class T>() {
    T* o = out.mutable_data<T>();
    parallel_for(rows, inner, [&](int64_t b, int64_t e) {
      int64_t j = b % dim;
      if (inner == 1) {
        for (int64_t r = b; r < e; ++r) {
          o[r] = static_cast<T>(j);
          if (++j == dim) j = 0;
        }
        return;
      }
      for (int64_t r = b; r < e; ++r) {
        std::fill(o + r * inner, o + (r + 1) * inner, static_cast<T>(j));
        if (++j == dim) j = 0;
      }
    });
  });
  return {out};
}

}  // namespace

void register_random_kernels() {
  ops::def_mut(Prim::iota).cpu = iota_kernel;
  ops::def_mut(Prim::random_bits).cpu = random_bits_kernel;
  ops::def_mut(Prim::random_fold_in).cpu = random_fold_in_kernel;
}

}  // namespace engine::backend::cpu
