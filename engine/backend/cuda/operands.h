// Host-side helpers that describe engine tensors to the CUDA kernels (launch.h), with clear errors for what
// the kernels do not handle (rank above kMaxRank).
#pragma once
#include "engine/backend/cuda/launch.h"
#include "engine/core/tensor.h"

namespace engine::backend::cuda {

IndexSpace index_space(const Shape& shape, const char* op);
// `t` must have the index space's shape (broadcast operands arrive as stride-0 views).
Operand operand(const Tensor& t);
// For writing: a contiguous device tensor's pointer as an Operand.
inline void* out_ptr(const Tensor& t) { return const_cast<void*>(t.device_data()); }
DT dt(DType d);

}  // namespace engine::backend::cuda
