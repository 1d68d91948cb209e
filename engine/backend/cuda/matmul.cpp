// CUDA kernel of matmul[transpose_a, transpose_b] on cuBLASLt, with the CPU kernel's semantics (f32 and f64
// operands, NumPy batch broadcasting). cuBLASLt is column-major: the row-major product C = op(A) op(B) is
// computed as C^T = op(B)^T op(A)^T, which reads a row-major operand as a column-major matrix as it is stored
// (a transposed or column-major operand only flips that operand's op flag), so no operand is transposed in
// memory. Operands are read through their strides when each matrix has a unit stride and a leading dimension;
// batch dims that chain are merged, a batch that b lacks is folded into a's rows (one large GEMM, as on the
// CPU), the largest remaining batch dim becomes cuBLASLt's strided batch (stride 0 where broadcast), and the
// host loops over any others. Other layouts are copied dense first (matmul_copy.cu). A plan (descriptors,
// layouts, and the algorithm the heuristic picks once) is cached per layout, dtype and pointer alignment.
// Compute is plain FP32 (no TF32) and FP64, so results match the CPU's up to summation order.
#include "engine/backend/cuda/matmul.h"

#include <cublasLt.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "engine/backend/cuda/kernels.h"
#include "engine/backend/cuda/matmul_launch.h"
#include "engine/backend/cuda/operands.h"
#include "engine/backend/cuda/runtime.h"
#include "engine/interp/interpreter.h"
#include "ops/registry.h"

namespace engine::backend::cuda {

namespace {

using Ints = std::vector<int64_t>;

constexpr size_t kWorkspaceBytes = size_t(32) << 20;
// cuBLASLt's batch count is an int32; batches are also split at grid.z's limit, which some kernels use for
// it.
constexpr int64_t kMaxLtBatch = 65535;

void lt_check(cublasStatus_t s, const char* what) {
  if (s == CUBLAS_STATUS_SUCCESS) return;
  raise(ErrorKind::Internal, "matmul",
        std::string("cuBLASLt error in ") + what + ": " + cublasLtGetStatusString(s), {}, {},
        "run the program under compute-sanitizer to locate it");
}

// ---- the library context: one handle and one workspace (all calls go to one stream, so they never overlap)
// ----
struct LtContext {
  cublasLtHandle_t handle = nullptr;
  void* workspace = nullptr;
};

const LtContext& lt() {
  static const LtContext* ctx = [] {
    (void)stream();             // raises the runtime's clear error when no GPU is present
    auto* c = new LtContext();  // leaked: matmuls may run during static destruction
    lt_check(cublasLtCreate(&c->handle), "cublasLtCreate");
    check(cudaMalloc(&c->workspace, kWorkspaceBytes), "matmul", "cudaMalloc (cuBLASLt workspace)");
    return c;
  }();
  return *ctx;
}

// ---- plans: what one cublasLtMatmul call needs, cached by its key ----

// A column-major cuBLASLt operand: rows x cols as stored, leading dimension ld, op(T) when trans.
struct LtMat {
  int64_t rows = 0, cols = 0, ld = 0, batch_stride = 0;
  bool trans = false;
  bool operator==(const LtMat&) const = default;
};

// D (m x n, dense, leading dimension m) = op(X) op(Y) for `batch` matrices, X m x k and Y k x n after their
// ops; the alignments (bytes, a power of two up to 256) of every address a call of the plan starts from.
struct LtKey {
  DType dtype = DType::F32;
  int64_t m = 0, n = 0, k = 0, batch = 1, d_stride = 0;
  LtMat x, y;
  uint32_t align_x = 256, align_y = 256, align_d = 256;
  bool operator==(const LtKey&) const = default;
};

struct LtKeyHash {
  size_t operator()(const LtKey& k) const {
    uint64_t h = 1469598103934665603ull;
    auto mix = [&h](int64_t v) { h = (h ^ uint64_t(v)) * 1099511628211ull; };
    for (int64_t v : {int64_t(k.dtype), k.m, k.n, k.k, k.batch, k.d_stride, int64_t(k.align_x),
                      int64_t(k.align_y), int64_t(k.align_d)})
      mix(v);
    for (const LtMat* o : {&k.x, &k.y})
      for (int64_t v : {o->rows, o->cols, o->ld, o->batch_stride, int64_t(o->trans)}) mix(v);
    return size_t(h);
  }
};

struct Plan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t x = nullptr, y = nullptr, d = nullptr;
  cublasLtMatmulAlgo_t algo{};
  size_t workspace = 0;
  bool found = false;  // false: the heuristic offered no algorithm for this layout and alignment
  cublasStatus_t status = CUBLAS_STATUS_SUCCESS;

