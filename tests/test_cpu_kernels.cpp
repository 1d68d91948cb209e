// CPU kernels of the elementwise and reduction families against scalar std:: reference loops, through the
// public API in eager mode: every primitive and dtype, on contiguous, column-major, padded (inner stride 2
// with an offset), broadcast (stride 0) and scalar operand layouts, at sizes 0, 1, odd and above the parallel
// cutoff. Reductions must be bitwise identical at 1 and 2 OpenMP threads. (Matmul and movement kernels:
// test_cpu_kernels_structural.cpp.)
#include "tests/cpu_kernel_testing.h"

namespace {

using namespace cpu_kernel_testing;

const std::vector<Shape> kShapes = {{}, {0}, {1}, {7}, {3, 5}, {2, 3, 4}, {3, 0, 2}, {40001}, {260, 131}};
constexpr Lay kLays[] = {Lay::Contig, Lay::ColMajor, Lay::Padded, Lay::Bcast0, Lay::Scalar};

// ===========================================================================================================
// Unary
// ===========================================================================================================

struct UnaryCase {
  const char* name;
  Tensor (*api)(const Tensor&);
  double (*ref)(double);
  bool floats_only;
  double lo, hi, ulps;
};

long double logistic_ref(long double x) {
  return x >= 0 ? 1 / (1 + std::exp(-x)) : std::exp(x) / (1 + std::exp(x));
}

const UnaryCase kUnary[] = {
    {"exp", [](const Tensor& x) { return ops::exp(x); }, [](double x) { return std::exp(x); }, true, -20, 20,
     2},
    {"log", [](const Tensor& x) { return ops::log(x); }, [](double x) { return std::log(x); }, true, 1e-3, 50,
     2},
    {"log1p", [](const Tensor& x) { return ops::log1p(x); }, [](double x) { return std::log1p(x); }, true,
     -0.99, 5, 2},
    {"expm1", [](const Tensor& x) { return ops::expm1(x); }, [](double x) { return std::expm1(x); }, true, -5,
     5, 2},
    {"sin", [](const Tensor& x) { return ops::sin(x); }, [](double x) { return std::sin(x); }, true, -10, 10,
     2},
    {"cos", [](const Tensor& x) { return ops::cos(x); }, [](double x) { return std::cos(x); }, true, -10, 10,
     2},
    {"tanh", [](const Tensor& x) { return ops::tanh(x); }, [](double x) { return std::tanh(x); }, true, -6, 6,
     2},
    {"logistic", [](const Tensor& x) { return ops::logistic(x); },
     [](double x) { return double(logistic_ref(x)); }, true, -30, 30, 4},
    {"sqrt", [](const Tensor& x) { return ops::sqrt(x); }, [](double x) { return std::sqrt(x); }, true, 0,
     100, 0},
    {"rsqrt", [](const Tensor& x) { return ops::rsqrt(x); }, [](double x) { return 1 / std::sqrt(x); }, true,
     1e-3, 100, 1},
    {"erf", [](const Tensor& x) { return ops::erf(x); }, [](double x) { return std::erf(x); }, true, -4, 4,
     2},
    {"floor", [](const Tensor& x) { return ops::floor(x); }, [](double x) { return std::floor(x); }, true, -9,
     9, 0},
    {"neg", [](const Tensor& x) { return ops::neg(x); }, [](double x) { return -x; }, false, -9, 9, 0},
    {"abs", [](const Tensor& x) { return ops::abs(x); }, [](double x) { return std::fabs(x); }, false, -9, 9,
     0},
    {"sign", [](const Tensor& x) { return ops::sign(x); },
     [](double x) { return x > 0   ? 1.0
                           : x < 0 ? -1.0
                                   : x; }, false, -3, 3, 0},
};

// The reference evaluated on the operand's values and rounded to its dtype (f32 results of a double
// reference are the correctly rounded values, so `ulps` bounds the kernel's own error).
V apply_ref(double (*ref)(double), const V& x, DType dt) {
  V out;
  for (double v : x) out.push_back(dt == DType::F32 ? double(float(ref(v))) : ref(v));
  return out;
}

TEST(CpuKernels, UnaryEveryDtypeLayoutAndSize) {
  Rng rng(1);
  for (const UnaryCase& c : kUnary)
    for (DType dt : {DType::I32, DType::F32, DType::F64}) {
      if (c.floats_only && !engine::is_float(dt)) continue;
      for (const Shape& s : kShapes)
        for (Lay lay : kLays) {
          const Gen g = engine::is_float(dt) ? uniform(c.lo, c.hi) : default_gen(dt);
          const Tensor x = make_input(rng, dt, s, lay, g);
          const Tensor y = c.api(x);
          ASSERT_EQ(y.aval(), x.aval()) << c.name;
          EXPECT_EQ(mismatch(y, apply_ref(c.ref, values(x), dt), c.ulps), "")
              << c.name << " " << engine::dtype_name(dt) << engine::shape_str(s) << " " << lay_name(lay);
        }
    }
}

TEST(CpuKernels, UnarySpecialValues) {
  const V specials = {0.0,  -0.0, kInf, -kInf, kNaN, 1e-30, -1e-30,  1e-300, 0.5,
                      -0.5, 1,    -1,   20,    -20,  88,    89,      -87,    -100,
                      100,  709,  710,  -745,  1000, -1000, 3.14159, 1e6,    -1e6};
  for (const UnaryCase& c : kUnary)
    for (DType dt : kFloatDT) {
      V x;
      for (double v : specials) x.push_back(fit(v, dt));
      const Tensor t = make_view(dt, x, {int64_t(x.size())}, {1}, 0);
      // Large arguments of sin/cos lose relative accuracy in any implementation near zeros: absolute bound.
      const double abs = (std::string(c.name) == "sin" || std::string(c.name) == "cos") ? 4 * eps_of(dt) : 0;
      EXPECT_EQ(mismatch(c.api(t), apply_ref(c.ref, x, dt), std::max(c.ulps, 2.0), abs), "")
          << c.name << " " << engine::dtype_name(dt);
    }
}

TEST(CpuKernels, LogisticHasNoOverflowNaN) {
  for (DType dt : kFloatDT) {
    const Tensor x = make_view(dt, {-1e4, -200, -90, 90, 200, 1e4, -kInf, kInf}, {8}, {1}, 0);
    const V y = values(ops::logistic(x));
    for (size_t i = 0; i < y.size(); ++i) {
      EXPECT_FALSE(std::isnan(y[i])) << i;
      EXPECT_GE(y[i], 0.0);
      EXPECT_LE(y[i], 1.0);
    }
    EXPECT_EQ(y[0], 0.0);
    EXPECT_EQ(y[5], 1.0);
    EXPECT_EQ(y[6], 0.0);
    EXPECT_EQ(y[7], 1.0);
  }
}

// f32 tanh is our own vectorized scheme (elementwise.cpp): sweep it densely against the f64 libm value,
// across the polynomial/exp branch point (0.625), into saturation, and over tiny values (odd symmetry, -0).
TEST(CpuKernels, Float32TanhWithinTwoUlpEverywhere) {
  std::vector<float> xs;
  for (float x = -12.f; x < 12.f; x += 1.3e-4f) xs.push_back(x);
  for (float x = 1e-30f; x < 1.f; x *= 1.01f) {
    xs.push_back(x);
    xs.push_back(-x);
  }
  const std::vector<float> y = ops::tanh(Tensor::from_vector(xs)).to_vector<float>();
  double worst = 0;
  float worst_x = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const double ref = std::tanh(double(xs[i]));
    const float rf = float(ref);
    const double ulp = std::max<double>(std::nextafter(std::fabs(rf), INFINITY) - std::fabs(rf), 1e-45);
    const double err = std::fabs(double(y[i]) - ref) / ulp;
    if (err > worst) {
      worst = err;
      worst_x = xs[i];
    }
    EXPECT_EQ(std::signbit(y[i]), std::signbit(xs[i])) << xs[i];
  }
  EXPECT_LE(worst, 2.0) << "worst at x = " << worst_x;
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> in = {-0.0f, 0.0f, 100.f, -100.f, inf, -inf, std::nanf("")};
  const std::vector<float> special = ops::tanh(Tensor::from_vector(in)).template to_vector<float>();
  EXPECT_TRUE(std::signbit(special[0]));
  EXPECT_EQ(special[1], 0.0f);
  EXPECT_EQ(special[2], 1.0f);
  EXPECT_EQ(special[3], -1.0f);
  EXPECT_EQ(special[4], 1.0f);
  EXPECT_EQ(special[5], -1.0f);
  EXPECT_TRUE(std::isnan(special[6]));
}

