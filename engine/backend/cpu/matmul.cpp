// CPU kernel of matmul[transpose_a, transpose_b]. f32 runs on oneDNN: transposes and broadcast batch dims
// are expressed in the memory descriptors' strides (no copies), a batch that b does not have folds into a's
// rows (one large GEMM instead of many small ones), and primitives are cached by their descriptors so no
// primitive descriptor is created on the hot path. Layouts oneDNN would only run on its reference
// implementation (strides it cannot fold) are made contiguous first. f64 (which oneDNN lacks on CPU) runs a
// cache-blocked loop used mainly by the gradient tests.
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <shared_mutex>
#include <unordered_map>
#include <vector>

#include "engine/backend/cpu/compiled_kernels.h"
#include "engine/backend/cpu/kernels.h"
#include "engine/backend/cpu/loops.h"

namespace engine::backend::cpu {

namespace {

using Ints = std::vector<int64_t>;
using ops::Prim;

// ---- the problem in canonical form: dims [batch..., rows, cols] with element strides per operand ----
struct Operand {
  Ints dims, strides;
};
struct Problem {
  Operand src, wei, dst;  // src [B..., M, K], wei [B..., K, N], dst [B..., M, N]
};

// A matrix [r, c] with strides (sr, sc) is usable by oneDNN's GEMM when one of its dims is dense and the
// other steps over it (row- or column-major with a leading dimension). Size-1 dims get a stride that makes it
// so.
bool canonical_matrix(int64_t r, int64_t c, int64_t& sr, int64_t& sc) {
  if (r == 1 && c == 1) {
    sr = sc = 1;
    return true;
  }
  if (r == 1) {
    if (sc <= 0) return false;
    if (sc == 1)
      sr = c;
    else
      sr = 1;
    return true;
  }
  if (c == 1) {  // row-major with leading dimension sr (oneDNN wants dst row-major)
    if (sr <= 0) return false;
    sc = 1;
    return true;
  }
  return (sc == 1 && sr >= c) || (sr == 1 && sc >= r);
}

// op(x)'s logical [batch (aligned to nb dims), rows, cols] view of a stored operand; broadcast batch dims
// (missing, size 1 or stride 0) become size 1, and size-1 batch dims get a stride past the operand's span.
Operand logical(const Tensor& x, bool transposed, int nb) {
  const int r = x.ndim();
  Operand o;
  o.dims.assign(size_t(nb) + 2, 1);
  o.strides.assign(size_t(nb) + 2, 0);
  const int lead = nb - (r - 2);
  for (int i = 0; i < r - 2; ++i) {
    const int64_t d = x.shape()[i], s = x.strides()[i];
    o.dims[lead + i] = (s == 0) ? 1 : d;
    o.strides[lead + i] = s;
  }
  const int64_t d0 = x.shape()[r - 2], d1 = x.shape()[r - 1], s0 = x.strides()[r - 2],
                s1 = x.strides()[r - 1];
  o.dims[nb] = transposed ? d1 : d0;
  o.dims[nb + 1] = transposed ? d0 : d1;
  o.strides[nb] = transposed ? s1 : s0;
  o.strides[nb + 1] = transposed ? s0 : s1;
  return o;
}

bool fix_strides(Operand& o) {
  const size_t n = o.dims.size();
  if (!canonical_matrix(o.dims[n - 2], o.dims[n - 1], o.strides[n - 2], o.strides[n - 1])) return false;
  int64_t span = 1;
  for (size_t i = 0; i < n; ++i) span += (o.dims[i] - 1) * o.strides[i];
  for (size_t i = 0; i + 2 < n; ++i)
    if (o.dims[i] == 1) o.strides[i] = span;
  return true;
}

// Folds a's batch into its rows when b has no batch of its own and a's batch dims and rows form one
// uniformly strided run: [B..., M, K] x [K, N] becomes [B*M, K] x [K, N].
bool try_fold(Problem& p, int nb) {
  int64_t bn = 1;
  for (int i = 0; i < nb; ++i) {
    if (p.wei.dims[i] != 1 || p.src.dims[i] != p.dst.dims[i]) return false;
    bn *= p.src.dims[i];
  }
  if (nb == 0 || bn == 1) return false;
  for (int i = 0; i < nb; ++i)
    if (p.src.dims[i] != 1 && p.src.strides[i] != p.src.strides[i + 1] * p.src.dims[i + 1]) return false;
  const int64_t M = p.src.dims[nb], K = p.src.dims[nb + 1], N = p.wei.dims[nb + 1];
  int64_t sm = p.src.strides[nb], sk = p.src.strides[nb + 1];
  if (!canonical_matrix(bn * M, K, sm, sk)) return false;
  p.src = {{bn * M, K}, {sm, sk}};
  p.wei = {{K, N}, {p.wei.strides[nb], p.wei.strides[nb + 1]}};
  p.dst = {{bn * M, N}, {N, 1}};
  return true;
}

// Merges adjacent batch dims that every operand steps through as one (or broadcasts in both).
void merge_batch(Problem& p, int& nb) {
  Operand* ops3[3] = {&p.src, &p.wei, &p.dst};
  for (int i = nb - 1; i > 0; --i) {
    bool ok = true;
    for (Operand* o : ops3) {
      const bool both_bcast = o->dims[i - 1] == 1 && o->dims[i] == 1;
      const bool chained =
          o->dims[i - 1] != 1 && o->dims[i] != 1 && o->strides[i - 1] == o->strides[i] * o->dims[i];
      ok = ok && (both_bcast || chained);
    }
    if (!ok) continue;
    for (Operand* o : ops3) {
      o->dims[i - 1] *= o->dims[i];
      o->strides[i - 1] = o->strides[i];
      o->dims.erase(o->dims.begin() + i);
      o->strides.erase(o->strides.begin() + i);
    }
    --nb;
  }
}

// ---- oneDNN: one engine and stream, primitives cached by their descriptors ----
dnnl::engine& dnnl_engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}
dnnl::stream& dnnl_stream() {
  static dnnl::stream s(dnnl_engine());
  return s;
}

struct CacheEntry {
  bool usable = false;  // false: oneDNN would only run its reference code here
  dnnl::memory::desc src, wei, dst;
  dnnl::matmul prim;
};

// One thread's memory objects for a cached primitive (entries live forever, so their addresses are keys).
struct Bound {
  dnnl::memory src, wei, dst;
  std::unordered_map<int, dnnl::memory> args;
  explicit Bound(const CacheEntry& e)
      : src(e.src, dnnl_engine(), DNNL_MEMORY_NONE),
        wei(e.wei, dnnl_engine(), DNNL_MEMORY_NONE),
        dst(e.dst, dnnl_engine(), DNNL_MEMORY_NONE),
        args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}} {}
};

