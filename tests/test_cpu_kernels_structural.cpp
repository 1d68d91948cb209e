// CPU kernels of the matmul and movement families against reference loops, through the public API in eager
// mode: matmul with every transpose flag, broadcast and folded batches, zero sizes,
// transposed/strided/stride-0 operand views (f32 on oneDNN, f64 on the loop kernel); views and copies of the
// movement primitives on every dtype and layout; gather's clamping and scatter_add's dropping of out-of-range
// indices, and scatter_add's thread-count determinism.
#include "tests/cpu_kernel_testing.h"

namespace {

using namespace cpu_kernel_testing;

// ===========================================================================================================
// matmul
// ===========================================================================================================

// Reference: out[b..., i, j] = sum_k op(a)[i, k] op(b)[k, j] with NumPy batch broadcasting, in long double;
// also returns sum_k |a_ik b_kj| for the tolerance.
void ref_matmul(const Tensor& a, const Tensor& b, bool ta, bool tb, V* out, V* mag, Shape* oshape) {
  const V av = values(a), bv = values(b);
  const int ra = a.ndim(), rb = b.ndim();
  const int64_t M = ta ? a.dim(-1) : a.dim(-2), K = ta ? a.dim(-2) : a.dim(-1);
  const int64_t N = tb ? b.dim(-2) : b.dim(-1);
  const Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  const Shape bo = ops::broadcast_shapes(ba, bb, "ref");
  const int nb = int(bo.size());
  *oshape = bo;
  oshape->push_back(M);
  oshape->push_back(N);
  out->assign(size_t(engine::numel(*oshape)), 0);
  mag->assign(out->size(), 0);
  const Ints sa = engine::contiguous_strides(a.shape()), sb = engine::contiguous_strides(b.shape());
  Ints idx(size_t(nb), 0);
  for (int64_t t = 0; t < engine::numel(bo); ++t) {
    int64_t ao = 0, bo2 = 0;
    for (int d = 0; d < nb; ++d) {
      const int da = d - (nb - (ra - 2)), db = d - (nb - (rb - 2));
      if (da >= 0 && a.shape()[size_t(da)] != 1) ao += idx[size_t(d)] * sa[size_t(da)];
      if (db >= 0 && b.shape()[size_t(db)] != 1) bo2 += idx[size_t(d)] * sb[size_t(db)];
    }
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        long double s = 0, m = 0;
        for (int64_t k = 0; k < K; ++k) {
          const double x = av[size_t(ao + (ta ? k * sa[ra - 2] + i : i * sa[ra - 2] + k))];
          const double y = bv[size_t(bo2 + (tb ? j * sb[rb - 2] + k : k * sb[rb - 2] + j))];
          s += (long double)x * y;
          m += std::fabs((long double)x * y);
        }
        (*out)[size_t((t * M + i) * N + j)] = double(s);
        (*mag)[size_t((t * M + i) * N + j)] = double(m);
      }
    for (int d = nb - 1; d >= 0 && ++idx[size_t(d)] == bo[size_t(d)]; --d) idx[size_t(d)] = 0;
  }
}

void check_matmul(const Tensor& a, const Tensor& b, bool ta, bool tb, const std::string& what) {
  const Tensor y = ops::matmul(a, b, ta, tb);
  V want, mag;
  Shape os;
  ref_matmul(a, b, ta, tb, &want, &mag, &os);
  ASSERT_EQ(y.shape(), os) << what;
  const V got = values(y);
  const double rel = a.dtype() == DType::F32 ? 2e-6 : 1e-14;
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], rel * (mag[i] + 1e-30) * 8) << what << " element " << i;
}

// The stored shape of op(x) = [.., r, c] under a transpose flag.
Shape stored(Shape batch, int64_t r, int64_t c, bool t) {
  batch.push_back(t ? c : r);
  batch.push_back(t ? r : c);
  return batch;
}

