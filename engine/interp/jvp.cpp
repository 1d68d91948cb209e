// Forward-mode interpreter: each tracer carries a primal and a tangent (null = symbolic zero). Primitives
// are evaluated by the parent, and tangents come from each primitive's jvp rule, also run by the parent.
#include "engine/interp/interpreter.h"
#include "engine/transforms/flat.h"
#include "ops/api.h"
#include "ops/registry.h"

namespace engine {

namespace {

struct JvpTracer final : Tracer {
  Tensor primal;
  Tensor tangent;  // null: zero
};

class JvpInterpreter final : public Interpreter {
 public:
  using Interpreter::Interpreter;
  const char* kind() const override { return "jvp"; }

  Tensor wrap(Tensor primal, Tensor tangent) {
    if (tangent.defined() && !is_float(primal.dtype())) tangent = Tensor();
    auto tr = std::make_unique<JvpTracer>();
    tr->owner = id();
    AVal aval = primal.aval();
    tr->primal = std::move(primal);
    tr->tangent = std::move(tangent);
    return Tensor::make_tracer(std::move(aval), std::move(tr), current_user_loc());
  }

  std::vector<Tensor> process(ops::Prim prim, const std::vector<Tensor>& inputs,
                              const ops::Params& params) override {
    const ops::PrimDef& d = ops::def(prim);
    std::vector<Tensor> primals, tangents;
    primals.reserve(inputs.size());
    tangents.reserve(inputs.size());
    bool any = false;
    for (const Tensor& t : inputs) {
      if (auto* tr = static_cast<JvpTracer*>(owned(t, prim))) {
        primals.push_back(tr->primal);
        tangents.push_back(tr->tangent);
        any |= tr->tangent.defined();
      } else {
        primals.push_back(t);
        tangents.emplace_back();
      }
    }
    InterpreterScope scope(parent());
    std::vector<Tensor> outs = bind(prim, primals, params);
    if (!any || !d.differentiable()) return outs;  // constants at this level
    if (!d.jvp)
      raise(ErrorKind::Unsupported, d.name, "has no forward-mode rule: " + d.why_absent(ops::Rule::Jvp),
            avals_of(primals), current_user_loc());
    std::vector<Tensor> touts = d.jvp(primals, tangents, outs, params);
    if (touts.size() != outs.size())
      throw Error(ErrorKind::Internal, std::string("[") + d.name + "] jvp rule returned a wrong tangent count");
    std::vector<Tensor> result;
    result.reserve(outs.size());
    for (size_t i = 0; i < outs.size(); ++i) {
      if (touts[i].defined() && !(touts[i].aval() == outs[i].aval()))
        throw Error(ErrorKind::Internal, std::string("[") + d.name + "] jvp rule returned tangent " +
                                             touts[i].aval().str() + " for output " + outs[i].aval().str());
      result.push_back(wrap(std::move(outs[i]), std::move(touts[i])));
    }
    return result;
  }

  // Splits an output of the traced function into (primal, tangent) at the parent level.
  std::pair<Tensor, Tensor> unwrap(const Tensor& t) {
    if (auto* tr = static_cast<JvpTracer*>(owned(t, ops::Prim::call))) return {tr->primal, tr->tangent};
    return {t, Tensor()};
  }
};

}  // namespace

std::pair<std::vector<Tensor>, std::vector<Tensor>> jvp_flat(const FlatFn& f, const std::vector<Tensor>& primals,
                                                             const std::vector<Tensor>& tangents) {
  if (primals.size() != tangents.size())
    raise(ErrorKind::Value, "jvp", "got " + std::to_string(primals.size()) + " primals but " +
                                       std::to_string(tangents.size()) + " tangents",
          {}, current_user_loc(), "pass one tangent per primal, with the same structure");
  JvpInterpreter interp(current_interpreter());
  std::vector<Tensor> outs;
  {
    InterpreterScope scope(&interp);
    std::vector<Tensor> args;
    for (size_t i = 0; i < primals.size(); ++i) {
      const Tensor& t = tangents[i];
      if (t.defined() && is_float(primals[i].dtype()) &&
          (t.shape() != primals[i].shape() || t.dtype() != primals[i].dtype()))
        raise(ErrorKind::Shape, "jvp", "tangent " + std::to_string(i) + " does not match its primal",
              {{primals[i].aval(), t.aval()}}, current_user_loc(),
              "a tangent must have the primal's shape and dtype");
      args.push_back(interp.wrap(primals[i], t));
    }
    outs = f(args);
  }
  std::vector<Tensor> po, to;
  for (const Tensor& o : outs) {
    auto [p, t] = interp.unwrap(o);
    if (!t.defined()) t = ops::zeros_like(p);
    po.push_back(std::move(p));
    to.push_back(std::move(t));
  }
  return {std::move(po), std::move(to)};
}

}  // namespace engine
