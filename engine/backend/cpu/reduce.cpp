// CPU kernels of the Reduce family: reduce_sum, reduce_max and argmax over arbitrary axes.
//
// Determinism: every result is a fixed function of the shape and strides, never of the thread count. A
// contiguous reduced run is cut into fixed chunks of kChunk elements, each summed pairwise (16 lanes at the
// leaves, then halving), and the chunk partials are combined by a fixed pairwise tree; a reduction over rows
// (the bias gradient: sum over the leading axis) sums fixed blocks of kRowBlock rows naively, vectorized
// across the columns, and combines the block partials by the same tree. Threads only pick which chunks or
// blocks they compute. Layouts that fit neither pattern are first copied to [kept..., reduced...] order.
#include <vector>

#include "engine/backend/cpu/compiled_kernels.h"
#include "engine/backend/cpu/kernels.h"
#include "engine/backend/cpu/loops.h"

namespace engine::backend::cpu {

namespace {

using ops::Prim;

constexpr int64_t kChunk = 16384;   // elements per partial of a long contiguous run
constexpr int64_t kLeaf = 256;      // pairwise recursion bottoms out here
constexpr int kLanes = 16;          // independent accumulators at a leaf (two 8-wide vectors for f32)
constexpr int64_t kRowBlock = 64;   // rows per partial of a column reduction
constexpr int64_t kColTile = 1024;  // columns per task of a column reduction

// ---- the two combining ops ----
template <class T>
struct SumOp {
  static T identity() { return T(0); }
  static T f(T a, T b) {
    if constexpr (std::is_integral_v<T>)
      return static_cast<T>(uint32_t(a) + uint32_t(b));  // wraps
    else
      return a + b;
  }
};
template <class T>
struct MaxOp {
  static T identity() {
    if constexpr (std::is_floating_point_v<T>)
      return -std::numeric_limits<T>::infinity();
    else
      return std::numeric_limits<T>::lowest();
  }
  static T f(T a, T b) {  // NaN-propagating
    if constexpr (std::is_floating_point_v<T>)
      return (b > a || b != b) ? b : a;
    else
      return b > a ? b : a;
  }
};

// A per-thread buffer of at least n elements, grown on demand and kept between calls. Each caller uses its
// own Tag, since they nest (the copy fallback of reduce_impl feeds reduce_rows).
template <class T, int Tag>
std::vector<T>& scratch(size_t n) {
  thread_local std::vector<T> buf;
  if (buf.size() < n) buf.resize(n);
  return buf;
}

template <class Op, class T>
T leaf_reduce(const T* __restrict x, int64_t n) {
  T acc[kLanes];
  for (int j = 0; j < kLanes; ++j) acc[j] = Op::identity();
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) acc[j] = Op::f(acc[j], x[i + j]);
  for (int j = 0; i < n; ++i, ++j) acc[j] = Op::f(acc[j], x[i]);
  for (int w = kLanes / 2; w >= 1; w /= 2)
    for (int j = 0; j < w; ++j) acc[j] = Op::f(acc[j], acc[j + w]);
  return acc[0];
}

template <class Op, class T>
T pairwise(const T* x, int64_t n) {
  if (n <= kLeaf) return leaf_reduce<Op, T>(x, n);
  const int64_t h = (n / 2 + kLanes - 1) / kLanes * kLanes;
  return Op::f(pairwise<Op, T>(x, h), pairwise<Op, T>(x + h, n - h));
}

// Combines v[0..n) * stride-separated vectors of `width` elements into v[0..width) by a fixed pairwise tree.
template <class Op, class T>
void tree_combine(T* v, int64_t n, int64_t width, int64_t stride) {
  for (int64_t w = 1; w < n; w *= 2)
    for (int64_t b = 0; b + w < n; b += 2 * w) {
      T* __restrict dst = v + b * stride;
      const T* __restrict src = v + (b + w) * stride;
      for (int64_t j = 0; j < width; ++j) dst[j] = Op::f(dst[j], src[j]);
    }
}

// out[k] = reduce(x[k * sk + 0 .. R)) for k < K: contiguous rows.
template <class Op, class T>
void reduce_rows(const T* x, int64_t K, int64_t sk, int64_t R, T* out) {
  if (R <= kChunk) {
    parallel_for(
        K, R,
        [&](int64_t b, int64_t e) {
          for (int64_t k = b; k < e; ++k) out[k] = pairwise<Op, T>(x + k * sk, R);
        },
        1);
    return;
  }
  const int64_t nc = (R + kChunk - 1) / kChunk;
  std::vector<T>& part = scratch<T, 0>(static_cast<size_t>(K * nc));
  parallel_for(
      K * nc, kChunk,
      [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t) {
          const int64_t k = t / nc, c = t % nc;
          part[t] = pairwise<Op, T>(x + k * sk + c * kChunk, std::min(kChunk, R - c * kChunk));
        }
      },
      1);
  for (int64_t k = 0; k < K; ++k) {
    tree_combine<Op, T>(part.data() + k * nc, nc, 1, 1);
    out[k] = part[k * nc];
  }
}

