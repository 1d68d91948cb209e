// Batching interpreter (vmap): each tracer carries a value with one extra axis, the batch axis, or no batch
// axis at all. Primitives are re-expressed on whole batches by their batching rules, run by the parent.
#include "engine/interp/interpreter.h"
#include "engine/transforms/flat.h"
#include "ops/api.h"
#include "ops/registry.h"

namespace engine {

namespace {

struct BatchTracer final : Tracer {
  Tensor value;
  int bdim = 0;
};

class BatchInterpreter final : public Interpreter {
 public:
  BatchInterpreter(Interpreter* parent, int64_t axis_size) : Interpreter(parent), axis_size_(axis_size) {}
  const char* kind() const override { return "batch"; }

  Tensor wrap(Tensor value, int bdim) {
    if (bdim < 0) return value;  // not mapped: a constant at this level
    AVal aval = value.aval();
    aval.shape.erase(aval.shape.begin() + bdim);
    auto tr = std::make_unique<BatchTracer>();
    tr->owner = id();
    tr->value = std::move(value);
    tr->bdim = bdim;
    return Tensor::make_tracer(std::move(aval), std::move(tr), current_user_loc());
  }

  std::pair<Tensor, int> unwrap(const Tensor& t, ops::Prim prim) {
    if (auto* tr = static_cast<BatchTracer*>(owned(t, prim))) return {tr->value, tr->bdim};
    return {t, -1};
  }

  std::vector<Tensor> process(ops::Prim prim, const std::vector<Tensor>& inputs,
                              const ops::Params& params) override {
    const ops::PrimDef& d = ops::def(prim);
    std::vector<Tensor> vals;
    std::vector<int> bdims;
    vals.reserve(inputs.size());
    bdims.reserve(inputs.size());
    bool any = false;
    for (const Tensor& t : inputs) {
      auto [v, b] = unwrap(t, prim);
      vals.push_back(std::move(v));
      bdims.push_back(b);
      any |= b >= 0;
    }
    InterpreterScope scope(parent());
    if (!any) return bind(prim, vals, params);
    if (!d.batch)
      raise(ErrorKind::Unsupported, d.name, "has no batching rule: " + d.why_absent(ops::Rule::Batch),
            avals_of(vals), current_user_loc());
    ops::Batched b = d.batch(vals, bdims, axis_size_, params);
    if (b.outs.size() != b.bdims.size())
      throw Error(ErrorKind::Internal, std::string("[") + d.name + "] batching rule returned mismatched outputs");
    std::vector<Tensor> result;
    result.reserve(b.outs.size());
    for (size_t i = 0; i < b.outs.size(); ++i) {
      if (b.bdims[i] >= 0 && b.outs[i].dim(b.bdims[i]) != axis_size_)
        throw Error(ErrorKind::Internal, std::string("[") + d.name + "] batching rule put an axis of size " +
                                             std::to_string(b.outs[i].dim(b.bdims[i])) + " at the batch position");
      result.push_back(wrap(std::move(b.outs[i]), b.bdims[i]));
    }
    return result;
  }

  int64_t axis_size() const { return axis_size_; }

 private:
  int64_t axis_size_;
};

}  // namespace

std::vector<Tensor> vmap_flat(const FlatFn& f, const std::vector<Tensor>& args,
                              const std::vector<std::optional<int>>& in_axes, const std::vector<int>& out_axes) {
  const auto& loc = current_user_loc();
  if (in_axes.size() != args.size())
    raise(ErrorKind::Vmap, "vmap", "in_axes has " + std::to_string(in_axes.size()) + " entries for " +
                                       std::to_string(args.size()) + " inputs",
          avals_of(args), loc, "give one axis (or std::nullopt for not mapped) per input");
  int64_t size = -1;
  std::string sizes;
  std::vector<int> axes(args.size(), -1);
  for (size_t i = 0; i < args.size(); ++i) {
    if (!in_axes[i]) continue;
    int a = normalize_axis(*in_axes[i], args[i].ndim());
    if (a < 0)
      raise(ErrorKind::Vmap, "vmap", "in_axes[" + std::to_string(i) + "] = " + std::to_string(*in_axes[i]) +
                                         " is out of range for an input of rank " + std::to_string(args[i].ndim()),
            {{args[i].aval()}}, loc, "a mapped input needs the axis it is mapped over");
    axes[i] = a;
    sizes += (sizes.empty() ? "" : ", ") + std::string("input ") + std::to_string(i) + " has " +
             std::to_string(args[i].dim(a));
    if (size >= 0 && args[i].dim(a) != size) size = -2;
    if (size == -1) size = args[i].dim(a);
  }
  if (size == -1)
    raise(ErrorKind::Vmap, "vmap", "no input is mapped", avals_of(args), loc, "map at least one input (in_axes)");
  if (size == -2)
    raise(ErrorKind::Vmap, "vmap", "mapped inputs have different sizes along their mapped axes (" + sizes + ")",
          avals_of(args), loc, "every mapped axis must have the same size");

  BatchInterpreter interp(current_interpreter(), size);
  std::vector<Tensor> outs;
  {
    InterpreterScope scope(&interp);
    std::vector<Tensor> wrapped;
    for (size_t i = 0; i < args.size(); ++i) wrapped.push_back(interp.wrap(args[i], axes[i]));
    outs = f(wrapped);
  }
  if (!out_axes.empty() && out_axes.size() != 1 && out_axes.size() != outs.size())
    raise(ErrorKind::Vmap, "vmap", "out_axes has " + std::to_string(out_axes.size()) + " entries for " +
                                       std::to_string(outs.size()) + " outputs",
          {}, loc);
  std::vector<Tensor> result;
  for (size_t j = 0; j < outs.size(); ++j) {
    int want = out_axes.empty() ? 0 : out_axes.size() == 1 ? out_axes[0] : out_axes[j];
    auto [v, b] = interp.unwrap(outs[j], ops::Prim::call);
    int rank = b >= 0 ? v.ndim() : v.ndim() + 1;
    int dst = normalize_axis(want, rank);
    if (dst < 0)
      raise(ErrorKind::Vmap, "vmap", "out_axes entry " + std::to_string(want) + " is out of range for output " +
                                         std::to_string(j) + " of rank " + std::to_string(rank),
            {{v.aval()}}, loc);
    if (b < 0) {  // the output does not depend on the mapped inputs: broadcast it
      v = ops::expand_dims(v, dst);
      Shape s = v.shape();
      s[dst] = size;
      result.push_back(ops::broadcast_to(v, s));
    } else {
      result.push_back(ops::moveaxis(v, b, dst));
    }
  }
  return result;
}

}  // namespace engine
