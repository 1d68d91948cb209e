// The cache behind a jitted function: explicit keys (input avals, a hash of static arguments, config bits),
// LRU eviction at a bound, explanations of misses against the nearest cached key, compile logging
// (QGF_LOG_COMPILES=1) and a warning after repeated retraces.
#pragma once
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "engine/compile/executable.h"

namespace engine {

struct JitOptions {
  std::string name = "jit";         // shown in logs and warnings
  size_t cache_capacity = 32;       // compiled entries kept (least recently used evicted)
  int retrace_warn_after = 8;       // warn once after this many cache misses
  uint64_t static_hash = 0;         // user-supplied hash of settings the function closes over
  std::vector<int> donate_argnums;  // positional arguments whose buffers the outputs may reuse
  // Recompute cheap elementwise intermediates in the backward pass instead of storing them: much less
  // memory, about the same time on the CPU (engine/compile/remat.cpp).
  bool remat_elementwise = false;
};

struct JitKey {
  std::vector<AVal> avals;   // of the flattened tensor arguments (weak bits included)
  uint64_t static_hash = 0;  // static (non-tensor) arguments, argument types, user hash
  uint32_t config = 0;       // engine settings that change the compiled code
  bool operator==(const JitKey& o) const;
  std::string str() const;
};

struct JitEntry {
  JitKey key;
  std::shared_ptr<Executable> exe;
  std::shared_ptr<void> out_structure;  // the traced result, used as the template to rebuild outputs
};

struct JitStats {
  uint64_t calls = 0, hits = 0, misses = 0, evictions = 0;
};

class JitCache {
 public:
  explicit JitCache(JitOptions opt) : opt_(std::move(opt)) {}
  std::shared_ptr<JitEntry> lookup(const JitKey& key);  // moves a hit to the front
  // The same, comparing the leaves' avals in place (no key is built: the hit path allocates nothing).
  std::shared_ptr<JitEntry> lookup(std::span<const Tensor> leaves, uint64_t static_hash, uint32_t config);
  // Records a compiled entry; evicts the least recently used past the capacity. `why` is explain_miss().
  void insert(std::shared_ptr<JitEntry> e, const std::string& why, double compile_ms);
  std::string explain_miss(const JitKey& key) const;  // how key differs from the nearest cached key
  JitStats stats() const;
  size_t size() const;
  const JitOptions& options() const { return opt_; }
  std::string last_warning() const;            // the last warning issued (retrace, captured constants)
  void warn_once(const std::string& message);  // prints a warning once per cache (per jitted function)

 private:
  JitOptions opt_;
  mutable std::mutex mu_;
  std::list<std::shared_ptr<JitEntry>> lru_;  // front = most recent
  JitStats stats_;
  std::string warning_;
};

bool jit_disabled();      // QGF_DISABLE_JIT=1 runs jitted functions eagerly (for debugging)
bool jit_log_compiles();  // QGF_LOG_COMPILES=1 logs every compilation with its reason
uint32_t jit_config_bits();

}  // namespace engine
