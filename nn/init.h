// Weight initializers, as in flax/JAX (jax.nn.initializers): variance scaling with a fan mode and a
// distribution, and the named presets built on it. Keys are explicit; an initializer is a pure function of
// (key, shape), so the same seed gives the same network on every machine.
#pragma once
#include <cstdint>

#include "engine/core/tensor.h"

namespace nn {

using engine::DType;
using engine::Shape;
using engine::Tensor;

enum class FanMode { In, Out, Avg };
enum class Distribution { TruncatedNormal, Normal, Uniform };

struct VarianceScaling {
  double scale = 1.0;
  FanMode mode = FanMode::Avg;
  Distribution distribution = Distribution::Uniform;
};

// The paper's (and FQL's) default: variance_scaling(1.0, "fan_avg", "uniform").
inline constexpr VarianceScaling kDefaultInit{1.0, FanMode::Avg, Distribution::Uniform};
inline constexpr VarianceScaling kLecunNormal{1.0, FanMode::In, Distribution::TruncatedNormal};
inline constexpr VarianceScaling kHeNormal{2.0, FanMode::In, Distribution::TruncatedNormal};
inline constexpr VarianceScaling kGlorotUniform{1.0, FanMode::Avg, Distribution::Uniform};

// A [fan_in, fan_out] (or any rank >= 2: receptive field = product of the leading dims) weight tensor.
// Truncated normal is truncated at two standard deviations and rescaled (0.87962566...) as in JAX.
Tensor init_weight(const Tensor& key, const Shape& shape, const VarianceScaling& vs = kDefaultInit,
                   DType dtype = DType::F32);

}  // namespace nn
