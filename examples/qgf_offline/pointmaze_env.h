// The MuJoCo point maze (rl/envs/pointmaze.h) behind qgf_offline's Env interface: a batch of single-task
// episodes stepped in lock step, the single-task reward relabelling of navigate data, and the data generator.
#pragma once
#include <string>

#include "env.h"
#include "rl/envs/pointmaze.h"

namespace qgf_offline {

class PointMazeEnv : public Env {
 public:
  PointMazeEnv(std::string maze, int task);
  std::string name() const override { return "pointmaze-" + maze_; }
  int64_t obs_dim() const override { return 2; }
  int64_t action_dim() const override { return 2; }
  int max_steps() const override { return rl::kPointMazeMaxEpisodeSteps; }
  Tensor reset(int64_t batch, uint64_t seed) override;
  StepResult step(const Tensor& actions) override;
  rl::Dataset prepare_dataset(const rl::Dataset& ds) const override;

 private:
  std::string maze_;
  int task_;
  std::unique_ptr<rl::PointMazeBatch> batch_;
  std::vector<uint8_t> was_done_;
};

// "medium" for "pointmaze-medium", ...
std::string pointmaze_maze_of(const std::string& env_name);

}  // namespace qgf_offline
