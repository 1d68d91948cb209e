// The public op API: what users and rules call. Each function broadcasts (NumPy rules), promotes dtypes (C++
// literals are weakly typed, so `x_f32 * 0.5` stays f32), validates, and binds a primitive under the current
// interpreter, so the same code runs eagerly, traced, differentiated or batched. Every function records the
// caller's source line for error messages and the printed IR.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <source_location>
#include <vector>

#include "engine/core/tensor.h"
#include "ops/primitive.h"

namespace ops {

using engine::DType;
using engine::Shape;
using engine::Tensor;
using Loc = std::source_location;
#define OPS_LOC const ::ops::Loc& loc = ::ops::Loc::current()

// ---- creation ----
Tensor scalar(double value, DType dtype = DType::F32, OPS_LOC);  // strongly typed 0-d tensor
Tensor literal(double value, OPS_LOC);  // weak float scalar (a C++ float literal), exact: stored as f64
Tensor literal_int(int64_t value, OPS_LOC);                         // weak i32 scalar (a C++ int literal)
Tensor full(const Shape& shape, double value, DType dtype = DType::F32, OPS_LOC);
Tensor zeros(const Shape& shape, DType dtype = DType::F32, OPS_LOC);
Tensor ones(const Shape& shape, DType dtype = DType::F32, OPS_LOC);
Tensor zeros_like(const Tensor& x, OPS_LOC);
Tensor ones_like(const Tensor& x, OPS_LOC);
Tensor full_like(const Tensor& x, double value, OPS_LOC);
Tensor iota(const Shape& shape, int axis = 0, DType dtype = DType::I32, OPS_LOC);
Tensor arange(int64_t n, DType dtype = DType::I32, OPS_LOC);
Tensor eye(int64_t n, DType dtype = DType::F32, OPS_LOC);

// ---- elementwise unary ----
Tensor neg(const Tensor& x, OPS_LOC);
Tensor exp(const Tensor& x, OPS_LOC);
Tensor log(const Tensor& x, OPS_LOC);
Tensor log1p(const Tensor& x, OPS_LOC);
Tensor expm1(const Tensor& x, OPS_LOC);
Tensor sin(const Tensor& x, OPS_LOC);
Tensor cos(const Tensor& x, OPS_LOC);
Tensor tanh(const Tensor& x, OPS_LOC);
Tensor logistic(const Tensor& x, OPS_LOC);  // sigmoid
Tensor sqrt(const Tensor& x, OPS_LOC);
Tensor rsqrt(const Tensor& x, OPS_LOC);
Tensor abs(const Tensor& x, OPS_LOC);
Tensor sign(const Tensor& x, OPS_LOC);
Tensor erf(const Tensor& x, OPS_LOC);
Tensor floor(const Tensor& x, OPS_LOC);

// ---- elementwise binary (broadcasting, promotion) ----
Tensor add(const Tensor& a, const Tensor& b, OPS_LOC);
Tensor sub(const Tensor& a, const Tensor& b, OPS_LOC);
Tensor mul(const Tensor& a, const Tensor& b, OPS_LOC);
Tensor div(const Tensor& a, const Tensor& b, OPS_LOC);  // integer division truncates
Tensor pow(const Tensor& a, const Tensor& b, OPS_LOC);
Tensor maximum(const Tensor& a, const Tensor& b, OPS_LOC);
Tensor minimum(const Tensor& a, const Tensor& b, OPS_LOC);
Tensor eq(const Tensor& a, const Tensor& b, OPS_LOC);
Tensor ne(const Tensor& a, const Tensor& b, OPS_LOC);
Tensor lt(const Tensor& a, const Tensor& b, OPS_LOC);
Tensor le(const Tensor& a, const Tensor& b, OPS_LOC);
Tensor gt(const Tensor& a, const Tensor& b, OPS_LOC);
Tensor ge(const Tensor& a, const Tensor& b, OPS_LOC);
Tensor select(const Tensor& cond, const Tensor& on_true, const Tensor& on_false, OPS_LOC);  // where
Tensor convert(const Tensor& x, DType dtype, OPS_LOC);
Tensor stop_gradient(const Tensor& x, OPS_LOC);

// ---- reductions (empty axes = all axes; negative axes count from the end) ----
Tensor sum(const Tensor& x, std::vector<int64_t> axes = {}, bool keepdims = false, OPS_LOC);
Tensor max(const Tensor& x, std::vector<int64_t> axes = {}, bool keepdims = false, OPS_LOC);
Tensor min(const Tensor& x, std::vector<int64_t> axes = {}, bool keepdims = false, OPS_LOC);
Tensor argmax(const Tensor& x, int64_t axis, bool keepdims = false, OPS_LOC);  // i32 indices

// ---- matmul: NumPy semantics (batch dims broadcast; 1-D operands are promoted and the axis dropped) ----
Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a = false, bool transpose_b = false, OPS_LOC);

