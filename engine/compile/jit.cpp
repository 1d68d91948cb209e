// Non-template parts of jit.
#include "engine/compile/jit.h"

namespace engine::detail {

bool has_traced_constants(const Graph& g) {
  for (const Tensor& c : g.const_values)
    if (!c.is_concrete()) return true;
  return false;
}

void warn_captured_constants(JitCache& cache, const Graph& g) {
  for (const Tensor& c : g.const_values) {
    if (!c.is_concrete() || c.numel() <= 1) continue;
    cache.warn_once(
        "[jit] warning: " + cache.options().name + " captures a concrete tensor " + c.aval().str() +
        " as a constant of the compiled function; pass it as an argument instead, so that new values "
        "are seen and it is not copied into every compiled version");
    return;
  }
}

namespace {
struct ScratchPool {
  std::vector<Tensor> leaves, outs;
  bool busy = false;
};
thread_local ScratchPool t_pool;
}  // namespace

JitScratch::JitScratch() {
  if (!t_pool.busy) {
    t_pool.busy = true;
    leaves_ = &t_pool.leaves;
    outs_ = &t_pool.outs;
  } else {
    leaves_ = &own_leaves_;
    outs_ = &own_outs_;
  }
}

JitScratch::~JitScratch() {
  leaves_->clear();
  outs_->clear();
  if (leaves_ == &t_pool.leaves) t_pool.busy = false;
}

}  // namespace engine::detail
