// CPU kernels of the Movement family. reshape, broadcast_in_dim, transpose and slice return views (new
// strides over the operand's storage; reshape copies only when no strides can express it); pad, concatenate,
// gather and scatter_add write fresh contiguous outputs. scatter_add is deterministic: each output slot
// receives its updates in index order whatever the thread count (threads split the slots, never the updates).
#include <vector>

#include "engine/backend/cpu/kernels.h"
#include "engine/backend/cpu/loops.h"

namespace engine::backend::cpu {

namespace {

using Ints = std::vector<int64_t>;
using ops::Prim;

Tensor view_of(const Tensor& x, const AVal& aval, int64_t offset, Ints strides) {
  return Tensor::make_concrete(aval, x.storage(), offset, std::move(strides));
}

// Strides that present `old` (with strides `os`) as `shape` without copying, when they exist (NumPy's rule:
// each group of old dims that multiplies out to a group of new dims must itself be contiguous).
bool reshape_strides(const Shape& old, const Ints& os, const Shape& shape, Ints* out) {
  const int64_t n = engine::numel(old);
  out->assign(shape.size(), 0);
  if (n == 0) {
    *out = engine::contiguous_strides(shape);
    return true;
  }
  Ints od, ost;
  for (size_t i = 0; i < old.size(); ++i)
    if (old[i] != 1) {
      od.push_back(old[i]);
      ost.push_back(os[i]);
    }
  const size_t oldnd = od.size(), newnd = shape.size();
  Ints& ns = *out;
  size_t oi = 0, oj = 1, ni = 0, nj = 1;
  while (ni < newnd && oi < oldnd) {
    int64_t np = shape[ni], op = od[oi];
    while (np != op) {
      if (np < op)
        np *= shape[nj++];
      else
        op *= od[oj++];
    }
    for (size_t ok = oi; ok + 1 < oj; ++ok)
      if (ost[ok] != od[ok + 1] * ost[ok + 1]) return false;
    ns[nj - 1] = ost[oj - 1];
    for (size_t nk = nj - 1; nk > ni; --nk) ns[nk - 1] = ns[nk] * shape[nk];
    ni = nj++;
    oi = oj++;
  }
  const int64_t last = ni >= 1 ? ns[ni - 1] : 1;
  for (size_t nk = ni; nk < newnd; ++nk) ns[nk] = last;
  return true;
}

TensorList reshape_kernel(const TensorList& in, const std::vector<AVal>& oa, const Params&) {
  const Tensor& x = in[0];
  Ints st;
  if (reshape_strides(x.shape(), x.strides(), oa[0].shape, &st)) return {view_of(x, oa[0], x.offset(), st)};
  Tensor out = Tensor::empty(oa[0].shape, oa[0].dtype);
  strided_copy(out.raw_mutable_data(), engine::contiguous_strides(x.shape()), x.raw_data(), x.strides(),
               x.shape(), itemsize(x.dtype()));
  return {out};
}

TensorList broadcast_in_dim_kernel(const TensorList& in, const std::vector<AVal>& oa, const Params& p) {
  const Tensor& x = in[0];
  const Ints& dims = p.get_ints("dims");
  Ints st(oa[0].shape.size(), 0);
  for (size_t i = 0; i < dims.size(); ++i) st[dims[i]] = x.shape()[i] == 1 ? 0 : x.strides()[i];
  return {view_of(x, oa[0], x.offset(), std::move(st))};
}

TensorList transpose_kernel(const TensorList& in, const std::vector<AVal>& oa, const Params& p) {
  const Tensor& x = in[0];
  const Ints& perm = p.get_ints("perm");
  Ints st(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) st[i] = x.strides()[perm[i]];
  return {view_of(x, oa[0], x.offset(), std::move(st))};
}

TensorList slice_kernel(const TensorList& in, const std::vector<AVal>& oa, const Params& p) {
  const Tensor& x = in[0];
  const Ints &start = p.get_ints("start"), &stride = p.get_ints("stride");
  int64_t off = x.offset();
  Ints st(start.size());
  for (size_t i = 0; i < start.size(); ++i) {
    off += start[i] * x.strides()[i];
    st[i] = x.strides()[i] * stride[i];
  }
  if (engine::numel(oa[0].shape) == 0) off = x.offset();  // never read; keep the offset inside the storage
  return {view_of(x, oa[0], off, std::move(st))};
}

template <class T>
void fill(T* p, int64_t n, T v) {
  parallel_for(n, 1, [&](int64_t b, int64_t e) { std::fill(p + b, p + e, v); });
}

TensorList pad_kernel(const TensorList& in, const std::vector<AVal>& oa, const Params& p) {
  const Tensor& x = in[0];
  Tensor out = Tensor::empty(oa[0].shape, oa[0].dtype);
  const Ints &lo = p.get_ints("lo"), &interior = p.get_ints("interior");
  const double value = p.get_double("value");
  visit_dtype(x.dtype(),
              [&]<class T>() { fill<T>(out.mutable_data<T>(), out.numel(), convert_value<T>(value)); });
  if (x.numel() == 0) return {out};
  const Ints& ost = out.strides();
  int64_t off = 0;
  Ints st(ost.size());
  for (size_t i = 0; i < ost.size(); ++i) {
    off += lo[i] * ost[i];
    st[i] = ost[i] * (interior[i] + 1);
  }
  const size_t isz = itemsize(x.dtype());
  strided_copy(static_cast<char*>(out.raw_mutable_data()) + off * int64_t(isz), st, x.raw_data(), x.strides(),
               x.shape(), isz);
  return {out};
}

TensorList concatenate_kernel(const TensorList& in, const std::vector<AVal>& oa, const Params& p) {
  Tensor out = Tensor::empty(oa[0].shape, oa[0].dtype);
  const int64_t axis = p.get_int("axis");
  const size_t isz = itemsize(oa[0].dtype);
  char* base = static_cast<char*>(out.raw_mutable_data());
  int64_t pos = 0;
  for (const Tensor& x : in) {
    if (x.numel() > 0)
      strided_copy(base + pos * out.strides()[axis] * int64_t(isz), out.strides(), x.raw_data(), x.strides(),
                   x.shape(), isz);
    pos += x.shape()[axis];
  }
  return {out};
}

// Element offsets (in x) of every index of the leading dims [0, axis), in row-major order.
Ints prefix_offsets(const Tensor& x, int64_t axis) {
  Ints offs{0};
  for (int64_t d = 0; d < axis; ++d) {
    Ints next;
    next.reserve(offs.size() * size_t(x.shape()[d]));
    for (int64_t o : offs)
      for (int64_t i = 0; i < x.shape()[d]; ++i) next.push_back(o + i * x.strides()[d]);
    offs = std::move(next);
  }
  return offs;
}

template <class I>
int64_t clamp_index(I v, int64_t d) {
  if constexpr (std::is_signed_v<I>)
    if (v < 0) return 0;
  return std::min<int64_t>(int64_t(v), d - 1);
}

// out[p, i, s] = x[p, clamp(idx[i]), s].
TensorList gather_kernel(const TensorList& in, const std::vector<AVal>& oa, const Params& params) {
  const Tensor& x = in[0];
  const Tensor idx = contiguous(in[1]);
  Tensor out = Tensor::empty(oa[0].shape, oa[0].dtype);
  if (out.numel() == 0) return {out};
  const int64_t axis = params.get_int("axis"), D = x.shape()[axis], sa = x.strides()[axis];
  const int64_t I = idx.numel();
  const Shape sshape(x.shape().begin() + axis + 1, x.shape().end());
  const Ints sstr(x.strides().begin() + axis + 1, x.strides().end());
  const int64_t Sn = engine::numel(sshape);
  const Ints poff = prefix_offsets(x, axis);
  const int64_t rows = int64_t(poff.size()) * I;
  const size_t isz = itemsize(x.dtype());
  const Ints sout = engine::contiguous_strides(sshape);
  // The suffix as one run when it is contiguous in x (the common case: rows of an embedding table).
  const std::span<const int64_t> st[2] = {sout, sstr};
  const Layout<2> L = collapse<2>(sshape, st);
  const bool flat = L.rank == 1 && L.inner(1) == 1;
  const char* xb = static_cast<const char*>(x.raw_data());
  char* ob = static_cast<char*>(out.raw_mutable_data());
  auto run = [&]<class IT>(const IT* ip) {
    parallel_for(
        rows, Sn,
        [&](int64_t b, int64_t e) {
          for (int64_t t = b; t < e; ++t) {
            const int64_t pi = t / I, i = t % I;
            const char* src = xb + (poff[pi] + clamp_index(ip[i], D) * sa) * int64_t(isz);
            char* dst = ob + t * Sn * int64_t(isz);
            if (flat)
              std::memcpy(dst, src, size_t(Sn) * isz);
            else
              strided_copy(dst, sout, src, sstr, sshape, isz);
          }
        },
        1);
  };
  if (idx.dtype() == DType::U32)
    run(idx.data<uint32_t>());
  else
    run(idx.data<int32_t>());
  return {out};
}

// out[p, idx[i], s] += updates[p, i, s], i in order; indices outside [0, size) are dropped.
template <class T, class IT>
void scatter_impl(const IT* ip, int64_t I, const T* u, int64_t Pn, int64_t Sn, int64_t size, T* o) {
  constexpr int64_t kTile = 4096;
  const int64_t nt = (Sn + kTile - 1) / kTile;
  parallel_for(
      Pn * nt, I * std::min(Sn, kTile),
      [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t) {
          const int64_t p = t / nt, s0 = (t % nt) * kTile, w = std::min(kTile, Sn - s0);
          for (int64_t i = 0; i < I; ++i) {
            const IT v = ip[i];
            if constexpr (std::is_signed_v<IT>)
              if (v < 0) continue;
            if (int64_t(v) >= size) continue;
            T* __restrict dst = o + (p * size + int64_t(v)) * Sn + s0;
            const T* __restrict src = u + (p * I + i) * Sn + s0;
            for (int64_t j = 0; j < w; ++j) {
              if constexpr (std::is_integral_v<T>)
                dst[j] = static_cast<T>(uint32_t(dst[j]) + uint32_t(src[j]));
              else
                dst[j] += src[j];
            }
          }
        }
      },
      1);
}

TensorList scatter_add_kernel(const TensorList& in, const std::vector<AVal>& oa, const Params& params) {
  const Tensor idx = contiguous(in[0]);
  const Tensor u = contiguous(in[1]);
  Tensor out = Tensor::empty(oa[0].shape, oa[0].dtype);
  const int64_t axis = params.get_int("axis"), size = params.get_int("size");
  const Shape& os = oa[0].shape;
  const int64_t Pn = engine::numel(std::span<const int64_t>(os.data(), size_t(axis)));
  const int64_t Sn =
      engine::numel(std::span<const int64_t>(os.data() + axis + 1, os.size() - size_t(axis) - 1));
  const int64_t I = idx.numel();
  visit_dtype(oa[0].dtype, [&]<class T>() {
    if constexpr (!std::is_same_v<T, bool>) {
      T* o = out.mutable_data<T>();
      fill<T>(o, out.numel(), T(0));
      if (out.numel() == 0 || I == 0) return;
      if (idx.dtype() == DType::U32)
        scatter_impl<T, uint32_t>(idx.data<uint32_t>(), I, u.data<T>(), Pn, Sn, size, o);
      else
        scatter_impl<T, int32_t>(idx.data<int32_t>(), I, u.data<T>(), Pn, Sn, size, o);
    } else {
      raise(ErrorKind::Internal, "scatter_add", "CPU kernel got bool updates", {{u.aval()}},
            current_user_loc());
    }
  });
  return {out};
}

}  // namespace

void register_movement_kernels() {
  ops::def_mut(Prim::reshape).cpu = reshape_kernel;
  ops::def_mut(Prim::broadcast_in_dim).cpu = broadcast_in_dim_kernel;
  ops::def_mut(Prim::transpose).cpu = transpose_kernel;
  ops::def_mut(Prim::slice).cpu = slice_kernel;
  ops::def_mut(Prim::pad).cpu = pad_kernel;
  ops::def_mut(Prim::concatenate).cpu = concatenate_kernel;
  ops::def_mut(Prim::gather).cpu = gather_kernel;
  ops::def_mut(Prim::scatter_add).cpu = scatter_add_kernel;
}

}  // namespace engine::backend::cpu
