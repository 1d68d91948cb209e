// Error formatting.
#include "engine/core/error.h"

#include <cstring>

namespace engine {

const char* error_kind_name(ErrorKind k) {
  switch (k) {
    case ErrorKind::Shape: return "shape error";
    case ErrorKind::DType: return "dtype error";
    case ErrorKind::Value: return "value error";
    case ErrorKind::Grad: return "grad error";
    case ErrorKind::Vmap: return "vmap error";
    case ErrorKind::EscapedTracer: return "escaped tracer";
    case ErrorKind::Concretization: return "concretization error";
    case ErrorKind::Unsupported: return "unsupported";
    case ErrorKind::IO: return "io error";
    case ErrorKind::Internal: return "internal error";
  }
  return "error";
}

std::string format_location(const std::source_location& loc) {
  const char* f = loc.file_name();
  if (!f || !*f || loc.line() == 0) return {};
  const char* slash = std::strrchr(f, '/');
  return std::string(slash ? slash + 1 : f) + ":" + std::to_string(loc.line());
}

void raise(ErrorKind kind, std::string_view op, std::string_view problem, std::span<const AVal> operands,
           const std::source_location& loc, std::string_view hint) {
  std::string msg = "[" + std::string(op) + "] " + std::string(problem);
  if (!operands.empty()) msg += "; operands " + avals_str(operands);
  std::string where = format_location(loc);
  if (!where.empty()) msg += "; at " + where;
  if (!hint.empty()) msg += "; hint: " + std::string(hint);
  throw Error(kind, msg);
}

}  // namespace engine
