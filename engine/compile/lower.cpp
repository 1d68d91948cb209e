// Lowering: an optimized graph becomes a Program (program.h). One walk over the equations in order:
//  - elementwise equations join the open fusion group when they share its iteration shape (scalar ones join
//    any group and are computed once per run); their values stay in the group's registers;
//  - views are computed here, over the bound tensor of the value they view, and cost nothing at run time;
//  - matmuls, reductions and everything else become steps of their own. A group closes when a later
//    equation needs one of its values in memory in a way the group cannot provide (a non-elementwise
//    consumer, a view's consumer, or an elementwise equation of another shape); equations that do not
//    depend on the open group are emitted before it, so unrelated work never splits a group.
//  - A closing group whose input is a matmul result used by nothing else becomes that matmul's epilogue.
// Then every intermediate root gets an arena slot from the memory plan; values the function returns get
// output buffers instead.
#include <algorithm>
#include <map>
#include <optional>
#include <sstream>

#include "engine/compile/program.h"
#include "ops/registry.h"

namespace engine {

namespace {

using backend::cpu::FusedProgram;
using ops::Prim;

enum class EqClass { Elementwise, View, Matmul, Reduce, Other };

EqClass classify(const Graph& g, const Equation& e) {
  switch (e.prim) {
    case Prim::reshape:
    case Prim::broadcast_in_dim:
    case Prim::transpose:
    case Prim::slice:
    case Prim::stop_gradient:
      return EqClass::View;
    case Prim::matmul:
      return EqClass::Matmul;
    case Prim::reduce_sum:
    case Prim::reduce_max:
      return EqClass::Reduce;
    default:
      break;
  }
  if (!(ops::def(e.prim).traits & ops::kElementwise) || e.outputs.size() != 1) return EqClass::Other;
  const int value_operand = e.prim == Prim::select ? 1 : 0;
  const DType operand = g.vars[e.inputs[value_operand]].dtype, out = g.vars[e.outputs[0]].dtype;
  return backend::cpu::elementwise_run_fn(e.prim, operand, out) ? EqClass::Elementwise : EqClass::Other;
}

bool is_dense_full(const Tensor& t, const Tensor& root) {
  return t.offset() == 0 && t.numel() == root.numel() && t.is_contiguous();
}

// Per-step memory traffic, in phases: a matmul reads its operands and writes its result at phase 2s, and
// everything else happens at 2s+1 (so an epilogue may overwrite the matmul's result in place).
struct StepTraffic {
  std::vector<int> reads_early, writes_early, reads, writes;
  std::vector<std::pair<int, int>> inplace;  // (written root, root whose slot it may take)
};

class Lowering {
 public:
  Lowering(const Graph& g, const std::vector<bool>& donated)
      : g_(g), vars_(g.vars), donated_(donated), prog_(new Program()) {}

  std::unique_ptr<Program> run() {
    const size_t nv = vars_.size();
    bound_.assign(nv, Tensor());
    root_.assign(nv, -1);
    reg_.assign(nv, -1);
    writer_group_.assign(nv, -1);
    matmul_step_.assign(nv, -1);
    external_.assign(nv, false);
    uses_.assign(nv, 0);
    for (const Equation& e : g_.eqns)
      for (int u : e.inputs) ++uses_[u];
    for (int v : g_.outputs) ++uses_[v];
    for (int v : g_.inputs) {
      auto slot = placeholder();
      prog_->arg_slots.push_back(slot);
      bind_root(v, slot);
      external_[v] = true;
    }
    for (size_t i = 0; i < g_.consts.size(); ++i) {
      const Tensor& c = g_.const_values[i];
      if (!c.is_concrete())
        raise(ErrorKind::Internal, "jit", "lowering a graph whose constants are traced values", {}, {},
              "this is an engine bug: such graphs run through their transform, not compiled directly");
      const int v = g_.consts[i];
      bound_[v] = c;
      root_[v] = v;
      external_[v] = true;
    }
    for (const Equation& e : g_.eqns) lower_eqn(e);
    for (int v : g_.outputs)
      if (in_open_group(v)) materialize(v);
    close_group();
    build_outputs();
    plan();
    prog_->vars = vars_;
    return std::move(prog_);
  }

