// Helpers shared by the rule families: batch-axis bookkeeping, shape-rule validation, symbolic zeros.
#pragma once
#include <string>
#include <vector>

#include "engine/core/error.h"
#include "engine/interp/interpreter.h"
#include "ops/api.h"
#include "ops/registry.h"

namespace ops::rules {

inline constexpr int kNotMapped = -1;

// Moves x's batch axis to position 0 (x must be mapped).
Tensor bdim_to_front(const Tensor& x, int bdim);
// Returns x with its batch axis at 0; an unmapped x is broadcast to carry a leading axis of `size`.
Tensor materialize_front(const Tensor& x, int bdim, int64_t size);
// For same-shape elementwise primitives: every operand with the batch axis at 0 (unmapped ones broadcast).
TensorList all_front(const TensorList& vals, const std::vector<int>& bdims, int64_t size);
// The first mapped operand's index.
int first_mapped(const std::vector<int>& bdims);

// A zero tensor shaped like an aval (for instantiating symbolic zeros).
Tensor zeros_of(const AVal& aval);
// t, or zeros of `like`'s aval when t is null.
Tensor instantiate(const Tensor& t, const AVal& like);

// Throws (naming the primitive) unless there are exactly n operands.
void check_arity(Prim p, std::span<const AVal> in, size_t n);

// Shape-rule failures: throw an engine::Error of kind k naming the primitive, the operands and the user's line.
[[noreturn]] void shape_fail(Prim p, std::span<const AVal> in, const std::string& problem,
                             const std::string& hint = {}, engine::ErrorKind k = engine::ErrorKind::Shape);

}  // namespace ops::rules
