// Tracing into the IR, and evaluating a graph under whatever interpreter is current.
#include "engine/interp/trace.h"

#include "ops/registry.h"

namespace engine {

Tensor TraceInterpreter::make_tracer(int var) {
  auto tr = std::make_unique<TraceTracer>();
  tr->owner = id();
  tr->var = var;
  return Tensor::make_tracer(graph_->vars[var], std::move(tr), current_user_loc());
}

Tensor TraceInterpreter::new_input(const AVal& aval) {
  int v = graph_->new_var(aval);
  graph_->inputs.push_back(v);
  return make_tracer(v);
}

int TraceInterpreter::var_of(const Tensor& t) {
  if (Tracer* tr = owned(t, ops::Prim::call)) return static_cast<TraceTracer*>(tr)->var;
  auto it = const_vars_.find(t.impl());
  if (it != const_vars_.end()) return it->second;
  int v = graph_->new_var(t.aval());
  graph_->consts.push_back(v);
  graph_->const_values.push_back(t);
  const_vars_.emplace(t.impl(), v);
  return v;
}

std::vector<Tensor> TraceInterpreter::process(ops::Prim prim, const std::vector<Tensor>& inputs,
                                              const ops::Params& params) {
  Equation eq{prim, {}, {}, params, current_user_loc()};
  std::vector<AVal> in_avals;
  in_avals.reserve(inputs.size());
  for (const Tensor& t : inputs) {
    owned(t, prim);  // throws if escaped
    eq.inputs.push_back(var_of(t));
    in_avals.push_back(t.aval());
  }
  const ops::PrimDef& d = ops::def(prim);
  if (!d.shape) raise(ErrorKind::Unsupported, d.name, "has no shape rule registered", in_avals, current_user_loc());
  std::vector<AVal> out_avals = d.shape(in_avals, params);
  std::vector<Tensor> outs;
  outs.reserve(out_avals.size());
  for (auto& a : out_avals) {
    int v = graph_->new_var(std::move(a));
    eq.outputs.push_back(v);
    outs.push_back(make_tracer(v));
  }
  graph_->eqns.push_back(std::move(eq));
  return outs;
}

Graph make_graph(const FlatFn& fn, const std::vector<AVal>& in_avals) {
  Graph g;
  TraceInterpreter tracer(current_interpreter(), &g);
  std::vector<Tensor> outs;
  {
    InterpreterScope scope(&tracer);
    std::vector<Tensor> args;
    args.reserve(in_avals.size());
    for (const AVal& a : in_avals) args.push_back(tracer.new_input(a));
    outs = fn(args);
  }
  for (const Tensor& t : outs) {
    if (!t.defined()) throw Error(ErrorKind::Value, "[trace] the traced function returned a null tensor");
    g.outputs.push_back(tracer.var_of(t));
  }
  return g;
}

std::vector<Tensor> eval_graph(const Graph& g, const std::vector<Tensor>& args, const ValueObserver& observe) {
  if (args.size() != g.inputs.size())
    throw Error(ErrorKind::Internal, "[eval_graph] expected " + std::to_string(g.inputs.size()) +
                                         " arguments, got " + std::to_string(args.size()));
  // Values are dropped after their last use, so evaluating a graph holds no more memory than running the
  // original code did.
  std::vector<int> last_use(g.vars.size(), -1);
  for (size_t k = 0; k < g.eqns.size(); ++k)
    for (int v : g.eqns[k].inputs) last_use[v] = static_cast<int>(k);
  for (int v : g.outputs) last_use[v] = static_cast<int>(g.eqns.size());
  std::vector<Tensor> env(g.vars.size());
  for (size_t i = 0; i < args.size(); ++i) env[g.inputs[i]] = args[i];
  for (size_t i = 0; i < g.consts.size(); ++i) env[g.consts[i]] = g.const_values[i];
  if (observe) {
    for (int v : g.inputs) observe(v, env[v]);
    for (int v : g.consts) observe(v, env[v]);
  }
  std::vector<Tensor> ins;
  for (size_t k = 0; k < g.eqns.size(); ++k) {
    const Equation& eq = g.eqns[k];
    UserLocScope loc(eq.loc, /*force=*/true);
    ins.clear();
    for (int v : eq.inputs) ins.push_back(env[v]);
    std::vector<Tensor> outs = bind(eq.prim, ins, eq.params);
    for (size_t i = 0; i < outs.size(); ++i) {
      if (observe) observe(eq.outputs[i], outs[i]);
      env[eq.outputs[i]] = std::move(outs[i]);
    }
    for (int v : eq.inputs)
      if (last_use[v] == static_cast<int>(k)) env[v] = Tensor();
  }
  std::vector<Tensor> result;
  result.reserve(g.outputs.size());
  for (int v : g.outputs) result.push_back(env[v]);
  return result;
}

}  // namespace engine