// dst[0..J) = reduce over rows r < R of x[r * sr + j] (naive, vectorized across j).
template <class Op, class T>
void column_block(const T* x, int64_t R, int64_t sr, int64_t J, T* __restrict dst) {
  for (int64_t j = 0; j < J; ++j) dst[j] = Op::identity();
  for (int64_t r = 0; r < R; ++r) {
    const T* __restrict row = x + r * sr;
    for (int64_t j = 0; j < J; ++j) dst[j] = Op::f(dst[j], row[j]);
  }
}

// out[k, j] = reduce over r < R of x[k * sk + r * sr + j], for k < K, j < J (columns contiguous).
template <class Op, class T>
void reduce_columns(const T* x, int64_t K, int64_t sk, int64_t R, int64_t sr, int64_t J, T* out) {
  const int64_t nb = (R + kRowBlock - 1) / kRowBlock, nt = (J + kColTile - 1) / kColTile;
  if (nb == 1) {
    parallel_for(
        K * nt, R * std::min(J, kColTile),
        [&](int64_t b, int64_t e) {
          for (int64_t t = b; t < e; ++t) {
            const int64_t k = t / nt, j0 = (t % nt) * kColTile, w = std::min(kColTile, J - j0);
            column_block<Op, T>(x + k * sk + j0, R, sr, w, out + k * J + j0);
          }
        },
        1);
    return;
  }
  // part[k][block][j], in a per-thread buffer that is kept: compiled code must not allocate per call
  std::vector<T>& part = scratch<T, 1>(static_cast<size_t>(K * nb * J));
  parallel_for(
      K * nb * nt, kRowBlock * std::min(J, kColTile),
      [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t) {
          const int64_t k = t / (nb * nt), blk = (t / nt) % nb, j0 = (t % nt) * kColTile;
          const int64_t w = std::min(kColTile, J - j0), r0 = blk * kRowBlock;
          column_block<Op, T>(x + k * sk + r0 * sr + j0, std::min(kRowBlock, R - r0), sr, w,
                              part.data() + (k * nb + blk) * J + j0);
        }
      },
      1);
  parallel_for(
      K * nt, nb * std::min(J, kColTile),
      [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t) {
          const int64_t k = t / nt, j0 = (t % nt) * kColTile, w = std::min(kColTile, J - j0);
          T* base = part.data() + k * nb * J + j0;
          tree_combine<Op, T>(base, nb, w, J);
          std::memcpy(out + k * J + j0, base, size_t(w) * sizeof(T));
        }
      },
      1);
}

struct Dim {
  int64_t size, stride;
  bool reduced;
};

