// IR passes. Every pass rebuilds the graph with a Rewriter that renames variables, so passes never mutate
// their input and variable ids stay dense.
#include "engine/compile/passes.h"

#include <cstring>
#include <map>
#include <tuple>
#include <unordered_map>

#include "ops/registry.h"

namespace engine::passes {

namespace {

// Builds a new graph from an old one: maps old variable ids to new ones (or aliases them to other values).
class Rewriter {
 public:
  explicit Rewriter(const Graph& old) : old_(old), map_(old.vars.size(), -1) {
    for (int v : old.inputs) {
      map_[v] = out_.new_var(old.vars[v]);
      out_.inputs.push_back(map_[v]);
    }
    for (size_t i = 0; i < old.consts.size(); ++i) {
      int v = old.consts[i];
      map_[v] = out_.new_var(old.vars[v]);
      out_.consts.push_back(map_[v]);
      out_.const_values.push_back(old.const_values[i]);
      const_of_[map_[v]] = old.const_values[i];
    }
  }
  int get(int old_var) const { return map_[old_var]; }
  void alias(int old_var, int new_var) { map_[old_var] = new_var; }
  // Emits an equation with already-renamed inputs; returns the new output ids.
  std::vector<int> emit(const Equation& like, std::vector<int> new_inputs) {
    Equation eq{like.prim, std::move(new_inputs), {}, like.params, like.loc};
    for (int v : like.outputs) {
      int nv = out_.new_var(old_.vars[v]);
      map_[v] = nv;
      eq.outputs.push_back(nv);
    }
    out_.eqns.push_back(std::move(eq));
    return out_.eqns.back().outputs;
  }
  Graph& graph() { return out_; }
  // The scalar value of a new variable if it is a constant (possibly broadcast), else nullptr.
  const Tensor* scalar_const(int new_var) const {
    auto it = const_of_.find(new_var);
    if (it != const_of_.end())
      return it->second.is_concrete() && it->second.numel() == 1 ? &it->second : nullptr;
    auto b = broadcast_src_.find(new_var);
    return b == broadcast_src_.end() ? nullptr : scalar_const(b->second);
  }
  void note_broadcast(int out_var, int src_var) { broadcast_src_[out_var] = src_var; }
  Graph finish() {
    for (int v : old_.outputs) out_.outputs.push_back(map_[v]);
    return std::move(out_);
  }

