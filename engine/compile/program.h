// The lowered form of a compiled graph: a list of steps over bound tensors. Every value the program computes
// lives in one of three places: a slot of the executable's arena (intermediates, packed by lifetime with the
// memory plan), an output buffer (values the function returns), or nowhere at all (intermediates of a fused
// elementwise group, which stay in registers). Views (reshape, broadcast, transpose, slice) cost nothing at
// run time: their strides are computed once, at lowering, over the bound tensor of the value they view.
//
// Bound tensors point into placeholder Storages (borrowed, never freed by the tensor) whose data pointers
// the program sets: arena slots once at lowering, arguments and outputs at the start of each run. Running
// therefore allocates nothing but the outputs, and those come from a small per-program pool that reuses
// buffers the caller has dropped.
#pragma once
#include <array>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "engine/backend/cpu/compiled_kernels.h"
#include "engine/backend/cpu/fused.h"
#include "engine/compile/memory_plan.h"
#include "engine/ir/graph.h"

namespace engine {

struct Step {
  enum class Kind : uint8_t {
    Fused,    // one fused elementwise kernel
    Matmul,   // a oneDNN matmul, optionally followed by a fused elementwise epilogue on its output
    Reduce,   // reduce_sum / reduce_max into a planned buffer
    Generic,  // any other primitive: its eager kernel, then a copy into the planned buffer (allocates)
  };
  Kind kind = Kind::Generic;
  Equation eqn;                                       // Matmul, Reduce, Generic: the equation
  std::vector<Tensor> in, out;                        // bound operands and results (results are dense)
  std::vector<int> in_vars, out_vars;                 // graph variables, for printing
  std::shared_ptr<backend::cpu::FusedProgram> fused;  // Fused: the program; Matmul: the epilogue or null
  std::shared_ptr<backend::cpu::MatmulPlan> matmul;
  std::string note;  // printing: e.g. which buffer the result reuses in place
};

// How output k of the function is produced at the end of a run.
struct OutputRule {
  enum class Kind : uint8_t { Buffer, Argument, Constant, Copy } kind = Kind::Buffer;
  int slot = -1;   // Buffer: index of the output placeholder; Argument: argument index
  int donor = -1;  // Buffer: a donated argument whose buffer this output is written into, when it can be
  AVal aval;       // the returned tensor's aval
  Tensor source;   // Constant: the value; Copy: the bound tensor to copy from
};

struct Program {
  std::vector<Step> steps;
  std::vector<AVal> vars;  // avals of the graph's variables and the lowering's temporaries (for printing)
  std::vector<std::shared_ptr<Storage>> arg_slots;  // placeholders re-pointed to the arguments each run
  std::vector<std::shared_ptr<Storage>> out_slots;  // placeholders re-pointed to fresh output buffers
  std::vector<size_t> out_slot_bytes;
  std::vector<OutputRule> outputs;
  std::vector<BufferRequest> buffers;  // the arena's buffers (for tests and printing)
  MemoryPlan plan;
  std::shared_ptr<Storage> arena;  // owned

  // Runs on concrete arguments of the traced avals; writes one tensor per output into `results`.
  void run(std::span<const Tensor> args, std::span<Tensor> results) const;
  // One line per step, then the arena: golden tests read this.
  std::string str(const Graph& g) const;
  size_t num_kernels() const { return steps.size(); }
  // With QGF_PROFILE_STEPS=1, runs time every step; this prints the mean time per step beside the step.
  std::string profile_str(const Graph& g) const;

 private:
  bool donation_possible(std::span<const Tensor> args, int donor) const;
  mutable std::mutex mu_;  // runs of one program are serialized: they share the arena
  // Recently returned outputs, reused once the caller has dropped them (see program.cpp).
  static constexpr int kPoolDepth = 3;
  mutable std::vector<std::array<Tensor, kPoolDepth>> pool_;
  mutable std::vector<Tensor> staged_args_;  // contiguous copies of strided arguments (rare)
  mutable std::vector<double> step_ns_;
  mutable int64_t profiled_runs_ = 0;
};

bool profiling_enabled();  // QGF_PROFILE_STEPS=1

// Lowers an optimized graph (engine/compile/passes.h) whose constants are concrete.
// donated[i]: graph input i's buffer may be reused for an output of the same aval.
std::unique_ptr<Program> lower(const Graph& g, const std::vector<bool>& donated = {});

}  // namespace engine
