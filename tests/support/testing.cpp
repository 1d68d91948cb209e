// Test support: random tensors, comparisons, check_grads and vmap-versus-loop.
#include "tests/support/testing.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "engine/interp/interpreter.h"

namespace testing_support {

using engine::is_float;

Tensor rand_tensor(Rng& rng, const Shape& shape, DType dtype, double lo, double hi) {
  Tensor t = Tensor::empty(shape, dtype);
  const int64_t n = t.numel();
  engine::visit_dtype(dtype, [&]<class T>() {
    T* p = t.mutable_data<T>();
    for (int64_t i = 0; i < n; ++i) {
      if constexpr (std::is_same_v<T, bool>) {
        p[i] = std::bernoulli_distribution(0.5)(rng);
      } else if constexpr (std::is_floating_point_v<T>) {
        p[i] = static_cast<T>(std::uniform_real_distribution<double>(lo, hi)(rng));
      } else {
        p[i] = static_cast<T>(std::uniform_int_distribution<int64_t>(int64_t(lo), int64_t(hi) - 1)(rng));
      }
    }
  });
  return t;
}

Tensor rand_away_from_zero(Rng& rng, const Shape& shape, double lo, double hi, DType dtype) {
  Tensor t = rand_tensor(rng, shape, DType::F64, lo, hi);
  double* p = t.mutable_data<double>();
  for (int64_t i = 0; i < t.numel(); ++i)
    if (std::bernoulli_distribution(0.5)(rng)) p[i] = -p[i];
  if (dtype == DType::F64) return t;
  std::vector<double> v(p, p + t.numel());
  std::vector<float> f(v.begin(), v.end());
  return Tensor::from_vector(f, shape);
}

std::vector<double> to_f64(const Tensor& t) {
  return engine::visit_dtype(t.dtype(), [&]<class T>() {
    auto v = t.to_vector<T>();
    std::vector<double> d(v.size());
    for (size_t i = 0; i < v.size(); ++i) d[i] = static_cast<double>(v[i]);
    return d;
  });
}

double closeness(const Tensor& a, const Tensor& b, double atol, double rtol) {
  if (a.shape() != b.shape()) return INFINITY;
  auto x = to_f64(a), y = to_f64(b);
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i]) && std::isnan(y[i])) continue;
    if (x[i] == y[i]) continue;  // covers equal infinities
    double r = std::abs(x[i] - y[i]) / (atol + rtol * std::abs(y[i]));
    if (std::isnan(r)) r = INFINITY;
    worst = std::max(worst, r);
  }
  return worst;
}

std::string compare(const Tensor& actual, const Tensor& expected, double atol, double rtol) {
  double c = closeness(actual, expected, atol, rtol);
  if (c <= 1.0) return {};
  std::ostringstream os;
  os << "mismatch (closeness " << c << ", atol " << atol << ", rtol " << rtol
     << ")\nactual:   " << actual.str() << "\nexpected: " << expected.str();
  return os.str();
}

Tensor axpy(const Tensor& x, const Tensor& v, double a) {
  auto xs = to_f64(x), vs = to_f64(v);
  for (size_t i = 0; i < xs.size(); ++i) xs[i] += a * vs[i];
  return Tensor::from_vector(xs, x.shape());
}

double dot(const Tensor& a, const Tensor& b) {
  auto x = to_f64(a), y = to_f64(b);
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i) s += x[i] * y[i];
  return s;
}

Tensor normal_like(Rng& rng, const Tensor& like) {
  std::normal_distribution<double> nd;
  std::vector<double> v(static_cast<size_t>(like.numel()));
  for (auto& x : v) x = nd(rng);
  return Tensor::from_vector(v, like.shape());
}

