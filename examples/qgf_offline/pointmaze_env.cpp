// PointMazeEnv (see pointmaze_env.h).
#include "pointmaze_env.h"

#include "rl/envs/maze_layouts.h"

namespace qgf_offline {

std::string pointmaze_maze_of(const std::string& env_name) {
  const std::string prefix = "pointmaze-";
  return env_name.rfind(prefix, 0) == 0 ? env_name.substr(prefix.size()) : env_name;
}

PointMazeEnv::PointMazeEnv(std::string maze, int task) : maze_(std::move(maze)), task_(task) {
  (void)rl::MazeLayout::get(maze_).task(task_);  // validates the maze name and the task id with clear errors
}

Tensor PointMazeEnv::reset(int64_t batch, uint64_t seed) {
  rl::PointMazeOptions opt;
  opt.task_id = task_;
  batch_ = std::make_unique<rl::PointMazeBatch>(maze_, int(batch), opt);
  was_done_.assign(size_t(batch), 0);
  return batch_->reset(seed);
}

StepResult PointMazeEnv::step(const Tensor& actions) {
  const rl::PointMazeBatchStep s = batch_->step(actions);
  StepResult r;
  r.obs = s.obs;
  r.reward = s.rewards.to_vector<float>();
  const size_t n = was_done_.size();
  r.done.assign(n, 0);
  r.success.assign(n, 0);
  for (size_t i = 0; i < n; ++i) {
    r.success[i] = s.success[i];
    r.done[i] = was_done_[i] || s.terminated[i] || s.truncated[i];
    was_done_[i] = r.done[i];
  }
  return r;
}

rl::Dataset PointMazeEnv::prepare_dataset(const rl::Dataset& ds) const {
  // Navigate data carry no task reward: relabel success - 1 and the masks for this task's goal.
  return rl::relabel_pointmaze_singletask(ds, rl::MazeLayout::get(maze_), task_);
}

}  // namespace qgf_offline