TEST(CpuKernels, MatmulShapesTransposesAndBroadcasts) {
  Rng rng(9);
  struct Case {
    Shape ba, bb;
    int64_t M, N, K;
  };
  const Case cases[] = {
      {{}, {}, 5, 7, 3},     {{}, {}, 1, 9, 17},  {{}, {}, 33, 1, 9},        {{}, {}, 17, 33, 9},
      {{2, 3}, {}, 4, 5, 6}, {{}, {2}, 4, 5, 6},  {{2, 1}, {1, 3}, 4, 5, 6}, {{4}, {4}, 3, 8, 2},
      {{3}, {1}, 2, 2, 2},   {{}, {}, 0, 4, 3},   {{}, {}, 4, 0, 3},         {{}, {}, 4, 5, 0},
      {{0}, {}, 4, 5, 3},    {{2}, {2}, 3, 4, 0}, {{}, {}, 64, 96, 80},      {{5}, {}, 130, 20, 70}};
  for (DType dt : kFloatDT)
    for (const Case& c : cases)
      for (bool ta : {false, true})
        for (bool tb : {false, true})
          for (Lay lay : {Lay::Contig, Lay::ColMajor, Lay::Padded}) {
            const Tensor a = make_input(rng, dt, stored(c.ba, c.M, c.K, ta), lay, uniform(-1, 1));
            const Tensor b = make_input(rng, dt, stored(c.bb, c.K, c.N, tb), Lay::Contig, uniform(-1, 1));
            check_matmul(a, b, ta, tb,
                         std::string(engine::dtype_name(dt)) + " a" + engine::shape_str(a.shape()) + " b" +
                             engine::shape_str(b.shape()) + (ta ? " ta" : "") + (tb ? " tb" : "") + " " +
                             lay_name(lay));
          }
}

TEST(CpuKernels, MatmulViewsOfTransposeBroadcastAndSlice) {
  Rng rng(10);
  for (DType dt : kFloatDT) {
    const Tensor x = make_input(rng, dt, {6, 4}, Lay::Contig, uniform(-1, 1));
    const Tensor w = make_input(rng, dt, {5, 4}, Lay::Contig, uniform(-1, 1));
    check_matmul(x, ops::transpose(w), false, false, "transposed view");  // col-major b
    check_matmul(ops::broadcast_to(x, {3, 6, 4}), ops::transpose(w), false, false, "stride-0 batch");
    const Tensor x2 = make_input(rng, dt, {6, 8}, Lay::Contig, uniform(-1, 1));
    check_matmul(ops::slice(x2, {0, 0}, {6, 8}, {1, 2}), w, false, true, "strided slice");  // inner stride 2
    check_matmul(ops::broadcast_to(x, {3, 6, 4}), ops::broadcast_to(ops::transpose(w), {3, 4, 5}), false,
                 false, "both broadcast");
    const Tensor big = make_input(rng, dt, {256, 256}, Lay::Contig, uniform(-1, 1));
    check_matmul(big, big, false, true, "256");
  }
}

// ===========================================================================================================
// Movement
// ===========================================================================================================

// Row-major values of x at multi-index positions given by a function of the output index.
template <class F>
V gather_ref(const Shape& out, F&& at) {
  V r;
  Ints idx(out.size(), 0);
  for (int64_t i = 0; i < engine::numel(out); ++i) {
    r.push_back(at(idx));
    for (int d = int(out.size()) - 1; d >= 0 && ++idx[size_t(d)] == out[size_t(d)]; --d) idx[size_t(d)] = 0;
  }
  return r;
}
double at(const V& v, const Shape& s, const Ints& idx) {
  int64_t o = 0;
  for (size_t d = 0; d < s.size(); ++d) o = o * s[d] + idx[d];
  return v[size_t(o)];
}

TEST(CpuKernels, ReshapeIsAViewWhenStridesAllowIt) {
  Rng rng(11);
  for (DType dt : kAllDT)
    for (Lay lay : {Lay::Contig, Lay::ColMajor, Lay::Padded, Lay::Bcast0}) {
      const Tensor x = make_input(rng, dt, {4, 6}, lay, default_gen(dt));
      for (const Shape& s : {Shape{24}, Shape{2, 2, 6}, Shape{4, 3, 2}, Shape{1, 24, 1}, Shape{6, 4}}) {
        const Tensor y = ops::reshape(x, s);
        EXPECT_EQ(mismatch(y, values(x), 0), "") << lay_name(lay) << engine::shape_str(s);
        if (lay == Lay::Contig) {
          EXPECT_EQ(y.storage(), x.storage());
        }
      }
    }
  // Splitting a padded (strided) axis needs no copy; merging it does.
  const Tensor p = make_input(rng, DType::F32, {4, 6}, Lay::Padded, uniform(-1, 1));
  EXPECT_EQ(ops::reshape(p, {4, 2, 3}).storage(), p.storage());
  EXPECT_NE(ops::reshape(p, {24}).storage(), p.storage());
  const Tensor e = make_input(rng, DType::F32, {0, 3}, Lay::Contig, uniform(-1, 1));
  EXPECT_EQ(ops::reshape(e, {3, 0, 5}).numel(), 0);
}

