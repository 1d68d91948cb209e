// libFuzzer target for the memory planner: decodes buffers from the input bytes and aborts if the plan
// breaks an invariant. Build with -DQGF_FUZZ=ON and clang (see tests/CMakeLists.txt); run
//   ./build-fuzz/tests/fuzz_memory_plan -max_total_time=60
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <vector>

#include "engine/compile/memory_plan.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<engine::BufferRequest> bs;
  for (size_t i = 0; i + 4 <= size && bs.size() < 64; i += 4) {
    engine::BufferRequest b;
    b.first = int(data[i] % 32) - 1;
    b.last = std::max(b.first, 0) + int(data[i + 1] % 16);
    b.bytes = size_t(data[i + 2]) * 37;
    b.inplace_of = (data[i + 3] & 1) && !bs.empty() ? int(data[i + 3] >> 1) % int(bs.size()) : -1;
    bs.push_back(b);
  }
  auto plan = engine::plan_memory(bs);
  auto err = engine::verify_plan(bs, plan);
  if (!err.empty()) {
    std::fprintf(stderr, "%s\n", err.c_str());
    std::abort();
  }
  return 0;
}
