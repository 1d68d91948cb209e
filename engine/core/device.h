// Devices: where a tensor's memory lives, the default device that creation and host operands follow, and the
// hook table through which a device backend (engine/backend/cuda) plugs its memory functions into the core.
// The core never includes CUDA headers: a build without the CUDA toolkit has no backend registered, and every
// request for the CUDA device then raises an error that says so.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace engine {

enum class Device : uint8_t { CPU, CUDA };
const char* device_name(Device d);
Device parse_device(const std::string& name);  // "cpu" or "cuda"; anything else raises, listing both

// Memory functions of a non-CPU device. Copies are ordered on the backend's stream; copy_to_host and
// copy_from_host return once the host side may be read or reused.
struct DeviceBackend {
  const char* name = "";
  bool (*available)() = nullptr;        // a device is present and usable (the build alone is not enough)
  std::string (*describe)() = nullptr;  // "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 79.1 GiB)"
  void* (*allocate)(size_t bytes) = nullptr;  // throws engine::Error on failure
  void (*deallocate)(void* p) = nullptr;
  void (*copy_to_host)(void* dst, const void* src, size_t bytes) = nullptr;
  void (*copy_from_host)(void* dst, const void* src, size_t bytes) = nullptr;
  void (*copy_on_device)(void* dst, const void* src, size_t bytes) = nullptr;
  void (*synchronize)() = nullptr;
};

void register_device_backend(Device d, const DeviceBackend& backend);
const DeviceBackend* device_backend(Device d);  // null when none was built in
// Whether tensors can be placed on d: the CPU always; CUDA when the backend was built and a GPU is present.
bool device_available(Device d);
// Raises a clear error naming `op` when d cannot be used (not built, or no GPU present).
void require_device(Device d, const char* op);
// One line describing the device (model, memory) for benchmark and log headers.
std::string describe_device(Device d);
// Waits until the device has finished all work queued so far (a no-op for the CPU): for timing, since device
// kernels run asynchronously to the host.
void synchronize(Device d);

// The default device. Ops with no operands (iota) create their result there, and when it is not the CPU,
// operands that live on the host are copied to it before the op runs (see docs/sharp_bits.md).
Device default_device();
void set_default_device(Device d);  // checks that d is available

// Sets the default device for a scope (per thread), restoring the previous one on exit.
class DeviceScope {
 public:
  explicit DeviceScope(Device d);
  ~DeviceScope();
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  Device previous_;
};

}  // namespace engine