namespace {

std::string check_grads_once(const FlatFn& f, const std::vector<Tensor>& args, const GradCheck& opt, Rng& rng,
                             int order) {
  std::vector<Tensor> v(args.size());
  for (size_t i = 0; i < args.size(); ++i)
    if (is_float(args[i].dtype())) v[i] = normal_like(rng, args[i]);
  std::vector<Tensor> ys = f(args);
  std::vector<Tensor> u(ys.size());
  for (size_t j = 0; j < ys.size(); ++j)
    if (is_float(ys[j].dtype())) u[j] = normal_like(rng, ys[j]);

  auto [ys2, tys] = engine::jvp_flat(f, args, v);
  std::ostringstream err;
  // Central differences along v.
  std::vector<Tensor> xp = args, xm = args;
  for (size_t i = 0; i < args.size(); ++i)
    if (v[i].defined()) {
      xp[i] = axpy(args[i], v[i], opt.eps);
      xm[i] = axpy(args[i], v[i], -opt.eps);
    }
  std::vector<Tensor> yp = f(xp), ym = f(xm);
  double u_fd = 0, u_jv = 0;
  for (size_t j = 0; j < ys.size(); ++j) {
    if (!u[j].defined()) continue;
    auto a = to_f64(yp[j]), b = to_f64(ym[j]);
    for (size_t k = 0; k < a.size(); ++k) a[k] = (a[k] - b[k]) / (2 * opt.eps);
    Tensor fd = Tensor::from_vector(a, ys[j].shape());
    if (opt.modes_fwd) {
      std::string c = compare(tys[j], fd, opt.atol, opt.rtol);
      if (!c.empty())
        err << "order " << order << ": jvp of output " << j << " vs finite differences: " << c << "\n";
    }
    u_fd += dot(u[j], fd);
    u_jv += dot(u[j], tys[j]);
  }
  if (opt.modes_rev) {
    auto [ys3, pb] = engine::vjp_flat(f, args);
    std::vector<Tensor> g = pb(u);
    double g_v = 0;
    for (size_t i = 0; i < args.size(); ++i)
      if (v[i].defined()) g_v += dot(g[i], v[i]);
    double scale = std::abs(g_v) + std::abs(u_jv);
    if (std::abs(g_v - u_jv) > 1e-10 + opt.consistency_rtol * scale)
      err << "order " << order << ": <J^T u, v> = " << g_v << " but <u, J v> = " << u_jv << "\n";
    if (std::abs(g_v - u_fd) > opt.atol + opt.rtol * scale + 10 * opt.atol * std::sqrt(double(args.size())))
      err << "order " << order << ": <J^T u, v> = " << g_v << " but finite differences give " << u_fd << "\n";
  }
  std::string e = err.str();
  if (!e.empty() || order >= opt.order) return e;
  // Next order: the derivative maps themselves, as functions of the primal point.
  FlatFn fwd = [&f, v](const std::vector<Tensor>& x) {
    auto [o, t] = engine::jvp_flat(f, x, v);
    std::vector<Tensor> out;
    for (const auto& ti : t)
      if (is_float(ti.dtype())) out.push_back(ti);
    return out;
  };
  FlatFn rev = [&f, u, &args](const std::vector<Tensor>& x) {
    auto [o, pb] = engine::vjp_flat(f, x);
    std::vector<Tensor> g = pb(u), out;
    for (size_t i = 0; i < g.size(); ++i)
      if (is_float(args[i].dtype())) out.push_back(g[i]);
    return out;
  };
  GradCheck next = opt;
  next.atol *= 10;  // finite differences of derivatives lose a little more
  next.rtol *= 10;
  if (opt.modes_fwd) e += check_grads_once(fwd, args, next, rng, order + 1);
  if (opt.modes_rev) e += check_grads_once(rev, args, next, rng, order + 1);
  return e;
}

// Stacks example tensors along `axis` of a new dimension (host copy, any dtype).
Tensor host_stack(const std::vector<Tensor>& xs, int axis, const Tensor& like) {
  Shape s = like.shape();
  s.insert(s.begin() + axis, static_cast<int64_t>(xs.size()));
  Tensor out = Tensor::empty(s, like.dtype());
  const size_t isz = engine::itemsize(like.dtype());
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= like.shape()[i];
  for (int i = axis; i < like.ndim(); ++i) inner *= like.shape()[i];
  char* dst = static_cast<char*>(out.raw_mutable_data());
  const int64_t b = static_cast<int64_t>(xs.size());
  for (int64_t k = 0; k < b; ++k) {
    std::vector<char> src(static_cast<size_t>(xs[k].numel()) * isz);
    if (!src.empty()) engine::copy_to_contiguous(xs[k], src.data());
    for (int64_t o = 0; o < outer; ++o)
      std::memcpy(dst + ((o * b + k) * inner) * isz, src.data() + o * inner * isz,
                  static_cast<size_t>(inner) * isz);
  }
  return out;
}

std::string describe_axes(const std::vector<std::optional<int>>& axes, int64_t b, int out_axis) {
  std::ostringstream os;
  os << "in_axes=(";
  for (size_t i = 0; i < axes.size(); ++i)
    os << (i ? "," : "") << (axes[i] ? std::to_string(*axes[i]) : "None");
  os << ") batch=" << b << " out_axis=" << out_axis;
  return os.str();
}

}  // namespace

