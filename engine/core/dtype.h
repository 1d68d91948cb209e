// Element types, their sizes and names, type promotion, and a dispatcher from a runtime DType to a C++ type.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace engine {

enum class DType : uint8_t { Bool, I32, U32, F32, F64 };
inline constexpr int kNumDTypes = 5;

size_t itemsize(DType dt);
const char* dtype_name(DType dt);  // "bool", "i32", "u32", "f32", "f64"
inline bool is_float(DType dt) { return dt == DType::F32 || dt == DType::F64; }
inline bool is_integer(DType dt) { return dt == DType::I32 || dt == DType::U32; }

// Result type of a binary op. Weak types come from C++ literals: a weak operand adopts the other operand's
// type unless it is of a higher kind (bool < int < float), in which case the default of its kind is used
// (f32 for floats, i32 for ints). Returns false when the pair cannot be promoted implicitly (i32 with u32).
bool promote_types(DType a, bool a_weak, DType b, bool b_weak, DType* out, bool* out_weak);

template <class T>
struct DTypeOf;
template <> struct DTypeOf<bool> { static constexpr DType value = DType::Bool; };
template <> struct DTypeOf<int32_t> { static constexpr DType value = DType::I32; };
template <> struct DTypeOf<uint32_t> { static constexpr DType value = DType::U32; };
template <> struct DTypeOf<float> { static constexpr DType value = DType::F32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::F64; };
template <class T>
inline constexpr DType dtype_of = DTypeOf<T>::value;

// Calls fn.template operator()<T>() with T the C++ type of dt. Usage:
//   visit_dtype(dt, [&]<class T>() { ... });
template <class Fn>
decltype(auto) visit_dtype(DType dt, Fn&& fn) {
  switch (dt) {
    case DType::Bool: return fn.template operator()<bool>();
    case DType::I32: return fn.template operator()<int32_t>();
    case DType::U32: return fn.template operator()<uint32_t>();
    case DType::F32: return fn.template operator()<float>();
    case DType::F64: break;
  }
  return fn.template operator()<double>();
}

}  // namespace engine
