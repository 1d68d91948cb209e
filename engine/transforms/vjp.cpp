// Reverse mode. vjp traces f into the IR, marks the equations on the gradient path (float values that depend
// on the inputs, cut at stop_gradient and non-differentiable primitives), replays the forward under the
// current interpreter while keeping only the residuals the vjp rules declared, and walks the path backward.
// Because the replay and the backward pass bind ops under whatever interpreter is current, vjp composes with
// every other transform (vmap(grad), grad(grad), jvp(grad)) with no special cases.
#include <memory>

#include "engine/interp/interpreter.h"
#include "engine/transforms/flat.h"
#include "ops/api.h"
#include "ops/registry.h"

namespace engine {

namespace {

struct Tape {
  std::shared_ptr<const Graph> graph;
  std::vector<char> active;          // var is on the gradient path (depends on an input, float)
  std::vector<char> needed_eqn;      // equation's vjp runs in the backward pass
  std::vector<Tensor> residual;      // var -> value kept for the backward pass
  std::vector<AVal> in_avals, out_avals;
};

void mark(Tape& tape) {
  const Graph& g = *tape.graph;
  tape.active.assign(g.vars.size(), 0);
  for (int v : g.inputs) tape.active[v] = is_float(g.vars[v].dtype);
  std::vector<char> eqn_active(g.eqns.size(), 0);
  for (size_t k = 0; k < g.eqns.size(); ++k) {
    const Equation& eq = g.eqns[k];
    const ops::PrimDef& d = ops::def(eq.prim);
    if (!d.differentiable() || eq.prim == ops::Prim::stop_gradient) continue;
    bool any = false;
    for (int v : eq.inputs) any |= tape.active[v] != 0;
    if (!any) continue;
    eqn_active[k] = 1;
    for (int v : eq.outputs) tape.active[v] = is_float(g.vars[v].dtype);
  }
  // Backward reachability from the outputs: only equations whose outputs feed an output need a vjp.
  std::vector<char> reaches(g.vars.size(), 0);
  for (int v : g.outputs) reaches[v] = tape.active[v];
  tape.needed_eqn.assign(g.eqns.size(), 0);
  for (size_t k = g.eqns.size(); k-- > 0;) {
    const Equation& eq = g.eqns[k];
    if (!eqn_active[k]) continue;
    bool any = false;
    for (int v : eq.outputs) any |= reaches[v] != 0;
    if (!any) continue;
    tape.needed_eqn[k] = 1;
    for (int v : eq.inputs) reaches[v] |= tape.active[v];
  }
}

// Replays the forward pass, keeping the residuals (eval_graph frees every other value after its last use).
std::vector<Tensor> forward(Tape& tape, const std::vector<Tensor>& primals) {
  const Graph& g = *tape.graph;
  const size_t nv = g.vars.size();
  std::vector<char> keep(nv, 0);
  for (size_t k = 0; k < g.eqns.size(); ++k) {
    if (!tape.needed_eqn[k]) continue;
    const Equation& eq = g.eqns[k];
    const ops::PrimDef& d = ops::def(eq.prim);
    for (size_t i = 0; i < eq.inputs.size(); ++i)
      if (i < 32 && (d.vjp_reads_inputs >> i) & 1u) keep[eq.inputs[i]] = 1;
    if (d.vjp_reads_outputs)
      for (int v : eq.outputs) keep[v] = 1;
  }
  tape.residual.assign(nv, Tensor());
  return eval_graph(g, primals, [&](int v, const Tensor& t) {
    if (keep[v]) tape.residual[v] = t;
  });
}

void accumulate(Tensor& slot, const Tensor& ct) {
  if (!ct.defined()) return;
  slot = slot.defined() ? ops::add(slot, ct) : ct;
}

std::vector<Tensor> backward(const Tape& tape, const std::vector<Tensor>& cts) {
  const Graph& g = *tape.graph;
  const auto& loc = current_user_loc();
  if (cts.size() != g.outputs.size())
    raise(ErrorKind::Value, "vjp", "pullback got " + std::to_string(cts.size()) + " cotangents for " +
                                       std::to_string(g.outputs.size()) + " outputs",
          {}, loc, "pass one cotangent per output (a null tensor means zero)");
  std::vector<Tensor> ct_env(g.vars.size());
  for (size_t i = 0; i < cts.size(); ++i) {
    if (!cts[i].defined()) continue;
    const AVal& want = tape.out_avals[i];
    if (cts[i].shape() != want.shape || cts[i].dtype() != want.dtype)
      raise(ErrorKind::Shape, "vjp", "cotangent " + std::to_string(i) + " does not match its output",
            {{want, cts[i].aval()}}, loc, "a cotangent must have the output's shape and dtype");
    if (tape.active[g.outputs[i]]) accumulate(ct_env[g.outputs[i]], cts[i]);
  }
  ops::TensorList primals, outs, eq_cts;
  std::vector<bool> wants;
  for (size_t k = g.eqns.size(); k-- > 0;) {
    if (!tape.needed_eqn[k]) continue;
    const Equation& eq = g.eqns[k];
    const ops::PrimDef& d = ops::def(eq.prim);
    eq_cts.clear();
    bool any = false;
    for (int v : eq.outputs) {
      eq_cts.push_back(ct_env[v]);
      any |= ct_env[v].defined();
      ct_env[v] = Tensor();
    }
    if (!any) continue;
    UserLocScope scope(eq.loc, /*force=*/true);
    if (!d.vjp)
      raise(ErrorKind::Unsupported, d.name, "has no reverse-mode rule: " + d.why_absent(ops::Rule::Vjp),
            {}, eq.loc);
    if (eq.outputs.size() > 1)
      for (size_t i = 0; i < eq_cts.size(); ++i)
        if (!eq_cts[i].defined()) eq_cts[i] = ops::zeros(g.vars[eq.outputs[i]].shape, g.vars[eq.outputs[i]].dtype);
    primals.clear();
    outs.clear();
    wants.clear();
    for (int v : eq.inputs) {
      primals.push_back(tape.residual[v]);
      wants.push_back(tape.active[v] != 0);
    }
    for (int v : eq.outputs) outs.push_back(tape.residual[v]);
    ops::TensorList in_cts = d.vjp(eq_cts, primals, outs, eq.params, wants);
    if (in_cts.size() != eq.inputs.size())
      throw Error(ErrorKind::Internal, std::string("[") + d.name + "] vjp rule returned a wrong cotangent count");
    for (size_t i = 0; i < in_cts.size(); ++i) {
      if (!wants[i] || !in_cts[i].defined()) continue;
      const AVal& want = g.vars[eq.inputs[i]];
      if (in_cts[i].shape() != want.shape || in_cts[i].dtype() != want.dtype)
        throw Error(ErrorKind::Internal, std::string("[") + d.name + "] vjp rule returned cotangent " +
                                             in_cts[i].aval().str() + " for input " + want.str());
      accumulate(ct_env[eq.inputs[i]], in_cts[i]);
    }
  }
  std::vector<Tensor> result;
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    const Tensor& ct = ct_env[g.inputs[i]];
    result.push_back(ct.defined() ? ct : ops::zeros(tape.in_avals[i].shape, tape.in_avals[i].dtype));
  }
  return result;
}

}  // namespace

std::pair<std::vector<Tensor>, Pullback> vjp_flat(const FlatFn& f, const std::vector<Tensor>& primals) {
  auto tape = std::make_shared<Tape>();
  tape->in_avals = avals_of(primals);
  for (auto& a : tape->in_avals) a.weak = false;
  tape->graph = std::make_shared<const Graph>(make_graph(f, tape->in_avals));
  tape->out_avals = tape->graph->output_avals();
  mark(*tape);
  std::vector<Tensor> outs = forward(*tape, primals);
  Pullback pb = [tape](const std::vector<Tensor>& cts) { return backward(*tape, cts); };
  return {std::move(outs), std::move(pb)};
}

std::vector<Tensor> checkpoint_flat(const FlatFn& f, const std::vector<Tensor>& args) {
  auto g = std::make_shared<const Graph>(make_graph(f, avals_of(args)));
  ops::Params p;
  p.set("graph", std::shared_ptr<const Graph>(g)).set("remat", true);
  return bind(ops::Prim::call, args, p);
}

}  // namespace engine
