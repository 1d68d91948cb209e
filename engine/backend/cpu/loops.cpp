// Out-of-line parts of the shared kernel machinery: the strided copy and its helpers.
#include "engine/backend/cpu/loops.h"

namespace engine::backend::cpu {

void rank_too_large(int rank) {
  throw Error(ErrorKind::Unsupported, "[cpu] tensors of rank " + std::to_string(rank) +
                                          " exceed the CPU kernels' limit of " + std::to_string(kMaxRank) +
                                          " dimensions");
}

namespace {

template <class E>
void copy_run(char* dst, int64_t sd, const char* src, int64_t ss, int64_t n) {
  E* d = reinterpret_cast<E*>(dst);
  const E* s = reinterpret_cast<const E*>(src);
  for (int64_t i = 0; i < n; ++i) d[i * sd] = s[i * ss];
}

}  // namespace

void strided_copy(void* dst, std::span<const int64_t> dst_strides, const void* src,
                  std::span<const int64_t> src_strides, std::span<const int64_t> shape, size_t isz) {
  const int64_t n = engine::numel(shape);
  if (n == 0) return;
  const std::span<const int64_t> st[2] = {dst_strides, src_strides};
  const Layout<2> L = collapse<2>(shape, st);
  char* d = static_cast<char*>(dst);
  const char* s = static_cast<const char*>(src);
  const int64_t sd = L.inner(0), ss = L.inner(1), bytes = int64_t(isz);
  parallel_for(n, 1, [&](int64_t b, int64_t e) {
    for_each_run(L, b, e, [&](const int64_t* off, int64_t len) {
      char* dp = d + off[0] * bytes;
      const char* sp = s + off[1] * bytes;
      if (sd == 1 && ss == 1) {
        std::memcpy(dp, sp, size_t(len) * isz);
        return;
      }
      switch (isz) {
        case 1:
          copy_run<uint8_t>(dp, sd, sp, ss, len);
          break;
        case 4:
          copy_run<uint32_t>(dp, sd, sp, ss, len);
          break;
        case 8:
          copy_run<uint64_t>(dp, sd, sp, ss, len);
          break;
        default:
          for (int64_t i = 0; i < len; ++i) std::memcpy(dp + i * sd * bytes, sp + i * ss * bytes, isz);
      }
    });
  });
}

Tensor contiguous(const Tensor& t) {
  if (t.is_contiguous()) return t;
  Tensor out = Tensor::empty(t.shape(), t.dtype());
  strided_copy(out.raw_mutable_data(), out.strides(), t.raw_data(), t.strides(), t.shape(),
               itemsize(t.dtype()));
  return out;
}

}  // namespace engine::backend::cpu