struct KeyHash {
  size_t operator()(const Ints& k) const {
    uint64_t h = 1469598103934665603ull;
    for (int64_t v : k) h = (h ^ uint64_t(v)) * 1099511628211ull;
    return size_t(h);
  }
};

struct PrimCache {
  std::shared_mutex mu;
  std::unordered_map<Ints, std::shared_ptr<const CacheEntry>, KeyHash> map;
};
PrimCache& prim_cache() {
  static PrimCache* c = new PrimCache();  // leaked: kernels may run during static destruction
  return *c;
}

Ints cache_key(const Problem& p) {
  Ints k;
  k.reserve(64);
  for (const Operand* o : {&p.src, &p.wei, &p.dst}) {
    k.push_back(int64_t(o->dims.size()));
    k.insert(k.end(), o->dims.begin(), o->dims.end());
    k.insert(k.end(), o->strides.begin(), o->strides.end());
  }
  return k;
}

std::shared_ptr<const CacheEntry> get_primitive(const Problem& p) {
  Ints key = cache_key(p);
  PrimCache& c = prim_cache();
  {
    std::shared_lock lock(c.mu);
    auto it = c.map.find(key);
    if (it != c.map.end()) return it->second;
  }
  auto e = std::make_shared<CacheEntry>();
  using dt = dnnl::memory::data_type;
  auto md = [](const Operand& o) { return dnnl::memory::desc(o.dims, dt::f32, o.strides); };
  try {
    e->src = md(p.src);
    e->wei = md(p.wei);
    e->dst = md(p.dst);
    dnnl::matmul::desc d(e->src, e->wei, e->dst);
    dnnl::matmul::primitive_desc pd(d, dnnl_engine());
    const std::string impl = pd.impl_info_str();
    e->usable = impl.rfind("ref", 0) != 0;
    if (e->usable) e->prim = dnnl::matmul(pd);
  } catch (const dnnl::error&) {
    e->usable = false;
  }
  std::unique_lock lock(c.mu);
  return c.map.emplace(std::move(key), std::move(e)).first->second;
}

