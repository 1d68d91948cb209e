// CPU caching allocator: blocks are rounded to size classes (64-byte multiples up to 4 KiB, then four classes
// per power of two), and freed blocks wait in per-class free lists. The cache is bounded; past the bound,
// freed blocks go back to the system.
#include "engine/core/storage.h"

#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace engine {

namespace {

constexpr size_t kAlign = 64;
constexpr size_t kMaxCachedBytes = size_t(2) << 30;

size_t size_class(size_t bytes) {
  if (bytes <= 4096) return (bytes + kAlign - 1) / kAlign * kAlign;
  size_t p = 4096;
  while (p * 2 < bytes) p *= 2;
  size_t step = p / 4;  // four classes between p and 2p
  return (bytes + step - 1) / step * step;
}

struct Cache {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> free_lists;
  AllocatorStats stats;
};

Cache& cache() {
  static Cache* c = new Cache();  // leaked on purpose: tensors may die during static destruction
  return *c;
}

}  // namespace

std::shared_ptr<Storage> allocate_cpu(size_t bytes) {
  size_t cls = size_class(bytes == 0 ? 1 : bytes);
  Cache& c = cache();
  void* p = nullptr;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    c.stats.allocations++;
    auto it = c.free_lists.find(cls);
    if (it != c.free_lists.end() && !it->second.empty()) {
      p = it->second.back();
      it->second.pop_back();
      c.stats.cache_hits++;
      c.stats.cached_bytes -= cls;
    } else {
      c.stats.system_allocs++;
    }
    c.stats.live_bytes += cls;
  }
  if (!p) {
    p = std::aligned_alloc(kAlign, cls);
    if (!p) throw std::bad_alloc();
  }
  auto s = std::make_shared<Storage>();
  s->data = p;
  s->bytes = cls;
  s->device = Device::CPU;
  return s;
}

std::shared_ptr<Storage> allocate(size_t bytes, Device device) {
  if (device == Device::CPU) return allocate_cpu(bytes);
  require_device(device, "allocate");
  auto s = std::make_shared<Storage>();
  s->data = device_backend(device)->allocate(bytes);
  s->bytes = bytes;
  s->device = device;
  return s;
}

Storage::~Storage() {
  if (!data || borrowed) return;
  if (device != Device::CPU) {
    if (const DeviceBackend* b = device_backend(device)) b->deallocate(data);
    return;
  }
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.stats.live_bytes -= bytes;
  if (c.stats.cached_bytes + bytes > kMaxCachedBytes) {
    std::free(data);
    return;
  }
  c.free_lists[bytes].push_back(data);
  c.stats.cached_bytes += bytes;
}

AllocatorStats cpu_allocator_stats() {
  std::lock_guard<std::mutex> lock(cache().mu);
  return cache().stats;
}

void cpu_allocator_release_cache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  for (auto& [cls, list] : c.free_lists)
    for (void* p : list) std::free(p);
  c.free_lists.clear();
  c.stats.cached_bytes = 0;
}

}  // namespace engine
