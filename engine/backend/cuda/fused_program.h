// jit on CUDA (fused_program.cpp): how an optimized graph splits into fused elementwise kernels and
// single-equation steps. Exposed for the tests, which check the partition without a GPU.
#pragma once
#include <vector>

#include "engine/ir/graph.h"

namespace engine::backend::cuda {

struct PlannedStep {
  enum class Kind : uint8_t { Fused, Op } kind = Kind::Op;
  std::vector<int> eqns;     // equation indices, in order (one for Op)
  std::vector<int> inputs;   // Fused: variables read from outside the group (filled when its spec is made)
  std::vector<int> outputs;  // Fused: variables the group writes to memory (used later or returned)
};

// Every equation is in exactly one step; steps are in an order that respects every dependency.
std::vector<PlannedStep> partition_for_cuda(const Graph& g);

// Makes jit's executables use fused programs on CUDA (register.cpp calls it).
void register_fused_programs();

}  // namespace engine::backend::cuda
