// The Trace interpreter: records binds as equations of a Graph instead of computing them. Values that are not
// its own tracers (concrete tensors, or tracers of enclosing transforms) become captured constants.
#pragma once
#include <unordered_map>

#include "engine/interp/interpreter.h"
#include "engine/ir/graph.h"

namespace engine {

struct TraceTracer final : Tracer {
  int var = -1;
};

class TraceInterpreter final : public Interpreter {
 public:
  TraceInterpreter(Interpreter* parent, Graph* graph) : Interpreter(parent), graph_(graph) {}
  const char* kind() const override { return "trace"; }
  std::vector<Tensor> process(ops::Prim prim, const std::vector<Tensor>& inputs,
                              const ops::Params& params) override;

  Tensor new_input(const AVal& aval);  // a fresh graph input
  int var_of(const Tensor& t);         // own tracer -> its var; anything else -> a captured constant

 private:
  Tensor make_tracer(int var);
  Graph* graph_;
  std::unordered_map<const TensorImpl*, int> const_vars_;
};

}  // namespace engine
