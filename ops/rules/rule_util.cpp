// Shared helpers for rule families.
#include "ops/rules/rule_util.h"

namespace ops::rules {

Tensor bdim_to_front(const Tensor& x, int bdim) { return bdim == 0 ? x : moveaxis(x, bdim, 0); }

Tensor materialize_front(const Tensor& x, int bdim, int64_t size) {
  if (bdim != kNotMapped) return bdim_to_front(x, bdim);
  Shape s = x.shape();
  s.insert(s.begin(), size);
  std::vector<int64_t> dims(x.ndim());
  for (int i = 0; i < x.ndim(); ++i) dims[i] = i + 1;
  return broadcast_in_dim(x, s, dims);
}

TensorList all_front(const TensorList& vals, const std::vector<int>& bdims, int64_t size) {
  TensorList out;
  out.reserve(vals.size());
  for (size_t i = 0; i < vals.size(); ++i) out.push_back(materialize_front(vals[i], bdims[i], size));
  return out;
}

int first_mapped(const std::vector<int>& bdims) {
  for (size_t i = 0; i < bdims.size(); ++i)
    if (bdims[i] != kNotMapped) return static_cast<int>(i);
  return -1;
}

Tensor zeros_of(const AVal& aval) { return zeros(aval.shape, aval.dtype); }

Tensor instantiate(const Tensor& t, const AVal& like) { return t.defined() ? t : zeros_of(like); }

void shape_fail(Prim p, std::span<const AVal> in, const std::string& problem, const std::string& hint,
                engine::ErrorKind k) {
  engine::raise(k, prim_name(p), problem, in, engine::current_user_loc(), hint);
}

void check_arity(Prim p, std::span<const AVal> in, size_t n) {
  if (in.size() != n)
    shape_fail(p, in,
               "expects " + std::to_string(n) + " operand" + (n == 1 ? "" : "s") + ", got " + std::to_string(in.size()),
               "call it through the public API (ops::" + std::string(prim_name(p)) + ")", engine::ErrorKind::Value);
}

}  // namespace ops::rules