TEST(CpuKernels, BroadcastTransposeSliceViews) {
  Rng rng(12);
  for (DType dt : kAllDT)
    for (Lay lay : {Lay::Contig, Lay::Padded, Lay::Bcast0}) {
      const Tensor x = make_input(rng, dt, {3, 1, 4}, lay, default_gen(dt));
      const V xv = values(x);
      const Tensor b = ops::broadcast_in_dim(x, {2, 3, 5, 4}, {1, 2, 3});
      EXPECT_EQ(b.storage(), x.storage());
      EXPECT_EQ(mismatch(b,
                         gather_ref({2, 3, 5, 4},
                                    [&](const Ints& i) {
                                      return at(xv, {3, 1, 4}, {i[1], 0, i[3]});
                                    }),
                         0),
                "");
      const Tensor t = ops::transpose(x, {2, 0, 1});
      EXPECT_EQ(mismatch(t,
                         gather_ref({4, 3, 1},
                                    [&](const Ints& i) {
                                      return at(xv, {3, 1, 4}, {i[1], i[2], i[0]});
                                    }),
                         0),
                "");
      const Tensor s = ops::slice(x, {1, 0, 0}, {3, 1, 4}, {1, 1, 3});
      EXPECT_EQ(mismatch(s,
                         gather_ref({2, 1, 2},
                                    [&](const Ints& i) {
                                      return at(xv, {3, 1, 4}, {1 + i[0], 0, 3 * i[2]});
                                    }),
                         0),
                "");
      EXPECT_EQ(ops::slice(x, {3, 0, 0}, {3, 1, 4}).numel(), 0);
      // A chain of views stays a view and reads right: slice of a transpose of a broadcast.
      const Tensor c = ops::slice(ops::transpose(b, {3, 2, 1, 0}), {1, 0, 0, 0}, {4, 5, 3, 2}, {2, 2, 1, 1});
      EXPECT_EQ(mismatch(c,
                         gather_ref({2, 3, 3, 2},
                                    [&](const Ints& i) {
                                      return at(xv, {3, 1, 4}, {i[2], 0, 1 + 2 * i[0]});
                                    }),
                         0),
                "");
    }
}

TEST(CpuKernels, PadWithInteriorAndConcatenate) {
  Rng rng(13);
  for (DType dt : kAllDT)
    for (Lay lay : {Lay::Contig, Lay::ColMajor, Lay::Padded, Lay::Scalar})
      for (const Shape& s : {Shape{3, 4}, Shape{0, 2}, Shape{1, 1}, Shape{200, 170}}) {
        const Tensor x = make_input(rng, dt, s, lay, default_gen(dt));
        const V xv = values(x);
        const Ints lo{1, 0}, hi{2, 3}, in{1, 2};
        const double value = dt == DType::Bool ? 1 : 7;
        const Tensor y = engine::bind1(
            Prim::pad, {x}, Params().set("lo", lo).set("hi", hi).set("interior", in).set("value", value));
        Shape os;
        for (size_t d = 0; d < 2; ++d)
          os.push_back(lo[d] + hi[d] + s[d] + std::max<int64_t>(s[d] - 1, 0) * in[d]);
        ASSERT_EQ(y.shape(), os);
        EXPECT_EQ(mismatch(y,
                           gather_ref(os,
                                      [&](const Ints& i) {
                                        Ints src(2);
                                        for (size_t d = 0; d < 2; ++d) {
                                          const int64_t r = i[d] - lo[d];
                                          if (r < 0 || r % (in[d] + 1) != 0 || r / (in[d] + 1) >= s[d])
                                            return value;
                                          src[d] = r / (in[d] + 1);
                                        }
                                        return at(xv, s, src);
                                      }),
                           0),
                  "")
            << engine::dtype_name(dt) << engine::shape_str(s) << " " << lay_name(lay);
        // Concatenate x with a differently laid out copy and an empty piece, on both axes.
        const Tensor z = make_input(rng, dt, s, Lay::Padded, default_gen(dt));
        const V zv = values(z);
        for (int64_t axis : {0, 1}) {
          Shape es = s;
          es[size_t(axis)] = 0;
          const Tensor e = make_input(rng, dt, es, Lay::Contig, default_gen(dt));
          const Tensor c = ops::concatenate({x, e, z}, axis);
          Shape cs = s;
          cs[size_t(axis)] *= 2;
          EXPECT_EQ(mismatch(c,
                             gather_ref(cs,
                                        [&](const Ints& i) {
                                          Ints j = i;
                                          if (j[size_t(axis)] < s[size_t(axis)]) return at(xv, s, j);
                                          j[size_t(axis)] -= s[size_t(axis)];
                                          return at(zv, s, j);
                                        }),
                             0),
                    "")
              << "concatenate axis " << axis;
        }
      }
}

