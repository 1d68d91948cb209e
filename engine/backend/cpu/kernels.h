// Registration entry points of the CPU kernel families; register_cpu_kernels() (ops/registry.h) calls them.
#pragma once

namespace engine::backend::cpu {

void register_elementwise_kernels();  // unary, binary, compare, select, convert, stop_gradient
void register_reduce_kernels();       // reduce_sum, reduce_max, argmax
void register_matmul_kernels();
void register_movement_kernels();  // reshape ... scatter_add
void register_random_kernels();    // iota, random_bits, random_fold_in (random_kernels.cpp)

}  // namespace engine::backend::cpu