template <class Op, class T>
void reduce_impl(const Tensor& x, const std::vector<int64_t>& axes, const Tensor& out) {
  const int64_t O = out.numel();
  if (O == 0) return;
  T* op = out.mutable_data<T>();
  int64_t R = 1;
  for (int64_t a : axes) R *= x.shape()[a];
  if (R == 0) {
    std::fill(op, op + O, Op::identity());
    return;
  }
  const T* xp = x.data<T>();
  // Fixed-size arrays, not vectors: compiled code calls this on its hot path, which must not allocate.
  if (x.ndim() > kMaxRank) rank_too_large(x.ndim());
  Dim dims[kMaxRank];
  size_t nd0 = 0;
  bool any_kept = false;
  for (int i = 0, k = 0; i < x.ndim(); ++i) {
    const bool red = k < int(axes.size()) && axes[k] == i;
    if (red) ++k;
    if (x.shape()[i] == 1) continue;
    dims[nd0++] = {x.shape()[i], x.strides()[i], red};
    any_kept |= !red;
  }
  // A full reduction may visit elements in any fixed order: memory order makes transposed inputs contiguous.
  if (!any_kept)  // insertion sort: stable, and unlike std::stable_sort it never allocates a buffer
    for (size_t i = 1; i < nd0; ++i)
      for (size_t j = i; j > 0 && dims[j - 1].stride < dims[j].stride; --j) std::swap(dims[j - 1], dims[j]);
  Dim m[kMaxRank];
  size_t nm = 0;
  for (size_t i = 0; i < nd0; ++i) {
    const Dim& d = dims[i];
    if (nm > 0 && m[nm - 1].reduced == d.reduced && m[nm - 1].stride == d.stride * d.size) {
      m[nm - 1].size *= d.size;
      m[nm - 1].stride = d.stride;
    } else {
      m[nm++] = d;
    }
  }
  const size_t nd = nm;
  if (nd == 0 || (nd == 1 && m[0].reduced && m[0].stride == 1)) {  // one contiguous run (or one element)
    reduce_rows<Op, T>(xp, 1, 0, R, op);
    return;
  }
  if (nd == 2 && !m[0].reduced && m[1].reduced && m[1].stride == 1) {  // [K, R]: the last axis
    reduce_rows<Op, T>(xp, m[0].size, m[0].stride, R, op);
    return;
  }
  if (nd == 2 && m[0].reduced && !m[1].reduced && m[1].stride == 1) {  // [R, J]: the leading axes
    reduce_columns<Op, T>(xp, 1, 0, R, m[0].stride, m[1].size, op);
    return;
  }
  if (nd == 3 && !m[0].reduced && m[1].reduced && !m[2].reduced && m[2].stride == 1) {  // [K, R, J]
    reduce_columns<Op, T>(xp, m[0].size, m[0].stride, R, m[1].stride, m[2].size, op);
    return;
  }
  // Anything else: copy to [kept..., reduced...] (contiguous), then reduce the rows.
  std::vector<int64_t> shape, src_strides;
  for (bool red : {false, true})
    for (int i = 0, k = 0; i < x.ndim(); ++i) {
      const bool is_red = k < int(axes.size()) && axes[k] == i;
      if (is_red) ++k;
      if (is_red != red) continue;
      shape.push_back(x.shape()[i]);
      src_strides.push_back(x.strides()[i]);
    }
  std::vector<T>& tmp = scratch<T, 2>(static_cast<size_t>(O * R));
  strided_copy(tmp.data(), contiguous_strides(shape), xp, src_strides, shape, sizeof(T));
  reduce_rows<Op, T>(tmp.data(), O, R, R, op);
}

template <template <class> class Op>
void reduce_dispatch(Prim p, const Tensor& x, const std::vector<int64_t>& axes, const Tensor& out) {
  switch (x.dtype()) {
    case DType::I32:
      return reduce_impl<Op<int32_t>, int32_t>(x, axes, out);
    case DType::U32:
      return reduce_impl<Op<uint32_t>, uint32_t>(x, axes, out);
    case DType::F32:
      return reduce_impl<Op<float>, float>(x, axes, out);
    case DType::F64:
      return reduce_impl<Op<double>, double>(x, axes, out);
    default:
      raise(ErrorKind::Internal, ops::prim_name(p), "CPU kernel got a bool operand", {{x.aval()}},
            current_user_loc());
  }
}

template <template <class> class Op>
TensorList reduce_kernel(Prim p, const TensorList& in, const std::vector<AVal>& oa, const Params& params) {
  Tensor out = Tensor::empty(oa[0].shape, oa[0].dtype);
  reduce_dispatch<Op>(p, in[0], params.get_ints("axes"), out);
  return {out};
}

// ---- argmax: the first index of the maximum; a NaN is maximal and the first NaN wins ----

template <class T>
int64_t scan_argmax(const T* p, int64_t R, int64_t s) {
  T best = p[0];
  int64_t bi = 0;
  if (best != best) return 0;
  for (int64_t r = 1; r < R; ++r) {
    const T v = p[r * s];
    if (v > best || v != v) {
      best = v;
      bi = r;
      if (v != v) break;
    }
  }
  return bi;
}