TEST(CpuKernels, IntegerUnaryWraps) {
  const V x = {0, 1, -1, 2147483647, -2147483648.0, -7};
  const Tensor t = make_view(DType::I32, x, {6}, {1}, 0);
  EXPECT_EQ(values(ops::neg(t)), (V{0, -1, 1, -2147483647, -2147483648.0, 7}));
  EXPECT_EQ(values(ops::abs(t)), (V{0, 1, 1, 2147483647, -2147483648.0, 7}));
  EXPECT_EQ(values(ops::sign(t)), (V{0, 1, -1, 1, -1, -1}));
}

// ===========================================================================================================
// Binary, compare, select
// ===========================================================================================================

// Reference binary op on values of dtype dt (integers wrap to 32 bits; integer division truncates, / 0 -> 0).
double ref_binary(const std::string& op, double a, double b, DType dt) {
  if (engine::is_integer(dt)) {
    const int64_t x = int64_t(a), y = int64_t(b);
    if (op == "add") return int_wrap(x + y, dt);
    if (op == "sub") return int_wrap(x - y, dt);
    if (op == "mul") return int_wrap(int64_t(uint64_t(x) * uint64_t(y)), dt);
    if (op == "div") return y == 0 ? 0 : int_wrap(x / y, dt);
    if (op == "max") return std::max(a, b);
    if (op == "min") return std::min(a, b);
  }
  double r = 0;
  if (op == "add")
    r = a + b;
  else if (op == "sub")
    r = a - b;
  else if (op == "mul")
    r = a * b;
  else if (op == "div")
    r = a / b;
  else if (op == "pow")
    r = std::pow(a, b);
  else if (op == "max")
    r = (std::isnan(a) || std::isnan(b)) ? kNaN : std::max(a, b);
  else if (op == "min")
    r = (std::isnan(a) || std::isnan(b)) ? kNaN : std::min(a, b);
  return dt == DType::F32 ? double(float(r)) : r;
}

