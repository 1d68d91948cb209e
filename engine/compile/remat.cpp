// Rematerialization of cheap elementwise values (the duplication half of producer-consumer fusion). After
// grad, the backward pass reads many values the forward pass computed inside one fused group (a GELU keeps
// x^2, x^3, tanh(...), ...). Stored, each costs a full write and a full read of an activation-sized buffer.
// This pass instead recomputes such a value next to each distant consumer, from values that live in memory
// anyway, so the forward group never writes it. The recomputation is the same sequence of the same kernels
// on the same inputs, so results are bitwise unchanged.
//
// It is a memory option (JitOptions::remat_elementwise), not a default: on the 4x512 GELU+LayerNorm MLP step
// it shrinks the arena from 17.3 MB to 5.3 MB, but fused elementwise kernels are compute-bound on the CPU
// and activations of that size sit in L2, so the step is no faster (about 8% slower at batch 256, equal at
// 1024; docs/benchmarks.md).
#include <map>

#include "engine/compile/passes.h"
#include "ops/registry.h"

namespace engine::passes {

namespace {

using ops::Prim;

constexpr int kMaxCone = 24;            // equations recomputed for one value
constexpr int kMaxTranscendentals = 2;  // exp/tanh/... among them

bool is_elementwise(const Equation& e) {
  return (ops::def(e.prim).traits & ops::kElementwise) && e.prim != Prim::stop_gradient &&
         e.outputs.size() == 1;
}
bool is_transcendental(Prim p) {
  switch (p) {
    case Prim::exp:
    case Prim::log:
    case Prim::log1p:
    case Prim::expm1:
    case Prim::sin:
    case Prim::cos:
    case Prim::tanh:
    case Prim::erf:
    case Prim::logistic:
    case Prim::pow:
      return true;
    default:
      return false;
  }
}
bool is_free_view(Prim p) {
  return p == Prim::broadcast_in_dim || p == Prim::reshape || p == Prim::transpose || p == Prim::slice;
}

struct Analysis {
  std::vector<int> def;     // defining equation per variable (-1: input or constant)
  std::vector<int> region;  // per equation: count of non-elementwise, non-view equations before it
  std::vector<std::vector<int>> users;  // per variable: consuming equations
  std::vector<bool> is_output;
};

Analysis analyze(const Graph& g) {
  Analysis a;
  a.def.assign(g.vars.size(), -1);
  a.users.assign(g.vars.size(), {});
  a.is_output.assign(g.vars.size(), false);
  int r = 0;
  for (size_t i = 0; i < g.eqns.size(); ++i) {
    const Equation& e = g.eqns[i];
    if (!is_elementwise(e) && !is_free_view(e.prim)) ++r;
    a.region.push_back(r);
    for (int o : e.outputs) a.def[o] = static_cast<int>(i);
    for (int u : e.inputs) a.users[u].push_back(static_cast<int>(i));
  }
  for (int v : g.outputs) a.is_output[v] = true;
  return a;
}

// A value must be in memory anyway when something other than an elementwise equation reads it (or the
// function returns it); such values are the leaves recomputation starts from.
bool stored_anyway(const Graph& g, const Analysis& a, int v) {
  if (a.def[v] < 0 || a.is_output[v] || !is_elementwise(g.eqns[a.def[v]])) return true;
  for (int u : a.users[v])
    if (!is_elementwise(g.eqns[u])) return true;
  return false;
}

// Elements a leaf costs to read: a broadcast view reads its (small) operand.
int64_t leaf_cost(const Graph& g, const Analysis& a, int v) {
  const int d = a.def[v];
  if (d >= 0 && g.eqns[d].prim == Prim::broadcast_in_dim) return leaf_cost(g, a, g.eqns[d].inputs[0]);
  return g.vars[v].numel();
}

// The equations to recompute v from stored values, in dependency order; false when over budget or when
// reading the leaves costs more than half again what v's own read would (storing v costs a write and a read:
// below that, recomputing moves fewer bytes).
bool cone(const Graph& g, const Analysis& a, int v, std::vector<int>& eqns) {
  std::vector<int> stack{v}, leaves;
  std::vector<char> seen(g.vars.size(), 0);
  int transcendental = 0;
  std::vector<int> found;
  while (!stack.empty()) {
    const int w = stack.back();
    stack.pop_back();
    if (seen[w]) continue;
    seen[w] = 1;
    if (w != v && stored_anyway(g, a, w)) {
      leaves.push_back(w);
      continue;
    }
    const Equation& e = g.eqns[a.def[w]];
    found.push_back(a.def[w]);
    transcendental += is_transcendental(e.prim);
    if (int(found.size()) > kMaxCone || transcendental > kMaxTranscendentals) return false;
    for (int u : e.inputs) stack.push_back(u);
  }
  int64_t leaf_elems = 0;
  for (int w : leaves) leaf_elems += leaf_cost(g, a, w);
  if (2 * leaf_elems > 3 * g.vars[v].numel()) return false;
  std::sort(found.begin(), found.end());  // equation order is a dependency order
  eqns = std::move(found);
  return true;
}

}  // namespace

Graph remat_elementwise(const Graph& g) {
  const Analysis a = analyze(g);
  // Values worth recomputing: elementwise, never needed in memory for other reasons, read in another region.
  std::vector<std::vector<int>> cone_of(g.vars.size());
  std::vector<bool> remat(g.vars.size(), false);
  for (size_t v = 0; v < g.vars.size(); ++v) {
    if (stored_anyway(g, a, int(v))) continue;
    bool distant = false;
    for (int u : a.users[v]) distant = distant || a.region[u] != a.region[a.def[v]];
    if (distant && cone(g, a, int(v), cone_of[v])) remat[v] = true;
  }
  Graph out = g;
  out.eqns.clear();
  out.cache = std::make_shared<GraphCache>();
  // (region, variable) -> its recomputed copy in that region; cones share their common parts.
  std::map<std::pair<int, int>, int> clone_of;
  auto copy_of = [&](int r, int x) {
    auto it = clone_of.find({r, x});
    return it == clone_of.end() ? x : it->second;
  };
  for (size_t i = 0; i < g.eqns.size(); ++i) {
    Equation e = g.eqns[i];
    const int r = a.region[i];
    for (int& u : e.inputs) {
      if (!remat[u] || a.region[a.def[u]] == r) continue;
      for (int k : cone_of[u]) {
        const int w = g.eqns[k].outputs[0];
        if (clone_of.count({r, w})) continue;
        Equation c = g.eqns[k];
        for (int& x : c.inputs) x = copy_of(r, x);
        const int nv = out.new_var(g.vars[w]);
        clone_of[{r, w}] = nv;
        c.outputs = {nv};
        out.eqns.push_back(std::move(c));
      }
      u = copy_of(r, u);
    }
    out.eqns.push_back(std::move(e));
  }
  return dce(out);
}

}  // namespace engine::passes
