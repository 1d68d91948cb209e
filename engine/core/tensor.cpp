// Tensor handle: creation, strided copies, and NumPy-like printing.
#include "engine/core/tensor.h"

#include <cmath>
#include <cstring>
#include <ostream>
#include <sstream>

namespace engine {

int64_t Tensor::dim(int axis) const {
  int a = normalize_axis(axis, ndim());
  if (a < 0)
    raise(ErrorKind::Value, "dim", "axis " + std::to_string(axis) + " out of range", {{aval()}}, loc(),
          "use an axis in [-rank, rank)");
  return shape()[a];
}

void Tensor::require_concrete(const char* what) const {
  if (!impl_) throw Error(ErrorKind::Value, std::string("[") + what + "] called on a null tensor");
  if (is_tracer())
    raise(ErrorKind::Concretization, what, "needs a concrete value, but got a traced value", {{aval()}},
          impl_->loc,
          "inside grad/vmap/jit, values are abstract; compute this outside the transform or pass it as a "
          "static (non-tensor) argument");
}

bool Tensor::is_contiguous() const {
  require_concrete("is_contiguous");
  int64_t expect = 1;
  for (int i = ndim(); i-- > 0;) {
    if (shape()[i] != 1 && impl_->strides[i] != expect) return false;
    expect *= shape()[i];
  }
  return true;
}

Device Tensor::device() const {
  return impl_ && impl_->storage ? impl_->storage->device : Device::CPU;
}

const void* Tensor::device_data() const {
  require_concrete("data");
  return static_cast<const char*>(impl_->storage->data) + impl_->offset * int64_t(itemsize(dtype()));
}

const void* Tensor::raw_data() const {
  const void* p = device_data();
  if (impl_->storage->device != Device::CPU) [[unlikely]]
    raise(ErrorKind::Value, "data", std::string("the tensor lives on ") + device_name(device()), {{aval()}}, loc(),
          "copy it to the host with engine::to_device(t, Device::CPU), or read it with to_vector/item");
  return p;
}

void* Tensor::raw_mutable_data() const { return const_cast<void*>(raw_data()); }

double Tensor::item_as_double() const {
  return visit_dtype(dtype(), [&]<class T>() { return static_cast<double>(item<T>()); });
}

Tensor Tensor::empty(Shape shape, DType dtype) {
  for (int64_t d : shape)
    if (d < 0) raise(ErrorKind::Value, "empty", "negative dimension in shape " + shape_str(shape), {}, {});
  auto impl = std::make_shared<TensorImpl>();
  impl->strides = contiguous_strides(shape);
  size_t bytes = static_cast<size_t>(engine::numel(shape)) * itemsize(dtype);
  impl->storage = allocate_cpu(bytes);
  impl->aval = AVal{std::move(shape), dtype, false};
  return Tensor(std::move(impl));
}

Tensor Tensor::empty(Shape shape, DType dtype, Device device) {
  if (device == Device::CPU) return empty(std::move(shape), dtype);
  for (int64_t d : shape)
    if (d < 0) raise(ErrorKind::Value, "empty", "negative dimension in shape " + shape_str(shape), {}, {});
  auto impl = std::make_shared<TensorImpl>();
  impl->strides = contiguous_strides(shape);
  impl->storage = allocate(static_cast<size_t>(engine::numel(shape)) * itemsize(dtype), device);
  impl->aval = AVal{std::move(shape), dtype, false};
  return Tensor(std::move(impl));
}

Tensor Tensor::make_concrete(AVal aval, std::shared_ptr<Storage> storage, int64_t offset,
                             std::vector<int64_t> strides) {
  auto impl = std::make_shared<TensorImpl>();
  impl->aval = std::move(aval);
  impl->storage = std::move(storage);
  impl->offset = offset;
  impl->strides = std::move(strides);
  return Tensor(std::move(impl));
}

Tensor Tensor::make_tracer(AVal aval, std::unique_ptr<Tracer> tracer, const std::source_location& loc) {
  auto impl = std::make_shared<TensorImpl>();
  impl->aval = std::move(aval);
  impl->tracer = std::move(tracer);
  impl->loc = loc;
  return Tensor(std::move(impl));
}

Tensor Tensor::scalar(double value, DType dtype, bool weak) {
  Tensor t = full({}, value, dtype);
  t.impl_->aval.weak = weak;
  return t;
}

Tensor Tensor::full(Shape shape, double value, DType dtype) {
  Tensor t = empty(std::move(shape), dtype);
  visit_dtype(dtype, [&]<class T>() {
    T* p = t.mutable_data<T>();
    T v = static_cast<T>(value);
    for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = v;
  });
  return t;
}

void copy_to_contiguous(const Tensor& src, void* dst) {
  const int64_t n = src.numel();
  if (n == 0) return;
  if (src.device() != Device::CPU) return copy_to_contiguous(to_device(src, Device::CPU), dst);
  const size_t isz = itemsize(src.dtype());
  if (src.is_contiguous()) {
    std::memcpy(dst, src.raw_data(), static_cast<size_t>(n) * isz);
    return;
  }
  // Odometer over the logical index; fine for the copy-out paths that use it (kernels have their own).
  const int r = src.ndim();
  std::vector<int64_t> idx(r, 0);
  const char* base = static_cast<const char*>(src.raw_data());
  char* out = static_cast<char*>(dst);
  const auto& st = src.strides();
  const auto& sh = src.shape();
  int64_t off = 0;
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(out + i * isz, base + off * int64_t(isz), isz);
    for (int d = r - 1; d >= 0; --d) {
      if (++idx[d] < sh[d]) {
        off += st[d];
        break;
      }
      off -= st[d] * (sh[d] - 1);
      idx[d] = 0;
    }
  }
}

