// Arena planning by interval packing.
#include "engine/compile/memory_plan.h"

#include <algorithm>
#include <numeric>

namespace engine {

namespace {
size_t align_up(size_t n) { return (n + kArenaAlign - 1) / kArenaAlign * kArenaAlign; }
bool lifetimes_overlap(int a0, int a1, int b0, int b1) { return a0 <= b1 && b0 <= a1; }
}  // namespace

MemoryPlan plan_memory(const std::vector<BufferRequest>& buffers) {
  const int n = static_cast<int>(buffers.size());
  MemoryPlan plan;
  plan.offsets.assign(n, 0);
  plan.shares_with.assign(n, -1);
  // Merge in-place chains into groups: a buffer joins its source's group when the source's group ends
  // exactly where it begins (the source dies at the step that writes it) and the sizes agree.
  std::vector<int> group(n);
  std::iota(group.begin(), group.end(), 0);
  std::vector<int> g_first(n), g_last(n);
  std::vector<size_t> g_bytes(n);
  std::vector<int> g_tail(n);  // the group's newest member: only it can hand its slot on
  for (int i = 0; i < n; ++i) {
    g_first[i] = buffers[i].first;
    g_last[i] = buffers[i].last;
    g_bytes[i] = align_up(buffers[i].bytes);
    g_tail[i] = i;
  }
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return buffers[a].first < buffers[b].first; });
  for (int i : order) {
    int src = buffers[i].inplace_of;
    if (src < 0 || src >= n || src == i) continue;
    int g = group[src];
    if (g_tail[g] != src || g_last[g] != buffers[i].first || buffers[src].last != buffers[i].first ||
        buffers[src].first >= buffers[i].first || g_bytes[g] != align_up(buffers[i].bytes))
      continue;
    group[i] = g;
    g_tail[g] = i;
    g_last[g] = std::max(g_last[g], buffers[i].last);
    plan.shares_with[i] = src;
  }
  // Pack groups, largest first.
  std::vector<int> roots;
  for (int i = 0; i < n; ++i)
    if (group[i] == i) roots.push_back(i);
  std::stable_sort(roots.begin(), roots.end(), [&](int a, int b) {
    return g_bytes[a] != g_bytes[b] ? g_bytes[a] > g_bytes[b] : g_first[a] < g_first[b];
  });
  std::vector<int> placed;
  std::vector<size_t> g_offset(n, 0);
  for (int r : roots) {
    std::vector<std::pair<size_t, size_t>> busy;  // [begin, end) of overlapping placed groups
    for (int p : placed)
      if (lifetimes_overlap(g_first[r], g_last[r], g_first[p], g_last[p]) && g_bytes[p] > 0)
        busy.emplace_back(g_offset[p], g_offset[p] + g_bytes[p]);
    std::sort(busy.begin(), busy.end());
    size_t off = 0;
    for (auto [b, e] : busy) {
      if (off + g_bytes[r] <= b) break;
      off = std::max(off, e);
    }
    g_offset[r] = off;
    plan.arena_bytes = std::max(plan.arena_bytes, off + g_bytes[r]);
    placed.push_back(r);
  }
  for (int i = 0; i < n; ++i) plan.offsets[i] = g_offset[group[i]];
  return plan;
}

std::string verify_plan(const std::vector<BufferRequest>& buffers, const MemoryPlan& plan) {
  const size_t n = buffers.size();
  if (plan.offsets.size() != n) return "plan has a wrong number of offsets";
  size_t total = 0;
  for (const auto& b : buffers) total += align_up(b.bytes);
  if (plan.arena_bytes > total) return "arena larger than the sum of the buffers";
  for (size_t i = 0; i < n; ++i) {
    if (plan.offsets[i] % kArenaAlign) return "buffer " + std::to_string(i) + " is misaligned";
    if (plan.offsets[i] + buffers[i].bytes > plan.arena_bytes)
      return "buffer " + std::to_string(i) + " exceeds the arena";
  }
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i + 1; j < n; ++j) {
      const auto &a = buffers[i], &b = buffers[j];
      if (a.bytes == 0 || b.bytes == 0) continue;
      if (!lifetimes_overlap(a.first, a.last, b.first, b.last)) continue;
      // An in-place pair touches at one step: the source is read while the result is written, elementwise.
      bool inplace_pair = (plan.shares_with[j] == int(i) && a.last == b.first) ||
                          (plan.shares_with[i] == int(j) && b.last == a.first);
      if (inplace_pair) continue;
      bool disjoint =
          plan.offsets[i] + a.bytes <= plan.offsets[j] || plan.offsets[j] + b.bytes <= plan.offsets[i];
      if (!disjoint)
        return "buffers " + std::to_string(i) + " and " + std::to_string(j) +
               " are live together but overlap";
    }
  return {};
}

}  // namespace engine