struct BinaryCase {
  const char* name;
  Tensor (*api)(const Tensor&, const Tensor&);
  bool floats_only;
  double ulps;
};
const BinaryCase kBinary[] = {
    {"add", [](const Tensor& a, const Tensor& b) { return ops::add(a, b); }, false, 0},
    {"sub", [](const Tensor& a, const Tensor& b) { return ops::sub(a, b); }, false, 0},
    {"mul", [](const Tensor& a, const Tensor& b) { return ops::mul(a, b); }, false, 0},
    {"div", [](const Tensor& a, const Tensor& b) { return ops::div(a, b); }, false, 0},
    {"pow", [](const Tensor& a, const Tensor& b) { return ops::pow(a, b); }, true, 2},
    {"max", [](const Tensor& a, const Tensor& b) { return ops::maximum(a, b); }, false, 0},
    {"min", [](const Tensor& a, const Tensor& b) { return ops::minimum(a, b); }, false, 0},
};

const std::pair<Lay, Lay> kLayPairs[] = {{Lay::Contig, Lay::Contig}, {Lay::Contig, Lay::Scalar},
                                         {Lay::Scalar, Lay::Contig}, {Lay::ColMajor, Lay::Padded},
                                         {Lay::Bcast0, Lay::Contig}, {Lay::Padded, Lay::Bcast0}};

