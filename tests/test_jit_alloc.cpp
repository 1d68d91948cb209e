// A jitted call allocates nothing on the heap once its executable exists (issue: allocation-free calls).
// The test binary interposes glibc's malloc family with counting wrappers, so every heap allocation counts:
// operator new, the engine's caching allocator going to the system, OpenMP internals. The one exception is
// oneDNN: its primitive execution allocates a few small objects per call inside the library (its execution
// context; dnnl_sgemm does the same), which no caller can avoid. The test also interposes
// dnnl_primitive_execute and counts those allocations separately; they are reported, not failed on.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <oneapi/dnnl/dnnl.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "engine/compile/jit.h"
#include "ops/api.h"
#include "tests/support/canonical.h"

#if defined(__SANITIZE_ADDRESS__)
#define QGF_COUNT_MALLOC 0  // ASan owns malloc: the counting wrappers would fight it
#else
#define QGF_COUNT_MALLOC 1
#endif

#if QGF_COUNT_MALLOC
namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocs{0}, g_onednn_allocs{0};
std::atomic<int> g_in_onednn{0};
inline void note() {
  if (!g_counting.load(std::memory_order_relaxed)) return;
  (g_in_onednn.load(std::memory_order_relaxed) ? g_onednn_allocs : g_allocs)
      .fetch_add(1, std::memory_order_relaxed);
}
using ExecuteFn = dnnl_status_t (*)(const_dnnl_primitive_t, dnnl_stream_t, int, const dnnl_exec_arg_t*);
}  // namespace
extern "C" {
dnnl_status_t dnnl_primitive_execute(const_dnnl_primitive_t p, dnnl_stream_t s, int n,
                                     const dnnl_exec_arg_t* a) {
  static const ExecuteFn real = reinterpret_cast<ExecuteFn>(dlsym(RTLD_NEXT, "dnnl_primitive_execute"));
  g_in_onednn.fetch_add(1);
  const dnnl_status_t r = real(p, s, n, a);
  g_in_onednn.fetch_sub(1);
  return r;
}
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
void* malloc(size_t n) {
  note();
  return __libc_malloc(n);
}
void* calloc(size_t n, size_t s) {
  note();
  return __libc_calloc(n, s);
}
void* realloc(void* p, size_t n) {
  note();
  return __libc_realloc(p, n);
}
void* aligned_alloc(size_t a, size_t n) {
  note();
  return __libc_memalign(a, n);
}
void* memalign(size_t a, size_t n) {
  note();
  return __libc_memalign(a, n);
}
int posix_memalign(void** out, size_t a, size_t n) {
  note();
  *out = __libc_memalign(a, n);
  return *out ? 0 : 12;  // ENOMEM
}
}
#endif

