// Jit cache bookkeeping and miss explanations.
#include "engine/compile/jit_cache.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace engine {

bool JitKey::operator==(const JitKey& o) const {
  if (static_hash != o.static_hash || config != o.config || avals.size() != o.avals.size()) return false;
  for (size_t i = 0; i < avals.size(); ++i)
    if (!(avals[i] == o.avals[i]) || avals[i].weak != o.avals[i].weak) return false;
  return true;
}

std::string JitKey::str() const {
  return "(" + avals_str(avals) + "; static=" + std::to_string(static_hash) +
         "; config=" + std::to_string(config) + ")";
}

std::shared_ptr<JitEntry> JitCache::lookup(const JitKey& key) {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.calls++;
  for (auto it = lru_.begin(); it != lru_.end(); ++it)
    if ((*it)->key == key) {
      stats_.hits++;
      if (it != lru_.begin()) lru_.splice(lru_.begin(), lru_, it);
      return lru_.front();
    }
  stats_.misses++;
  return nullptr;
}

std::shared_ptr<JitEntry> JitCache::lookup(std::span<const Tensor> leaves, uint64_t static_hash,
                                           uint32_t config) {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.calls++;
  for (auto it = lru_.begin(); it != lru_.end(); ++it) {
    const JitKey& k = (*it)->key;
    if (k.static_hash != static_hash || k.config != config || k.avals.size() != leaves.size()) continue;
    bool same = true;
    for (size_t i = 0; i < leaves.size() && same; ++i)
      same = k.avals[i] == leaves[i].aval() && k.avals[i].weak == leaves[i].weak();
    if (!same) continue;
    stats_.hits++;
    if (it != lru_.begin()) lru_.splice(lru_.begin(), lru_, it);
    return lru_.front();
  }
  stats_.misses++;
  return nullptr;
}

void JitCache::insert(std::shared_ptr<JitEntry> e, const std::string& why, double compile_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  if (jit_log_compiles())
    std::fprintf(stderr, "[jit] compiling %s for %s in %.2f ms: %s\n", opt_.name.c_str(),
                 e->key.str().c_str(), compile_ms, why.c_str());
  lru_.push_front(std::move(e));
  while (lru_.size() > opt_.cache_capacity) {
    lru_.pop_back();
    stats_.evictions++;
  }
  if (warning_.empty() && opt_.retrace_warn_after > 0 && stats_.misses >= uint64_t(opt_.retrace_warn_after)) {
    warning_ = "[jit] warning: " + opt_.name + " has been traced " + std::to_string(stats_.misses) +
               " times; the last retrace was because " + why +
               ". Keep input shapes and static arguments fixed, or raise cache_capacity if this is intended.";
    std::fprintf(stderr, "%s\n", warning_.c_str());
  }
}

std::string JitCache::explain_miss(const JitKey& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (lru_.empty()) return "first call";
  // The nearest cached key: fewest differing fields.
  const JitKey* best = nullptr;
  int best_diff = 1 << 30;
  for (const auto& e : lru_) {
    const JitKey& k = e->key;
    int d = (k.static_hash != key.static_hash) + (k.config != key.config) +
            (k.avals.size() != key.avals.size()) * 100;
    for (size_t i = 0; i < std::min(k.avals.size(), key.avals.size()); ++i)
      d += !(k.avals[i] == key.avals[i]) || k.avals[i].weak != key.avals[i].weak;
    if (d < best_diff) {
      best_diff = d;
      best = &k;
    }
  }
  std::string why;
  auto add = [&](const std::string& s) { why += (why.empty() ? "" : "; ") + s; };
  if (best->avals.size() != key.avals.size())
    add("the number of tensor arguments changed from " + std::to_string(best->avals.size()) + " to " +
        std::to_string(key.avals.size()));
  for (size_t i = 0; i < std::min(best->avals.size(), key.avals.size()); ++i)
    if (!(best->avals[i] == key.avals[i]) || best->avals[i].weak != key.avals[i].weak)
      add("tensor argument " + std::to_string(i) + " is " + key.avals[i].str() +
          " but the nearest cached entry has " + best->avals[i].str());
  if (best->static_hash != key.static_hash)
    add("the static arguments (or their types, or static_hash) changed");
  if (best->config != key.config) add("engine configuration bits changed");
  return why.empty() ? "unknown" : why;
}

JitStats JitCache::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

size_t JitCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lru_.size();
}

std::string JitCache::last_warning() const {
  std::lock_guard<std::mutex> lock(mu_);
  return warning_;
}

void JitCache::warn_once(const std::string& message) {
  std::lock_guard<std::mutex> lock(mu_);
  if (warning_ == message) return;
  warning_ = message;
  std::fprintf(stderr, "%s\n", message.c_str());
}

namespace {
bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v && *v && std::strcmp(v, "0") != 0;
}
}  // namespace

bool jit_disabled() { return env_flag("QGF_DISABLE_JIT"); }
bool jit_log_compiles() { return env_flag("QGF_LOG_COMPILES"); }
uint32_t jit_config_bits() { return 0; }

}  // namespace engine