// Floats with an occasional NaN (to check propagation) and zero (division).
Gen binary_gen(DType dt, bool pow_base) {
  if (pow_base) return uniform(0.01, 4);
  if (!engine::is_float(dt)) return default_gen(dt);
  return [](Rng& r) {
    const uint64_t k = r() % 64;
    if (k == 0) return kNaN;
    if (k == 1) return 0.0;
    return std::uniform_real_distribution<double>(-5, 5)(r);
  };
}

TEST(CpuKernels, BinaryEveryDtypeLayoutAndSize) {
  Rng rng(2);
  for (const BinaryCase& c : kBinary)
    for (DType dt : kNumDT) {
      if (c.floats_only && !engine::is_float(dt)) continue;
      const bool is_pow = std::string(c.name) == "pow";
      for (const Shape& s : kShapes)
        for (auto [la, lb] : kLayPairs) {
          const Tensor a = make_input(rng, dt, s, la, binary_gen(dt, is_pow));
          const Tensor b = make_input(rng, dt, s, lb, is_pow ? uniform(-3, 3) : binary_gen(dt, false));
          const Tensor y = c.api(a, b);
          ASSERT_EQ(y.aval(), a.aval());
          const V av = values(a), bv = values(b);
          V want;
          for (size_t i = 0; i < av.size(); ++i) want.push_back(ref_binary(c.name, av[i], bv[i], dt));
          EXPECT_EQ(mismatch(y, want, c.ulps), "")
              << c.name << " " << engine::dtype_name(dt) << engine::shape_str(s) << " " << lay_name(la) << "/"
              << lay_name(lb);
        }
    }
}

TEST(CpuKernels, IntegerArithmeticEdgeCases) {
  const V a = {2147483647, -2147483648.0, -2147483648.0, 7, -7, 7, -7, 5, 0};
  const V b = {1, -1, 1, 2, 2, -2, -2, 0, 0};
  const Tensor x = make_view(DType::I32, a, {9}, {1}, 0), y = make_view(DType::I32, b, {9}, {1}, 0);
  for (const char* op : {"add", "sub", "mul", "div"}) {
    V want;
    for (size_t i = 0; i < a.size(); ++i) want.push_back(ref_binary(op, a[i], b[i], DType::I32));
    const Tensor r = std::string(op) == "add"   ? ops::add(x, y)
                     : std::string(op) == "sub" ? ops::sub(x, y)
                     : std::string(op) == "mul" ? ops::mul(x, y)
                                                : ops::div(x, y);
    EXPECT_EQ(mismatch(r, want, 0), "") << op;
  }
  // Truncation toward zero and x / 0 = 0, spelled out.
  EXPECT_EQ(values(ops::div(x, y)), (V{2147483647, -2147483648.0, -2147483648.0, 3, -3, -3, 3, 0, 0}));
  const Tensor u = make_view(DType::U32, {4294967295.0, 5, 3}, {3}, {1}, 0);
  const Tensor v = make_view(DType::U32, {1, 0, 2}, {3}, {1}, 0);
  EXPECT_EQ(values(ops::add(u, v)), (V{0, 5, 5}));
  EXPECT_EQ(values(ops::div(u, v)), (V{4294967295.0, 0, 1}));
  EXPECT_EQ(values(ops::sub(v, u)), (V{2, 4294967291.0, 4294967295.0}));
}

