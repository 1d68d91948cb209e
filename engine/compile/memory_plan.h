// Memory planning for compiled executables: every intermediate buffer gets an offset in one arena, packed by
// lifetime so buffers that are never live at the same time share memory. A buffer may name an in-place
// source (an operand that dies at the step that defines it, of the same size): it then takes the source's
// slot, which is what lets elementwise chains and optimizer updates run without new memory.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace engine {

struct BufferRequest {
  size_t bytes = 0;
  int first = 0;        // step that writes it (inputs: -1)
  int last = 0;         // last step that reads it (>= first); outputs live to the end
  int inplace_of = -1;  // index of a buffer whose slot this one may take (it must die at `first`)
};

struct MemoryPlan {
  std::vector<size_t> offsets;  // per buffer, 64-byte aligned
  size_t arena_bytes = 0;
  std::vector<int> shares_with;  // per buffer: the buffer whose slot it took in place, or -1
};

inline constexpr size_t kArenaAlign = 64;

// Greedy-by-size interval packing (largest first, lowest fitting offset), after merging in-place chains.
MemoryPlan plan_memory(const std::vector<BufferRequest>& buffers);
// Checks the plan's invariants; returns "" or a description of the first violation.
std::string verify_plan(const std::vector<BufferRequest>& buffers, const MemoryPlan& plan);

}  // namespace engine