Tensor Tensor::contiguous() const {
  require_concrete("contiguous");
  if (device() != Device::CPU)
    raise(ErrorKind::Value, "contiguous", std::string("the tensor lives on ") + device_name(device()), {{aval()}},
          loc(), "use engine::to_device, which returns a contiguous copy");
  if (is_contiguous() && offset() == 0) return *this;
  Tensor out = empty(shape(), dtype());
  out.impl_->aval.weak = weak();
  copy_to_contiguous(*this, out.raw_mutable_data());
  return out;
}

namespace {

template <class T>
std::string fmt_elem(T v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v ? "true" : "false";
  } else if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    std::ostringstream os;
    os.precision(std::is_same_v<T, float> ? 6 : 10);
    os << v;
    return os.str();
  } else {
    return std::to_string(v);
  }
}

template <class T>
void print_rec(std::ostream& os, const std::vector<T>& v, const Shape& sh, int d, int64_t off, int64_t stride,
               int indent) {
  constexpr int64_t kEdge = 3;
  if (d == static_cast<int>(sh.size())) {
    os << fmt_elem(v[off]);
    return;
  }
  int64_t n = sh[d], inner = stride / (n ? n : 1);
  os << "[";
  for (int64_t i = 0; i < n; ++i) {
    if (n > 2 * kEdge + 1 && i == kEdge) {
      os << (d + 1 == static_cast<int>(sh.size()) ? "..., " : "...,\n" + std::string(indent + 1, ' '));
      i = n - kEdge - 1;
      continue;
    }
    print_rec(os, v, sh, d + 1, off + i * inner, inner, indent + 1);
    if (i + 1 < n) os << (d + 1 == static_cast<int>(sh.size()) ? ", " : ",\n" + std::string(indent + 1, ' '));
  }
  os << "]";
}

}  // namespace

std::string Tensor::str() const {
  if (!impl_) return "Tensor(null)";
  if (is_tracer()) return "Traced<" + aval().str() + ">";
  std::ostringstream os;
  os << aval().str() << "\n";
  visit_dtype(dtype(), [&]<class T>() {
    auto v = to_vector<T>();
    print_rec(os, v, shape(), 0, 0, numel(), 0);
  });
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

Tensor to_device(const Tensor& t, Device d) {
  t.require_concrete("to_device");
  const Device from = t.device();
  if (from == d) return t;
  require_device(from == Device::CPU ? d : from, "to_device");
  const size_t isz = itemsize(t.dtype());
  if (from == Device::CPU) {  // host -> device: pack on the host, then one copy
    const Tensor packed = t.contiguous();
    Tensor out = Tensor::empty(t.shape(), t.dtype(), d);
    out.impl()->aval.weak = t.weak();
    if (t.numel() > 0)
      device_backend(d)->copy_from_host(out.impl()->storage->data, packed.raw_data(), size_t(t.numel()) * isz);
    return out;
  }
  // device -> host (or device -> other device, through the host). Copy the span of storage the view touches
  // (a broadcast or a slice touches little of it), then gather on the host with the view's strides.
  if (t.numel() == 0) {
    Tensor out = Tensor::empty(t.shape(), t.dtype());
    return d == Device::CPU ? out : to_device(out, d);
  }
  int64_t lo = t.offset(), hi = t.offset();
  for (int i = 0; i < t.ndim(); ++i) {
    const int64_t reach = t.strides()[size_t(i)] * (t.shape()[size_t(i)] - 1);
    (reach < 0 ? lo : hi) += reach;
  }
  const size_t span = size_t(hi - lo + 1);
  auto host = allocate_cpu(span * isz);
  device_backend(from)->copy_to_host(host->data, static_cast<const char*>(t.impl()->storage->data) + lo * int64_t(isz),
                                     span * isz);
  AVal aval = t.aval();
  const Tensor staged = Tensor::make_concrete(aval, std::move(host), t.offset() - lo, t.strides());
  const Tensor packed = staged.contiguous();
  return d == Device::CPU ? packed : to_device(packed, d);
}

std::vector<AVal> avals_of(const std::vector<Tensor>& ts) {
  std::vector<AVal> a;
  a.reserve(ts.size());
  for (const auto& t : ts) a.push_back(t.aval());
  return a;
}

}  // namespace engine
