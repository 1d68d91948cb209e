// Fused elementwise kernels for jit on CUDA, as CUDA source: a FusedKernelSpec is a straight-line program of
// elementwise operations over one iteration space (the CPU's fused groups, engine/backend/cpu/fused.h, in a
// form with no engine types), and fused_kernel_source() writes it as one grid-stride kernel that keeps every
// intermediate in registers. The operations are the eager kernels' functors (elementwise_ops.cuh), so a fused
// kernel computes what the unfused ops compute. Pure host code: the tests generate and compile (NVRTC) the
// source on machines without a GPU.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "engine/backend/cuda/elementwise_launch.h"
#include "ops/primitive.h"

namespace engine::backend::cuda {

struct FusedKernelSpec {
  int rank = 0;  // of the iteration space (at most kMaxRank)
  struct Input {
    DT dtype = DT::F32;
    enum class Read : uint8_t { Contiguous, Scalar, Strided } read = Read::Contiguous;
  };
  // Registers are numbered inputs first, then one per instruction, in order.
  struct Instr {
    EwOp op = EwOp::add;
    DT value = DT::F32;  // the dtype of the value operands (select: on_true's)
    DT out = DT::F32;    // the result's dtype
    int args[3] = {-1, -1, -1};
    int nargs = 0;
  };
  struct Output {
    int reg = -1;  // written contiguously, in the register's dtype
  };
  std::vector<Input> inputs;
  std::vector<Instr> instrs;
  std::vector<Output> outputs;

  DT reg_dtype(int reg) const;
  // A canonical text of the whole spec: equal keys mean equal kernels (the in-memory and disk caches' key).
  std::string key() const;
};

// The EwOp of a fusable elementwise primitive (elementwise.cpp's table), or nothing.
std::optional<EwOp> fusable_op(ops::Prim p);
// The functor's name in elementwise_ops.cuh ("Add") and the op's arity.
const char* ew_functor(EwOp op);
int ew_arity(EwOp op);

// The kernel, named `name`, with the signature
//   extern "C" __global__ void name(int64_t numel, Dims shape, const T0* in0, Dims strides0, ...,
//                                    U0* out0, ...)
// where Dims is { int64_t v[kMaxRank]; } (every input has a strides argument, used only when Strided). The
// source starts with elementwise_ops.cuh's text, so it is complete for NVRTC (--std=c++17). Throws
// engine::Error(Internal) naming the register when the spec is inconsistent (an operand of the wrong dtype).
std::string fused_kernel_source(const FusedKernelSpec& spec, const std::string& name);

// The text of elementwise_ops.cuh, embedded at build time.
const char* elementwise_ops_source();

}  // namespace engine::backend::cuda
