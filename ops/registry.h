// The table of primitive definitions: for each primitive, its shape rule, jvp, vjp, batching rule and CPU
// kernel, the residuals its vjp reads, and trait bits. Rules are registered per family by explicit init
// functions (no self-registering statics: the linker drops those from static libraries). A rule that is
// deliberately absent carries a reason, which the coverage test and docs/coverage.md show.
#pragma once
#include <array>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "engine/core/tensor.h"
#include "ops/primitive.h"

namespace ops {

using engine::AVal;
using engine::Tensor;
using TensorList = std::vector<Tensor>;

enum Trait : uint32_t {
  kElementwise = 1u << 0,
  kLinear = 1u << 1,            // linear in its (float) inputs: vjp is the transpose
  kReduction = 1u << 2,
  kMovement = 1u << 3,
  kRandom = 1u << 4,
  kNonDifferentiable = 1u << 5, // outputs carry no tangent (bool/int outputs, random bits)
  kView = 1u << 6,              // the CPU kernel may return a view of its input
};

// Validates the operands (throwing an engine::Error that names the op) and returns the output avals.
using ShapeRule = std::function<std::vector<AVal>(std::span<const AVal> in, const Params& p)>;
// Forward mode. tangents[i] is null for a zero tangent. May return null tangents for zero outputs.
// Runs under the parent interpreter: emit ops through the public API (so rules are themselves transformable).
using JvpRule = std::function<TensorList(const TensorList& primals, const TensorList& tangents,
                                         const TensorList& outs, const Params& p)>;
// Reverse mode. `cts` holds one cotangent per output (null = zero; for single-output primitives the rule is
// only called with a non-null one). `primals` holds the inputs the rule declared it reads (others null);
// `outs` holds the outputs if it declared it reads them (else nulls). wants[i] says whether input i needs a
// cotangent. Returns one entry per input, null where not wanted or zero.
using VjpRule = std::function<TensorList(const TensorList& cts, const TensorList& primals,
                                         const TensorList& outs, const Params& p,
                                         const std::vector<bool>& wants)>;
// Batching. bdims[i] is the batch axis of vals[i], or -1 when not mapped (at least one is mapped).
// Returns outputs with their batch axes (-1 allowed when an output does not depend on the batch).
struct Batched {
  TensorList outs;
  std::vector<int> bdims;
};
using BatchRule = std::function<Batched(const TensorList& vals, const std::vector<int>& bdims,
                                        int64_t axis_size, const Params& p)>;
// Backend kernel: inputs are concrete (possibly strided views); returns outputs matching out_avals.
using Kernel = std::function<TensorList(const TensorList& in, const std::vector<AVal>& out_avals,
                                        const Params& p)>;

enum class Rule : uint8_t { Shape, Jvp, Vjp, Batch, CpuKernel, CudaKernel };
inline constexpr int kNumRules = 6;
const char* rule_name(Rule r);

struct PrimDef {
  Prim prim{};
  const char* name = "";
  Family family{};
  uint32_t traits = 0;
  ShapeRule shape;
  JvpRule jvp;
  VjpRule vjp;
  uint32_t vjp_reads_inputs = 0;  // bit i: the vjp reads input i (kept as a residual)
  bool vjp_reads_outputs = false; // the vjp reads the outputs (kept as residuals)
  BatchRule batch;
  Kernel cpu;
  Kernel cuda;  // inputs and outputs on the CUDA device (engine/backend/cuda); empty when not built
  std::array<std::string, kNumRules> absent_reason;  // why a rule is missing on purpose

  bool has(Rule r) const;
  std::string why_absent(Rule r) const;  // the declared reason, or a note that none was registered
  bool differentiable() const { return !(traits & kNonDifferentiable); }
};

const PrimDef& def(Prim p);  // initializes the registry on first use
PrimDef& def_mut(Prim p);     // for the register_* functions only
void init_registry();         // idempotent, thread-safe

// Called once by init_registry(); each lives in its family's file.
void register_elementwise_rules();  // Unary, Binary, Compare, Select, Convert families
void register_reduce_rules();
void register_matmul_rules();
void register_movement_rules();
void register_random_rules();
void register_call_rules();

}  // namespace ops

namespace engine::backend::cpu {
void register_cpu_kernels();  // fills PrimDef::cpu for every primitive
}
namespace engine::backend::cuda {
// Fills PrimDef::cuda and registers the CUDA device backend (engine/backend/cuda; built when CMake finds the
// CUDA toolkit). Without it, every primitive's CUDA kernel is declared absent with the reason.
void register_cuda_kernels();
}