 private:
  // ---- values ----
  static std::shared_ptr<Storage> placeholder() {
    auto s = std::make_shared<Storage>();
    s->borrowed = true;
    return s;
  }
  void bind_root(int v, std::shared_ptr<Storage> storage) {
    const AVal& a = vars_[v];
    storage->bytes = size_t(a.numel()) * itemsize(a.dtype);
    bound_[v] = Tensor::make_concrete(a, std::move(storage), 0, contiguous_strides(a.shape));
    root_[v] = v;
  }
  void new_root(int v) { bind_root(v, placeholder()); }
  bool in_open_group(int v) const { return open_ && reg_[v] >= 0 && reg_group_.at(v) == open_->id; }

  // ---- the open fusion group ----
  struct Group {
    int id = 0;
    std::shared_ptr<FusedProgram> prog = std::make_shared<FusedProgram>();
    bool has_shape = false;
    std::map<int, int> input_reg;    // variable read from memory -> its input register
    std::vector<int> input_vars;     // per program input: the variable
    std::vector<int> output_vars;    // per program output: the variable
    std::map<int, int> member_uses;  // variable -> operand occurrences inside the group
    std::vector<int> reg_vars;       // variables held in registers
  };
  std::optional<Group> open_;
  std::map<int, int> reg_group_;  // variable -> group id of its register
  int next_group_ = 0;

  void open_group() {
    open_.emplace();
    open_->id = next_group_++;
  }

  int input_reg(int v) {
    auto it = open_->input_reg.find(v);
    if (it != open_->input_reg.end()) return it->second;
    const int r = open_->prog->add_input(bound_[v]);
    open_->input_vars.push_back(v);
    open_->input_reg[v] = r;
    return r;
  }

  // Gives a register value of the open group a buffer the group writes.
  void materialize(int v) {
    if (bound_[v].defined()) return;
    new_root(v);
    open_->prog->add_output(reg_[v], bound_[v]);
    open_->output_vars.push_back(v);
    writer_group_[v] = open_->id;
  }

  bool written_by_open_group(int v) const {
    return open_ && root_[v] >= 0 && writer_group_[root_[v]] == open_->id;
  }

  void close_group() {
    if (!open_) return;
    // Registers with consumers outside the group (later equations, the function's outputs) get buffers.
    for (int v : open_->reg_vars)
      if (open_->member_uses[v] < uses_[v]) materialize(v);
    Group G = std::move(*open_);
    open_.reset();
    if (G.prog->outputs.empty()) return;  // every value stayed unused (DCE'd graphs have none)
    FusedProgram& fp = *G.prog;
    if (!G.has_shape) {
      fp.shape = {};
      fp.numel = 1;
    }
    fp.finalize();
    StepTraffic tr;
    for (int v : G.input_vars) tr.reads.push_back(root_[v]);
    for (int v : G.output_vars) tr.writes.push_back(v);
    // Matmul epilogue: a dense input produced by a pending matmul and used by nothing but this group.
    int epi_var = -1;
    for (size_t i = 0; i < G.input_vars.size() && epi_var < 0; ++i) {
      const int v = G.input_vars[i];
      const int ms = matmul_step_[v];
      if (ms < 0 || prog_->steps[ms].fused || !alive_[ms]) continue;
      if (G.member_uses[v] != uses_[v] || bound_[v].numel() != fp.numel ||
          !is_dense_full(bound_[v], bound_[v]))
        continue;
      epi_var = v;
    }
    inplace_hints(G, tr);
    if (epi_var >= 0) {
      const int ms = matmul_step_[epi_var];
      Step st = std::move(prog_->steps[ms]);
      StepTraffic mt = std::move(traffic_[ms]);
      alive_[ms] = false;
      st.fused = G.prog;
      for (int v : G.output_vars) st.out_vars.push_back(v);
      mt.reads.insert(mt.reads.end(), tr.reads.begin(), tr.reads.end());
      mt.writes.insert(mt.writes.end(), tr.writes.begin(), tr.writes.end());
      mt.inplace = tr.inplace;
      emit(std::move(st), std::move(mt));
      return;
    }
    Step st;
    st.kind = Step::Kind::Fused;
    st.fused = G.prog;
    st.in_vars = G.input_vars;
    st.out_vars = G.output_vars;
    emit(std::move(st), std::move(tr));
  }

