// The 2-D multimodal bandit: a one-step task whose answer is known, so the whole pipeline (data, training,
// guided sampling, evaluation, plots) can be checked end to end in seconds.
//   obs       a constant (obs_dim 1, value 0)
//   action    a in [-1, 1]^2
//   reward    r(a) = sum_k c_k exp(-|a - m_k|^2 / (2 * 0.25^2)), bumps of height c = (0, 1, 0.5) at
//             m = (-0.5, -0.5), (0.5, -0.5), (0, 0.55)
//   success   r(a) > 0.9 (within ~0.11 of the best mode)
//   data      actions from the 3-mode mixture with weights 0.5 / 0.3 / 0.2 and sigma 0.05: the behavior
//             policy mostly picks the worthless mode, and the best mode holds 30% of the data.
#pragma once
#include <array>

#include "env.h"

namespace qgf_offline {

struct BanditModel {
  static constexpr int kModes = 3;
  static constexpr std::array<std::array<double, 2>, kModes> centers = {
      {{-0.5, -0.5}, {0.5, -0.5}, {0.0, 0.55}}};
  static constexpr std::array<double, kModes> heights = {0.0, 1.0, 0.5};
  static constexpr std::array<double, kModes> data_weights = {0.5, 0.3, 0.2};
  static constexpr double data_sigma = 0.05;
  static constexpr double width = 0.25;
  static constexpr double success_reward = 0.9;
  static double reward(double x, double y);
};

class BanditEnv : public Env {
 public:
  std::string name() const override { return "bandit"; }
  int64_t obs_dim() const override { return 1; }
  int64_t action_dim() const override { return 2; }
  int max_steps() const override { return 1; }
  Tensor reset(int64_t batch, uint64_t seed) override;
  StepResult step(const Tensor& actions) override;

 private:
  std::vector<uint8_t> done_;
};

// `size` one-step transitions (terminal, mask 0) drawn with rl::Rng(seed), written to `path` (OGBench .npz).
void generate_bandit_dataset(int64_t size, uint64_t seed, const std::string& path, bool show_progress);

}  // namespace qgf_offline