  Plan() = default;
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;
  ~Plan() {
    for (cublasLtMatrixLayout_t l : {x, y, d})
      if (l) (void)cublasLtMatrixLayoutDestroy(l);
    if (desc) (void)cublasLtMatmulDescDestroy(desc);
  }
};

template <class T>
void set_attr(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t a, const T& v) {
  lt_check(cublasLtMatmulDescSetAttribute(d, a, &v, sizeof v), "cublasLtMatmulDescSetAttribute");
}
template <class T>
void set_attr(cublasLtMatrixLayout_t l, cublasLtMatrixLayoutAttribute_t a, const T& v) {
  lt_check(cublasLtMatrixLayoutSetAttribute(l, a, &v, sizeof v), "cublasLtMatrixLayoutSetAttribute");
}
template <class T>
void set_attr(cublasLtMatmulPreference_t p, cublasLtMatmulPreferenceAttributes_t a, const T& v) {
  lt_check(cublasLtMatmulPreferenceSetAttribute(p, a, &v, sizeof v), "cublasLtMatmulPreferenceSetAttribute");
}

// Creates *out (owned by the plan, so an error part-way leaks nothing).
void make_layout(cublasLtMatrixLayout_t* out, cudaDataType_t t, const LtMat& m, int64_t batch) {
  lt_check(cublasLtMatrixLayoutCreate(out, t, uint64_t(m.rows), uint64_t(m.cols), m.ld),
           "cublasLtMatrixLayoutCreate");
  set_attr(*out, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, int32_t(batch));
  set_attr(*out, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, m.batch_stride);
}

std::shared_ptr<const Plan> make_plan(const LtKey& k) {
  auto plan = std::make_shared<Plan>();
  const bool f64 = k.dtype == DType::F64;
  const cudaDataType_t t = f64 ? CUDA_R_64F : CUDA_R_32F;
  lt_check(cublasLtMatmulDescCreate(&plan->desc, f64 ? CUBLAS_COMPUTE_64F : CUBLAS_COMPUTE_32F, t),
           "cublasLtMatmulDescCreate");
  set_attr(plan->desc, CUBLASLT_MATMUL_DESC_TRANSA, k.x.trans ? CUBLAS_OP_T : CUBLAS_OP_N);
  set_attr(plan->desc, CUBLASLT_MATMUL_DESC_TRANSB, k.y.trans ? CUBLAS_OP_T : CUBLAS_OP_N);
  make_layout(&plan->x, t, k.x, k.batch);
  make_layout(&plan->y, t, k.y, k.batch);
  make_layout(&plan->d, t, LtMat{k.m, k.n, k.m, k.d_stride, false}, k.batch);

  cublasLtMatmulPreference_t pref = nullptr;
  lt_check(cublasLtMatmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate");
  const std::unique_ptr<std::remove_pointer_t<cublasLtMatmulPreference_t>,
                        cublasStatus_t (*)(cublasLtMatmulPreference_t)>
      pref_owner(pref, cublasLtMatmulPreferenceDestroy);
  set_attr(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, uint64_t(kWorkspaceBytes));
  set_attr(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, k.align_x);
  set_attr(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, k.align_y);
  set_attr(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, k.align_d);
  set_attr(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, k.align_d);
  cublasLtMatmulHeuristicResult_t r{};
  int count = 0;
  plan->status = cublasLtMatmulAlgoGetHeuristic(lt().handle, plan->desc, plan->x, plan->y, plan->d, plan->d,
                                                pref, 1, &r, &count);
  if (plan->status == CUBLAS_STATUS_SUCCESS && count > 0 && r.state == CUBLAS_STATUS_SUCCESS) {
    plan->algo = r.algo;
    plan->workspace = r.workspaceSize;
    plan->found = true;
  } else if (plan->status == CUBLAS_STATUS_SUCCESS) {
    plan->status = CUBLAS_STATUS_NOT_SUPPORTED;
  }
  return plan;
}

struct PlanCache {
  std::shared_mutex mu;
  std::unordered_map<LtKey, std::shared_ptr<const Plan>, LtKeyHash> map;
};

// Entries live as long as the program (the cache is leaked like the context), so callers keep raw pointers.
const Plan* get_plan(const LtKey& key) {
  static PlanCache* cache = new PlanCache();
  {
    std::shared_lock lock(cache->mu);
    auto it = cache->map.find(key);
    if (it != cache->map.end()) return it->second.get();
  }
  std::shared_ptr<const Plan> plan = make_plan(key);  // outside the lock: the heuristic takes a while
  std::unique_lock lock(cache->mu);
  return cache->map.emplace(key, std::move(plan)).first->second.get();
}

// ---- the problem: C[batch...] = op(A) op(B), C dense, every operand as strides ----

// op(x) of one operand: element strides of its rows and columns, its element stride along each batch dim of
// the output (0 where broadcast), and its element (0, ..., 0).
struct Side {
  const char* data = nullptr;
  int64_t rs = 0, cs = 0;
  Ints bs;
};

struct Problem {
  DType dtype = DType::F32;
  int64_t M = 0, N = 0, K = 0;
  Ints dims, cbs;  // batch dims, and C's strides along them
  Side a, b;
  char* c = nullptr;
};

void erase_dim(Problem& p, size_t i) {
  for (Ints* v : {&p.dims, &p.cbs, &p.a.bs, &p.b.bs}) v->erase(v->begin() + ptrdiff_t(i));
}

Side side_of(const Tensor& x, bool transposed, int nb) {
  Side s;
  s.data = static_cast<const char*>(x.device_data());
  const int r = x.ndim(), lead = nb - (r - 2);
  s.bs.assign(size_t(nb), 0);
  for (int i = 0; i < r - 2; ++i)
    if (x.shape()[size_t(i)] != 1) s.bs[size_t(lead + i)] = x.strides()[size_t(i)];
  const int64_t s0 = x.strides()[size_t(r - 2)], s1 = x.strides()[size_t(r - 1)];
  s.rs = transposed ? s1 : s0;
  s.cs = transposed ? s0 : s1;
  return s;
}

// The problem for a dense `out`, with size-1 batch dims dropped and batch dims that every operand steps
// through as one (or broadcasts along both) merged.
Problem problem_of(const Tensor& a, const Tensor& b, bool ta, bool tb, const Tensor& out) {
  Problem p;
  const int nb = out.ndim() - 2;
  p.dtype = out.dtype();
  p.M = out.shape()[size_t(nb)];
  p.N = out.shape()[size_t(nb + 1)];
  p.K = ta ? a.shape()[size_t(a.ndim() - 2)] : a.shape()[size_t(a.ndim() - 1)];
  p.a = side_of(a, ta, nb);
  p.b = side_of(b, tb, nb);
  p.c = static_cast<char*>(out_ptr(out));
  p.dims.assign(out.shape().begin(), out.shape().end() - 2);
  p.cbs.assign(size_t(nb), 0);
  for (int64_t i = nb - 1, step = p.M * p.N; i >= 0; step *= p.dims[size_t(i)], --i) p.cbs[size_t(i)] = step;
  for (size_t i = p.dims.size(); i-- > 0;)
    if (p.dims[i] == 1) erase_dim(p, i);
  for (size_t i = p.dims.size(); i-- > 1;) {
    auto chained = [&](const Ints& s) { return s[i - 1] == s[i] * p.dims[i]; };
    if (!chained(p.a.bs) || !chained(p.b.bs) || !chained(p.cbs)) continue;
    p.dims[i - 1] *= p.dims[i];
    for (Ints* v : {&p.cbs, &p.a.bs, &p.b.bs}) (*v)[i - 1] = (*v)[i];
    erase_dim(p, i);
  }
  return p;
}

// Gives a rows x cols matrix with strides (rs, cs) a BLAS layout: one stride 1 and the other at least the
// dense extent (a leading dimension). Size-1 dims take a stride that makes it so. False when none fits.
bool blas_layout(int64_t rows, int64_t cols, int64_t& rs, int64_t& cs) {
  if (rows == 1 && cols == 1) {
    rs = cs = 1;
    return true;
  }
  if (rows == 1) {
    if (cs == 1)
      rs = cols;  // row-major
    else if (cs > 0)
      rs = 1;  // column-major, leading dimension cs
    return cs > 0;
  }
  if (cols == 1) {
    if (rs == 1)
      cs = rows;
    else if (rs > 0)
      cs = 1;
    return rs > 0;
  }
  return (cs == 1 && rs >= cols) || (rs == 1 && cs >= rows);
}

bool readable(Side& s, int64_t rows, int64_t cols) {
  return blas_layout(rows, cols, s.rs, s.cs) &&
         std::all_of(s.bs.begin(), s.bs.end(), [](int64_t v) { return v >= 0; });
}

// A batch that b does not have folds into a's rows when a's matrices follow each other row after row:
// [B, M, K] x [K, N] becomes one [B*M, K] x [K, N] GEMM (C is dense, so its rows follow too).
void fold_batch(Problem& p) {
  if (p.dims.size() != 1 || p.b.bs[0] != 0 || p.a.bs[0] != p.a.rs * p.M) return;
  int64_t rs = p.a.rs, cs = p.a.cs;
  if (!blas_layout(p.dims[0] * p.M, p.K, rs, cs)) return;
  p.M *= p.dims[0];
  p.a.rs = rs;
  p.a.cs = cs;
  erase_dim(p, 0);
}

uint32_t alignment(uint64_t bits) {
  return bits == 0 ? 256u : uint32_t(std::min<uint64_t>(256, bits & (~bits + 1)));
}

// ---- the calls: one cublasLtMatmul per index of the host-looped batch dims and chunk of the strided batch
// ----

struct Call {
  const Plan* plan = nullptr;
  int64_t a = 0, b = 0, c = 0;  // element offsets of the call's first matrices
};

struct CallList {
  DType dtype = DType::F32;
  const char* a = nullptr;
  const char* b = nullptr;
  char* c = nullptr;
  std::vector<Call> calls;
  const Plan* failed = nullptr;  // a plan without an algorithm, if any
};

// `p` must be readable (its matrix strides a BLAS layout).
CallList plan_calls(Problem p) {
  fold_batch(p);
  const size_t nb = p.dims.size();
  const auto inner = size_t(std::max_element(p.dims.begin(), p.dims.end()) - p.dims.begin());  // nb if none
  auto at_inner = [&](const Ints& v) { return inner < nb ? v[inner] : int64_t(0); };
  const int64_t count = inner < nb ? p.dims[inner] : 1, full = std::min(count, kMaxLtBatch);
  const auto e = int64_t(itemsize(p.dtype));

  // Alignment: the lowest set bit over the base address and every step between the calls' matrices.
  uint64_t ua = uint64_t(reinterpret_cast<uintptr_t>(p.a.data)),
           ub = uint64_t(reinterpret_cast<uintptr_t>(p.b.data)),
           uc = uint64_t(reinterpret_cast<uintptr_t>(p.c));
  for (size_t i = 0; i < nb; ++i) {
    ua |= uint64_t(p.a.bs[i] * e);
    ub |= uint64_t(p.b.bs[i] * e);
    uc |= uint64_t(p.cbs[i] * e);
  }

  LtKey key;
  key.dtype = p.dtype;
  key.m = p.N;
  key.n = p.M;
  key.k = p.K;
  // X = op(B)^T [N, K] and Y = op(A)^T [K, M]: a row-major operand (unit column stride) is its own transpose
  // read column-major; a column-major one is read as stored and transposed by the op.
  key.x = p.b.cs == 1 ? LtMat{p.N, p.K, p.b.rs, 0, false} : LtMat{p.K, p.N, p.b.cs, 0, true};
  key.y = p.a.cs == 1 ? LtMat{p.K, p.M, p.a.rs, 0, false} : LtMat{p.M, p.K, p.a.cs, 0, true};
  key.align_x = alignment(ub);
  key.align_y = alignment(ua);
  key.align_d = alignment(uc);
  auto plan_for = [&](int64_t n) {
    LtKey k = key;
    k.batch = n;
    if (n > 1) {  // a single matrix's plan does not depend on the batch strides
      k.x.batch_stride = at_inner(p.b.bs);
      k.y.batch_stride = at_inner(p.a.bs);
      k.d_stride = at_inner(p.cbs);
    }
    return get_plan(k);
  };
  const Plan* plan_full = plan_for(full);
  const Plan* plan_rest = count % full ? plan_for(count % full) : nullptr;

  CallList out{p.dtype, p.a.data, p.b.data, p.c, {}, nullptr};
  for (const Plan* pl : {plan_full, plan_rest})
    if (pl && !pl->found) out.failed = pl;
  Ints idx(nb, 0);
  for (;;) {
    Call call;
    for (size_t i = 0; i < nb; ++i) {
      call.a += idx[i] * p.a.bs[i];
      call.b += idx[i] * p.b.bs[i];
      call.c += idx[i] * p.cbs[i];
    }
    for (int64_t s = 0; s < count; s += full) {
      call.plan = count - s >= full ? plan_full : plan_rest;
      out.calls.push_back(call);
      call.a += full * at_inner(p.a.bs);
      call.b += full * at_inner(p.b.bs);
      call.c += full * at_inner(p.cbs);
    }
    size_t i = nb;  // odometer over the host-looped dims (all but `inner`)
    while (i-- > 0 && (i == inner || ++idx[i] == p.dims[i]))
      if (i != inner) idx[i] = 0;
    if (i == size_t(-1)) break;
  }
  return out;
}

void run_calls(const CallList& l) {
  const LtContext& ctx = lt();
  const cudaStream_t s = stream();
  const float f1 = 1.f, f0 = 0.f;
  const double d1 = 1.0, d0 = 0.0;
  const bool f64 = l.dtype == DType::F64;
  const void* alpha = f64 ? static_cast<const void*>(&d1) : &f1;
  const void* beta = f64 ? static_cast<const void*>(&d0) : &f0;
  const auto e = int64_t(itemsize(l.dtype));
  for (const Call& c : l.calls) {
    const Plan& pl = *c.plan;
    void* d = l.c + c.c * e;
    lt_check(cublasLtMatmul(ctx.handle, pl.desc, alpha, l.b + c.b * e, pl.x, l.a + c.a * e, pl.y, beta, d,
                            pl.d, d, pl.d, &pl.algo, ctx.workspace, pl.workspace, s),
             "cublasLtMatmul");
  }
}

[[noreturn]] void no_algorithm(const CallList& l, std::span<const AVal> operands) {
  raise(ErrorKind::Unsupported, "matmul",
        std::string("cuBLASLt offers no algorithm for this layout (") +
            cublasLtGetStatusString(l.failed->status) + ")",
        operands, current_user_loc(), "make the operands contiguous, or run the matmul on the CPU");
}

// ---- the kernel ----

Tensor dense_copy(const Tensor& x) {
  Tensor out = empty(x.shape(), x.dtype());
  if (x.numel() == 0) return out;
  launch_strided_copy(index_space(x.shape(), "matmul"), operand(x), int(itemsize(x.dtype())), out_ptr(out),
                      stream());
  check_launch("matmul");
  return out;
}

// The calls for (a, b), replacing an operand by a dense copy when its layout is not one cuBLASLt reads.
CallList prepare(Tensor& a, Tensor& b, bool ta, bool tb, const Tensor& out) {
  Problem p = problem_of(a, b, ta, tb, out);
  const bool ra = readable(p.a, p.M, p.K), rb = readable(p.b, p.K, p.N);
  if (ra && rb) return plan_calls(p);
  if (!ra) a = dense_copy(a);
  if (!rb) b = dense_copy(b);
  p = problem_of(a, b, ta, tb, out);
  if (!readable(p.a, p.M, p.K) || !readable(p.b, p.K, p.N))
    raise(ErrorKind::Internal, "matmul", "a dense operand has no BLAS layout", {{a.aval(), b.aval()}}, {});
  return plan_calls(p);
}

// out = op(a) @ op(b) into the dense device tensor out.
void matmul_into(const Tensor& a0, const Tensor& b0, bool ta, bool tb, const Tensor& out) {
  if (out.dtype() != DType::F32 && out.dtype() != DType::F64)
    raise(ErrorKind::Internal, "matmul", "CUDA kernel got a non-float operand", {{a0.aval(), b0.aval()}},
          current_user_loc());
  if (out.numel() == 0) return;
  const int64_t K = ta ? a0.dim(-2) : a0.dim(-1);
  if (K == 0) {  // an empty sum: zero bits are 0.0 in f32 and f64
    check(cudaMemsetAsync(out_ptr(out), 0, size_t(out.numel()) * itemsize(out.dtype()), stream()), "matmul",
          "cudaMemsetAsync");
    return;
  }
  // Copies made here are released at return; the stream-ordered allocator frees them after the GEMM.
  Tensor a = a0, b = b0;
  CallList calls = prepare(a, b, ta, tb, out);
  if (calls.failed) {  // retry on fresh dense copies: aligned to 256 bytes, the layouts every algorithm takes
    a = dense_copy(a0);
    b = dense_copy(b0);
    calls = prepare(a, b, ta, tb, out);
  }
  if (calls.failed) no_algorithm(calls, {{a0.aval(), b0.aval()}});
  run_calls(calls);
}

ops::TensorList matmul_kernel(const ops::TensorList& in, const std::vector<AVal>& oa, const ops::Params& p) {
  Tensor out = empty(oa[0].shape, oa[0].dtype);
  matmul_into(in[0], in[1], p.get_bool("transpose_a"), p.get_bool("transpose_b"), out);
  return {out};
}

}  // namespace

// ---- the raw call for benchmarks (matmul.h): the plan a dense tensor of this layout gets ----

struct RawMatmul::Calls {
  CallList list;
};

RawMatmul::RawMatmul(const MatmulSpec& s) {
  if (s.M <= 0 || s.N <= 0 || s.K <= 0 || s.batch <= 0 || (s.dtype != DType::F32 && s.dtype != DType::F64))
    raise(ErrorKind::Value, "RawMatmul", "needs positive M, N, K and batch, and dtype f32 or f64", {}, {});
  Problem p;
  p.dtype = s.dtype;
  p.M = s.M;
  p.N = s.N;
  p.K = s.K;
  p.a = Side{static_cast<const char*>(s.a), s.ta ? 1 : s.K, s.ta ? s.M : 1, {}};
  p.b = Side{static_cast<const char*>(s.b), s.tb ? 1 : s.N, s.tb ? s.K : 1, {}};
  p.c = static_cast<char*>(s.c);
  if (s.batch > 1) {
    p.dims = {s.batch};
    p.cbs = {s.M * s.N};
    p.a.bs = {s.stride_a};
    p.b.bs = {s.stride_b};
  }
  if (!readable(p.a, p.M, p.K) || !readable(p.b, p.K, p.N))
    raise(ErrorKind::Value, "RawMatmul", "negative batch stride", {}, {});
  auto calls = std::make_shared<Calls>();
  calls->list = plan_calls(p);
  if (calls->list.failed) no_algorithm(calls->list, {});
  calls_ = std::move(calls);
}

void RawMatmul::run() const { run_calls(calls_->list); }

void register_matmul_kernels() { ops::def_mut(ops::Prim::matmul).cuda = matmul_kernel; }

}  // namespace engine::backend::cuda
