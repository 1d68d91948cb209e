// CUDA runtime: device discovery, the stream, the stream-ordered allocator (cudaMallocAsync from the device's
// default pool, with its release threshold raised so freed blocks stay cached like the CPU allocator's), and
// the DeviceBackend hooks the core uses for transfers.
#include "engine/backend/cuda/runtime.h"

#include <cstdint>
#include <cstdio>
#include <limits>
#include <mutex>
#include <string>

#include "engine/core/device.h"
#include "engine/core/error.h"

namespace engine::backend::cuda {

namespace {

struct Runtime {
  bool present = false;
  int device = 0;
  cudaStream_t stream = nullptr;
  cudaDeviceProp props{};
};

Runtime& runtime() {
  static Runtime* rt = [] {
    auto* r = new Runtime();  // leaked: device tensors may be freed during static destruction
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
      (void)cudaGetLastError();  // clear the sticky "no device" error
      return r;
    }
    check(cudaSetDevice(r->device), "cuda", "cudaSetDevice");
    check(cudaGetDeviceProperties(&r->props, r->device), "cuda", "cudaGetDeviceProperties");
    check(cudaStreamCreateWithFlags(&r->stream, cudaStreamNonBlocking), "cuda", "cudaStreamCreate");
    cudaMemPool_t pool;
    check(cudaDeviceGetDefaultMemPool(&pool, r->device), "cuda", "cudaDeviceGetDefaultMemPool");
    uint64_t keep = std::numeric_limits<uint64_t>::max();
    check(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep), "cuda",
          "cudaMemPoolSetAttribute");
    r->present = true;
    return r;
  }();
  return *rt;
}

// Set while this thread captures a CUDA graph on its own stream (StreamOverride): other threads keep using
// the shared stream, so their work never lands in the graph.
thread_local cudaStream_t t_override = nullptr;

cudaStream_t current(const Runtime& r) { return t_override ? t_override : r.stream; }

const Runtime& ready(const char* op) {
  const Runtime& r = runtime();
  if (!r.present) require_device(Device::CUDA, op);  // raises "no cuda device is present"
  return r;
}

void* allocate(size_t bytes) {
  const Runtime& r = ready("allocate");
  void* p = nullptr;
  if (bytes == 0) bytes = 1;  // a valid, distinct pointer for empty tensors, as on the CPU
  const cudaError_t err = cudaMallocAsync(&p, bytes, current(r));
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    raise(ErrorKind::Value, "allocate",
          "cannot allocate " + std::to_string(bytes) + " bytes on the GPU: " + cudaGetErrorString(err), {},
          {}, "free device tensors you no longer need, or use smaller batches");
  }
  return p;
}

void deallocate(void* p) {
  if (!runtime().present) return;
  (void)cudaFreeAsync(p, current(runtime()));  // stream-ordered: pending kernels that read p finish first
}

void copy_to_host(void* dst, const void* src, size_t bytes) {
  const Runtime& r = ready("to_device");
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, current(r)), "to_device",
        "cudaMemcpyAsync D2H");
  check(cudaStreamSynchronize(current(r)), "to_device", "cudaStreamSynchronize");
}

void copy_from_host(void* dst, const void* src, size_t bytes) {
  const Runtime& r = ready("to_device");
  // From pageable memory this returns once the source has been staged, so the caller may reuse it.
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, current(r)), "to_device",
        "cudaMemcpyAsync H2D");
}

void copy_on_device(void* dst, const void* src, size_t bytes) {
  const Runtime& r = ready("copy");
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, current(r)), "copy",
        "cudaMemcpyAsync D2D");
}

std::string describe() {
  const Runtime& r = ready("describe_device");
  char buf[96];
  std::snprintf(buf, sizeof buf, " (sm_%d%d, %d SMs, %.1f GiB)", r.props.major, r.props.minor,
                r.props.multiProcessorCount, double(r.props.totalGlobalMem) / double(1ull << 30));
  return std::string(r.props.name) + buf;
}

}  // namespace

cudaStream_t stream() { return current(ready("cuda")); }

StreamOverride::StreamOverride(cudaStream_t s) : previous_(t_override) { t_override = s; }
StreamOverride::~StreamOverride() { t_override = previous_; }

void check(cudaError_t err, const char* op, const char* what) {
  if (err == cudaSuccess) return;
  (void)cudaGetLastError();
  raise(ErrorKind::Internal, op, std::string("CUDA error in ") + what + ": " + cudaGetErrorString(err), {},
        {}, "run the program under compute-sanitizer to locate it");
}

void check_launch(const char* op) { check(cudaGetLastError(), op, "kernel launch"); }

Tensor empty(const Shape& shape, DType dtype) { return Tensor::empty(shape, dtype, Device::CUDA); }

void synchronize() { check(cudaStreamSynchronize(stream()), "synchronize", "cudaStreamSynchronize"); }

bool gpu_present() { return runtime().present; }

int sm_count() { return ready("cuda").props.multiProcessorCount; }

void register_device() {
  // Once: the device lookup (engine/core/device.cpp) and the kernel registry both ask for it, and
  // re-registering would rewrite the hooks while other threads may be calling them.
  static std::once_flag once;
  std::call_once(once, [] {
    DeviceBackend b;
    b.name = "cuda";
    b.available = [] { return runtime().present; };
    b.describe = describe;
    b.allocate = allocate;
    b.deallocate = deallocate;
    b.copy_to_host = copy_to_host;
    b.copy_from_host = copy_from_host;
    b.copy_on_device = copy_on_device;
    b.synchronize = synchronize;
    register_device_backend(Device::CUDA, b);
  });
}

}  // namespace engine::backend::cuda
