// Device memory blocks shared by tensors, and the CPU caching allocator behind them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "engine/core/device.h"

namespace engine {

// A block of memory. Views (transpose, slice, broadcast) share one Storage through shared_ptr.
struct Storage {
  void* data = nullptr;
  size_t bytes = 0;
  Device device = Device::CPU;
  // A borrowed block belongs to someone else (a compiled executable's arena, a caller's buffer bound for one
  // run): the Storage only points at it and never frees it.
  bool borrowed = false;
  Storage() = default;
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  ~Storage();
};

// 64-byte aligned, from the caching allocator (freed blocks are kept by size class and reused, so eager
// code does not pay malloc/free per op). Zero-byte requests return a valid Storage with a non-null pointer.
std::shared_ptr<Storage> allocate_cpu(size_t bytes);
// On any device: the CPU caching allocator, or the device backend's allocator (which raises when the device is
// not available).
std::shared_ptr<Storage> allocate(size_t bytes, Device device);

struct AllocatorStats {
  uint64_t allocations = 0;   // calls to allocate_cpu
  uint64_t cache_hits = 0;    // served from the cache
  uint64_t system_allocs = 0; // went to the system allocator
  size_t cached_bytes = 0;    // held in the cache now
  size_t live_bytes = 0;      // handed out and not yet returned
};
AllocatorStats cpu_allocator_stats();
void cpu_allocator_release_cache();  // returns cached blocks to the system

}  // namespace engine
