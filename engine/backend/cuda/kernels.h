// Registration entry points of the CUDA kernel families; register_cuda_kernels() (register.cpp) calls them.
// Each fills PrimDef::cuda for its primitives, with the same semantics as the CPU kernel of that primitive
// (engine/backend/cpu), up to per-dtype floating-point tolerances.
#pragma once

namespace engine::backend::cuda {

void register_device();               // the DeviceBackend hooks (runtime.cpp)
void register_elementwise_kernels();  // unary, binary, compare, select, convert, stop_gradient
void register_reduce_kernels();       // reduce_sum, reduce_max, argmax
void register_matmul_kernels();       // cuBLASLt
void register_movement_kernels();     // reshape ... scatter_add
void register_random_kernels();       // iota, random_bits, random_fold_in

}  // namespace engine::backend::cuda
