// OGBench's scripted point-maze oracle and the 'navigate' data generator built on it
// (data_gen_scripts/generate_locomaze.py with --dataset_type=navigate, as run for pointmaze-*-navigate-v0).
//
// The oracle: BFS over maze cells from the goal's cell; the subgoal is the centre of the neighbouring cell
// one BFS step closer (MazeLayout::next_cell), or the current cell's centre once in the goal cell; the action
// is the unit direction to the subgoal, (s - xy) / (||s - xy|| + 1e-6), plus N(0, noise^2) per axis, clipped
// to
// [-1, 1]. The point maze's "expert" is exactly this direction (generate_locomaze.py's actor_fn returns it).
//
// One navigate episode (all as in the script; the env is the goal-conditioned pointmaze-<maze>-v0 with
// terminate_at_goal=False, so success_timing='post' and goals carry noise):
//   start cell ~ uniform over free cells, goal cell ~ uniform over vertex (non-hallway) cells;
//   start and goal positions = cell centres + U(-1, 1) per axis; qvel ~ N(0, 0.1^2);
//   every step: record (observation, action, qpos, qvel) of the state the action is taken from, step the
//   point; if the point is now within 1 of the goal, draw a new goal cell from the vertex cells (with noise);
//   after steps_per_episode steps the episode ends (terminals = 1 on its last row; there are no early ends).
// Defaults: 1000 episodes x 1001 steps, noise 0.5 (commands.sh; the script's own default flag 0.2 is not what
// the released point-maze data sets used); giant: 500 x 2001. A validation file holds episodes / 10 more.
//
// Determinism: episode e draws from Rng::stream(seed, first_episode + e), so the output depends only on the
// seed and the configuration, not on the thread count. It does not reproduce OGBench's files (numpy's global
// RNG is not replicated), only their distribution.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <string>

#include "engine/core/tensor.h"
#include "rl/envs/maze_layouts.h"
#include "rl/envs/rng.h"

namespace rl {

class MazeOracle {
 public:
  explicit MazeOracle(const MazeLayout& layout) : layout_(&layout) {}
  // Centre of the next cell on a shortest cell path from xy's cell to goal's cell (get_oracle_subgoal).
  Vec2 subgoal(Vec2 xy, Vec2 goal) const;
  // (subgoal - xy) / (||subgoal - xy|| + 1e-6): the noiseless action.
  Vec2 direction(Vec2 xy, Vec2 goal) const;
  // direction + N(0, noise^2) per axis (x drawn first), clipped to [-1, 1]. noise = 0 draws nothing.
  std::array<double, 2> action(Vec2 xy, Vec2 goal, double noise, Rng& rng) const;

 private:
  const MazeLayout* layout_;
};

struct NavigateDataConfig {
  int episodes = 1000;
  int steps_per_episode = 1001;
  uint64_t seed = 0;
  double noise = 0.5;  // action noise std (generate_locomaze.py --noise=0.5 for point mazes)
  int64_t first_episode =
      0;            // stream index of the first episode (the validation split continues the train's)
  int threads = 0;  // OpenMP threads; 0 = the OpenMP default. Does not change the output.
};

// OGBench's defaults for a maze: 1000 x 1001 (medium, large), 500 x 2001 (giant); noise 0.5, seed 0.
NavigateDataConfig navigate_defaults(const MazeLayout& layout);

// Generates the navigate data in OGBench's file layout: "observations" f32 [N, 2], "actions" f32 [N, 2],
// "terminals" bool [N] (1 on each episode's last row), "qpos" f32 [N, 2], "qvel" f32 [N, 2], with
// N = episodes * steps_per_episode. Write it with rl::write_npz; rl::make_dataset / load_dataset accept it.
std::map<std::string, engine::Tensor> generate_navigate_data(const MazeLayout& layout,
                                                             const NavigateDataConfig& config);

// Writes `path` (must end in .npz) with config.episodes episodes, and, when `with_validation`, the validation
// file next to it (OGBench's naming: x.npz -> x-val.npz) with config.episodes / 10 episodes that continue the
// same streams. Both are written atomically (deflate-compressed, as np.savez_compressed).
void write_navigate_dataset(const std::string& path, const MazeLayout& layout,
                            const NavigateDataConfig& config, bool with_validation = true);

}  // namespace rl
