// Running and printing lowered programs (program.h).
#include "engine/compile/program.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "engine/backend/cpu/loops.h"
#include "ops/registry.h"

namespace engine {

namespace {

void run_generic(const Step& st) {
  std::vector<AVal> out_avals;
  for (const Tensor& o : st.out) out_avals.push_back(o.aval());
  ops::TensorList res = ops::def(st.eqn.prim).cpu(st.in, out_avals, st.eqn.params);
  for (size_t k = 0; k < st.out.size(); ++k)
    backend::cpu::strided_copy(st.out[k].raw_mutable_data(), st.out[k].strides(), res[k].raw_data(),
                               res[k].strides(), st.out[k].shape(), itemsize(st.out[k].dtype()));
}

void run_step(const Step& st) {
  switch (st.kind) {
    case Step::Kind::Fused:
      return backend::cpu::run_fused(*st.fused);
    case Step::Kind::Matmul:
      backend::cpu::run_matmul(*st.matmul);
      if (st.fused) backend::cpu::run_fused(*st.fused);
      return;
    case Step::Kind::Reduce:
      return backend::cpu::reduce_into(st.eqn.prim, st.in[0], st.eqn.params.get_ints("axes"), st.out[0]);
    case Step::Kind::Generic:
      return run_generic(st);
  }
}

// A pooled output can be handed out again when nobody but the pool holds it (nor a view of its storage).
bool reusable(const Tensor& t) {
  return t.defined() && t.impl_ptr().use_count() == 1 && t.storage().use_count() == 1;
}

}  // namespace

// A donated argument's buffer is written only when it is the argument's own (not a staged copy) and no other
// argument shares its storage (the program would read overwritten values through the other argument).
bool Program::donation_possible(std::span<const Tensor> args, int donor) const {
  if (staged_args_[size_t(donor)].defined()) return false;
  const Storage* s = args[size_t(donor)].storage().get();
  for (size_t j = 0; j < args.size(); ++j)
    if (j != size_t(donor) && args[j].storage().get() == s) return false;
  return true;
}

bool profiling_enabled() {
  static const bool on = [] {
    const char* v = std::getenv("QGF_PROFILE_STEPS");
    return v && *v && std::string(v) != "0";
  }();
  return on;
}

std::string Program::profile_str(const Graph& g) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (profiled_runs_ == 0) return "no profiled runs (set QGF_PROFILE_STEPS=1)\n";
  const std::string text = str(g);
  std::string out;
  size_t pos = 0;
  for (size_t i = 0; i < steps.size(); ++i) {
    const size_t eol = text.find('\n', pos);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%9.1f us ", step_ns_[i] / 1e3 / double(profiled_runs_));
    out += buf + text.substr(pos, eol - pos).substr(0, 160) + "\n";
    pos = eol + 1;
  }
  return out;
}