  // An output may take the slot of a dense input root of the same size that only this group reads here.
  void inplace_hints(const Group& G, StepTraffic& tr) {
    const FusedProgram& fp = *G.prog;
    std::map<int, bool> dense_only;  // root -> every read of it in this group is a dense, full read
    for (size_t i = 0; i < G.input_vars.size(); ++i) {
      const int v = G.input_vars[i], r = root_[v];
      bool dense = false;
      for (const auto& reg : fp.regs)
        if (reg.kind == FusedProgram::RegKind::Input && reg.input == int(i))
          dense = reg.read == FusedProgram::Reg::Read::Dense && is_dense_full(bound_[v], bound_[r]);
      auto it = dense_only.find(r);
      dense_only[r] = (it == dense_only.end() ? true : it->second) && dense;
    }
    std::vector<int> taken;
    for (int o : G.output_vars) {
      for (const auto& [r, ok] : dense_only) {
        if (!ok || (external_[r] && !is_donated_arg(r)) || bound_[r].numel() != bound_[o].numel() ||
            bound_[r].dtype() != bound_[o].dtype() || std::find(taken.begin(), taken.end(), r) != taken.end())
          continue;
        tr.inplace.push_back({o, r});
        taken.push_back(r);
        break;
      }
    }
  }

  bool is_donated_arg(int v) const {
    const int i = index_of(g_.inputs, v);
    return i >= 0 && size_t(i) < donated_.size() && donated_[size_t(i)];
  }

  void emit(Step st, StepTraffic tr) {
    prog_->steps.push_back(std::move(st));
    traffic_.push_back(std::move(tr));
    alive_.push_back(true);
  }

  // ---- equations ----
  void lower_eqn(const Equation& e) {
    switch (classify(g_, e)) {
      case EqClass::Elementwise:
        return lower_elementwise(e);
      case EqClass::View:
        return lower_view(e);
      default:
        return lower_step(e);
    }
  }

  void lower_elementwise(const Equation& e) {
    const int o = e.outputs[0];
    const AVal& oa = vars_[o];
    const bool scalar = oa.numel() == 1;
    bool join = open_ && (scalar || !open_->has_shape || open_->prog->shape == oa.shape);
    for (int u : e.inputs)
      if (!in_open_group(u) && written_by_open_group(u))
        join = false;  // reads the group's result from memory
    if (!join && open_) {
      for (int u : e.inputs)
        if (in_open_group(u)) materialize(u);
      close_group();
    }
    if (!open_) open_group();
    if (!scalar && !open_->has_shape) {
      open_->has_shape = true;
      open_->prog->shape = oa.shape;
      open_->prog->numel = oa.numel();
    }
    std::vector<int> args;
    for (int u : e.inputs) {
      args.push_back(in_open_group(u) ? reg_[u] : input_reg(u));
      ++open_->member_uses[u];
    }
    reg_[o] = open_->prog->add_instr(e.prim, args, oa.dtype);
    reg_group_[o] = open_->id;
    open_->reg_vars.push_back(o);
  }

  void lower_view(const Equation& e) {
    const int u = e.inputs[0], o = e.outputs[0];
    const AVal& oa = vars_[o];
    if (in_open_group(u)) {
      // A view of a one-element register is the same register (read with stride 0) when it has one element
      // too, or the group's own shape: no memory needed.
      const bool same_shape = open_->has_shape && oa.shape == open_->prog->shape;
      if (vars_[u].numel() == 1 && (oa.numel() == 1 || same_shape)) {
        reg_[o] = reg_[u];
        reg_group_[o] = open_->id;
        ++open_->member_uses[u];
        open_->reg_vars.push_back(o);
        return;
      }
      materialize(u);
    }
    std::vector<AVal> out_avals{oa};
    ops::TensorList res = ops::def(e.prim).cpu(ops::TensorList{bound_[u]}, out_avals, e.params);
    if (res[0].storage() != bound_[u].storage()) return lower_step(e);  // a reshape that has to copy
    bound_[o] = Tensor::make_concrete(oa, res[0].storage(), res[0].offset(), res[0].strides());
    root_[o] = root_[u];
  }

