// The elementwise loops of the CPU backend as plain function pointers over one strided run, so compiled code
// (the fused kernels of engine/backend/cpu/fused.h) runs exactly the arithmetic the eager kernels run: a
// jitted elementwise chain is bitwise equal to its eager evaluation.
#pragma once
#include <cstdint>

#include "engine/core/dtype.h"
#include "ops/primitive.h"

namespace engine::backend::cpu {

// out[i] = op(in[0][i * strides[0]], in[1][i * strides[1]], ...) for i in [0, n); out is contiguous. A stride
// of 0 broadcasts that operand's first element. select reads in[0] as bool bytes.
using RunFn = void (*)(const void* const* in, const int64_t* strides, void* out, int64_t n);

// The run function of an elementwise primitive: `operand` is the dtype of its (value) operands, `out` the
// result dtype. Null when the primitive has no such kernel (not elementwise, or a dtype it rejects).
RunFn elementwise_run_fn(ops::Prim p, DType operand, DType out);
// Relative work per element (1 for an add), used to decide when threads pay off.
int64_t elementwise_cost(ops::Prim p);

}  // namespace engine::backend::cpu
