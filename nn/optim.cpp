// Adam, global-norm clipping and Polyak averaging on leaf lists (see optim.h). The arithmetic mirrors optax's
// source operation by operation (same operand order, same divisions rather than reciprocals, the scale by
// -lr before apply_updates' addition) so that an f32 run matches optax's f32 run to the last bit wherever the
// underlying kernels (pow, sqrt, sum) agree.
#include "nn/optim.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <string>

#include "engine/core/error.h"
#include "ops/api.h"

namespace nn {

using engine::DType;
using engine::ErrorKind;

namespace {

constexpr const char* kAdamOp = "nn::adam_update";

[[noreturn]] void bad_config(const std::string& field, double value, const std::string& need) {
  engine::raise(ErrorKind::Value, kAdamOp,
                "AdamConfig." + field + " = " + std::to_string(value) + " is invalid", {}, {},
                "set " + field + " " + need);
}

void check_leaf(const char* what, size_t i, const Tensor& param, const Tensor& other) {
  if (!other.defined())
    engine::raise(ErrorKind::Value, kAdamOp,
                  std::string(what) + " leaf " + std::to_string(i) + " is a null tensor", {}, {},
                  "pass a gradient and state for every parameter leaf (no symbolic zeros)");
  if (other.shape() != param.shape() || other.dtype() != param.dtype()) {
    const engine::AVal avals[] = {param.aval(), other.aval()};
    engine::raise(
        other.dtype() != param.dtype() ? ErrorKind::DType : ErrorKind::Shape, kAdamOp,
        std::string(what) + " leaf " + std::to_string(i) + " does not match parameter leaf " +
            std::to_string(i) + " (operands: parameter, " + what + ")",
        avals, {},
        "the gradient and the optimizer state must have the parameters' structure, shapes and dtypes");
  }
}

}  // namespace

void AdamConfig::validate() const {
  if (!std::isfinite(lr)) bad_config("lr", lr, "to a finite number");
  // b = 1 would make the bias correction 1 - b^t zero.
  if (!(b1 >= 0.0 && b1 < 1.0)) bad_config("b1", b1, "in [0, 1)");
  if (!(b2 >= 0.0 && b2 < 1.0)) bad_config("b2", b2, "in [0, 1)");
  if (!(eps >= 0.0 && std::isfinite(eps))) bad_config("eps", eps, "to a finite number >= 0");
  if (!(eps_root >= 0.0 && std::isfinite(eps_root)))
    bad_config("eps_root", eps_root, "to a finite number >= 0");
  if (clip_global_norm && !(*clip_global_norm > 0.0 && std::isfinite(*clip_global_norm)))
    bad_config("clip_global_norm", *clip_global_norm,
               "to a finite number > 0, or leave it empty to disable clipping");
}

uint64_t AdamConfig::jit_hash() const {
  // Exact bits: two configs that differ in the last bit of lr must not share a compiled graph.
  uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&h](double v) { h = (h ^ std::bit_cast<uint64_t>(v)) * 0x100000001b3ull; };
  mix(lr);
  mix(b1);
  mix(b2);
  mix(eps);
  mix(eps_root);
  h = (h ^ uint64_t(clip_global_norm.has_value())) * 0x100000001b3ull;
  mix(clip_global_norm.value_or(0.0));
  return h;
}

std::vector<Tensor> clip_by_global_norm_flat(const std::vector<Tensor>& grads, double max_norm) {
  const Tensor g_norm = global_norm_of_leaves(grads);
  // optax: trigger = g_norm < max_norm; select(trigger, t, (t / g_norm.astype(t.dtype)) * max_norm). The
  // select (not a min(1, max_norm / norm) factor) keeps gradients bitwise unchanged below the threshold.
  const Tensor trigger = ops::lt(g_norm, ops::literal(max_norm));
  std::vector<Tensor> out(grads.size());
  for (size_t i = 0; i < grads.size(); ++i) {
    const Tensor& t = grads[i];
    if (!engine::is_float(t.dtype())) {
      out[i] = t;
      continue;
    }
    const Tensor n = g_norm.dtype() == t.dtype() ? g_norm : ops::convert(g_norm, t.dtype());
    out[i] = ops::select(trigger, t, (t / n) * max_norm);
  }
  return out;
}

