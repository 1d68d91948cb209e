// The bandit environment and its data generator (see bandit_env.h).
#include "bandit_env.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "progress.h"
#include "rl/data/npz_writer.h"
#include "rl/envs/rng.h"

namespace qgf_offline {

double BanditModel::reward(double x, double y) {
  double r = 0;
  for (int k = 0; k < kModes; ++k) {
    const double dx = x - centers[size_t(k)][0], dy = y - centers[size_t(k)][1];
    r += heights[size_t(k)] * std::exp(-(dx * dx + dy * dy) / (2 * width * width));
  }
  return r;
}

Tensor BanditEnv::reset(int64_t batch, uint64_t /*seed*/) {
  done_.assign(size_t(batch), 0);
  return Tensor::from_vector(std::vector<float>(size_t(batch), 0.f), {batch, 1});
}

StepResult BanditEnv::step(const Tensor& actions) {
  const int64_t n = int64_t(done_.size());
  if (actions.ndim() != 2 || actions.dim(0) != n || actions.dim(1) != 2)
    throw std::runtime_error("bandit: step expects actions [" + std::to_string(n) + ", 2], got " +
                             engine::shape_str(actions.shape()));
  const std::vector<float> a = actions.to_vector<float>();
  StepResult r;
  r.obs = Tensor::from_vector(std::vector<float>(size_t(n), 0.f), {n, 1});
  r.reward.assign(size_t(n), 0.f);
  r.done.assign(size_t(n), 1);
  r.success.assign(size_t(n), 0);
  for (size_t i = 0; i < size_t(n); ++i) {
    if (done_[i]) continue;
    const double x = std::clamp(double(a[2 * i]), -1.0, 1.0), y = std::clamp(double(a[2 * i + 1]), -1.0, 1.0);
    r.reward[i] = float(BanditModel::reward(x, y));
    r.success[i] = r.reward[i] > BanditModel::success_reward;
    done_[i] = 1;
  }
  return r;
}

void generate_bandit_dataset(int64_t size, uint64_t seed, const std::string& path, bool show_progress) {
  // rl::Rng spells out its draws (std::normal_distribution is implementation-defined), so a seed gives the
  // same data set with every standard library.
  rl::Rng rng(seed);
  const size_t n = size_t(size);
  std::vector<float> act(2 * n), rew(n);
  Progress bar("generate", size, show_progress);
  for (size_t i = 0; i < n; ++i) {
    double u = rng.uniform();
    size_t k = 0;
    while (k + 1 < BanditModel::data_weights.size() && u >= BanditModel::data_weights[k])
      u -= BanditModel::data_weights[k++];
    const auto& m = BanditModel::centers[k];
    const std::array<double, 2> z = rng.normal2();
    const double x = std::clamp(m[0] + BanditModel::data_sigma * z[0], -1.0, 1.0);
    const double y = std::clamp(m[1] + BanditModel::data_sigma * z[1], -1.0, 1.0);
    act[2 * i] = float(x);
    act[2 * i + 1] = float(y);
    rew[i] = float(BanditModel::reward(x, y));
    if (i % 1024 == 0) bar.update(int64_t(i));
  }
  bar.update(size);
  bar.finish();
  // The transitions layout of an OGBench file: every episode is one step (terminal), with nothing to
  // bootstrap from (mask 0); the observation is the constant 0.
  const Tensor zeros = Tensor::from_vector(std::vector<float>(n, 0.f), {size, 1});
  rl::write_npz_ordered(path, {{"observations", zeros},
                               {"actions", Tensor::from_vector(act, {size, 2})},
                               {"rewards", Tensor::from_vector(rew, {size})},
                               {"terminals", Tensor::from_vector(std::vector<float>(n, 1.f), {size})},
                               {"masks", Tensor::from_vector(std::vector<float>(n, 0.f), {size})},
                               {"next_observations", zeros}});
}

}  // namespace qgf_offline