// ---- movement ----
Tensor reshape(const Tensor& x, Shape shape, OPS_LOC);  // one -1 allowed
Tensor broadcast_to(const Tensor& x, const Shape& shape, OPS_LOC);
Tensor broadcast_in_dim(const Tensor& x, const Shape& shape, std::vector<int64_t> dims, OPS_LOC);
Tensor transpose(const Tensor& x, std::vector<int64_t> perm = {}, OPS_LOC);  // empty perm reverses axes
Tensor moveaxis(const Tensor& x, int64_t from, int64_t to, OPS_LOC);
Tensor expand_dims(const Tensor& x, int64_t axis, OPS_LOC);
Tensor squeeze(const Tensor& x, std::vector<int64_t> axes, OPS_LOC);
Tensor slice(const Tensor& x, std::vector<int64_t> start, std::vector<int64_t> limit,
             std::vector<int64_t> stride = {}, OPS_LOC);
Tensor slice_axis(const Tensor& x, int64_t axis, int64_t start, int64_t limit, int64_t stride = 1, OPS_LOC);
Tensor pad(const Tensor& x, std::vector<int64_t> lo, std::vector<int64_t> hi, double value = 0.0, OPS_LOC);
Tensor concatenate(const std::vector<Tensor>& xs, int64_t axis, OPS_LOC);
Tensor stack(const std::vector<Tensor>& xs, int64_t axis = 0, OPS_LOC);
// take(x, idx, axis): out.shape = x.shape[:axis] + idx.shape + x.shape[axis+1:]; idx is i32/u32, checked in
// range on concrete values (traced out-of-range indices clamp).
Tensor take(const Tensor& x, const Tensor& indices, int64_t axis = 0, OPS_LOC);
// The transpose of take: out has `size` along axis, zeros elsewhere, updates summed into the indexed slots.
Tensor scatter_add(const Tensor& indices, const Tensor& updates, int64_t axis, int64_t size, OPS_LOC);

// ---- random numbers: keys are u32[2] (or batches u32[..., 2]); counter-based, same bits at any thread count ----
Tensor random_key(uint64_t seed, OPS_LOC);
Tensor random_split(const Tensor& key, int64_t n = 2, OPS_LOC);  // u32[n, 2]
Tensor random_fold_in(const Tensor& key, uint32_t data, OPS_LOC);
Tensor random_bits(const Tensor& key, const Shape& shape, OPS_LOC);  // u32[shape]
Tensor random_uniform(const Tensor& key, const Shape& shape, double lo = 0.0, double hi = 1.0,
                      DType dtype = DType::F32, OPS_LOC);  // in [lo, hi)
Tensor random_normal(const Tensor& key, const Shape& shape, DType dtype = DType::F32, OPS_LOC);

// ---- composites ----
Tensor square(const Tensor& x, OPS_LOC);
Tensor relu(const Tensor& x, OPS_LOC);
Tensor mean(const Tensor& x, std::vector<int64_t> axes = {}, bool keepdims = false, OPS_LOC);
Tensor var(const Tensor& x, std::vector<int64_t> axes = {}, bool keepdims = false, OPS_LOC);
Tensor softmax(const Tensor& x, int64_t axis = -1, OPS_LOC);
Tensor log_softmax(const Tensor& x, int64_t axis = -1, OPS_LOC);
Tensor logsumexp(const Tensor& x, std::vector<int64_t> axes = {}, bool keepdims = false, OPS_LOC);
// Normalizes over the last axis; gamma/beta (may be null tensors) have the last axis's size.
Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps = 1e-6, OPS_LOC);
Tensor gelu(const Tensor& x, bool approximate = true, OPS_LOC);  // tanh form when approximate, else erf form
Tensor mse(const Tensor& a, const Tensor& b, OPS_LOC);           // mean of squared differences
Tensor clip(const Tensor& x, double lo, double hi, OPS_LOC);
Tensor one_hot(const Tensor& indices, int64_t n, DType dtype = DType::F32, OPS_LOC);

// Broadcast shape of two shapes under NumPy rules; throws a shape error naming `op` (and the operands, when
// given) if they are incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op, std::span<const engine::AVal> operands = {});

}  // namespace ops

namespace engine {
// Operators live beside Tensor so argument-dependent lookup finds them. `Operand` captures the caller's source
// line through its converting constructor's default argument, and lets C++ numbers act as weak literals.
struct Operand {
  Tensor t;
  std::source_location loc;
  Operand(const Tensor& x, const std::source_location& l = std::source_location::current()) : t(x), loc(l) {}
  Operand(double v, const std::source_location& l = std::source_location::current());
  Operand(float v, const std::source_location& l = std::source_location::current());
  Operand(int v, const std::source_location& l = std::source_location::current());
  // Wider C++ integers (int64_t, size_t counters) are weak i32 literals; values outside i32 raise an error.
  Operand(long v, const std::source_location& l = std::source_location::current());
  Operand(long long v, const std::source_location& l = std::source_location::current());
  Operand(unsigned long v, const std::source_location& l = std::source_location::current());
};
Tensor operator+(const Operand& a, const Operand& b);
Tensor operator-(const Operand& a, const Operand& b);
Tensor operator*(const Operand& a, const Operand& b);
Tensor operator/(const Operand& a, const Operand& b);
Tensor operator-(const Tensor& a);
}  // namespace engine
