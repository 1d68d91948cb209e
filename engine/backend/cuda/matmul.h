// A raw cuBLASLt matmul on device pointers, planned through the same cache as the engine's CUDA matmul
// (matmul.cpp): benchmarks compare ops::matmul with the library calls it makes, so the difference is the
// engine's overhead and not a different algorithm. Host-side C++.
#pragma once
#include <cstdint>
#include <memory>

#include "engine/core/dtype.h"

namespace engine::backend::cuda {

// C[i] = op(A[i]) @ op(B[i]) for i < batch, on dense row-major device buffers: A is [M, K] ([K, M] when ta),
// B is [K, N] ([N, K] when tb), C is [M, N]. A[i] and B[i] start stride_a and stride_b elements apart (0
// shares one matrix across the batch); C[i] starts M*N elements apart. dtype is F32 or F64.
struct MatmulSpec {
  DType dtype = DType::F32;
  int64_t M = 0, N = 0, K = 0, batch = 1, stride_a = 0, stride_b = 0;
  bool ta = false, tb = false;
  const void* a = nullptr;
  const void* b = nullptr;
  void* c = nullptr;
};

// The cuBLASLt calls for a spec, planned once at construction (descriptors, layouts and the algorithm the
// heuristic chose, from the cache ops::matmul uses for tensors of the same layout). run() only issues them on
// stream(), asynchronously. M, N, K and batch must be positive.
class RawMatmul {
 public:
  explicit RawMatmul(const MatmulSpec& spec);
  void run() const;

  struct Calls;  // defined in matmul.cpp

 private:
  std::shared_ptr<const Calls> calls_;
};

}  // namespace engine::backend::cuda