// Argmax of `len` adjacent columns at once (rows r * s apart), vectorized across the columns.
template <class T, class I>
void column_argmax(const T* p, int64_t R, int64_t s, int64_t len, I* out) {
  constexpr int64_t kTile = 256;
  T best[kTile];
  I idx[kTile];
  for (int64_t j0 = 0; j0 < len; j0 += kTile) {
    const int64_t w = std::min(kTile, len - j0);
    for (int64_t j = 0; j < w; ++j) {
      best[j] = p[j0 + j];
      idx[j] = 0;
    }
    for (int64_t r = 1; r < R; ++r) {
      const T* __restrict row = p + r * s + j0;
      const I ri = static_cast<I>(r);
      for (int64_t j = 0; j < w; ++j) {
        const T v = row[j], b = best[j];
        const bool take = v > b || (v != v && b == b);
        best[j] = take ? v : b;
        idx[j] = take ? ri : idx[j];
      }
    }
    std::copy(idx, idx + w, out + j0);
  }
}

template <class T, class I>
void argmax_impl(const Tensor& x, int64_t axis, const Tensor& out) {
  const int64_t O = out.numel();
  if (O == 0) return;
  const int64_t R = x.shape()[axis], sa = x.strides()[axis];
  std::vector<int64_t> kshape, kstrides;
  for (int i = 0; i < x.ndim(); ++i)
    if (i != axis) {
      kshape.push_back(x.shape()[i]);
      kstrides.push_back(x.strides()[i]);
    }
  const T* xp = x.data<T>();
  I* op = out.mutable_data<I>();
  const std::span<const int64_t> st[2] = {out.strides(), kstrides};
  const Layout<2> L = collapse<2>(kshape, st);
  parallel_for(O, R, [&](int64_t b, int64_t e) {
    for_each_run(L, b, e, [&](const int64_t* off, int64_t len) {
      const int64_t sj = L.inner(1);
      if (sj == 1 && len >= 8) {
        column_argmax<T, I>(xp + off[1], R, sa, len, op + off[0]);
      } else {
        for (int64_t j = 0; j < len; ++j)
          op[off[0] + j] = static_cast<I>(scan_argmax<T>(xp + off[1] + j * sj, R, sa));
      }
    });
  });
}

TensorList argmax_kernel(const TensorList& in, const std::vector<AVal>& oa, const Params& params) {
  Tensor out = Tensor::empty(oa[0].shape, oa[0].dtype);
  const int64_t axis = params.get_int("axis");
  auto with_index = [&]<class T>() {
    if (oa[0].dtype == DType::U32)
      argmax_impl<T, uint32_t>(in[0], axis, out);
    else
      argmax_impl<T, int32_t>(in[0], axis, out);
  };
  switch (in[0].dtype()) {
    case DType::I32:
      with_index.template operator()<int32_t>();
      break;
    case DType::U32:
      with_index.template operator()<uint32_t>();
      break;
    case DType::F32:
      with_index.template operator()<float>();
      break;
    case DType::F64:
      with_index.template operator()<double>();
      break;
    default:
      raise(ErrorKind::Internal, "argmax", "CPU kernel got a bool operand", {{in[0].aval()}},
            current_user_loc());
  }
  return {out};
}

}  // namespace

void reduce_into(Prim p, const Tensor& x, const std::vector<int64_t>& axes, const Tensor& out) {
  if (p == Prim::reduce_sum) return reduce_dispatch<SumOp>(p, x, axes, out);
  if (p == Prim::reduce_max) return reduce_dispatch<MaxOp>(p, x, axes, out);
  raise(ErrorKind::Internal, ops::prim_name(p), "reduce_into takes reduce_sum or reduce_max", {}, {});
}

void register_reduce_kernels() {
  ops::def_mut(Prim::reduce_sum).cpu = [](const TensorList& in, const std::vector<AVal>& oa,
                                          const Params& p) {
    return reduce_kernel<SumOp>(Prim::reduce_sum, in, oa, p);
  };
  ops::def_mut(Prim::reduce_max).cpu = [](const TensorList& in, const std::vector<AVal>& oa,
                                          const Params& p) {
    return reduce_kernel<MaxOp>(Prim::reduce_max, in, oa, p);
  };
  ops::def_mut(Prim::argmax).cpu = argmax_kernel;
}

}  // namespace engine::backend::cpu
