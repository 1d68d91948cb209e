// Operand descriptors for the CUDA kernels (see operands.h).
#include "engine/backend/cuda/operands.h"

#include <string>

namespace engine::backend::cuda {

IndexSpace index_space(const Shape& shape, const char* op) {
  if (shape.size() > size_t(kMaxRank))
    raise(ErrorKind::Unsupported, op,
          "the CUDA kernels index at most " + std::to_string(kMaxRank) + " dimensions; got shape " +
              shape_str(shape),
          {}, {}, "reshape to fewer dimensions first");
  IndexSpace s;
  s.rank = int(shape.size());
  for (int i = 0; i < s.rank; ++i) {
    s.shape[i] = shape[size_t(i)];
    s.numel *= shape[size_t(i)];
  }
  return s;
}

Operand operand(const Tensor& t) {
  (void)index_space(t.shape(), "cuda operand");
  Operand o;
  o.data = t.device_data();
  for (int i = 0; i < t.ndim(); ++i) o.strides[i] = t.strides()[size_t(i)];
  o.contiguous = t.is_contiguous();
  return o;
}

DT dt(DType d) { return static_cast<DT>(static_cast<uint8_t>(d)); }

}  // namespace engine::backend::cuda
