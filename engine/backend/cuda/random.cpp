// CUDA kernels of the Random family: iota, random_bits and random_fold_in, bit-identical to the CPU kernels
// (engine/backend/cpu/random_kernels.cpp; the bit mapping is documented in engine/random/threefry.h). Keys
// and fold_in data are read through their strides: split passes a key broadcast to [n, 2] and an iota.
#include "engine/backend/cuda/kernels.h"
#include "engine/backend/cuda/operands.h"
#include "engine/backend/cuda/random_launch.h"
#include "engine/backend/cuda/runtime.h"
#include "ops/registry.h"

namespace engine::backend::cuda {

namespace {

using ops::Params;
using ops::Prim;
using ops::TensorList;

// The key axes K... of a key u32[K..., 2] as an index space, with word 0 of each key as the operand.
struct Keys {
  IndexSpace space;
  Operand word0;
  int64_t word_stride = 1;
};

Keys keys_of(const Tensor& key, const char* op) {
  Keys k;
  k.word_stride = key.strides().back();
  if (key.is_contiguous()) {  // one flat axis of keys two words apart: no per-axis index arithmetic
    k.space.rank = 1;
    k.space.shape[0] = k.space.numel = key.numel() / 2;
    k.word0.strides[0] = 2;
    k.word_stride = 1;
  } else {
    const Shape axes(key.shape().begin(), key.shape().end() - 1);
    k.space = index_space(axes, op);
    for (int i = 0; i < k.space.rank; ++i) k.word0.strides[i] = key.strides()[size_t(i)];
  }
  k.word0.data = key.device_data();
  return k;
}

// random_bits: key u32[K..., 2] -> u32[K..., S...]; each key fills its own block of S elements.
TensorList random_bits_kernel(const TensorList& in, const std::vector<AVal>& oa, const Params& p) {
  Tensor out = empty(oa[0].shape, DType::U32);
  const int64_t per = engine::numel(p.get_ints("shape"));
  const Keys k = keys_of(in[0], "random_bits");
  if (k.space.numel * per == 0) return {out};
  launch_random_bits(k.space, k.word0, k.word_stride, per, static_cast<uint32_t*>(out_ptr(out)), stream());
  check_launch("random_bits");
  return {out};
}

// random_fold_in: key u32[K..., 2], data u32[K...] -> u32[K..., 2]. Both are read over the full key axes (the
// data's index space), so any strides of either work.
TensorList random_fold_in_kernel(const TensorList& in, const std::vector<AVal>& oa, const Params&) {
  const Tensor &key = in[0], &data = in[1];
  Tensor out = empty(oa[0].shape, DType::U32);
  if (data.numel() == 0) return {out};
  const IndexSpace s = index_space(data.shape(), "random_fold_in");
  Operand word0;
  word0.data = key.device_data();
  for (int i = 0; i < s.rank; ++i) word0.strides[i] = key.strides()[size_t(i)];
  launch_random_fold_in(s, word0, key.strides().back(), operand(data), static_cast<uint32_t*>(out_ptr(out)),
                        stream());
  check_launch("random_fold_in");
  return {out};
}

// iota: out[i...] = i[axis], on whichever device is the default (it has no operands to follow).
TensorList iota_kernel(const TensorList&, const std::vector<AVal>& oa, const Params& p) {
  const Shape& shape = oa[0].shape;
  const auto axis = size_t(p.get_int("axis"));
  int64_t inner = 1;
  for (size_t d = axis + 1; d < shape.size(); ++d) inner *= shape[d];
  Tensor out = empty(shape, oa[0].dtype);
  const int64_t n = engine::numel(shape);
  if (n == 0) return {out};
  launch_iota(dt(oa[0].dtype), n, inner, shape[axis], out_ptr(out), stream());
  check_launch("iota");
  return {out};
}

}  // namespace

void register_random_kernels() {
  ops::def_mut(Prim::iota).cuda = iota_kernel;
  ops::def_mut(Prim::random_bits).cuda = random_bits_kernel;
  ops::def_mut(Prim::random_fold_in).cuda = random_fold_in_kernel;
}

}  // namespace engine::backend::cuda