  // concatenate: one copy step per operand, each writing its slice of the (dense) result.
  void lower_concatenate(const Equation& e, const Tensor& out) {
    const int axis = static_cast<int>(e.params.get_int("axis"));
    int64_t start = 0;
    for (int u : e.inputs) {
      const AVal& ua = vars_[u];
      const int64_t len = ua.shape[size_t(axis)];
      const Tensor slice =
          Tensor::make_concrete(ua, out.storage(), start * out.strides()[size_t(axis)], out.strides());
      start += len;
      if (ua.numel() == 0) continue;
      auto fp = std::make_shared<FusedProgram>();
      fp->shape = ua.shape;
      fp->numel = ua.numel();
      fp->add_output(fp->add_input(bound_[u]), slice);
      fp->finalize();
      Step st;
      st.kind = Step::Kind::Fused;
      st.fused = fp;
      st.in_vars = {u};
      st.out_vars = {e.outputs[0]};
      st.note = "slice of " + var_name(e.outputs[0]) + " along axis " + std::to_string(axis);
      StepTraffic tr;
      tr.reads.push_back(root_[u]);
      tr.writes.push_back(e.outputs[0]);
      emit(std::move(st), std::move(tr));
    }
  }

  // A new variable that exists only in the program (not in the graph).
  int new_temp(const AVal& a) {
    vars_.push_back(a);
    for (auto* v : {&root_, &reg_, &writer_group_, &matmul_step_, &uses_}) v->push_back(-1);
    uses_.back() = 1;
    bound_.emplace_back();
    external_.push_back(false);
    return static_cast<int>(vars_.size()) - 1;
  }

  // A step that copies u into a new dense root (for a matmul operand oneDNN cannot read in place, such as
  // the broadcast ones of a gradient of a sum); returns the copy's variable.
  int dense_copy(int u) {
    const int t = new_temp(vars_[u]);
    new_root(t);
    auto fp = std::make_shared<FusedProgram>();
    fp->shape = vars_[u].shape;
    fp->numel = vars_[u].numel();
    const int r = fp->add_input(bound_[u]);
    fp->add_output(r, bound_[t]);
    fp->finalize();
    Step st;
    st.kind = Step::Kind::Fused;
    st.fused = fp;
    st.in_vars = {u};
    st.out_vars = {t};
    StepTraffic tr;
    tr.reads.push_back(root_[u]);
    tr.writes.push_back(t);
    emit(std::move(st), std::move(tr));
    return t;
  }

  void lower_step(const Equation& e) {
    bool close = false;
    for (int u : e.inputs) {
      if (in_open_group(u)) materialize(u);
      close = close || written_by_open_group(u);
    }
    if (close) close_group();
    Step st;
    st.eqn = e;
    st.in_vars = e.inputs;
    st.out_vars = e.outputs;
    StepTraffic tr;
    for (int u : e.inputs) st.in.push_back(bound_[u]);
    for (int o : e.outputs) {
      new_root(o);
      st.out.push_back(bound_[o]);
    }
    const EqClass c = classify(g_, e);
    if (e.prim == Prim::concatenate && st.out[0].numel() > 0) return lower_concatenate(e, st.out[0]);
    if (c == EqClass::Matmul) {
      st.kind = Step::Kind::Matmul;
      const bool ta = e.params.get_bool("transpose_a"), tb = e.params.get_bool("transpose_b");
      st.matmul = backend::cpu::plan_matmul(st.in[0], st.in[1], ta, tb, st.out[0]);
      if (!backend::cpu::matmul_plan_uses_onednn(*st.matmul) && st.out[0].dtype() == DType::F32 &&
          st.out[0].numel() > 0) {
        for (int k = 0; k < 2; ++k)
          if (!st.in[k].is_contiguous()) {
            st.in_vars[k] = dense_copy(e.inputs[k]);
            st.in[k] = bound_[st.in_vars[k]];
          }
        st.matmul = backend::cpu::plan_matmul(st.in[0], st.in[1], ta, tb, st.out[0]);
      }
      for (int u : st.in_vars) tr.reads_early.push_back(root_[u]);
      tr.writes_early.push_back(e.outputs[0]);
      matmul_step_[e.outputs[0]] = static_cast<int>(prog_->steps.size());
    } else {
      st.kind = c == EqClass::Reduce ? Step::Kind::Reduce : Step::Kind::Generic;
      for (int u : e.inputs) tr.reads.push_back(root_[u]);
      for (int o : e.outputs) tr.writes.push_back(o);
    }
    emit(std::move(st), std::move(tr));
  }