TEST(CpuKernels, CompareEveryDtype) {
  Rng rng(3);
  using Cmp = Tensor (*)(const Tensor&, const Tensor&);
  const std::pair<const char*, Cmp> cmps[] = {
      {"eq", [](const Tensor& a, const Tensor& b) { return ops::eq(a, b); }},
      {"ne", [](const Tensor& a, const Tensor& b) { return ops::ne(a, b); }},
      {"lt", [](const Tensor& a, const Tensor& b) { return ops::lt(a, b); }},
      {"le", [](const Tensor& a, const Tensor& b) { return ops::le(a, b); }},
      {"gt", [](const Tensor& a, const Tensor& b) { return ops::gt(a, b); }},
      {"ge", [](const Tensor& a, const Tensor& b) { return ops::ge(a, b); }}};
  for (auto [name, fn] : cmps)
    for (DType dt : kAllDT)
      for (const Shape& s : {Shape{}, Shape{0}, Shape{9}, Shape{4, 7}, Shape{40001}})
        for (auto [la, lb] : kLayPairs) {
          // Small value ranges so that ties are common.
          const Gen g = engine::is_float(dt)
                            ? Gen([](Rng& r) { return r() % 9 == 0 ? kNaN : double(r() % 4); })
                            : Gen([](Rng& r) { return double(r() % 3); });
          const Tensor a = make_input(rng, dt, s, la, g), b = make_input(rng, dt, s, lb, g);
          const Tensor y = fn(a, b);
          ASSERT_EQ(y.dtype(), DType::Bool);
          const V av = values(a), bv = values(b);
          V want;
          const std::string n = name;
          for (size_t i = 0; i < av.size(); ++i) {
            const double x = av[i], z = bv[i];
            want.push_back(n == "eq"   ? x == z
                           : n == "ne" ? x != z
                           : n == "lt" ? x < z
                           : n == "le" ? x <= z
                           : n == "gt" ? x > z
                                       : x >= z);
          }
          EXPECT_EQ(mismatch(y, want, 0), "") << name << " " << engine::dtype_name(dt) << " " << lay_name(la);
        }
}

TEST(CpuKernels, SelectEveryDtypeAndLayout) {
  Rng rng(4);
  const std::tuple<Lay, Lay, Lay> lays[] = {{Lay::Contig, Lay::Contig, Lay::Contig},
                                            {Lay::Contig, Lay::Contig, Lay::Scalar},
                                            {Lay::Contig, Lay::Scalar, Lay::Contig},
                                            {Lay::Padded, Lay::ColMajor, Lay::Bcast0},
                                            {Lay::Scalar, Lay::Contig, Lay::Padded}};
  for (DType dt : kAllDT)
    for (const Shape& s : kShapes)
      for (auto [lc, lt, lf] : lays) {
        const Tensor c = make_input(rng, DType::Bool, s, lc, default_gen(DType::Bool));
        const Tensor t = make_input(rng, dt, s, lt, default_gen(dt)),
                     f = make_input(rng, dt, s, lf, default_gen(dt));
        const Tensor y = ops::select(c, t, f);
        const V cv = values(c), tv = values(t), fv = values(f);
        V want;
        for (size_t i = 0; i < cv.size(); ++i) want.push_back(cv[i] != 0 ? tv[i] : fv[i]);
        EXPECT_EQ(mismatch(y, want, 0), "") << engine::dtype_name(dt) << engine::shape_str(s);
      }
}

// ===========================================================================================================
// convert, stop_gradient
// ===========================================================================================================

double ref_convert(double v, DType to) {
  switch (to) {
    case DType::Bool:
      return v != 0 ? 1 : 0;  // NaN != 0
    case DType::F32:
      return double(float(v));
    case DType::F64:
      return v;
    case DType::I32:
      if (std::isnan(v)) return 0;
      if (v >= 2147483647.0) return 2147483647.0;
      if (v <= -2147483648.0) return -2147483648.0;
      return std::trunc(v);
    case DType::U32:
      if (std::isnan(v) || v <= 0) return 0;
      if (v >= 4294967295.0) return 4294967295.0;
      return std::trunc(v);
  }
  return 0;
}