// The problem for (a, b) as stored, or false when a layout needs a copy first.
bool make_problem(const Tensor& a, const Tensor& b, bool ta, bool tb, const Tensor& out, Problem* p,
                  int* nb) {
  *nb = out.ndim() - 2;
  p->src = logical(a, ta, *nb);
  p->wei = logical(b, tb, *nb);
  p->dst = Operand{out.shape(), out.strides()};
  // Batch dims of size 1 in the output are size 1 everywhere: drop them.
  for (int i = *nb - 1; i >= 0; --i)
    if (p->dst.dims[i] == 1) {
      for (Operand* o : {&p->src, &p->wei, &p->dst}) {
        o->dims.erase(o->dims.begin() + i);
        o->strides.erase(o->strides.begin() + i);
      }
      --*nb;
    }
  if (!fix_strides(p->src) || !fix_strides(p->wei)) return false;
  if (!try_fold(*p, *nb))
    merge_batch(*p, *nb);
  else
    *nb = 0;
  if (*nb + 2 > DNNL_MAX_NDIMS)
    throw Error(ErrorKind::Unsupported,
                "[matmul] " + std::to_string(*nb) +
                    " non-broadcast batch dims exceed oneDNN's limit; reshape the batch");
  return fix_strides(p->dst);
}

// ---- loops (f64, which oneDNN lacks on CPU): rows of C accumulate a * (packed row of B), k in order ----
template <class T>
void gemm_loop(int64_t M, int64_t N, int64_t K, const T* A, int64_t sam, int64_t sak, const T* B, int64_t sbk,
               int64_t sbn, T* C) {
  std::vector<T> bp(size_t(K * N));
  for (int64_t k = 0; k < K; ++k)
    for (int64_t j = 0; j < N; ++j) bp[size_t(k * N + j)] = B[k * sbk + j * sbn];
  constexpr int64_t kKBlock = 128, kNBlock = 512;
  parallel_for(
      M, K * N,
      [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
          T* __restrict c = C + i * N;
          std::fill(c, c + N, T(0));
          for (int64_t j0 = 0; j0 < N; j0 += kNBlock) {
            const int64_t w = std::min(kNBlock, N - j0);
            for (int64_t k0 = 0; k0 < K; k0 += kKBlock)
              for (int64_t k = k0; k < std::min(K, k0 + kKBlock); ++k) {
                const T av = A[i * sam + k * sak];
                const T* __restrict brow = bp.data() + k * N + j0;
                for (int64_t j = 0; j < w; ++j) c[j0 + j] += av * brow[j];
              }
          }
        }
      },
      1);
}

template <class T>
void matmul_loop(const Tensor& a, const Tensor& b, bool ta, bool tb, const Tensor& out) {
  const int nb = out.ndim() - 2;
  const Operand A = logical(a, ta, nb), B = logical(b, tb, nb);
  const int64_t M = out.shape()[nb], N = out.shape()[nb + 1], K = A.dims[nb + 1];
  const int64_t batches = engine::numel(std::span<const int64_t>(out.shape().data(), size_t(nb)));
  const T* ap = a.data<T>();
  const T* bp = b.data<T>();
  T* cp = out.mutable_data<T>();
  Ints idx(size_t(nb), 0);
  for (int64_t t = 0; t < batches; ++t) {
    int64_t ao = 0, bo = 0;
    for (int i = 0; i < nb; ++i) {
      if (A.dims[i] != 1) ao += idx[i] * A.strides[i];
      if (B.dims[i] != 1) bo += idx[i] * B.strides[i];
    }
    gemm_loop<T>(M, N, K, ap + ao, A.strides[nb], A.strides[nb + 1], bp + bo, B.strides[nb],
                 B.strides[nb + 1], cp + t * M * N);
    for (int i = nb - 1; i >= 0 && ++idx[i] == out.shape()[i]; --i) idx[i] = 0;
  }
}

void matmul_f32(const Tensor& a0, const Tensor& b0, bool ta, bool tb, const Tensor& out) {
  Tensor a = a0, b = b0;
  Problem p;
  int nb = 0;
  std::shared_ptr<const CacheEntry> e;
  if (make_problem(a, b, ta, tb, out, &p, &nb)) e = get_primitive(p);
  if (!e || !e->usable) {  // copy both operands to dense layouts (transposes stay flags) and retry
    a = contiguous(a0);
    b = contiguous(b0);
    if (!make_problem(a, b, ta, tb, out, &p, &nb)) return matmul_loop<float>(a, b, ta, tb, out);
    e = get_primitive(p);
  }
  if (!e->usable) return matmul_loop<float>(a, b, ta, tb, out);  // not expected: dense layouts always fit
  // Memory objects (and the argument map) are made once per primitive and thread, then re-pointed: creating
  // them costs about as much as a small GEMM.
  thread_local std::unordered_map<const CacheEntry*, Bound> t_bound;
  auto it = t_bound.find(e.get());
  if (it == t_bound.end()) it = t_bound.emplace(e.get(), Bound(*e)).first;
  Bound& bd = it->second;
  bd.src.set_data_handle(const_cast<void*>(a.raw_data()));
  bd.wei.set_data_handle(const_cast<void*>(b.raw_data()));
  bd.dst.set_data_handle(out.raw_mutable_data());
  dnnl::stream& s = dnnl_stream();
  e->prim.execute(s, bd.args);
  s.wait();
}