  // ---- outputs and memory ----
  void build_outputs() {
    std::vector<int> claimed(vars_.size(), -1);
    for (int v : g_.outputs) {
      OutputRule rule;
      rule.aval = vars_[v];
      const int arg = index_of(g_.inputs, v);
      const int r = root_[v];
      if (arg >= 0) {
        rule.kind = OutputRule::Kind::Argument;
        rule.slot = arg;
      } else if (index_of(g_.consts, v) >= 0) {
        rule.kind = OutputRule::Kind::Constant;
        rule.source = bound_[v];
      } else if (!external_[r] && claimed[r] < 0 && is_dense_full(bound_[v], bound_[r])) {
        rule.kind = OutputRule::Kind::Buffer;
        rule.slot = static_cast<int>(prog_->out_slots.size());
        claimed[r] = rule.slot;
        output_root_.push_back(r);
        prog_->out_slots.push_back(bound_[r].storage());
        prog_->out_slot_bytes.push_back(bound_[r].storage()->bytes);
      } else {
        rule.kind = OutputRule::Kind::Copy;
        rule.source = bound_[v];
        copied_roots_.push_back(r);  // read at the very end of the run: its slot must live that long
      }
      prog_->outputs.push_back(rule);
    }
    is_output_root_ = claimed;
  }

  static int index_of(const std::vector<int>& xs, int v) {
    for (size_t i = 0; i < xs.size(); ++i)
      if (xs[i] == v) return static_cast<int>(i);
    return -1;
  }

  bool in_arena(int r) const { return r >= 0 && !external_[r] && is_output_root_[r] < 0; }

  // An output may be written into a donated argument's buffer when the argument is not read after the
  // output's first write (or is read only at that write, by a fused kernel that may run in place).
  void assign_donors(const std::vector<StepTraffic>& traffic) {
    if (donated_.empty()) return;
    const size_t nv = vars_.size();
    std::vector<int> first_write(nv, INT32_MAX), last_read(nv, -1);
    for (size_t s = 0; s < traffic.size(); ++s) {
      const int early = int(2 * s), late = int(2 * s + 1);
      for (int r : traffic[s].writes_early) first_write[r] = std::min(first_write[r], early);
      for (int r : traffic[s].writes) first_write[r] = std::min(first_write[r], late);
      for (int r : traffic[s].reads_early) last_read[r] = std::max(last_read[r], early);
      for (int r : traffic[s].reads) last_read[r] = std::max(last_read[r], late);
    }
    std::vector<bool> used(g_.inputs.size(), false);
    for (OutputRule& rule : prog_->outputs) {
      if (rule.kind != OutputRule::Kind::Buffer) continue;
      const int o = output_root_[rule.slot];
      for (size_t i = 0; i < g_.inputs.size(); ++i) {
        const int a = g_.inputs[i];
        const bool copied = std::find(copied_roots_.begin(), copied_roots_.end(), a) != copied_roots_.end();
        if (i >= donated_.size() || !donated_[i] || used[i] || copied || !(vars_[a] == rule.aval) ||
            vars_[a].weak != rule.aval.weak)
          continue;
        bool ok = last_read[a] < first_write[o];
        if (!ok && last_read[a] == first_write[o] && first_write[o] % 2 == 1)
          for (auto [w, r] : traffic[size_t(first_write[o] / 2)].inplace) ok = ok || (w == o && r == a);
        if (!ok) continue;
        rule.donor = static_cast<int>(i);
        used[i] = true;
        break;
      }
    }
  }

