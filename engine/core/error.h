// The engine's one exception type. Messages follow one layout so users can scan them:
//   [op] problem; operands f32[4,8], f32[7,2]; at file.cpp:42; hint: what to do
#pragma once
#include <source_location>
#include <span>
#include <stdexcept>
#include <string>

#include "engine/core/shape.h"

namespace engine {

enum class ErrorKind {
  Shape,          // shapes do not fit the op
  DType,          // dtypes do not fit the op or cannot be promoted
  Value,          // a bad parameter value (axis out of range, negative size, ...)
  Grad,           // grad of a non-scalar or non-float output, bad argnums
  Vmap,           // inconsistent axis sizes, bad in_axes/out_axes
  EscapedTracer,  // a tracer used after the transform that made it ended
  Concretization, // a traced value needed as a concrete one
  Unsupported,    // a backend or rule missing for a reason the registry declares
  IO,             // files
  Internal,       // a bug in the engine: please report
};
const char* error_kind_name(ErrorKind k);

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string message) : std::runtime_error(std::move(message)), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

std::string format_location(const std::source_location& loc);  // "file.cpp:42" (basename), "" if unknown

// Builds and throws an Error in the standard layout. `operands` and `hint` may be empty.
[[noreturn]] void raise(ErrorKind kind, std::string_view op, std::string_view problem,
                        std::span<const AVal> operands, const std::source_location& loc,
                        std::string_view hint = {});

}  // namespace engine
