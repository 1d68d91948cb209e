// Fills PrimDef::cpu for every primitive except `call` (the evaluator runs its graph; see
// ops/rules/call.cpp).
#include "engine/backend/cpu/kernels.h"
#include "ops/registry.h"

namespace engine::backend::cpu {

void register_cpu_kernels() {
  register_elementwise_kernels();
  register_reduce_kernels();
  register_matmul_kernels();
  register_movement_kernels();
  register_random_kernels();
}

}  // namespace engine::backend::cpu
