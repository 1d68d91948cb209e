// Composition tests: transforms nested in every order against loops, closed forms and finite differences,
// the perturbation-confusion case, escaped tracers, trees and argnums.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/transforms/transforms.h"
#include "ops/api.h"
#include "tests/support/testing.h"

namespace {

using namespace testing_support;
using engine::argnums;
using engine::Tensor;
using engine::Tree;

Tensor f64s(std::vector<double> v, Shape s) { return Tensor::from_vector(v, s); }
Tensor f64(double v) { return Tensor::scalar(v, DType::F64); }

struct Mlp {
  Tensor w1, b1, w2, b2;
  auto tree_fields() { return std::tie(w1, b1, w2, b2); }
  auto tree_fields() const { return std::tie(w1, b1, w2, b2); }
};

Tensor mlp_loss(const Mlp& p, const Tensor& x, const Tensor& y) {
  Tensor h = ops::tanh(ops::matmul(x, p.w1) + p.b1);
  Tensor out = ops::matmul(h, p.w2) + p.b2;  // [1]
  return ops::sum(ops::square(out - y));
}

Mlp random_mlp(Rng& rng) {
  return {rand_tensor(rng, {3, 8}, DType::F64), rand_tensor(rng, {8}, DType::F64),
          rand_tensor(rng, {8, 1}, DType::F64), rand_tensor(rng, {1}, DType::F64)};
}

TEST(Composition, PerExampleGradientsWithVmapOfGradEqualLoop) {
  Rng rng(1);
  Mlp p = random_mlp(rng);
  Tensor xs = rand_tensor(rng, {5, 3}, DType::F64), ys = rand_tensor(rng, {5, 1}, DType::F64);
  auto per_example = engine::vmap(engine::grad(mlp_loss), {std::nullopt, 0, 0})(p, xs, ys);
  ASSERT_EQ(per_example.w1.shape(), (Shape{5, 3, 8}));
  for (int64_t i = 0; i < 5; ++i) {
    Tensor x = ops::slice_axis(xs, 0, i, i + 1), y = ops::slice_axis(ys, 0, i, i + 1);
    Mlp g = engine::grad(mlp_loss)(p, ops::reshape(x, {3}), ops::reshape(y, {1}));
    auto row = [&](const Tensor& t) { return ops::reshape(ops::slice_axis(t, 0, i, i + 1), g.w1.shape() == t.shape() ? t.shape() : Shape(t.shape().begin() + 1, t.shape().end())); };
    EXPECT_EQ(compare(row(per_example.w1), g.w1, 1e-12, 1e-12), "");
    EXPECT_EQ(compare(row(per_example.b1), g.b1, 1e-12, 1e-12), "");
    EXPECT_EQ(compare(row(per_example.w2), g.w2, 1e-12, 1e-12), "");
    EXPECT_EQ(compare(row(per_example.b2), g.b2, 1e-12, 1e-12), "");
  }
}

TEST(Composition, GradOfGradMatchesClosedForms) {
  auto f = [](const Tensor& x) { return ops::pow(x, Tensor::scalar(3.0, DType::F64)) * ops::sin(x); };
  for (double x : {-1.3, 0.4, 2.0}) {
    double d2 = 6 * x * std::sin(x) + 6 * x * x * std::cos(x) - x * x * x * std::sin(x);
    Tensor g2 = engine::grad(engine::grad(f))(f64(x));
    EXPECT_NEAR(g2.item<double>(), d2, 1e-10) << "x=" << x;
  }
  auto e = [](const Tensor& x) { return ops::exp(x * 2.0); };
  Tensor g3 = engine::grad(engine::grad(engine::grad(e)))(f64(0.3));
  EXPECT_NEAR(g3.item<double>(), 8 * std::exp(0.6), 1e-10);
}

TEST(Composition, HessianVectorProductFromJvpOfGradMatchesFiniteDifferences) {
  Rng rng(2);
  Tensor w = rand_tensor(rng, {4, 5}, DType::F64);
  auto f = [w](const Tensor& x) { return ops::sum(ops::square(ops::tanh(ops::matmul(w, x)))); };
  Tensor x = rand_tensor(rng, {5}, DType::F64), v = rand_tensor(rng, {5}, DType::F64);
  Tensor hvp = engine::jvp(engine::grad(f), x, v).second;
  const double eps = 1e-5;
  auto gp = to_f64(engine::grad(f)(ops::add(x, ops::mul(v, Tensor::scalar(eps, DType::F64)))));
  auto gm = to_f64(engine::grad(f)(ops::sub(x, ops::mul(v, Tensor::scalar(eps, DType::F64)))));
  std::vector<double> fd(5);
  for (int i = 0; i < 5; ++i) fd[i] = (gp[i] - gm[i]) / (2 * eps);
  EXPECT_EQ(compare(hvp, f64s(fd, {5}), 1e-7, 1e-6), "");
  // The full Hessian from jacfwd(jacrev) agrees too.
  Tensor h = engine::hessian(f)(x);
  ASSERT_EQ(h.shape(), (Shape{5, 5}));
  EXPECT_EQ(compare(ops::matmul(h, v), hvp, 1e-12, 1e-10), "");
}

TEST(Composition, JacfwdEqualsJacrevEqualsClosedForm) {
  Rng rng(3);
  Tensor a = rand_tensor(rng, {3, 4}, DType::F64), x = rand_tensor(rng, {4}, DType::F64);
  auto f = [a](const Tensor& x) { return ops::sin(ops::matmul(a, x)); };
  Tensor jf = engine::jacfwd(f)(x), jr = engine::jacrev(f)(x);
  auto av = to_f64(a), xv = to_f64(x);
  std::vector<double> expect(12);
  for (int i = 0; i < 3; ++i) {
    double z = 0;
    for (int k = 0; k < 4; ++k) z += av[i * 4 + k] * xv[k];
    for (int k = 0; k < 4; ++k) expect[i * 4 + k] = std::cos(z) * av[i * 4 + k];
  }
  EXPECT_EQ(compare(jf, f64s(expect, {3, 4}), 1e-12, 1e-12), "");
  EXPECT_EQ(compare(jr, f64s(expect, {3, 4}), 1e-12, 1e-12), "");
}

TEST(Composition, PerturbationConfusionIsAvoided) {
  // d/dx [ x * d/dy (x + y) ] = d/dx [ x * 1 ] = 1; confusing the two perturbations gives 2.
  auto inner = [](const Tensor& x) {
    return engine::grad([x](const Tensor& y) { return x + y; })(f64(1.0));
  };
  Tensor g = engine::grad([&](const Tensor& x) { return x * inner(x); })(f64(1.0));
  EXPECT_DOUBLE_EQ(g.item<double>(), 1.0);
  // The same in forward mode.
  auto inner_fwd = [](const Tensor& x) {
    return engine::jvp([x](const Tensor& y) { return x + y; }, f64(1.0), f64(1.0)).second;
  };
  auto [val, tan] = engine::jvp([&](const Tensor& x) { return x * inner_fwd(x); }, f64(1.0), f64(1.0));
  EXPECT_DOUBLE_EQ(tan.item<double>(), 1.0);
  // And with an outer value captured by an inner grad of a product: d/dx [ d/dy (x*y) at y=x ] = 1.
  Tensor g2 = engine::grad([](const Tensor& x) { return engine::grad([x](const Tensor& y) { return x * y; })(x); })(f64(3.0));
  EXPECT_DOUBLE_EQ(g2.item<double>(), 1.0);
}

TEST(Composition, EscapedTracerRaisesTheDocumentedError) {
  Tensor leaked;
  engine::grad([&](const Tensor& x) {
    leaked = x * 2.0;
    return x * x;
  })(f64(2.0));
  try {
    (void)ops::add(leaked, f64(1.0));
    FAIL() << "expected an escaped-tracer error";
  } catch (const engine::Error& e) {
    EXPECT_EQ(e.kind(), engine::ErrorKind::EscapedTracer);
    EXPECT_NE(std::string(e.what()).find("transform has already finished"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("test_composition.cpp"), std::string::npos) << e.what();
  }
}

TEST(Composition, TransformsComposeInEveryOrder) {
  Rng rng(4);
  Tensor xs = rand_tensor(rng, {3, 4}, DType::F64);
  auto f = [](const Tensor& x) { return ops::sum(ops::sin(x) * ops::exp(x * 0.5)); };
  // grad(vmap) = vmap(grad) for a sum of per-example losses.
  Tensor a = engine::grad([&](const Tensor& x) { return ops::sum(engine::vmap(f)(x)); })(xs);
  Tensor b = engine::vmap(engine::grad(f))(xs);
  EXPECT_EQ(compare(a, b, 1e-12, 1e-12), "");
  // vmap(jvp) = jvp(vmap).
  Tensor vs = rand_tensor(rng, {3, 4}, DType::F64);
  Tensor c = engine::vmap([&](const Tensor& x, const Tensor& v) { return engine::jvp(f, x, v).second; })(xs, vs);
  Tensor d = engine::jvp(engine::vmap(f), xs, vs).second;
  EXPECT_EQ(compare(c, d, 1e-12, 1e-12), "");
  // Checkpointed functions give the same gradients, also under vmap.
  auto fc = engine::checkpoint(f);
  EXPECT_EQ(compare(engine::vmap(engine::grad(fc))(xs), b, 1e-12, 1e-12), "");
  EXPECT_EQ(compare(engine::grad(engine::grad([&](const Tensor& x) { return fc(x); }))(f64(0.7)),
                    engine::grad(engine::grad(f))(f64(0.7)), 1e-12, 1e-12),
            "");
}

TEST(Composition, TreesArgnumsAndAux) {
  Tree params;
  params["w"] = f64s({1.0, 2.0}, {2});
  params["b"] = f64(0.5);
  auto loss = [](const Tree& p, const Tensor& x) {
    Tensor l = ops::sum(p.at("w").tensor() * x) + p.at("b").tensor();
    return std::make_pair(l * l, l);  // (loss, aux)
  };
  Tensor x = f64s({3.0, -1.0}, {2});
  auto [value, grads] = engine::value_and_grad(loss, argnums<0, 1>)(params, x);
  const double l = 1 * 3 - 2 * 1 + 0.5;  // 1.5
  EXPECT_DOUBLE_EQ(value.first.item<double>(), l * l);
  EXPECT_DOUBLE_EQ(value.second.item<double>(), l);
  const Tree& gp = std::get<0>(grads);
  EXPECT_EQ(gp.keys(), (std::vector<std::string>{"b", "w"}));
  EXPECT_DOUBLE_EQ(gp.at("b").tensor().item<double>(), 2 * l);
  EXPECT_EQ(to_f64(gp.at("w").tensor()), (std::vector<double>{2 * l * 3, 2 * l * -1}));
  EXPECT_EQ(to_f64(std::get<1>(grads)), (std::vector<double>{2 * l * 1, 2 * l * 2}));
  auto [g_only, aux] = engine::grad(loss)(params, x);
  EXPECT_DOUBLE_EQ(aux.item<double>(), l);
  EXPECT_DOUBLE_EQ(g_only.at("b").tensor().item<double>(), 2 * l);
}

TEST(Composition, VjpOfVectorFunctionAndStaticArguments) {
  auto f = [](const Tensor& x, int power) {
    Tensor y = x;
    for (int i = 1; i < power; ++i) y = y * x;
    return y;
  };
  Tensor x = f64s({1.0, 2.0, 3.0}, {3});
  Tensor g = engine::grad([&](const Tensor& t, int p) { return ops::sum(f(t, p)); })(x, 3);
  EXPECT_EQ(to_f64(g), (std::vector<double>{3, 12, 27}));
  auto [y, pullback] = engine::vjp([](const Tensor& t) { return ops::exp(t); }, x);
  Tensor ct = pullback(ops::ones_like(y));
  EXPECT_EQ(compare(ct, ops::exp(x), 1e-15, 1e-15), "");
}

TEST(Composition, MakeJaxprPrintsATypedGraphWithSourceLines) {
  Rng rng(5);
  Mlp p = random_mlp(rng);
  auto g = engine::make_jaxpr(mlp_loss)(p, rand_tensor(rng, {3}, DType::F64), rand_tensor(rng, {1}, DType::F64));
  g.verify();
  std::string s = g.str();
  EXPECT_NE(s.find("matmul"), std::string::npos) << s;
  EXPECT_NE(s.find("f64[3,8]"), std::string::npos) << s;
  EXPECT_NE(s.find("test_composition.cpp:"), std::string::npos) << s;
  // The gradient's graph verifies as well.
  auto gg = engine::make_jaxpr(engine::grad(mlp_loss))(p, rand_tensor(rng, {3}, DType::F64),
                                                       rand_tensor(rng, {1}, DType::F64));
  gg.verify();
  EXPECT_GT(gg.eqns.size(), g.eqns.size());
}

}  // namespace
