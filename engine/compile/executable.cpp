// Lowering and running compiled graphs.
#include "engine/compile/executable.h"

#include "engine/compile/passes.h"
#include "engine/interp/interpreter.h"

namespace engine {

std::vector<Tensor> Executable::run(const std::vector<Tensor>& args) const {
  InterpreterScope scope(eval_interpreter());
  return eval_graph(graph, args);
}

std::shared_ptr<Executable> compile(const Graph& g) {
  auto exe = std::make_shared<Executable>();
  exe->graph = passes::run_passes(g);
  return exe;
}

std::shared_ptr<Executable> compiled_of(const Graph& g) {
  std::lock_guard<std::mutex> lock(g.cache->mu);
  if (!g.cache->compiled) g.cache->compiled = compile(g);
  return g.cache->compiled;
}

}  // namespace engine
