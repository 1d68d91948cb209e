// Fills PrimDef::cuda for every primitive, registers the CUDA device and jit's fused programs. `call` runs
// its sub-graph op by op on the device.
#include "engine/backend/cuda/fused_program.h"
#include "engine/backend/cuda/kernels.h"
#include "engine/interp/interpreter.h"
#include "engine/ir/graph.h"
#include "ops/registry.h"

namespace engine::backend::cuda {

void register_cuda_kernels() {
  register_device();
  register_elementwise_kernels();
  register_reduce_kernels();
  register_matmul_kernels();
  register_movement_kernels();
  register_random_kernels();
  register_fused_programs();
  ops::def_mut(ops::Prim::call).cuda = [](const ops::TensorList& in, const std::vector<AVal>&,
                                          const ops::Params& p) {
    InterpreterScope scope(eval_interpreter());
    DeviceScope on(Device::CUDA);
    return eval_graph(*p.get_graph("graph"), in);
  };
}

}  // namespace engine::backend::cuda
