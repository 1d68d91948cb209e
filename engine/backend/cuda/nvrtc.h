// Run-time compilation of generated CUDA source with NVRTC, cached on disk. libnvrtc is opened with dlopen
// on first use rather than linked, so binaries start on machines without it (jit on CUDA then runs its
// graphs op by op; nvrtc_available() says which). Host-side C++.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace engine::backend::cuda {

// libnvrtc could be opened (searched as libnvrtc.so.13, .so.12, .so, then in the toolkit's library directory
// found at build time). The reason it could not is in nvrtc_unavailable_reason().
bool nvrtc_available();
std::string nvrtc_unavailable_reason();
std::string nvrtc_version();  // "13.0"

struct CompiledCode {
  std::vector<char> image;  // CUBIN for a real architecture ("sm_90"), PTX for a virtual one ("compute_75")
  bool cubin = false;
  bool from_disk = false;  // found in the disk cache, not compiled now
};

// Compiles `source` for `arch` ("sm_90" or "compute_75") with --std=c++17 and no fast-math, or loads the
// result of an earlier compilation of the same source, architecture and NVRTC version from the disk cache
// (cache_dir(); written atomically, checked on read). Throws engine::Error naming the kernel, with NVRTC's
// log, when the source does not compile, or when NVRTC is unavailable.
CompiledCode nvrtc_compile(const std::string& source, const std::string& kernel_name,
                           const std::string& arch);

// $QGF_CACHE_DIR, else $XDG_CACHE_HOME/qgf, else $HOME/.cache/qgf; then /nvrtc. Empty when none is set
// (nothing is cached on disk then).
std::string nvrtc_cache_dir();

// FNV-1a, 64-bit: names cache files here and fused kernels (fused_program.cpp).
uint64_t fnv1a(const std::string& s);

}  // namespace engine::backend::cuda