TEST(CpuKernels, GatherClampsAndScatterAddDrops) {
  Rng rng(14);
  for (DType dt : kNumDT)
    for (DType idt : {DType::I32, DType::U32})
      for (Lay lay : {Lay::Contig, Lay::ColMajor, Lay::Padded})
        for (int64_t axis : {0, 1, 2}) {
          const Shape xs{3, 5, 4};
          const Tensor x = make_input(rng, dt, xs, lay, default_gen(dt));
          const V xv = values(x);
          const int64_t D = xs[size_t(axis)];
          // Indices include out-of-range values on both sides (u32: large ones).
          V iv = {0, double(D - 1), 2, double(D + 3), 1, idt == DType::I32 ? -2.0 : 4000000000.0};
          const Tensor idx = make_view(idt, iv, {2, 3}, {3, 1}, 0);
          const Tensor g = engine::bind1(Prim::gather, {x, idx}, Params().set("axis", axis));
          Shape os(xs.begin(), xs.begin() + axis);
          os.push_back(2);
          os.push_back(3);
          os.insert(os.end(), xs.begin() + axis + 1, xs.end());
          ASSERT_EQ(g.shape(), os);
          auto clampi = [&](double v) { return int64_t(std::clamp(v, 0.0, double(D - 1))); };
          EXPECT_EQ(mismatch(g,
                             gather_ref(os,
                                        [&](const Ints& i) {
                                          Ints src(i.begin(), i.begin() + axis);
                                          src.push_back(
                                              clampi(iv[size_t(i[size_t(axis)] * 3 + i[size_t(axis) + 1])]));
                                          src.insert(src.end(), i.begin() + axis + 2, i.end());
                                          return at(xv, xs, src);
                                        }),
                             0),
                    "")
              << "gather axis " << axis;
          // scatter_add of updates shaped like g back into size D (duplicates summed, out-of-range dropped).
          const Tensor u = make_input(rng, dt, os, lay, default_gen(dt));
          const V uv = values(u);
          const Tensor sa =
              engine::bind1(Prim::scatter_add, {idx, u}, Params().set("axis", axis).set("size", D));
          ASSERT_EQ(sa.shape(), xs);
          V want(size_t(engine::numel(xs)), 0);
          Ints i(os.size(), 0);
          for (size_t k = 0; k < uv.size(); ++k) {
            const double raw = iv[size_t(i[size_t(axis)] * 3 + i[size_t(axis) + 1])];
            if (raw >= 0 && raw < double(D)) {
              Ints dst(i.begin(), i.begin() + axis);
              dst.push_back(int64_t(raw));
              dst.insert(dst.end(), i.begin() + axis + 2, i.end());
              int64_t o = 0;
              for (size_t d = 0; d < xs.size(); ++d) o = o * xs[d] + dst[d];
              want[size_t(o)] = engine::is_integer(dt) ? int_wrap(int64_t(want[size_t(o)] + uv[k]), dt)
                                                       : want[size_t(o)] + uv[k];
            }
            for (int d = int(os.size()) - 1; d >= 0 && ++i[size_t(d)] == os[size_t(d)]; --d) i[size_t(d)] = 0;
          }
          EXPECT_EQ(mismatch(sa, want, dt == DType::F32 ? 1 : 0, 1e-6), "") << "scatter_add axis " << axis;
        }
}

TEST(CpuKernels, ScatterAddIsDeterministicAcrossThreadCounts) {
  Rng rng(15);
  std::vector<int32_t> iv(50000);
  for (auto& v : iv) v = int32_t(rng() % 64);
  const Tensor idx = Tensor::from_vector(iv);
  for (const Shape& us : {Shape{50000, 300}, Shape{3, 50000, 40}}) {
    const int64_t axis = us.size() == 2 ? 0 : 1;
    const Tensor u = make_input(rng, DType::F32, us, Lay::Contig, uniform(-1, 1));
    expect_thread_invariant([&] { return ops::scatter_add(idx, u, axis, 64); }, engine::shape_str(us));
  }
  // Gather of a large table (parallel path) matches a per-row reference.
  const Tensor table = make_input(rng, DType::F32, {64, 300}, Lay::Contig, uniform(-1, 1));
  const Tensor g = ops::take(table, idx, 0);
  const V tv = values(table), gv = values(g);
  for (size_t r = 0; r < iv.size(); r += 997)
    for (size_t j = 0; j < 300; j += 7) ASSERT_EQ(gv[r * 300 + j], tv[size_t(iv[r]) * 300 + j]);
}

}  // namespace
