// Rules of `call`, the primitive that runs a staged sub-program (checkpoint today, jit later). Its rules are
// the transforms themselves applied to the sub-graph, and the transformed sub-graph is bound as a new call,
// so a checkpoint boundary survives vmap and jvp. With remat, the vjp recomputes the forward of the
// sub-graph instead of keeping its intermediates.
#include "engine/compile/executable.h"
#include "engine/transforms/flat.h"
#include "ops/rules/rule_util.h"

namespace ops {

namespace {

using engine::Graph;
using GraphPtr = std::shared_ptr<const Graph>;

engine::FlatFn run_graph(GraphPtr g) {
  return [g](const TensorList& args) { return engine::eval_graph(*g, args); };
}

// A transformed sub-graph, made once per (graph, transform settings) and kept in the graph's cache, so a
// jitted function under vmap or jvp is traced and compiled once rather than at every call. Graphs that
// captured traced values of an enclosing transform are never cached (those values are only valid now).
template <class Make>
GraphPtr derived(const Graph& g, const std::string& key, Make&& make) {
  {
    std::lock_guard<std::mutex> lock(g.cache->mu);
    auto it = g.cache->derived.find(key);
    if (it != g.cache->derived.end()) return it->second;
  }
  auto made = std::make_shared<const Graph>(make());
  bool cacheable = true;
  for (const Tensor& c : made->const_values) cacheable &= c.is_concrete();
  if (cacheable) {
    std::lock_guard<std::mutex> lock(g.cache->mu);
    g.cache->derived.emplace(key, made);
  }
  return made;
}

TensorList bind_call(GraphPtr g, const TensorList& args, const Params& like) {
  Params p = like;
  p.set("graph", std::move(g));
  return engine::bind(Prim::call, args, p);
}

std::vector<AVal> call_shape(std::span<const AVal> in, const Params& p) {
  const Graph& g = *p.get_graph("graph");
  if (in.size() != g.inputs.size())
    rules::shape_fail(Prim::call, in, "expected " + std::to_string(g.inputs.size()) + " operands");
  for (size_t i = 0; i < in.size(); ++i)
    if (!(in[i] == g.vars[g.inputs[i]]))
      rules::shape_fail(Prim::call, in, "operand " + std::to_string(i) + " should be " + g.vars[g.inputs[i]].str(),
                        "call the staged function with the shapes it was traced for");
  return g.output_avals();
}

TensorList call_jvp(const TensorList& primals, const TensorList& tangents, const TensorList&, const Params& p) {
  GraphPtr g = p.get_graph("graph");
  const size_t n = primals.size();
  TensorList args = primals;
  for (size_t i = 0; i < n; ++i) args.push_back(rules::instantiate(tangents[i], primals[i].aval()));
  engine::FlatFn jvp_fn = [g, n](const TensorList& pt) {
    TensorList ps(pt.begin(), pt.begin() + n), ts(pt.begin() + n, pt.end());
    auto [o, t] = engine::jvp_flat(run_graph(g), ps, ts);
    o.insert(o.end(), t.begin(), t.end());
    return o;
  };
  auto jg = derived(*g, "jvp", [&] { return engine::make_graph(jvp_fn, engine::avals_of(args)); });
  TensorList outs = bind_call(jg, args, p);
  return TensorList(outs.begin() + outs.size() / 2, outs.end());
}

TensorList call_vjp(const TensorList& cts, const TensorList& primals, const TensorList&, const Params& p,
                    const std::vector<bool>& wants) {
  GraphPtr g = p.get_graph("graph");
  // Recompute the forward of the sub-graph here (rematerialization) and pull the cotangents back.
  auto [outs, pullback] = engine::vjp_flat(run_graph(g), primals);
  TensorList in_cts = pullback(cts);
  for (size_t i = 0; i < in_cts.size(); ++i)
    if (!wants[i]) in_cts[i] = Tensor();
  return in_cts;
}

Batched call_batch(const TensorList& vals, const std::vector<int>& bdims, int64_t axis_size, const Params& p) {
  GraphPtr g = p.get_graph("graph");
  std::vector<std::optional<int>> axes;
  for (int b : bdims) axes.push_back(b >= 0 ? std::optional<int>(b) : std::nullopt);
  engine::FlatFn batched = [g, axes](const TensorList& args) {
    return engine::vmap_flat(run_graph(g), args, axes, {0});
  };
  std::string key = "batch";
  for (int b : bdims) key += "," + std::to_string(b);
  key += ";" + std::to_string(vals.empty() ? 0 : axis_size);
  auto bg = derived(*g, key, [&] { return engine::make_graph(batched, engine::avals_of(vals)); });
  TensorList outs = bind_call(bg, vals, p);
  return {outs, std::vector<int>(outs.size(), 0)};
}

}  // namespace

void register_call_rules() {
  PrimDef& d = def_mut(Prim::call);
  d.shape = call_shape;
  d.jvp = call_jvp;
  d.vjp = call_vjp;
  d.vjp_reads_inputs = ~0u;  // the vjp re-runs the sub-graph from its inputs
  d.batch = call_batch;
  d.cpu = [](const TensorList& in, const std::vector<AVal>&, const Params& p) {
    const Graph& g = *p.get_graph("graph");
    if (!p.get_bool("remat")) return engine::compiled_of(g)->run(in);  // jitted: run the compiled form
    engine::InterpreterScope scope(engine::eval_interpreter());
    return engine::eval_graph(g, in);
  };
}

}  // namespace ops
