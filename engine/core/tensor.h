// Tensor: a cheap, immutable handle. Its payload is either a concrete strided buffer (eager values and
// views) or a tracer owned by one interpreter instance (values inside a transform).
#pragma once
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <source_location>
#include <string>
#include <type_traits>
#include <vector>

#include "engine/core/dtype.h"
#include "engine/core/error.h"
#include "engine/core/shape.h"
#include "engine/core/storage.h"

namespace engine {

// Base of the per-interpreter tracer payloads. `owner` is the id of the interpreter instance that made it;
// ids are never reused, so a tracer that outlives its transform is recognized as escaped.
struct Tracer {
  uint64_t owner = 0;
  virtual ~Tracer() = default;
};

struct TensorImpl {
  AVal aval;
  std::source_location loc;  // where the user created it (for escaped-tracer and concretization errors)
  // Concrete payload (null storage for tracers). Offsets and strides are in elements.
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;
  std::vector<int64_t> strides;
  // Tracer payload (null for concrete tensors).
  std::unique_ptr<Tracer> tracer;
};

class Tensor {
 public:
  Tensor() = default;  // a null handle; transforms use it for symbolic zeros
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  const AVal& aval() const { return impl_->aval; }
  const Shape& shape() const { return impl_->aval.shape; }
  int64_t dim(int axis) const;  // negative axes count from the end
  DType dtype() const { return impl_->aval.dtype; }
  bool weak() const { return impl_->aval.weak; }
  int ndim() const { return impl_->aval.rank(); }
  int64_t numel() const { return impl_->aval.numel(); }
  const std::source_location& loc() const { return impl_->loc; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

  bool is_tracer() const { return impl_ && impl_->tracer != nullptr; }
  bool is_concrete() const { return impl_ && impl_->tracer == nullptr; }
  Tracer* tracer() const { return impl_->tracer.get(); }

  // ---- concrete tensors only (a tracer raises a concretization error naming `what`) ----
  void require_concrete(const char* what) const;
  const std::vector<int64_t>& strides() const { return impl_->strides; }
  int64_t offset() const { return impl_->offset; }
  const std::shared_ptr<Storage>& storage() const { return impl_->storage; }
  bool is_contiguous() const;
  // Where the memory lives (tracers: the CPU). Host accessors (raw_data, data, mutable_data) need the CPU;
  // to_vector, item and str copy a device tensor to the host first.
  Device device() const;
  const void* raw_data() const;  // pointer to element (0,...,0); raises for a device tensor
  void* raw_mutable_data() const;
  // Pointer to element (0,...,0) on whatever device the tensor lives: for device kernels.
  const void* device_data() const;
  template <class T>
  const T* data() const { return static_cast<const T*>(raw_data()); }
  template <class T>
  T* mutable_data() const { return static_cast<T*>(raw_mutable_data()); }

  // Copies out in row-major order; T must be the tensor's dtype.
  template <class T>
  std::vector<T> to_vector() const;
  template <class T>
  T item() const;  // a one-element tensor's value
  double item_as_double() const;

  // ---- creation (eager, CPU) ----
  static Tensor empty(Shape shape, DType dtype);  // contiguous, uninitialized, on the CPU
  static Tensor empty(Shape shape, DType dtype, Device device);
  static Tensor make_concrete(AVal aval, std::shared_ptr<Storage> storage, int64_t offset,
                              std::vector<int64_t> strides);
  static Tensor make_tracer(AVal aval, std::unique_ptr<Tracer> tracer,
                            const std::source_location& loc = std::source_location::current());
  template <class T>
  static Tensor from_vector(const std::vector<T>& values, Shape shape);
  template <class T>
  static Tensor from_vector(const std::vector<T>& values) {
    return from_vector(values, Shape{static_cast<int64_t>(values.size())});
  }
  static Tensor scalar(double value, DType dtype, bool weak = false);
  static Tensor full(Shape shape, double value, DType dtype);

  Tensor contiguous() const;  // same values, row-major layout (returns *this if already so)
  std::string str() const;    // readable printing; tracers print their abstract value

 private:
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);
std::vector<AVal> avals_of(const std::vector<Tensor>& ts);

// Copies a strided tensor's elements into host memory dst in row-major order (dtype unchanged); a device
// tensor is copied to the host first.
void copy_to_contiguous(const Tensor& src, void* dst);

// The same values on device d, contiguous (returns t itself when it already lives there). Concrete tensors
// only: transfers happen outside transforms (see docs/sharp_bits.md).
Tensor to_device(const Tensor& t, Device d);

template <class T>
std::vector<T> Tensor::to_vector() const {
  require_concrete("to_vector");
  if (dtype_of<T> != dtype())
    raise(ErrorKind::DType, "to_vector", std::string("requested ") + dtype_name(dtype_of<T>), {{aval()}}, loc(),
          "request the tensor's own dtype, or convert it first with ops::convert");
  if constexpr (std::is_same_v<T, bool>) {  // std::vector<bool> has no data()
    std::vector<uint8_t> raw(static_cast<size_t>(numel()));
    if (!raw.empty()) copy_to_contiguous(*this, raw.data());
    return std::vector<bool>(raw.begin(), raw.end());
  } else {
    std::vector<T> out(static_cast<size_t>(numel()));
    if (!out.empty()) copy_to_contiguous(*this, out.data());
    return out;
  }
}

template <class T>
T Tensor::item() const {
  require_concrete("item");
  if (numel() != 1)
    raise(ErrorKind::Shape, "item", "needs a tensor with exactly one element", {{aval()}}, loc(),
          "index or reduce the tensor first");
  return to_vector<T>()[0];
}

template <class T>
Tensor Tensor::from_vector(const std::vector<T>& values, Shape shape) {
  if (engine::numel(shape) != static_cast<int64_t>(values.size()))
    raise(ErrorKind::Shape, "from_vector",
          "got " + std::to_string(values.size()) + " values for shape " + shape_str(shape), {}, {},
          "pass as many values as the shape has elements");
  Tensor t = empty(std::move(shape), dtype_of<T>);
  T* p = t.mutable_data<T>();
  for (size_t i = 0; i < values.size(); ++i) p[i] = values[i];
  return t;
}

}  // namespace engine