TEST(CpuKernels, ConvertEveryPair) {
  const V specials = {0,        -0.0, 1,    -1,    3.7,          -3.7,          0.5,
                      -0.99,    255,  1e10, -1e10, 2147483647.0, -2147483648.0, 4294967295.0,
                      16777217, kNaN, kInf, -kInf, 1e300};
  for (DType from : kAllDT)
    for (DType to : kAllDT)
      for (Lay lay : {Lay::Contig, Lay::Padded}) {
        V x;
        for (double v : specials) x.push_back(fit(v, from));
        // Integer -> integer conversions wrap modulo 2^32.
        V want;
        for (double v : x) {
          if (engine::is_integer(from) && engine::is_integer(to))
            want.push_back(int_wrap(int64_t(v), to));
          else
            want.push_back(ref_convert(v, to));
        }
        const int64_t n = int64_t(x.size());
        const Tensor t =
            lay == Lay::Contig ? make_view(from, x, {n}, {1}, 0) : make_view(from, x, {n}, {3}, 2);
        const Tensor y = engine::bind1(Prim::convert, {t}, Params().set("dtype", to));
        ASSERT_EQ(y.dtype(), to);
        EXPECT_EQ(mismatch(y, want, 0), "") << engine::dtype_name(from) << " -> " << engine::dtype_name(to);
      }
}

TEST(CpuKernels, StopGradientIsTheIdentity) {
  Rng rng(5);
  for (DType dt : kAllDT)
    for (Lay lay : {Lay::Contig, Lay::Padded, Lay::Bcast0}) {
      const Tensor x = make_input(rng, dt, {3, 4}, lay, default_gen(dt));
      EXPECT_EQ(mismatch(ops::stop_gradient(x), values(x), 0), "");
    }
}

// ===========================================================================================================
// Reductions
// ===========================================================================================================

struct RedCase {
  Shape shape;
  Ints axes;
};
const RedCase kRed[] = {{{7}, {0}},
                        {{3, 5}, {0}},
                        {{3, 5}, {1}},
                        {{3, 5}, {0, 1}},
                        {{2, 3, 4}, {0}},
                        {{2, 3, 4}, {1}},
                        {{2, 3, 4}, {2}},
                        {{2, 3, 4}, {0, 2}},
                        {{2, 3, 4}, {0, 1}},
                        {{2, 3, 4}, {1, 2}},
                        {{2, 3, 4}, {0, 1, 2}},
                        {{3, 1, 4}, {1}},
                        {{0, 3}, {0}},
                        {{0, 3}, {1}},
                        {{4, 0}, {1}},
                        {{300, 257}, {0}},
                        {{300, 257}, {1}},
                        {{5, 40000}, {1}},
                        {{70000, 3}, {0}},
                        {{9, 130, 70}, {1}},
                        {{1}, {0}},
                        {{}, {}}};

// Reference reduction over `axes` of row-major values: returns (sum, sum of |x|, max) per output element.
struct RefRed {
  std::vector<long double> sum, abs_sum;
  V max;
};
RefRed ref_reduce(const V& x, const Shape& shape, const Ints& axes, DType dt) {
  Shape out;
  std::vector<bool> red(shape.size(), false);
  for (int64_t a : axes) red[size_t(a)] = true;
  for (size_t d = 0; d < shape.size(); ++d)
    if (!red[d]) out.push_back(shape[d]);
  const int64_t on = engine::numel(out);
  RefRed r;
  r.sum.assign(size_t(on), 0);
  r.abs_sum.assign(size_t(on), 0);
  const double lowest = engine::is_float(dt) ? -kInf : dt == DType::I32 ? -2147483648.0 : 0.0;
  r.max.assign(size_t(on), lowest);
  Ints idx(shape.size(), 0);
  for (size_t i = 0; i < x.size(); ++i) {
    int64_t o = 0;
    for (size_t d = 0; d < shape.size(); ++d)
      if (!red[d]) o = o * shape[d] + idx[d];
    r.sum[size_t(o)] += x[i];
    r.abs_sum[size_t(o)] += std::fabs(x[i]);
    double& m = r.max[size_t(o)];
    if (std::isnan(x[i]) || x[i] > m) m = std::isnan(m) ? m : x[i];
    for (int d = int(shape.size()) - 1; d >= 0 && ++idx[d] == shape[d]; --d) idx[d] = 0;
  }
  return r;
}

