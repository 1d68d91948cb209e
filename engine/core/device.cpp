// Device registry and the default-device setting (see device.h).
#include "engine/core/device.h"

#include <array>
#include <mutex>

#include "engine/core/error.h"

#ifdef QGF_HAVE_CUDA
namespace engine::backend::cuda {
void register_device();  // runtime.cpp
}
#endif

namespace engine {

namespace {
std::array<DeviceBackend, 2> g_backends{};
std::array<bool, 2> g_registered{};
thread_local Device t_default = Device::CPU;
}  // namespace

const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

Device parse_device(const std::string& name) {
  if (name == "cpu") return Device::CPU;
  if (name == "cuda" || name == "gpu") return Device::CUDA;
  raise(ErrorKind::Value, "device", "unknown device '" + name + "'", {}, {}, "use cpu or cuda");
}

void register_device_backend(Device d, const DeviceBackend& backend) {
  g_backends[size_t(d)] = backend;
  g_registered[size_t(d)] = true;
}

const DeviceBackend* device_backend(Device d) {
  // The built-in backends register themselves on first use: asking for a device must not depend on
  // whether some op has run yet (that is when the kernel registry, which also registers them, fills).
#ifdef QGF_HAVE_CUDA
  static std::once_flag builtin;
  std::call_once(builtin, [] { backend::cuda::register_device(); });
#endif
  return g_registered[size_t(d)] ? &g_backends[size_t(d)] : nullptr;
}

bool device_available(Device d) {
  if (d == Device::CPU) return true;
  const DeviceBackend* b = device_backend(d);
  return b && b->available && b->available();
}

void require_device(Device d, const char* op) {
  if (device_available(d)) return;
  if (!device_backend(d))
    raise(ErrorKind::Unsupported, op, std::string("the ") + device_name(d) + " backend is not built in", {},
          {}, "configure with the CUDA toolkit on the PATH (nvcc) so CMake builds engine/backend/cuda");
  raise(ErrorKind::Unsupported, op, std::string("no ") + device_name(d) + " device is present", {}, {},
        "run on a machine with an NVIDIA GPU and driver, or use the cpu device");
}

std::string describe_device(Device d) {
  if (d == Device::CPU) return "cpu";
  require_device(d, "describe_device");
  return device_backend(d)->describe();
}

void synchronize(Device d) {
  if (d == Device::CPU) return;
  require_device(d, "synchronize");
  device_backend(d)->synchronize();
}

Device default_device() { return t_default; }

void set_default_device(Device d) {
  require_device(d, "set_default_device");
  t_default = d;
}

DeviceScope::DeviceScope(Device d) : previous_(t_default) { set_default_device(d); }
DeviceScope::~DeviceScope() { t_default = previous_; }

}  // namespace engine