void Program::run(std::span<const Tensor> args, std::span<Tensor> results) const {
  std::lock_guard<std::mutex> lock(mu_);
  staged_args_.resize(arg_slots.size());
  for (size_t i = 0; i < arg_slots.size(); ++i) {
    const Tensor* a = &args[i];
    if (!backend::cpu::dense(*a)) {  // bound tensors assume row-major arguments
      staged_args_[i] = a->contiguous();
      a = &staged_args_[i];
    }
    arg_slots[i]->data = const_cast<void*>(a->raw_data());
  }
  pool_.resize(outputs.size());
  for (size_t k = 0; k < outputs.size(); ++k) {
    const OutputRule& rule = outputs[k];
    if (rule.kind != OutputRule::Kind::Buffer) continue;
    if (rule.donor >= 0 && donation_possible(args, rule.donor)) {
      results[k] = args[rule.donor];
      out_slots[rule.slot]->data = arg_slots[rule.donor]->data;
      continue;
    }
    std::array<Tensor, kPoolDepth>& pool = pool_[k];
    int pick = -1;
    for (int j = 0; j < kPoolDepth && pick < 0; ++j)
      if (reusable(pool[j])) pick = j;
    if (pick < 0) {
      pick = 0;
      for (int j = 0; j < kPoolDepth; ++j)
        if (!pool[j].defined()) pick = j;
      pool[pick] = Tensor::make_concrete(rule.aval, allocate_cpu(out_slot_bytes[rule.slot]), 0,
                                         contiguous_strides(rule.aval.shape));
    }
    // Rotate so that the buffer just handed out is tried last next time.
    std::rotate(pool.begin(), pool.begin() + pick + 1, pool.end());
    results[k] = pool[kPoolDepth - 1];
    out_slots[rule.slot]->data = results[k].storage()->data;
  }
  if (profiling_enabled()) {
    step_ns_.resize(steps.size());
    for (size_t i = 0; i < steps.size(); ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      run_step(steps[i]);
      step_ns_[i] += std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    }
    ++profiled_runs_;
  } else {
    for (const Step& st : steps) run_step(st);
  }
  for (size_t k = 0; k < outputs.size(); ++k) {
    const OutputRule& rule = outputs[k];
    switch (rule.kind) {
      case OutputRule::Kind::Buffer:
        break;
      case OutputRule::Kind::Argument:
        results[k] = args[rule.slot];
        break;
      case OutputRule::Kind::Constant:
        results[k] = rule.source;
        break;
      case OutputRule::Kind::Copy: {
        Tensor t = Tensor::empty(rule.aval.shape, rule.aval.dtype);
        t.impl()->aval.weak = rule.aval.weak;
        backend::cpu::strided_copy(t.raw_mutable_data(), t.strides(), rule.source.raw_data(),
                                   rule.source.strides(), rule.aval.shape, itemsize(rule.aval.dtype));
        results[k] = t;
        break;
      }
    }
  }
  for (Tensor& t : staged_args_) t = Tensor();
}

std::string Program::str(const Graph&) const {
  auto names = [&](const std::vector<int>& vs, bool typed) {
    std::string s;
    for (int v : vs) s += (s.empty() ? "" : " ") + var_name(v) + (typed ? ":" + vars[v].str() : "");
    return s;
  };
  std::string s;
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step& st = steps[i];
    std::string line = std::to_string(i) + ": ";
    switch (st.kind) {
      case Step::Kind::Fused:
        line += st.fused->str() + " " + names(st.in_vars, false) + " -> " + names(st.out_vars, true);
        break;
      case Step::Kind::Matmul: {
        line += "matmul";
        const std::string ps = st.eqn.params.str();
        if (!ps.empty()) line += "[" + ps + "]";
        line += " " + names(st.in_vars, false) + " -> " + names(st.out_vars, true);
        if (st.fused) line += " + epilogue " + st.fused->str();
        if (!backend::cpu::matmul_plan_uses_onednn(*st.matmul)) line += " (eager path)";
        break;
      }
      case Step::Kind::Reduce:
      case Step::Kind::Generic: {
        line += ops::prim_name(st.eqn.prim);
        const std::string ps = st.eqn.params.str();
        if (!ps.empty()) line += "[" + ps + "]";
        line += " " + names(st.in_vars, false) + " -> " + names(st.out_vars, true);
        if (st.kind == Step::Kind::Generic) line += " (eager kernel)";
        break;
      }
    }
    if (!st.note.empty()) line += "  # " + st.note;
    s += "  " + line + "\n";
  }
  size_t total = 0;
  for (const BufferRequest& b : buffers) total += (b.bytes + kArenaAlign - 1) / kArenaAlign * kArenaAlign;
  s += "  arena: " + std::to_string(buffers.size()) + " buffers, " + std::to_string(plan.arena_bytes) +
       " bytes (unshared: " + std::to_string(total) + ")\n";
  return s;
}

}  // namespace engine