TEST(CpuKernels, ReduceSumAndMaxEveryDtypeLayoutAndAxes) {
  Rng rng(6);
  for (const RedCase& c : kRed)
    for (DType dt : kNumDT)
      for (Lay lay : {Lay::Contig, Lay::ColMajor, Lay::Padded, Lay::Bcast0}) {
        const Gen g = engine::is_float(dt) ? Gen([](Rng& r) {
          return r() % 500 == 0 ? kNaN : std::uniform_real_distribution<double>(-2, 2)(r);
        })
                                           : default_gen(dt);
        const Tensor x = make_input(rng, dt, c.shape, lay, g);
        const V xv = values(x);
        const RefRed ref = ref_reduce(xv, c.shape, c.axes, dt);
        const std::string what = std::string(engine::dtype_name(dt)) + engine::shape_str(c.shape) + " axes " +
                                 engine::shape_str(c.axes) + " " + lay_name(lay);
        // The primitives directly: ops::sum with no axes means all axes.
        const Tensor s = engine::bind1(Prim::reduce_sum, {x}, Params().set("axes", c.axes));
        const Tensor m = engine::bind1(Prim::reduce_max, {x}, Params().set("axes", c.axes));
        const V sv = values(s);
        ASSERT_EQ(sv.size(), ref.sum.size()) << what;
        for (size_t i = 0; i < sv.size(); ++i) {
          if (engine::is_integer(dt)) {
            ASSERT_EQ(sv[i], int_wrap(int64_t(ref.sum[i]), dt)) << what << " element " << i;
          } else if (std::isnan(double(ref.sum[i]))) {
            ASSERT_TRUE(std::isnan(sv[i])) << what;
          } else {
            const double tol = 8 * eps_of(dt) * double(ref.abs_sum[i]) * (dt == DType::F32 ? 8 : 1);
            ASSERT_NEAR(sv[i], double(ref.sum[i]), tol) << what << " element " << i;
          }
        }
        EXPECT_EQ(mismatch(m, ref.max, 0), "") << what;
      }
}

TEST(CpuKernels, ApiReductionsAndEmptyMax) {
  const Tensor x =
      make_view(DType::F32, {1, 2, 3, 4, 5, 6}, {2, 3}, {1, 2}, 0);  // [[1,2,3],[4,5,6]], column-major
  EXPECT_EQ(values(ops::sum(x)), (V{21}));
  EXPECT_EQ(values(ops::sum(x, {0})), (V{5, 7, 9}));
  EXPECT_EQ(values(ops::sum(x, {-1}, true)), (V{6, 15}));
  EXPECT_EQ(values(ops::max(x, {1})), (V{3, 6}));
  EXPECT_EQ(values(ops::argmax(x, 1)), (V{2, 2}));
  const Tensor e = make_view(DType::F32, {}, {2, 0}, {0, 1}, 0);
  EXPECT_EQ(values(ops::max(e, {1})), (V{-kInf, -kInf}));
  EXPECT_EQ(values(ops::sum(e, {1})), (V{0, 0}));
  const Tensor ei = make_view(DType::I32, {}, {0}, {1}, 0);
  EXPECT_EQ(values(ops::max(ei)), (V{-2147483648.0}));
}

TEST(CpuKernels, PairwiseSummationIsAccurate) {
  // Naive float accumulation of 0.1 over 4M elements is off by percents; pairwise stays within a few ulps.
  const int64_t n = int64_t(1) << 22;
  const Tensor x = ops::full({n}, 0.1, DType::F32).contiguous();
  const double want = double(n) * double(0.1f);
  EXPECT_NEAR(values(ops::sum(x))[0], want, want * 1e-6);
  // Rows: the column reduction over 1M rows.
  const Tensor y = ops::full({int64_t(1) << 20, 2}, 0.1, DType::F32).contiguous();
  const V s = values(ops::sum(y, {0}));
  EXPECT_NEAR(s[0], double(1 << 20) * double(0.1f), double(1 << 20) * 1e-6);
  EXPECT_EQ(s[0], s[1]);
}

