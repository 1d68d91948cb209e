// Entry points of the CPU kernels for compiled code: they write into buffers the caller owns (the
// executable's arena or its output buffers) instead of allocating results, and the matmul's oneDNN primitive
// and memory objects are made once, when the executable is lowered. Operands are bound tensors whose
// storages the executable re-points between runs; strides and offsets are fixed at lowering.
#pragma once
#include <memory>
#include <vector>

#include "engine/core/tensor.h"
#include "ops/primitive.h"

namespace engine::backend::cpu {

// out = reduce(x) over `axes` (sorted): reduce_sum or reduce_max; out is dense. Deterministic, as the kernel.
void reduce_into(ops::Prim p, const Tensor& x, const std::vector<int64_t>& axes, const Tensor& out);

struct MatmulPlan;
// Plans out = op(a) @ op(b) for these operand layouts. With f32 operands that oneDNN can read in place, the
// primitive is created here; otherwise the plan falls back to the eager kernel's code at run time.
std::shared_ptr<MatmulPlan> plan_matmul(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b,
                                        const Tensor& out);
void run_matmul(const MatmulPlan& plan);
bool matmul_plan_uses_onednn(const MatmulPlan& plan);

}  // namespace engine::backend::cpu
