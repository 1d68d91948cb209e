// The IR: a typed SSA graph like a jaxpr. Variables are numbered; every equation binds one primitive to input
// variables and defines new output variables. Constants captured while tracing (concrete tensors, literals, or
// values of an outer transform) are inputs of a second kind, with their values kept beside the graph.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <source_location>
#include <string>
#include <vector>

#include "engine/core/tensor.h"
#include "ops/primitive.h"

namespace engine {

struct Equation {
  ops::Prim prim;
  std::vector<int> inputs;   // variable ids
  std::vector<int> outputs;  // variable ids, defined here
  ops::Params params;
  std::source_location loc;  // the user's source line that issued the op
};

struct Executable;

// Things derived from a graph once and reused: transformed sub-graphs of a `call` (keyed by the transform
// and its settings) and the compiled executable. Shared by copies of the graph's shared_ptr.
struct GraphCache {
  std::mutex mu;
  std::map<std::string, std::shared_ptr<const struct Graph>> derived;
  std::shared_ptr<Executable> compiled;
};

struct Graph {
  std::vector<AVal> vars;            // aval of every variable, indexed by id
  std::vector<int> inputs;           // the function's arguments
  std::vector<int> consts;           // captured values, bound to const_values at evaluation
  std::vector<Tensor> const_values;  // same length as consts
  std::vector<Equation> eqns;
  std::vector<int> outputs;  // may repeat variables or name inputs/consts directly
  std::shared_ptr<GraphCache> cache = std::make_shared<GraphCache>();

  int new_var(AVal aval) {
    vars.push_back(std::move(aval));
    return static_cast<int>(vars.size()) - 1;
  }
  std::vector<AVal> input_avals() const;
  std::vector<AVal> output_avals() const;

  // Text form: one equation per line with dtypes, shapes, params and the user's source line.
  //   { lambda c0:f32[]; a:f32[4,8] b:f32[8,2]. let
  //       c:f32[4,2] = matmul a b                       # mlp.cpp:12
  //     in (c) }
  std::string str(bool with_locations = true) const;
  // Re-runs every shape rule and checks SSA form; throws Error(Internal) naming the first bad equation.
  void verify() const;
};

// The printed name of variable `id`: a, b, ..., z, aa, ab, ... (bijective base 26).
std::string var_name(int id);

using FlatFn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

// Traces fn on abstract inputs of the given avals into a graph (the make_jaxpr of this engine).
Graph make_graph(const FlatFn& fn, const std::vector<AVal>& in_avals);
// Evaluates a graph by binding its equations under the current interpreter, so evaluating a graph inside a
// transform applies the transform to it. Values are dropped after their last use; `observe(var, value)`, if
// given, sees every variable as it is defined (inputs and constants first), e.g. to keep residuals.
using ValueObserver = std::function<void(int var, const Tensor& value)>;
std::vector<Tensor> eval_graph(const Graph& g, const std::vector<Tensor>& args, const ValueObserver& observe = {});

}  // namespace engine