 private:
  const Graph& old_;
  Graph out_;
  std::vector<int> map_;
  std::unordered_map<int, Tensor> const_of_;
  std::unordered_map<int, int> broadcast_src_;
};

std::vector<int> renamed_inputs(const Rewriter& rw, const Equation& eq) {
  std::vector<int> in;
  in.reserve(eq.inputs.size());
  for (int v : eq.inputs) in.push_back(rw.get(v));
  return in;
}

bool is_scalar_value(const Tensor* t, double v) { return t && t->item_as_double() == v; }

}  // namespace

Graph inline_calls(const Graph& g) {
  Rewriter rw(g);
  for (const Equation& eq : g.eqns) {
    std::vector<int> in = renamed_inputs(rw, eq);
    if (eq.prim != ops::Prim::call || eq.params.get_bool("remat")) {
      rw.emit(eq, in);
      continue;
    }
    const Graph sub = inline_calls(*eq.params.get_graph("graph"));
    std::vector<int> smap(sub.vars.size(), -1);
    for (size_t i = 0; i < sub.inputs.size(); ++i) smap[sub.inputs[i]] = in[i];
    for (size_t i = 0; i < sub.consts.size(); ++i) {
      int nv = rw.graph().new_var(sub.vars[sub.consts[i]]);
      rw.graph().consts.push_back(nv);
      rw.graph().const_values.push_back(sub.const_values[i]);
      smap[sub.consts[i]] = nv;
    }
    for (const Equation& se : sub.eqns) {
      Equation ne{se.prim, {}, {}, se.params, se.loc};
      for (int v : se.inputs) ne.inputs.push_back(smap[v]);
      for (int v : se.outputs) {
        smap[v] = rw.graph().new_var(sub.vars[v]);
        ne.outputs.push_back(smap[v]);
      }
      rw.graph().eqns.push_back(std::move(ne));
    }
    for (size_t i = 0; i < eq.outputs.size(); ++i) rw.alias(eq.outputs[i], smap[sub.outputs[i]]);
  }
  return rw.finish();
}

Graph simplify(const Graph& g) {
  using ops::Prim;
  Rewriter rw(g);
  std::unordered_map<int, int> neg_of;  // new var -> operand of the neg that produced it
  for (const Equation& eq : g.eqns) {
    std::vector<int> in = renamed_inputs(rw, eq);
    const Graph& ng = rw.graph();
    const bool single = eq.outputs.size() == 1 && in.size() >= 1;
    const bool same_aval = single && ng.vars[in[0]] == g.vars[eq.outputs[0]];
    switch (eq.prim) {
      case Prim::reshape:
      case Prim::broadcast_in_dim:
      case Prim::transpose:
      case Prim::convert:
        if (same_aval && (eq.prim != Prim::transpose || [&] {
              const auto& perm = eq.params.get_ints("perm");
              for (size_t i = 0; i < perm.size(); ++i)
                if (perm[i] != int64_t(i)) return false;
              return true;
            }())) {
          rw.alias(eq.outputs[0], in[0]);
          continue;
        }
        break;
      case Prim::mul:
      case Prim::add:
      case Prim::sub: {
        // x op unit -> x (and unit op x -> x for the commutative ops), where unit is op's identity and the
        // result has x's aval (so no broadcast is lost).
        const double unit = eq.prim == Prim::mul ? 1.0 : 0.0;
        const int keep = is_scalar_value(rw.scalar_const(in[1]), unit)                           ? in[0]
                         : eq.prim != Prim::sub && is_scalar_value(rw.scalar_const(in[0]), unit) ? in[1]
                                                                                                 : -1;
        if (keep >= 0 && ng.vars[keep] == g.vars[eq.outputs[0]]) {
          rw.alias(eq.outputs[0], keep);
          continue;
        }
        break;
      }
      case Prim::neg:
        if (auto it = neg_of.find(in[0]); it != neg_of.end()) {
          rw.alias(eq.outputs[0], it->second);
          continue;
        }
        break;
      default:
        break;
    }
    std::vector<int> outs = rw.emit(eq, in);
    if (eq.prim == Prim::neg) neg_of[outs[0]] = in[0];
    if (eq.prim == Prim::broadcast_in_dim) rw.note_broadcast(outs[0], in[0]);
  }
  return rw.finish();
}

Graph cse(const Graph& g) {
  Rewriter rw(g);
  struct Key {
    ops::Prim prim;
    std::vector<int> in;
    ops::Params params;
    bool operator<(const Key& o) const {
      if (prim != o.prim) return prim < o.prim;
      if (in != o.in) return in < o.in;
      return o.params.hash() == params.hash() ? false : params.hash() < o.params.hash();
    }
  };
  // Scalar constants with the same aval and value are one value (every `x * 0.9` makes its own literal).
  std::map<std::tuple<DType, bool, Shape, uint64_t>, int> literal;
  for (size_t i = 0; i < g.consts.size(); ++i) {
    const Tensor& c = g.const_values[i];
    if (!c.is_concrete() || c.numel() != 1) continue;
    const double v = c.item_as_double();
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    auto [it, fresh] = literal.emplace(std::make_tuple(c.dtype(), c.weak(), c.shape(), bits), g.consts[i]);
    if (!fresh) rw.alias(g.consts[i], rw.get(it->second));
  }
  std::map<Key, std::vector<int>> seen;
  for (const Equation& eq : g.eqns) {
    std::vector<int> in = renamed_inputs(rw, eq);
    Key k{eq.prim, in, eq.params};
    auto it = seen.find(k);
    if (it != seen.end() && it->first.params == eq.params) {
      for (size_t i = 0; i < eq.outputs.size(); ++i) rw.alias(eq.outputs[i], it->second[i]);
      continue;
    }
    seen.emplace(std::move(k), rw.emit(eq, in));
  }
  return rw.finish();
}

Graph dce(const Graph& g) {
  std::vector<char> live(g.vars.size(), 0);
  for (int v : g.outputs) live[v] = 1;
  std::vector<char> keep(g.eqns.size(), 0);
  for (size_t k = g.eqns.size(); k-- > 0;) {
    const Equation& eq = g.eqns[k];
    bool any = false;
    for (int v : eq.outputs) any |= live[v] != 0;
    if (!any) continue;
    keep[k] = 1;
    for (int v : eq.inputs) live[v] = 1;
  }
  Graph out;
  std::vector<int> map(g.vars.size(), -1);
  for (int v : g.inputs) {
    map[v] = out.new_var(g.vars[v]);
    out.inputs.push_back(map[v]);
  }
  for (size_t i = 0; i < g.consts.size(); ++i) {
    int v = g.consts[i];
    if (!live[v]) continue;
    map[v] = out.new_var(g.vars[v]);
    out.consts.push_back(map[v]);
    out.const_values.push_back(g.const_values[i]);
  }
  for (size_t k = 0; k < g.eqns.size(); ++k) {
    if (!keep[k]) continue;
    const Equation& eq = g.eqns[k];
    Equation ne{eq.prim, {}, {}, eq.params, eq.loc};
    for (int v : eq.inputs) ne.inputs.push_back(map[v]);
    for (int v : eq.outputs) {
      map[v] = out.new_var(g.vars[v]);
      ne.outputs.push_back(map[v]);
    }
    out.eqns.push_back(std::move(ne));
  }
  for (int v : g.outputs) out.outputs.push_back(map[v]);
  return out;
}

Graph run_passes(const Graph& g) {
  Graph cur = inline_calls(g);
  for (int round = 0; round < 4; ++round) {
    size_t before = cur.eqns.size();
    cur = dce(cse(simplify(cur)));
    if (cur.eqns.size() == before) break;
  }
  return cur;
}

}  // namespace engine::passes
