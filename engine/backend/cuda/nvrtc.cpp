// NVRTC through dlopen, and the disk cache of compiled kernels (see nvrtc.h).
#include "engine/backend/cuda/nvrtc.h"

#include <dlfcn.h>
#include <nvrtc.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <type_traits>

#include "engine/core/error.h"

namespace engine::backend::cuda {

namespace {

namespace fs = std::filesystem;

// The entry points used, resolved once.
struct Nvrtc {
  bool ok = false;
  std::string why;
  decltype(&::nvrtcVersion) version = nullptr;
  decltype(&::nvrtcCreateProgram) create = nullptr;
  decltype(&::nvrtcCompileProgram) compile = nullptr;
  decltype(&::nvrtcGetProgramLogSize) log_size = nullptr;
  decltype(&::nvrtcGetProgramLog) log = nullptr;
  decltype(&::nvrtcGetCUBINSize) cubin_size = nullptr;
  decltype(&::nvrtcGetCUBIN) cubin = nullptr;
  decltype(&::nvrtcGetPTXSize) ptx_size = nullptr;
  decltype(&::nvrtcGetPTX) ptx = nullptr;
  decltype(&::nvrtcDestroyProgram) destroy = nullptr;
  decltype(&::nvrtcGetErrorString) error_string = nullptr;
};

const Nvrtc& lib() {
  static Nvrtc n = [] {
    Nvrtc r;
    std::vector<std::string> names = {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"};
#ifdef QGF_CUDA_LIB_DIR
    names.push_back(std::string(QGF_CUDA_LIB_DIR) + "/libnvrtc.so");
#endif
    void* h = nullptr;
    for (const std::string& name : names)
      if ((h = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL))) break;
    if (!h) {
      r.why = "libnvrtc was not found (tried libnvrtc.so.13, .so.12, .so and the toolkit's lib64)";
      return r;
    }
    bool all = true;
    auto get = [&](auto& fn, const char* sym) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(h, sym));
      all = all && fn;
    };
    get(r.version, "nvrtcVersion");
    get(r.create, "nvrtcCreateProgram");
    get(r.compile, "nvrtcCompileProgram");
    get(r.log_size, "nvrtcGetProgramLogSize");
    get(r.log, "nvrtcGetProgramLog");
    get(r.cubin_size, "nvrtcGetCUBINSize");
    get(r.cubin, "nvrtcGetCUBIN");
    get(r.ptx_size, "nvrtcGetPTXSize");
    get(r.ptx, "nvrtcGetPTX");
    get(r.destroy, "nvrtcDestroyProgram");
    get(r.error_string, "nvrtcGetErrorString");
    if (!all) {
      r.why = "libnvrtc lacks an entry point this build uses (too old?)";
      return r;
    }
    r.ok = true;
    return r;
  }();
  return n;
}

constexpr char kMagic[] = "QGF-NVRTC-1\n";

std::vector<char> read_cached(const std::string& path, const std::string& key) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  const std::string all((std::istreambuf_iterator<char>(in)), {});
  const std::string head = kMagic + key + "\n";
  if (all.size() <= head.size() || all.compare(0, head.size(), head) != 0) return {};  // stale or damaged
  return std::vector<char>(all.begin() + long(head.size()), all.end());
}

void write_cached(const std::string& path, const std::string& key, const std::vector<char>& image) {
  // Best effort: a cache that cannot be written costs a recompilation next time, nothing else.
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  if (ec) return;
  const std::string tmp = path + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return;
    out << kMagic << key << "\n";
    out.write(image.data(), std::streamsize(image.size()));
    if (!out.flush()) {
      fs::remove(tmp, ec);
      return;
    }
  }
  fs::rename(tmp, path, ec);
  if (ec) fs::remove(tmp, ec);
}

}  // namespace

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

bool nvrtc_available() { return lib().ok; }
std::string nvrtc_unavailable_reason() { return lib().why; }

