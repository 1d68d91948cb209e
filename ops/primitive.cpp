// Primitive names and families (from the X-macro) and the Params map.
#include "ops/primitive.h"

#include <cstring>
#include <functional>

#include "engine/core/error.h"
#include "engine/ir/graph.h"

namespace ops {

const char* prim_name(Prim p) {
  static const char* names[] = {
#define OPS_NAME(name, family) #name,
      OPS_PRIMITIVES(OPS_NAME)
#undef OPS_NAME
  };
  return names[static_cast<int>(p)];
}

Family prim_family(Prim p) {
  static const Family fams[] = {
#define OPS_FAM(name, family) Family::family,
      OPS_PRIMITIVES(OPS_FAM)
#undef OPS_FAM
  };
  return fams[static_cast<int>(p)];
}

const char* family_name(Family f) {
  switch (f) {
    case Family::Unary: return "unary";
    case Family::Binary: return "binary";
    case Family::Compare: return "compare";
    case Family::Select: return "select";
    case Family::Convert: return "convert";
    case Family::Reduce: return "reduce";
    case Family::Matmul: return "matmul";
    case Family::Movement: return "movement";
    case Family::Random: return "random";
    case Family::Call: return "call";
  }
  return "?";
}

Params& Params::set(const char* key, ParamValue v) {
  for (auto& [k, val] : items_)
    if (std::strcmp(k, key) == 0) {
      val = std::move(v);
      return *this;
    }
  items_.emplace_back(key, std::move(v));
  return *this;
}

bool Params::has(std::string_view key) const {
  for (const auto& [k, v] : items_)
    if (key == k) return true;
  return false;
}

const ParamValue& Params::get(std::string_view key) const {
  for (const auto& [k, v] : items_)
    if (key == k) return v;
  throw engine::Error(engine::ErrorKind::Internal, "[params] missing parameter '" + std::string(key) + "' in {" +
                                                       str() + "}");
}

namespace {
template <class T>
const T& get_as(const ParamValue& v, std::string_view key) {
  if (const T* p = std::get_if<T>(&v)) return *p;
  throw engine::Error(engine::ErrorKind::Internal,
                      "[params] parameter '" + std::string(key) + "' has another type than requested");
}
}  // namespace

int64_t Params::get_int(std::string_view key) const { return get_as<int64_t>(get(key), key); }
double Params::get_double(std::string_view key) const { return get_as<double>(get(key), key); }
bool Params::get_bool(std::string_view key) const { return get_as<bool>(get(key), key); }
engine::DType Params::get_dtype(std::string_view key) const { return get_as<engine::DType>(get(key), key); }
const std::vector<int64_t>& Params::get_ints(std::string_view key) const {
  return get_as<std::vector<int64_t>>(get(key), key);
}
const std::shared_ptr<const engine::Graph>& Params::get_graph(std::string_view key) const {
  return get_as<std::shared_ptr<const engine::Graph>>(get(key), key);
}

bool Params::operator==(const Params& o) const {
  if (items_.size() != o.items_.size()) return false;
  for (const auto& [k, v] : items_) {
    bool found = false;
    for (const auto& [k2, v2] : o.items_)
      if (std::strcmp(k, k2) == 0) {
        found = true;
        if (!(v == v2)) return false;  // graphs compare by identity
      }
    if (!found) return false;
  }
  return true;
}

size_t Params::hash() const {
  size_t h = 0;
  auto mix = [&](size_t x) { h ^= x + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2); };
  for (const auto& [k, v] : items_) {
    mix(std::hash<std::string_view>{}(k));
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
            for (int64_t e : x) mix(std::hash<int64_t>{}(e));
          } else if constexpr (std::is_same_v<T, std::shared_ptr<const engine::Graph>>) {
            mix(std::hash<const void*>{}(x.get()));
          } else if constexpr (std::is_same_v<T, engine::DType>) {
            mix(static_cast<size_t>(x));
          } else {
            mix(std::hash<T>{}(x));
          }
        },
        v);
  }
  return h;
}

std::string Params::str() const {
  std::string s;
  for (const auto& [k, v] : items_) {
    if (!s.empty()) s += " ";
    s += k;
    s += "=";
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
            s += engine::shape_str(x);
          } else if constexpr (std::is_same_v<T, std::shared_ptr<const engine::Graph>>) {
            s += "<graph:" + std::to_string(x ? x->eqns.size() : 0) + " eqns>";
          } else if constexpr (std::is_same_v<T, engine::DType>) {
            s += engine::dtype_name(x);
          } else if constexpr (std::is_same_v<T, bool>) {
            s += x ? "true" : "false";
          } else if constexpr (std::is_same_v<T, double>) {
            std::string d = std::to_string(x);
            s += d;
          } else {
            s += std::to_string(x);
          }
        },
        v);
  }
  return s;
}

}  // namespace ops