// out = op(a) @ op(b) into a dense out, on whichever path fits the dtype and layouts.
void matmul_into(const Tensor& a, const Tensor& b, bool ta, bool tb, const Tensor& out) {
  if (out.numel() == 0) return;
  const int64_t K = ta ? a.shape()[a.ndim() - 2] : a.shape()[a.ndim() - 1];
  if (K == 0) {
    visit_dtype(out.dtype(), [&]<class T>() {
      std::fill(out.mutable_data<T>(), out.mutable_data<T>() + out.numel(), T(0));
    });
    return;
  }
  switch (out.dtype()) {
    case DType::F32:
      return matmul_f32(a, b, ta, tb, out);
    case DType::F64:
      return matmul_loop<double>(a, b, ta, tb, out);
    default:
      raise(ErrorKind::Internal, "matmul", "CPU kernel got a non-float operand", {{a.aval(), b.aval()}},
            current_user_loc());
  }
}

TensorList matmul_kernel(const TensorList& in, const std::vector<AVal>& oa, const Params& p) {
  Tensor out = Tensor::empty(oa[0].shape, oa[0].dtype);
  matmul_into(in[0], in[1], p.get_bool("transpose_a"), p.get_bool("transpose_b"), out);
  return {out};
}

}  // namespace

struct MatmulPlan {
  Tensor a, b, out;
  bool ta = false, tb = false;
  std::shared_ptr<const CacheEntry> entry;  // null: run matmul_into
  dnnl::memory src, wei, dst;
  dnnl_exec_arg_t args[3] = {};
};

std::shared_ptr<MatmulPlan> plan_matmul(const Tensor& a, const Tensor& b, bool ta, bool tb, const Tensor& out) {
  auto plan = std::make_shared<MatmulPlan>();
  plan->a = a;
  plan->b = b;
  plan->out = out;
  plan->ta = ta;
  plan->tb = tb;
  const int64_t K = ta ? a.shape()[a.ndim() - 2] : a.shape()[a.ndim() - 1];
  if (out.dtype() != DType::F32 || out.numel() == 0 || K == 0) return plan;
  Problem pr;
  int nb = 0;
  if (!make_problem(a, b, ta, tb, out, &pr, &nb)) return plan;
  std::shared_ptr<const CacheEntry> e = get_primitive(pr);
  if (!e->usable) return plan;
  plan->entry = e;
  plan->src = dnnl::memory(e->src, dnnl_engine(), DNNL_MEMORY_NONE);
  plan->wei = dnnl::memory(e->wei, dnnl_engine(), DNNL_MEMORY_NONE);
  plan->dst = dnnl::memory(e->dst, dnnl_engine(), DNNL_MEMORY_NONE);
  plan->args[0] = {DNNL_ARG_SRC, plan->src.get()};
  plan->args[1] = {DNNL_ARG_WEIGHTS, plan->wei.get()};
  plan->args[2] = {DNNL_ARG_DST, plan->dst.get()};
  return plan;
}

void run_matmul(const MatmulPlan& p) {
  if (!p.entry) return matmul_into(p.a, p.b, p.ta, p.tb, p.out);
  // The C API with a fixed argument array: the C++ execute() builds a vector of arguments on every call.
  dnnl_memory_set_data_handle(p.src.get(), const_cast<void*>(p.a.raw_data()));
  dnnl_memory_set_data_handle(p.wei.get(), const_cast<void*>(p.b.raw_data()));
  dnnl_memory_set_data_handle(p.dst.get(), p.out.raw_mutable_data());
  dnnl_stream_t s = dnnl_stream().get();
  if (dnnl_primitive_execute(p.entry->prim.get(), s, 3, p.args) != dnnl_success || dnnl_stream_wait(s) != dnnl_success)
    raise(ErrorKind::Internal, "matmul", "oneDNN failed to execute a planned matmul", {{p.a.aval(), p.b.aval()}}, {});
}

bool matmul_plan_uses_onednn(const MatmulPlan& p) { return p.entry != nullptr; }

void register_matmul_kernels() { ops::def_mut(Prim::matmul).cpu = matmul_kernel; }

}  // namespace engine::backend::cpu
