// Registers the CPU kernels (stub: being written).
#include "ops/registry.h"

namespace engine::backend::cpu {
void register_cpu_kernels() {}
}  // namespace engine::backend::cpu