std::string nvrtc_version() {
  if (!lib().ok) return "unavailable";
  int major = 0, minor = 0;
  lib().version(&major, &minor);
  return std::to_string(major) + "." + std::to_string(minor);
}

std::string nvrtc_cache_dir() {
  if (const char* d = std::getenv("QGF_CACHE_DIR"); d && *d) return std::string(d) + "/nvrtc";
  if (const char* d = std::getenv("XDG_CACHE_HOME"); d && *d) return std::string(d) + "/qgf/nvrtc";
  if (const char* d = std::getenv("HOME"); d && *d) return std::string(d) + "/.cache/qgf/nvrtc";
  return "";
}

CompiledCode nvrtc_compile(const std::string& source, const std::string& kernel_name,
                           const std::string& arch) {
  const Nvrtc& n = lib();
  if (!n.ok)
    raise(ErrorKind::Unsupported, "nvrtc", n.why, {}, {},
          "install the CUDA toolkit's NVRTC (libnvrtc), or set QGF_CUDA_FUSION=0 to run jit op by op");
  const bool real = arch.rfind("sm_", 0) == 0;
  // --fmad=false: no contraction of a multiply and an add into an FMA. The eager kernels compute each op
  // separately and round in between; a fused kernel must round the same way to give the same numbers.
  const std::string arch_flag = "-arch=" + arch;
  const char* opts[] = {"--std=c++17", arch_flag.c_str(), "-default-device", "--fmad=false"};
  std::string flags;
  for (const char* o : opts) flags += std::string(o) + " ";
  // The whole source is part of the key, stored in the file and compared on read: a hash collision between
  // two kernels' names cannot load the wrong code.
  const std::string key = "nvrtc " + nvrtc_version() + " " + flags + kernel_name + "\n" + source;
  const std::string dir = nvrtc_cache_dir();
  char hex[32];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv1a(key)));
  const std::string path = dir.empty() ? "" : dir + "/" + hex + (real ? ".cubin" : ".ptx");
  if (!path.empty())
    if (std::vector<char> image = read_cached(path, key); !image.empty())
      return {std::move(image), real, true};

  nvrtcProgram prog = nullptr;
  auto fail = [&](const std::string& what, nvrtcResult r) {
    std::string log;
    size_t size = 0;
    if (prog && n.log_size(prog, &size) == NVRTC_SUCCESS && size > 1) {
      log.resize(size);
      n.log(prog, log.data());
    }
    if (prog) n.destroy(&prog);
    raise(ErrorKind::Internal, "nvrtc",
          what + " of kernel " + kernel_name + " for " + arch + " failed: " + n.error_string(r) +
              (log.empty() ? "" : "\n" + log),
          {}, {},
          "this is a bug in the generated source; set QGF_CUDA_FUSION=0 to run jit op by op meanwhile");
  };
  nvrtcResult r = n.create(&prog, source.c_str(), (kernel_name + ".cu").c_str(), 0, nullptr, nullptr);
  if (r != NVRTC_SUCCESS) fail("creating the program", r);
  // -default-device: functions without an execution space are device functions (the functors' helpers).
  r = n.compile(prog, int(sizeof opts / sizeof opts[0]), opts);
  if (r != NVRTC_SUCCESS) fail("compiling", r);
  CompiledCode out;
  out.cubin = real;
  size_t size = 0;
  r = real ? n.cubin_size(prog, &size) : n.ptx_size(prog, &size);
  if (r != NVRTC_SUCCESS) fail("sizing the output", r);
  out.image.resize(size);
  r = real ? n.cubin(prog, out.image.data()) : n.ptx(prog, out.image.data());
  if (r != NVRTC_SUCCESS) fail("reading the output", r);
  n.destroy(&prog);
  if (!path.empty()) write_cached(path, key, out.image);
  return out;
}

}  // namespace engine::backend::cuda
