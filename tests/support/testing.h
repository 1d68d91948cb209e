// Test support shared by the test binaries: random inputs, tolerant comparisons, and the two property checks
// every primitive goes through: numerical gradients (check_grads, as JAX's) and vmap against a loop.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "engine/ir/graph.h"
#include "engine/transforms/flat.h"
#include "engine/transforms/tree.h"

namespace testing_support {

using engine::DType;
using engine::FlatFn;
using engine::Shape;
using engine::Tensor;
using Rng = std::mt19937_64;

// Uniform in [lo, hi) (floats) or integers in [lo, hi) (ints; bool: lo/hi ignored, p = 0.5).
Tensor rand_tensor(Rng& rng, const Shape& shape, DType dtype, double lo = -1.0, double hi = 1.0);
// Values with |x| in [lo, hi) and a random sign: keeps inputs away from a kink at 0.
Tensor rand_away_from_zero(Rng& rng, const Shape& shape, double lo, double hi, DType dtype = DType::F64);
std::vector<double> to_f64(const Tensor& t);  // any dtype, row-major
// Host arithmetic on f64 copies, for finite differences and inner products in tests.
Tensor normal_like(Rng& rng, const Tensor& like);         // standard normal f64, like's shape
Tensor axpy(const Tensor& x, const Tensor& v, double a);  // x + a v
double dot(const Tensor& a, const Tensor& b);
// Max |a - b| / (atol + rtol * |b|) over elements; <= 1 means close. Shapes must match (else +inf).
double closeness(const Tensor& a, const Tensor& b, double atol, double rtol);
// Gtest-friendly: empty string when close, else a description with both tensors.
std::string compare(const Tensor& actual, const Tensor& expected, double atol, double rtol);

struct GradCheck {
  int order = 2;      // check derivatives of derivatives up to this order
  double eps = 1e-5;  // central-difference step (inputs are f64)
  double atol = 1e-6;
  double rtol = 1e-5;
  bool modes_fwd = true;           // check jvp against finite differences
  bool modes_rev = true;           // check vjp against jvp (<u, J v> = <J^T u, v>) and finite differences
  double consistency_rtol = 1e-9;  // for <u, J v> = <J^T u, v>: round-off only (raise for f32 paths)
};
// JAX-style check_grads over a flat function of f64 inputs: random directions, forward and reverse mode,
// recursively to `order`. Non-float arguments are held fixed. Returns "" on success or a failure report.
std::string check_grads(const FlatFn& f, const std::vector<Tensor>& args, const GradCheck& opt, Rng& rng);

// vmap against an explicit loop. make_args draws one example's arguments. Every combination of in_axes
// (not mapped, first axis, last axis) is tried for batch sizes 0, 1, 2 and 3 with out_axes 0 and -1, and the
// kernel count of a vmapped call must not grow with the batch size (no per-example fallback).
// Returns "" on success or a failure report.
std::string check_vmap(const FlatFn& f, const std::function<std::vector<Tensor>(Rng&)>& make_args, Rng& rng,
                       double atol = 1e-12, double rtol = 1e-12);
// vmap(vmap(f)) with all arguments mapped at 0, sizes (2, 3), against a double loop.
std::string check_nested_vmap(const FlatFn& f, const std::function<std::vector<Tensor>(Rng&)>& make_args,
                              Rng& rng, double atol = 1e-12, double rtol = 1e-12);

// A tensor's bytes in row-major order (any dtype, any strides).
std::vector<char> raw_bytes(const Tensor& t);

// Every leaf of two trees has the same dtype, shape and bytes (NaN payloads and -0 included).
template <class T>
void expect_tree_bitwise(const T& a, const T& b, const std::string& what) {
  const std::vector<Tensor> la = engine::tree_leaves(a), lb = engine::tree_leaves(b);
  ASSERT_EQ(la.size(), lb.size()) << what;
  for (size_t i = 0; i < la.size(); ++i) {
    EXPECT_EQ(la[i].dtype(), lb[i].dtype()) << what << " leaf " << i;
    EXPECT_EQ(la[i].shape(), lb[i].shape()) << what << " leaf " << i;
    EXPECT_EQ(raw_bytes(la[i]), raw_bytes(lb[i])) << what << " leaf " << i;
  }
}

// fn() throws an engine::Error whose message contains every one of `needles`.
template <class F>
void expect_error_mentioning(F&& fn, std::initializer_list<std::string> needles) {
  try {
    fn();
    ADD_FAILURE() << "no error; expected one mentioning '" << *needles.begin() << "'";
  } catch (const engine::Error& e) {
    for (const std::string& needle : needles)
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "'" << needle << "' in " << e.what();
  }
}
template <class F>
void expect_error_mentioning(F&& fn, const std::string& needle) {
  expect_error_mentioning(std::forward<F>(fn), {needle});
}

// Golden files: QGF_UPDATE_GOLDEN=1 asks tests to rewrite their golden files instead of comparing with them.
bool update_golden_requested();
// Writes next to the target and renames over it, so a reader never sees a half-written file (creates missing
// directories; a gtest failure on error).
void write_file_atomically(const std::filesystem::path& path, const std::string& text);

}  // namespace testing_support
