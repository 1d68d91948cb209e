// The plain interface between elementwise.cpp (engine types, registration) and elementwise.cu (the kernels):
// the elementwise operations as a small enum and one launcher for all of them.
#pragma once
#include "engine/backend/cuda/launch.h"

namespace engine::backend::cuda {

enum class EwOp : uint8_t {
  // unary: one operand, result of the operand's dtype
  neg,
  exp,
  log,
  log1p,
  expm1,
  sin,
  cos,
  tanh,
  logistic,
  sqrt,
  rsqrt,
  abs,
  sign,
  erf,
  floor,
  // binary: two operands of one dtype, result of that dtype
  add,
  sub,
  mul,
  div,
  pow,
  max,
  min,
  // compare: two operands of one dtype, bool result
  eq,
  ne,
  lt,
  le,
  gt,
  ge,
  // select(cond, on_true, on_false): cond bool, result of the value operands' dtype
  select,
  // convert: one operand of dtype `value`, result of dtype `out`
  convert,
};

// Computes out[i] = op(in[0][i], ...) over `s` on `stream`; `out` is a contiguous buffer of s.numel elements
// of the result dtype, `in` holds the op's operands (1, 2 or 3), each of the index space's shape. `value` is
// the dtype of the value operands (select: on_true's), `out_dt` the result's (used by convert only). Returns
// false, launching nothing, when the op does not take `value` (the shape rule should have rejected it). The
// caller checks the launch (cudaGetLastError). s.numel must be positive.
bool launch_elementwise(EwOp op, DT value, DT out_dt, const IndexSpace& s, const Operand* in, void* out,
                        cudaStream_t stream);

}  // namespace engine::backend::cuda
