// Fused elementwise kernels for compiled code. A FusedProgram is a straight-line program of elementwise
// primitives over one iteration shape. It runs block by block: each thread walks blocks of kFuseBlock
// elements, and intermediates live in per-thread scratch registers that stay in L1 and never reach memory.
// Operands are bound tensors: dense ones are read in place, broadcast ones (all strides 0) as scalars, and
// any other layout is gathered per block. Registers whose operands are all scalars are computed once, before
// the block loop. Every primitive runs through the eager kernel's own loop (elementwise_fns.h), so a fused
// program is bitwise equal to the unfused ops, and its result does not depend on the thread count.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/backend/cpu/elementwise_fns.h"
#include "engine/backend/cpu/loops.h"
#include "engine/core/tensor.h"

namespace engine::backend::cpu {

inline constexpr int64_t kFuseBlock = 512;

struct FusedProgram {
  enum class RegKind : uint8_t { Input, Scalar, Block };
  struct Reg {
    RegKind kind = RegKind::Block;
    DType dtype = DType::F32;
    int input = -1;  // Input: index into `inputs`
    // Set by finalize(): how an input is read, and the scratch slot of block registers and gathered inputs.
    enum class Read : uint8_t { Dense, Broadcast, Gather } read = Read::Dense;
    int slot = -1;
  };
  struct Instr {
    ops::Prim prim{};
    RunFn fn = nullptr;
    int args[3] = {-1, -1, -1};
    int nargs = 0;
    int dst = -1;
  };
  struct Output {
    int reg = -1;
    Tensor dst;            // a bound tensor of the iteration shape (any strides: a slice of a concatenation),
    bool once = false;     // or of one element for a scalar register (finalize() sets `once`: written once)
    bool strided = false;  // set by finalize(): dst is not dense, so blocks are scattered through `scatter`
    Layout<2> scatter;
  };

  Shape shape;  // the iteration shape
  int64_t numel = 1;
  std::vector<Tensor> inputs;  // bound operands viewed in the iteration shape (or with one element)
  std::vector<Reg> regs;
  std::vector<Instr> instrs;
  std::vector<Output> outputs;

  int add_input(const Tensor& bound);                                         // returns its register
  int add_instr(ops::Prim p, const std::vector<int>& args, DType out_dtype);  // returns the result register
  void add_output(int reg, const Tensor& dst) {
    outputs.emplace_back();
    outputs.back().reg = reg;
    outputs.back().dst = dst;
  }
  // Classifies inputs, marks scalar registers and assigns scratch slots by liveness. Call once, after the
  // last add_*; the bound tensors' strides must be final (their data pointers may change between runs).
  void finalize();
  // "fused f32[256,512] {add mul pow mul add mul tanh add mul mul}"
  std::string str() const;

  // Set by finalize().
  int num_slots = 0;
  int64_t cost = 0;
  std::vector<Layout<2>> gathers;               // per input: (iteration index, input) layout, for Gather
  mutable std::vector<uint64_t> scalar_values;  // per register, the value of scalar ones (8 bytes each)
  mutable std::vector<const char*> input_ptrs;  // per input, set at the start of each run
  mutable std::vector<char*> output_ptrs;
  std::vector<int> output_of_reg;    // per register: the first output it is, or -1
  mutable std::vector<char> direct;  // per output: written in place, not via a register copy
};

void run_fused(const FusedProgram& p);

}  // namespace engine::backend::cpu
