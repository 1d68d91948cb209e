// DType helpers and the promotion lattice (bool < ints < floats, with weak C++ literals).
#include "engine/core/dtype.h"

namespace engine {

size_t itemsize(DType dt) {
  switch (dt) {
    case DType::Bool: return 1;
    case DType::I32:
    case DType::U32:
    case DType::F32: return 4;
    case DType::F64: return 8;
  }
  return 0;
}

const char* dtype_name(DType dt) {
  switch (dt) {
    case DType::Bool: return "bool";
    case DType::I32: return "i32";
    case DType::U32: return "u32";
    case DType::F32: return "f32";
    case DType::F64: return "f64";
  }
  return "?";
}

namespace {
int kind(DType dt) { return dt == DType::Bool ? 0 : is_integer(dt) ? 1 : 2; }
DType default_of_kind(int k) { return k == 0 ? DType::Bool : k == 1 ? DType::I32 : DType::F32; }
}  // namespace

bool promote_types(DType a, bool aw, DType b, bool bw, DType* out, bool* out_weak) {
  if (a == b) {
    *out = a;
    *out_weak = aw && bw;
    return true;
  }
  if (aw && bw) {  // both literals: the higher kind wins (the wider type within a kind), still weak
    if (kind(a) != kind(b)) *out = kind(a) > kind(b) ? a : b;
    else *out = (a == DType::F64 || b == DType::F64) ? DType::F64 : (kind(a) == 1 ? DType::I32 : a);
    *out_weak = true;
    return true;
  }
  if (aw || bw) {  // one literal: it adopts the strong type unless its kind is higher
    DType strong = aw ? b : a, weak = aw ? a : b;
    *out = kind(weak) > kind(strong) ? default_of_kind(kind(weak)) : strong;
    *out_weak = false;
    return true;
  }
  int ka = kind(a), kb = kind(b);
  if (ka != kb) {
    *out = ka > kb ? a : b;
    *out_weak = false;
    return true;
  }
  if (ka == 2) {  // f32 with f64
    *out = DType::F64;
    *out_weak = false;
    return true;
  }
  return false;  // i32 with u32: ambiguous without a 64-bit type
}

}  // namespace engine