std::string check_grads(const FlatFn& f, const std::vector<Tensor>& args, const GradCheck& opt, Rng& rng) {
  return check_grads_once(f, args, opt, rng, 1);
}

std::string check_vmap(const FlatFn& f, const std::function<std::vector<Tensor>(Rng&)>& make_args, Rng& rng,
                       double atol, double rtol) {
  std::vector<Tensor> proto = make_args(rng);
  const size_t n = proto.size();
  size_t combos = 1;
  for (size_t i = 0; i < n; ++i) combos *= 3;
  std::ostringstream err;
  for (size_t c = 0; c < combos; ++c) {
    std::vector<int> mode(n);  // 0 = not mapped, 1 = first axis, 2 = last axis
    size_t cc = c;
    bool any = false;
    for (size_t i = 0; i < n; ++i) {
      mode[i] = static_cast<int>(cc % 3);
      cc /= 3;
      any |= mode[i] != 0;
      if (mode[i] == 2 && proto[i].ndim() == 0) mode[i] = -1;  // same as first axis for scalars: skip
    }
    bool skip = !any;
    for (int m : mode) skip |= m == -1;
    if (skip) continue;
    uint64_t dispatch_b2 = 0;  // compared with batch 3 (batch 1 may elide reshapes and broadcasts)
    for (int64_t b : {int64_t(2), int64_t(3), int64_t(1), int64_t(0)}) {
      std::vector<std::vector<Tensor>> examples;
      for (int64_t k = 0; k < b; ++k) examples.push_back(make_args(rng));
      std::vector<Tensor> batched(n);
      std::vector<std::optional<int>> axes(n);
      std::vector<Tensor> fixed = make_args(rng);
      for (size_t i = 0; i < n; ++i) {
        if (mode[i] == 0) {
          batched[i] = fixed[i];
          continue;
        }
        int ax = mode[i] == 1 ? 0 : proto[i].ndim();
        axes[i] = mode[i] == 1 ? 0 : -1;
        std::vector<Tensor> col;
        for (int64_t k = 0; k < b; ++k) col.push_back(examples[k][i]);
        batched[i] = host_stack(col, ax, proto[i]);
      }
      // The loop.
      std::vector<std::vector<Tensor>> outs_k;
      for (int64_t k = 0; k < b; ++k) {
        std::vector<Tensor> a(n);
        for (size_t i = 0; i < n; ++i) a[i] = mode[i] == 0 ? fixed[i] : examples[k][i];
        outs_k.push_back(f(a));
      }
      std::vector<Tensor> out_proto = f(fixed);
      for (int out_axis : {0, -1}) {
        uint64_t before = engine::eval_dispatch_count();
        std::vector<Tensor> got;
        try {
          got = engine::vmap_flat(f, batched, axes, {out_axis});
        } catch (const std::exception& e) {
          err << describe_axes(axes, b, out_axis) << ": threw " << e.what() << "\n";
          continue;
        }
        uint64_t dispatches = engine::eval_dispatch_count() - before;
        if (b == 2 && out_axis == 0) dispatch_b2 = dispatches;
        if (b == 3 && out_axis == 0 && dispatches != dispatch_b2)
          err << describe_axes(axes, b, out_axis) << ": " << dispatches << " kernels for batch 3 but "
              << dispatch_b2 << " for batch 2 (a per-example loop?)\n";
        for (size_t j = 0; j < out_proto.size(); ++j) {
          std::vector<Tensor> col;
          for (int64_t k = 0; k < b; ++k) col.push_back(outs_k[k][j]);
          Tensor expected = host_stack(col, out_axis == 0 ? 0 : out_proto[j].ndim(), out_proto[j]);
          std::string c = compare(got[j], expected, atol, rtol);
          if (!c.empty()) err << describe_axes(axes, b, out_axis) << " output " << j << ": " << c << "\n";
        }
      }
    }
  }
  return err.str();
}