namespace {

using engine::Tensor;
namespace ops = ::ops;

// Allocations made while f runs (all threads).
template <class F>
long count_allocations(F&& f) {
#if QGF_COUNT_MALLOC
  g_allocs = 0;
  g_onednn_allocs = 0;
  g_counting = true;
  f();
  g_counting = false;
  return g_allocs.load();
#else
  f();
  return 0;
#endif
}

// A two-layer network whose parameters are a struct of tensors (trees of std::vector rebuild their
// containers, which allocates; see docs/sharp_bits.md).
struct Net {
  Tensor w1, b1, w2, b2;
  auto tree_fields() const { return std::tie(w1, b1, w2, b2); }
  auto tree_fields() { return std::tie(w1, b1, w2, b2); }
};
struct Opt {
  Net m, v;
  Tensor step;
  auto tree_fields() const { return std::tie(m, v, step); }
  auto tree_fields() { return std::tie(m, v, step); }
};
struct StepOut {
  Net params;
  Opt opt;
  Tensor loss;
  auto tree_fields() const { return std::tie(params, opt, loss); }
  auto tree_fields() { return std::tie(params, opt, loss); }
};

Tensor loss_fn(const Net& p, const Tensor& x, const Tensor& y) {
  Tensor h = ops::gelu(ops::matmul(x, p.w1) + p.b1, true);
  Tensor d = ops::matmul(h, p.w2) + p.b2 - y;
  return ops::mean(d * d);
}

StepOut train_step(const Net& p, const Opt& s, const Tensor& x, const Tensor& y) {
  auto [loss, g] = engine::value_and_grad(loss_fn)(p, x, y);
  const Tensor t = s.step + 1.0;
  auto upd = [&](const Tensor& w, const Tensor& gw, const Tensor& m, const Tensor& v) {
    return canonical::adam_leaf(w, gw, m, v, t, 1e-3f);
  };
  auto a = upd(p.w1, g.w1, s.m.w1, s.v.w1), b = upd(p.b1, g.b1, s.m.b1, s.v.b1),
       c = upd(p.w2, g.w2, s.m.w2, s.v.w2), d = upd(p.b2, g.b2, s.m.b2, s.v.b2);
  return StepOut{Net{a.p, b.p, c.p, d.p}, Opt{Net{a.m, b.m, c.m, d.m}, Net{a.v, b.v, c.v, d.v}, t}, loss};
}

Net init_net(int in, int hidden, int out) {
  Tensor k = ops::random_key(3);
  return Net{ops::random_normal(ops::random_fold_in(k, 0), {in, hidden}) * 0.1, ops::zeros({hidden}),
             ops::random_normal(ops::random_fold_in(k, 1), {hidden, out}) * 0.1, ops::zeros({out})};
}
Net zeros_like(const Net& n) {
  return Net{ops::zeros_like(n.w1), ops::zeros_like(n.b1), ops::zeros_like(n.w2), ops::zeros_like(n.b2)};
}

TEST(JitAlloc, TrainingStepAllocatesNothingAfterTheFirstCalls) {
#if !QGF_COUNT_MALLOC
  GTEST_SKIP() << "malloc is not interposed under AddressSanitizer";
#endif
  const Tensor x = ops::random_normal(ops::random_key(1), {256, 64});
  const Tensor y = ops::random_normal(ops::random_key(2), {256, 8});
  Net p = init_net(64, 256, 8);
  Opt s{zeros_like(p), zeros_like(p), ops::zeros({})};
  for (bool donate : {false, true}) {
    engine::JitOptions opt;
    if (donate) opt.donate_argnums = {0, 1};
    auto step = engine::jit(train_step, opt);
    Tensor loss;
    // Warm-up: compile, fill the output pools, let every thread touch its scratch.
    for (int i = 0; i < 4; ++i) {
      StepOut r = step(p, s, x, y);
      p = r.params;
      s = r.opt;
      loss = r.loss;
    }
    const float first = loss.item<float>();
    for (int i = 0; i < 3; ++i) {
      const long n = count_allocations([&] {
        StepOut r = step(p, s, x, y);
        p = r.params;
        s = r.opt;
        loss = r.loss;
      });
      EXPECT_EQ(n, 0) << "heap allocations in a steady-state jitted call (donate=" << donate << ")";
#if QGF_COUNT_MALLOC
      if (i == 0)
        std::printf("[info] allocations inside oneDNN's execute per call: %ld\n", g_onednn_allocs.load());
#endif
    }
    EXPECT_LT(loss.item<float>(), first) << "the steps must still train";
    EXPECT_EQ(step.stats().misses, 1u);
  }
}

TEST(JitAlloc, TinyFunctionCallAllocatesNothing) {
#if !QGF_COUNT_MALLOC
  GTEST_SKIP() << "malloc is not interposed under AddressSanitizer";
#endif
  auto f = engine::jit([](const Tensor& a) { return a * 2.0 + 1.0; });
  Tensor x = ops::ones({4});
  for (int i = 0; i < 3; ++i) x = f(x);
  const long n = count_allocations([&] { x = f(x); });
  EXPECT_EQ(n, 0);
  EXPECT_FLOAT_EQ(x.to_vector<float>()[0], 31.0f);  // ((((1*2+1)*2+1)*2+1)*2+1)
}

}  // namespace
