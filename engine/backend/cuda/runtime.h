// The CUDA runtime shared by the kernel families: one stream, the stream-ordered allocator, error checks and
// device tensors. Host-side C++ (compiled by the C++ compiler); the .cu files see only launch.h.
#pragma once
#include <cuda_runtime_api.h>

#include "engine/core/tensor.h"

namespace engine::backend::cuda {

// All work goes to one stream, so kernels, copies and frees are ordered without events. While a
// StreamOverride is alive, this thread's work (kernels, copies, allocations and frees) goes to its stream
// instead: CUDA-graph capture uses a private stream so that other threads' work cannot land in the graph.
cudaStream_t stream();
class StreamOverride {
 public:
  explicit StreamOverride(cudaStream_t s);
  ~StreamOverride();
  StreamOverride(const StreamOverride&) = delete;
  StreamOverride& operator=(const StreamOverride&) = delete;

 private:
  cudaStream_t previous_;
};
// Raises engine::Error "[op] CUDA error in <what>: <message>" when err is not cudaSuccess.
void check(cudaError_t err, const char* op, const char* what);
// Checks the last kernel launch (cudaGetLastError) of `op`.
void check_launch(const char* op);
// A contiguous, uninitialized tensor on the device.
Tensor empty(const Shape& shape, DType dtype);
void synchronize();
bool gpu_present();
int sm_count();

}  // namespace engine::backend::cuda