std::string check_nested_vmap(const FlatFn& f, const std::function<std::vector<Tensor>(Rng&)>& make_args,
                              Rng& rng, double atol, double rtol) {
  const int64_t b1 = 2, b2 = 3;
  std::vector<Tensor> proto = make_args(rng);
  const size_t n = proto.size();
  std::vector<std::vector<std::vector<Tensor>>> ex(b1);
  for (auto& row : ex)
    for (int64_t k = 0; k < b2; ++k) row.push_back(make_args(rng));
  std::vector<Tensor> batched(n);
  for (size_t i = 0; i < n; ++i) {
    std::vector<Tensor> rows;
    for (int64_t a = 0; a < b1; ++a) {
      std::vector<Tensor> col;
      for (int64_t k = 0; k < b2; ++k) col.push_back(ex[a][k][i]);
      rows.push_back(host_stack(col, 0, proto[i]));
    }
    batched[i] = host_stack(rows, 0, rows[0]);
  }
  std::vector<std::optional<int>> axes(n, 0);
  FlatFn inner = [&](const std::vector<Tensor>& xs) { return engine::vmap_flat(f, xs, axes, {0}); };
  std::vector<Tensor> got;
  try {
    got = engine::vmap_flat(inner, batched, axes, {0});
  } catch (const std::exception& e) {
    return std::string("nested vmap threw ") + e.what();
  }
  std::vector<Tensor> out_proto = f(proto);
  std::ostringstream err;
  for (size_t j = 0; j < out_proto.size(); ++j) {
    std::vector<Tensor> rows;
    for (int64_t a = 0; a < b1; ++a) {
      std::vector<Tensor> col;
      for (int64_t k = 0; k < b2; ++k) col.push_back(f(ex[a][k])[j]);
      rows.push_back(host_stack(col, 0, out_proto[j]));
    }
    std::string c = compare(got[j], host_stack(rows, 0, rows[0]), atol, rtol);
    if (!c.empty()) err << "nested vmap output " << j << ": " << c << "\n";
  }
  return err.str();
}

std::vector<char> raw_bytes(const Tensor& t) {
  std::vector<char> b(size_t(t.numel()) * engine::itemsize(t.dtype()));
  if (!b.empty()) engine::copy_to_contiguous(t, b.data());
  return b;
}

bool update_golden_requested() {
  const char* v = std::getenv("QGF_UPDATE_GOLDEN");
  return v && std::string(v) == "1";
}

void write_file_atomically(const std::filesystem::path& path, const std::string& text) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  fs::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    ASSERT_TRUE(out) << "cannot write " << tmp;
    out << text;
    out.close();
    ASSERT_TRUE(out) << "writing " << tmp << " failed";
  }
  fs::rename(tmp, path, ec);
  ASSERT_FALSE(ec) << "cannot rename " << tmp << " to " << path << ": " << ec.message();
}

}  // namespace testing_support
