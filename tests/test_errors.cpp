// Error messages: each error class names the op, the operands' shapes and dtypes, the user's source line and
// a hint.
#include <gtest/gtest.h>

#include "engine/transforms/transforms.h"
#include "ops/api.h"

namespace {

using engine::DType;
using engine::ErrorKind;
using engine::Tensor;

// Runs fn, expects an engine::Error of kind k whose message contains every string in `parts`.
template <class Fn>
void expect_error(Fn&& fn, ErrorKind k, std::vector<std::string> parts) {
  try {
    fn();
    ADD_FAILURE() << "expected an error of kind " << engine::error_kind_name(k);
  } catch (const engine::Error& e) {
    EXPECT_EQ(e.kind(), k) << e.what();
    for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << "missing '" << p << "' in: " << e.what();
  }
}

std::string here(int line) { return "test_errors.cpp:" + std::to_string(line); }

TEST(Errors, ShapeMismatchNamesOpOperandsLineAndHint) {
  Tensor a = ops::zeros({4, 8}), b = ops::zeros({7, 2});
  int line = __LINE__ + 1;
  expect_error([&] { (void)ops::add(a, b); }, ErrorKind::Shape, {"[add]", "f32[4,8], f32[7,2]", here(line), "hint:"});
  line = __LINE__ + 1;
  expect_error([&] { (void)(a * b); }, ErrorKind::Shape, {"[mul]", "f32[4,8], f32[7,2]", here(line)});
  line = __LINE__ + 1;
  expect_error([&] { (void)ops::matmul(a, b); }, ErrorKind::Shape, {"[matmul]", "f32[4,8], f32[7,2]", here(line)});
  line = __LINE__ + 1;
  expect_error([&] { (void)ops::reshape(a, {5, 5}); }, ErrorKind::Shape, {"[reshape]", "f32[4,8]", here(line)});
}

TEST(Errors, DTypeMismatch) {
  Tensor i = ops::zeros({3}, DType::I32), u = ops::zeros({3}, DType::U32);
  int line = __LINE__ + 1;
  expect_error([&] { (void)ops::add(i, u); }, ErrorKind::DType, {"[add]", "i32[3], u32[3]", here(line), "hint:"});
  line = __LINE__ + 1;
  expect_error([&] { (void)ops::exp(i); }, ErrorKind::DType, {"[exp]", "i32[3]", here(line)});
  line = __LINE__ + 1;
  expect_error([&] { (void)ops::select(i, i, i); }, ErrorKind::DType, {"[select]", "bool", here(line)});
}

TEST(Errors, GradOfNonScalar) {
  int line = __LINE__ + 1;
  auto g = engine::grad([](const Tensor& x) { return x * 2.0; });
  expect_error([&] { (void)g(ops::ones({3})); }, ErrorKind::Grad, {"[grad]", "scalar", "f32[3]", here(line), "hint:"});
}

TEST(Errors, VmapAxisSizeMismatch) {
  auto f = engine::vmap([](const Tensor& a, const Tensor& b) { return a + b; });
  expect_error([&] { (void)f(ops::ones({3, 2}), ops::ones({4, 2})); }, ErrorKind::Vmap,
               {"[vmap]", "input 0 has 3", "input 1 has 4", "f32[3,2], f32[4,2]", "hint:"});
  auto g = engine::vmap([](const Tensor& a) { return a; }, {5});
  expect_error([&] { (void)g(ops::ones({3, 2})); }, ErrorKind::Vmap, {"[vmap]", "out of range"});
}

TEST(Errors, TracerUsedAfterItsTransformEnded) {
  Tensor leaked;
  int line = __LINE__ + 1;
  (void)engine::vmap([&](const Tensor& x) { leaked = ops::sin(x); return x; })(ops::ones({2}));
  expect_error([&] { (void)ops::exp(leaked); }, ErrorKind::EscapedTracer,
               {"[exp]", "already finished", here(line), "hint:"});
}

TEST(Errors, TracedValueNeededAsConcrete) {
  auto g = engine::grad([](const Tensor& x) {
    if (x.item<float>() > 0) return x * x;  // control flow on a traced value
    return x;
  });
  expect_error([&] { (void)g(ops::scalar(1.0)); }, ErrorKind::Concretization, {"[item]", "concrete", "f32[]", "hint:"});
}

TEST(Errors, WideIntegerLiterals) {
  Tensor x = ops::ones({2});
  int64_t three = 3;
  size_t two = 2;
  EXPECT_EQ((x * three + two).to_vector<float>(), (std::vector<float>{5, 5}));
  int64_t huge = int64_t(1) << 40;
  expect_error([&] { (void)(x * huge); }, ErrorKind::Value, {"[literal]", "does not fit in i32", "hint:"});
}

TEST(Errors, NullTensorIsReportedNotCrashed) {
  Tensor null;
  expect_error([&] { (void)ops::exp(null); }, ErrorKind::Value, {"[exp]", "null"});
}

}  // namespace