TEST(CpuKernels, ArgmaxFirstIndexNaNWins) {
  Rng rng(7);
  for (DType dt : kNumDT)
    for (const Shape& s : {Shape{7}, Shape{3, 5}, Shape{2, 3, 4}, Shape{300, 257}, Shape{4, 9000}})
      for (int64_t axis = 0; axis < int64_t(s.size()); ++axis)
        for (Lay lay : {Lay::Contig, Lay::ColMajor, Lay::Padded})
          for (DType idt : {DType::I32, DType::U32}) {
            const Gen g = engine::is_float(dt)
                              ? Gen([](Rng& r) { return r() % 97 == 0 ? kNaN : double(r() % 5); })
                              : Gen([](Rng& r) { return double(r() % 5); });  // many ties
            const Tensor x = make_input(rng, dt, s, lay, g);
            const Tensor y =
                engine::bind1(Prim::argmax, {x}, Params().set("axis", axis).set("index_dtype", idt));
            ASSERT_EQ(y.dtype(), idt);
            const V xv = values(x);
            // Reference: scan each output's fiber.
            const Ints cs = engine::contiguous_strides(s);
            Shape os;
            for (size_t d = 0; d < s.size(); ++d)
              if (int64_t(d) != axis) os.push_back(s[d]);
            V want;
            Ints idx(os.size(), 0);
            for (int64_t o = 0; o < engine::numel(os); ++o) {
              int64_t base = 0;
              for (size_t d = 0, k = 0; d < s.size(); ++d)
                if (int64_t(d) != axis) base += idx[k++] * cs[d];
              int64_t bi = 0;
              double best = xv[size_t(base)];
              for (int64_t r = 1; r < s[size_t(axis)] && !std::isnan(best); ++r) {
                const double v = xv[size_t(base + r * cs[size_t(axis)])];
                if (std::isnan(v) || v > best) {
                  best = v;
                  bi = r;
                }
              }
              want.push_back(double(bi));
              for (int d = int(os.size()) - 1; d >= 0 && ++idx[d] == os[d]; --d) idx[d] = 0;
            }
            EXPECT_EQ(mismatch(y, want, 0), "")
                << engine::dtype_name(dt) << engine::shape_str(s) << " axis " << axis << " " << lay_name(lay);
          }
}

TEST(CpuKernels, ReductionsAreBitwiseIdenticalAcrossThreadCounts) {
  Rng rng(8);
  const RedCase cases[] = {{{1000003}, {0}},      {{4, 300007}, {1}}, {{300007, 5}, {0}},
                           {{64, 1000, 8}, {1}},  {{1000, 300}, {0}}, {{3, 200, 700}, {0, 2}},
                           {{2000, 1000}, {0, 1}}};
  for (const RedCase& c : cases)
    for (DType dt : kFloatDT)
      for (Lay lay : {Lay::Contig, Lay::Padded, Lay::ColMajor}) {
        const Tensor x = make_input(rng, dt, c.shape, lay, uniform(-1, 1));
        const std::string what =
            std::string(engine::dtype_name(dt)) + engine::shape_str(c.shape) + " " + lay_name(lay);
        expect_thread_invariant(
            [&] { return engine::bind1(Prim::reduce_sum, {x}, Params().set("axes", c.axes)); },
            "sum " + what);
        expect_thread_invariant(
            [&] { return engine::bind1(Prim::reduce_max, {x}, Params().set("axes", c.axes)); },
            "max " + what);
        expect_thread_invariant([&] { return ops::argmax(x, c.axes[0]); }, "argmax " + what);
      }
}

}  // namespace
