// A compiled graph: the result of jit's passes and lowering, run on concrete inputs.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/ir/graph.h"

namespace engine {

struct Executable {
  Graph graph;  // after passes
  // Runs on concrete inputs of the traced avals (the caller checked them) on the CPU backend.
  std::vector<Tensor> run(const std::vector<Tensor>& args) const;
};

// Runs the passes and lowers the graph.
std::shared_ptr<Executable> compile(const Graph& g);
// The executable of a graph, compiled on first use and kept in the graph's cache.
std::shared_ptr<Executable> compiled_of(const Graph& g);

}  // namespace engine
