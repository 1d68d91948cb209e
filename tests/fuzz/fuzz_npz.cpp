// libFuzzer target for the data readers: the input bytes go to the .npy parser as a bare array image and to the
// .npz reader as an in-memory zip (libzip's buffer source, so no temp files). Either may reject the input with
// engine::Error; anything else (a crash, a sanitizer report, another exception type, an oversized allocation)
// is a bug. Build with -DQGF_FUZZ=ON and clang (see tests/CMakeLists.txt); run
//   ./build-fuzz/tests/fuzz_npz -max_total_time=60 tests/data
// (the fixtures make a useful seed corpus; .npy seeds can be cut out of tests/data/mixed_stored.npz).
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "rl/data/npy.h"
#include "rl/data/npz.h"

namespace {

// A successful read must hand back a usable, concrete tensor; touching every byte lets ASan see bad sizes.
void touch(const engine::Tensor& t) {
  if (!t.is_concrete() || !t.is_contiguous()) {
    std::fprintf(stderr, "reader returned a non-contiguous or non-concrete tensor\n");
    std::abort();
  }
  const auto* p = static_cast<const volatile unsigned char*>(t.raw_data());
  unsigned acc = 0;
  for (int64_t i = 0, n = t.numel() * int64_t(engine::itemsize(t.dtype())); i < n; ++i) acc += p[i];
  (void)acc;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    touch(rl::read_npy(data, size, {"fuzz", "input"}));
  } catch (const engine::Error&) {
  }
  for (bool narrow : {false, true}) {
    try {
      rl::NpyOptions opts;
      opts.f64_to_f32 = narrow;
      rl::NpzFile f = rl::NpzFile::from_buffer(data, size, "fuzz.npz");
      for (const std::string& key : f.keys()) {
        try {
          touch(f.read(key, opts));
        } catch (const engine::Error&) {
        }
      }
    } catch (const engine::Error&) {
    }
  }
  return 0;
}
