// A compiled graph: the result of jit's passes and lowering, run on concrete inputs.
#pragma once
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "engine/ir/graph.h"

namespace engine {

struct Program;

// A device backend's compiled form of an optimized graph (CUDA: fused NVRTC kernels between library calls),
// built on the first run with device arguments and kept by the executable.
struct DeviceProgram {
  virtual ~DeviceProgram() = default;
  virtual std::vector<Tensor> run(const std::vector<Tensor>& args) = 0;
};
// Returns null when the backend cannot compile now (e.g. NVRTC is missing): the graph then runs op by op.
using DeviceCompiler = std::unique_ptr<DeviceProgram> (*)(const Graph& g);
void register_device_compiler(Device d, DeviceCompiler compiler);

struct Executable {
  Graph graph;  // after passes
  std::vector<bool>
      donated;  // per graph input: its buffer may be reused for an output (jit's donate_argnums)
  // Runs on concrete inputs of the traced avals (the caller checked them) on the CPU backend. The graph is
  // lowered on the first run (its constants are concrete by then).
  std::vector<Tensor> run(const std::vector<Tensor>& args) const;
  void run(std::span<const Tensor> args, std::span<Tensor> results) const;  // allocation-free form
  // The lowered program (lowering it now if needed): steps, fusion and the arena, for tests and debugging.
  const Program& program() const;
  std::string program_str() const;

  ~Executable();

 private:
  void run_on_device(Device d, std::span<const Tensor> args, std::span<Tensor> results) const;
  mutable std::once_flag lowered_, device_lowered_;
  mutable std::unique_ptr<DeviceProgram> device_program_;
  mutable std::unique_ptr<Program> program_;
};

// Runs the passes and lowers the graph.
struct CompileOptions {
  std::vector<bool> donated;       // per graph input (see Executable::donated)
  bool remat_elementwise = false;  // passes::remat_elementwise
};
std::shared_ptr<Executable> compile(const Graph& g, CompileOptions options = {});
// The executable of a graph, compiled on first use and kept in the graph's cache.
std::shared_ptr<Executable> compiled_of(const Graph& g);

}  // namespace engine