  void plan() {
    // Drop steps whose matmul moved into an epilogue; number the arena's buffers.
    std::vector<Step> steps;
    std::vector<StepTraffic> traffic;
    for (size_t i = 0; i < prog_->steps.size(); ++i)
      if (alive_[i]) {
        steps.push_back(std::move(prog_->steps[i]));
        traffic.push_back(std::move(traffic_[i]));
      }
    prog_->steps = std::move(steps);
    std::vector<int> buf_of(vars_.size(), -1);
    std::vector<int> buf_var;
    auto buffer = [&](int r) {
      if (buf_of[r] < 0) {
        buf_of[r] = static_cast<int>(prog_->buffers.size());
        BufferRequest b;
        b.bytes = bound_[r].storage()->bytes;
        b.first = INT32_MAX;
        b.last = -1;
        prog_->buffers.push_back(b);
        buf_var.push_back(r);
      }
      return buf_of[r];
    };
    for (size_t s = 0; s < traffic.size(); ++s) {
      const int early = int(2 * s), late = int(2 * s + 1);
      auto touch = [&](const std::vector<int>& roots, int phase, bool write) {
        for (int r : roots) {
          if (!in_arena(r)) continue;
          BufferRequest& b = prog_->buffers[buffer(r)];
          if (write) b.first = std::min(b.first, phase);
          b.last = std::max(b.last, phase);
        }
      };
      touch(traffic[s].writes_early, early, true);
      touch(traffic[s].writes, late, true);
      touch(traffic[s].reads_early, early, false);
      touch(traffic[s].reads, late, false);
    }
    for (int r : copied_roots_)
      if (in_arena(r)) prog_->buffers[buffer(r)].last = int(2 * traffic.size());
    for (size_t s = 0; s < traffic.size(); ++s)
      for (auto [o, r] : traffic[s].inplace)
        if (in_arena(o) && in_arena(r)) prog_->buffers[buffer(o)].inplace_of = buffer(r);
    assign_donors(traffic);
    prog_->plan = plan_memory(prog_->buffers);
    const std::string bad = verify_plan(prog_->buffers, prog_->plan);
    if (!bad.empty())
      raise(ErrorKind::Internal, "jit", "memory plan: " + bad, {}, {}, "this is an engine bug");
    prog_->arena = allocate_cpu(prog_->plan.arena_bytes);
    for (size_t i = 0; i < buf_var.size(); ++i) {
      Storage& s = *bound_[buf_var[i]].storage();
      s.data = static_cast<char*>(prog_->arena->data) + prog_->plan.offsets[i];
    }
    // Printing notes: which results reuse a slot in place.
    for (size_t s = 0; s < prog_->steps.size(); ++s)
      for (auto [o, r] : traffic[s].inplace)
        if (in_arena(o) && in_arena(r) && prog_->plan.shares_with[buf_of[o]] == buf_of[r])
          prog_->steps[s].note +=
              (prog_->steps[s].note.empty() ? "" : ", ") + var_name(o) + " in place of " + var_name(r);
  }

  const Graph& g_;
  std::vector<AVal> vars_;  // the graph's variables, then temporaries the lowering adds (dense copies)
  const std::vector<bool>& donated_;
  std::unique_ptr<Program> prog_;
  std::vector<Tensor> bound_;
  std::vector<int> root_, reg_, writer_group_, matmul_step_, uses_, is_output_root_;
  std::vector<int> output_root_;   // per output slot: its root
  std::vector<int> copied_roots_;  // roots that Copy output rules read after the last step
  std::vector<bool> external_;
  std::vector<StepTraffic> traffic_;
  std::vector<bool> alive_;
};

}  // namespace

std::unique_ptr<Program> lower(const Graph& g, const std::vector<bool>& donated) {
  return Lowering(g, donated).run();
}

}  // namespace engine
