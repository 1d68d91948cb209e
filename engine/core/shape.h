// Shapes, abstract values (shape + dtype + weak-type bit), and shape helpers shared by the rules and kernels.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/core/dtype.h"

namespace engine {

using Shape = std::vector<int64_t>;

int64_t numel(std::span<const int64_t> shape);
std::string shape_str(std::span<const int64_t> shape);       // "[4,8]"
std::vector<int64_t> contiguous_strides(std::span<const int64_t> shape);  // in elements, row-major
// Normalizes a possibly negative axis against rank; returns -1 when out of range.
int normalize_axis(int64_t axis, int rank);

// Abstract value: what the tracers and the shape rules see of a tensor.
struct AVal {
  Shape shape;
  DType dtype = DType::F32;
  bool weak = false;  // produced by a C++ literal; adopts the other operand's dtype in promotion

  int rank() const { return static_cast<int>(shape.size()); }
  int64_t numel() const { return engine::numel(shape); }
  std::string str() const;  // "f32[4,8]" (weak scalars print as "f32~[]")
  bool operator==(const AVal& o) const { return shape == o.shape && dtype == o.dtype; }
};

std::string avals_str(std::span<const AVal> avals);  // "f32[4,8], f32[7,2]"

}  // namespace engine