AdamFlat adam_update_flat(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                          const std::vector<Tensor>& mu, const std::vector<Tensor>& nu, const Tensor& count,
                          const AdamConfig& c) {
  c.validate();
  const size_t n = params.size();
  if (grads.size() != n || mu.size() != n || nu.size() != n)
    engine::raise(ErrorKind::Value, kAdamOp,
                  "leaf counts differ: params " + std::to_string(n) + ", grads " +
                      std::to_string(grads.size()) + ", mu " + std::to_string(mu.size()) + ", nu " +
                      std::to_string(nu.size()),
                  {}, {}, "pass gradients and a state (adam_init(params)) with the parameters' structure");
  for (size_t i = 0; i < n; ++i) {
    if (!params[i].defined())
      engine::raise(ErrorKind::Value, kAdamOp, "parameter leaf " + std::to_string(i) + " is a null tensor",
                    {}, {}, "initialize every parameter");
    if (!engine::is_float(params[i].dtype())) {
      const engine::AVal av[] = {params[i].aval()};
      engine::raise(ErrorKind::DType, kAdamOp,
                    "parameter leaf " + std::to_string(i) + " is not a float tensor", av, {},
                    "keep integer and bool values (counters, masks) out of the optimized parameter tree");
    }
    check_leaf("gradient", i, params[i], grads[i]);
    check_leaf("mu", i, params[i], mu[i]);
    check_leaf("nu", i, params[i], nu[i]);
  }
  if (!count.defined() || count.dtype() != DType::I32 || count.ndim() != 0) {
    std::vector<engine::AVal> av;
    if (count.defined()) av.push_back(count.aval());
    engine::raise(ErrorKind::DType, kAdamOp, "state.count must be an i32 scalar", av, {},
                  "create the state with nn::adam_init(params)");
  }

  const std::vector<Tensor> g =
      c.clip_global_norm ? clip_by_global_norm_flat(grads, *c.clip_global_norm) : grads;

  // optax numerics.safe_increment: saturate instead of wrapping to a negative count.
  const Tensor imax = ops::scalar(double(std::numeric_limits<int32_t>::max()), DType::I32);
  const Tensor count_inc = ops::select(ops::lt(count, imax), count + 1, imax);

  // Bias corrections 1 - b^t, computed in each leaf's dtype (optax: a weak float, i.e. the default float
  // dtype, then astype(t.dtype)); one pair per dtype present.
  std::map<DType, std::pair<Tensor, Tensor>> corrections;
  auto correction = [&](DType dt) -> const std::pair<Tensor, Tensor>& {
    auto it = corrections.find(dt);
    if (it != corrections.end()) return it->second;
    const Tensor t = ops::convert(count_inc, dt);
    return corrections
        .emplace(dt, std::pair{1.0 - ops::pow(ops::literal(c.b1), t), 1.0 - ops::pow(ops::literal(c.b2), t)})
        .first->second;
  };

  AdamFlat r;
  r.params.resize(n);
  r.mu.resize(n);
  r.nu.resize(n);
  r.count = count_inc;
  for (size_t i = 0; i < n; ++i) {
    const auto& [bc1, bc2] = correction(params[i].dtype());
    // optax tree_update_moment / tree_update_moment_per_elem_norm (g ** 2 is integer_pow, i.e. g * g).
    const Tensor m1 = (1.0 - c.b1) * g[i] + c.b1 * mu[i];
    const Tensor v1 = (1.0 - c.b2) * (g[i] * g[i]) + c.b2 * nu[i];
    const Tensor m_hat = m1 / bc1;
    const Tensor v_hat = v1 / bc2;
    const Tensor u = (m_hat / (ops::sqrt(v_hat + c.eps_root) + c.eps)) * (-c.lr);  // scale(-lr)
    r.params[i] = params[i] + u;                                                   // apply_updates
    r.mu[i] = m1;
    r.nu[i] = v1;
  }
  return r;
}

Tensor polyak_leaf(const Tensor& target, const Tensor& online, double tau) {
  if (!std::isfinite(tau) || tau < 0.0 || tau > 1.0)
    engine::raise(ErrorKind::Value, "nn::polyak", "tau = " + std::to_string(tau) + " is not in [0, 1]", {}, {},
                  "pass tau in [0, 1] (the weight of the online network)");
  return tau * online + (1.0 - tau) * target;
}

}  // namespace nn
