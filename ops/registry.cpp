// The primitive table and its one-time initialization.
#include "ops/registry.h"

#include <mutex>

namespace ops {

const char* rule_name(Rule r) {
  switch (r) {
    case Rule::Shape: return "shape";
    case Rule::Jvp: return "jvp";
    case Rule::Vjp: return "vjp";
    case Rule::Batch: return "batch";
    case Rule::CpuKernel: return "cpu";
    case Rule::CudaKernel: return "cuda";
  }
  return "?";
}

bool PrimDef::has(Rule r) const {
  switch (r) {
    case Rule::Shape: return static_cast<bool>(shape);
    case Rule::Jvp: return static_cast<bool>(jvp);
    case Rule::Vjp: return static_cast<bool>(vjp);
    case Rule::Batch: return static_cast<bool>(batch);
    case Rule::CpuKernel: return static_cast<bool>(cpu);
    case Rule::CudaKernel: return static_cast<bool>(cuda);
  }
  return false;
}

std::string PrimDef::why_absent(Rule r) const {
  const std::string& reason = absent_reason[static_cast<int>(r)];
  return reason.empty() ? "none is registered and no reason was declared (an engine bug: please report it)" : reason;
}

namespace {
PrimDef* table() {
  static PrimDef defs[kNumPrims];
  return defs;
}
std::once_flag g_once;
}  // namespace

PrimDef& def_mut(Prim p) { return table()[static_cast<int>(p)]; }

void init_registry() {
  std::call_once(g_once, [] {
    for (int i = 0; i < kNumPrims; ++i) {
      PrimDef& d = table()[i];
      d.prim = static_cast<Prim>(i);
      d.name = prim_name(d.prim);
      d.family = prim_family(d.prim);
    }
    register_elementwise_rules();
    register_reduce_rules();
    register_matmul_rules();
    register_movement_rules();
    register_random_rules();
    register_call_rules();
    engine::backend::cpu::register_cpu_kernels();
#ifdef QGF_HAVE_CUDA
    engine::backend::cuda::register_cuda_kernels();
#else
    for (int i = 0; i < kNumPrims; ++i)
      table()[i].absent_reason[static_cast<int>(Rule::CudaKernel)] =
          "this build has no CUDA backend (CMake found no CUDA toolkit)";
#endif
  });
}

const PrimDef& def(Prim p) {
  static bool ready = (init_registry(), true);
  (void)ready;
  return table()[static_cast<int>(p)];
}

}  // namespace ops
