// The closed set of primitives and their parameters. Every op the engine runs is one of these; composites
// (softmax, layer_norm, ...) are written in terms of them. Adding a primitive means adding it here, giving it
// every rule in its family's file, and the coverage test checks that nothing was forgotten.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "engine/core/dtype.h"

namespace engine {
struct Graph;
}

namespace ops {

// X-macro: name, family. Families share rule derivations (ops/rules/<family>.cpp).
#define OPS_PRIMITIVES(X)                                                                   \
  /* elementwise unary */                                                                   \
  X(neg, Unary) X(exp, Unary) X(log, Unary) X(log1p, Unary) X(expm1, Unary) X(sin, Unary)   \
  X(cos, Unary) X(tanh, Unary) X(logistic, Unary) X(sqrt, Unary) X(rsqrt, Unary)            \
  X(abs, Unary) X(sign, Unary) X(erf, Unary) X(floor, Unary)                                \
  /* elementwise binary */                                                                  \
  X(add, Binary) X(sub, Binary) X(mul, Binary) X(div, Binary) X(pow, Binary) X(max, Binary) \
  X(min, Binary)                                                                            \
  /* comparisons (bool output, not differentiable) */                                       \
  X(eq, Compare) X(ne, Compare) X(lt, Compare) X(le, Compare) X(gt, Compare) X(ge, Compare) \
  /* other elementwise */                                                                   \
  X(select, Select) X(convert, Convert) X(stop_gradient, Convert)                           \
  /* reductions */                                                                          \
  X(reduce_sum, Reduce) X(reduce_max, Reduce) X(argmax, Reduce)                             \
  /* linear algebra */                                                                      \
  X(matmul, Matmul)                                                                         \
  /* movement */                                                                            \
  X(reshape, Movement) X(broadcast_in_dim, Movement) X(transpose, Movement)                 \
  X(slice, Movement) X(pad, Movement) X(concatenate, Movement) X(gather, Movement)          \
  X(scatter_add, Movement)                                                                  \
  /* creation and random */                                                                 \
  X(iota, Random) X(random_bits, Random) X(random_fold_in, Random)                          \
  /* staged sub-programs (checkpoint, jit) */                                               \
  X(call, Call)

enum class Prim : uint8_t {
#define OPS_ENUM(name, family) name,
  OPS_PRIMITIVES(OPS_ENUM)
#undef OPS_ENUM
};

enum class Family : uint8_t { Unary, Binary, Compare, Select, Convert, Reduce, Matmul, Movement, Random, Call };

inline constexpr int kNumPrims = 0
#define OPS_COUNT(name, family) +1
    OPS_PRIMITIVES(OPS_COUNT)
#undef OPS_COUNT
    ;

const char* prim_name(Prim p);
Family prim_family(Prim p);
const char* family_name(Family f);

// Parameter values. A graph parameter holds the sub-program of `call`.
using ParamValue =
    std::variant<int64_t, double, bool, engine::DType, std::vector<int64_t>, std::shared_ptr<const engine::Graph>>;

// A small ordered map from parameter name to value. Names are string literals chosen by the rules.
// Parameter keys used by the primitives (documented in docs/coverage.md):
//   convert: dtype | reduce_*: axes | argmax: axis, index_dtype | matmul: transpose_a, transpose_b
//   reshape: shape | broadcast_in_dim: shape, dims | transpose: perm | slice: start, limit, stride
//   pad: lo, hi, interior, value | concatenate: axis | gather: axis | scatter_add: axis, size
//   iota: shape, dtype, axis | random_bits: shape | call: graph, remat
class Params {
 public:
  Params() = default;
  Params& set(const char* key, ParamValue v);

  bool has(std::string_view key) const;
  int64_t get_int(std::string_view key) const;
  double get_double(std::string_view key) const;
  bool get_bool(std::string_view key) const;
  engine::DType get_dtype(std::string_view key) const;
  const std::vector<int64_t>& get_ints(std::string_view key) const;
  const std::shared_ptr<const engine::Graph>& get_graph(std::string_view key) const;

  const std::vector<std::pair<const char*, ParamValue>>& items() const { return items_; }
  bool operator==(const Params& o) const;
  size_t hash() const;
  std::string str() const;  // "axes=[0,1] dtype=f32"

 private:
  const ParamValue& get(std::string_view key) const;
  std::vector<std::pair<const char*, ParamValue>> items_;
};

}  // namespace ops
