// Lowering and running compiled graphs.
#include "engine/compile/executable.h"

#include "engine/compile/passes.h"
#include "engine/compile/program.h"
#include "engine/interp/interpreter.h"

namespace engine {

Executable::~Executable() = default;

const Program& Executable::program() const {
  std::call_once(lowered_, [&] { program_ = lower(graph, donated); });
  return *program_;
}

std::string Executable::program_str() const { return program().str(graph); }

void Executable::run(std::span<const Tensor> args, std::span<Tensor> results) const {
  program().run(args, results);
}

std::vector<Tensor> Executable::run(const std::vector<Tensor>& args) const {
  std::vector<Tensor> results(graph.outputs.size());
  run(std::span<const Tensor>(args), std::span<Tensor>(results));
  return results;
}

std::shared_ptr<Executable> compile(const Graph& g, CompileOptions options) {
  auto exe = std::make_shared<Executable>();
  exe->graph = passes::run_passes(g);
  if (options.remat_elementwise) exe->graph = passes::remat_elementwise(exe->graph);
  exe->donated = std::move(options.donated);
  return exe;
}

std::shared_ptr<Executable> compiled_of(const Graph& g) {
  std::lock_guard<std::mutex> lock(g.cache->mu);
  if (!g.cache->compiled) g.cache->compiled = compile(g);
  return g.cache->compiled;
}

}  // namespace engine
