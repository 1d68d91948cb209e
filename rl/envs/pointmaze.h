// PointMaze: OGBench's pointmaze-{medium,large,giant}-singletask-task{1..5}-v0, simulated natively with the
// MuJoCo C library on an MJCF model generated from the maze layout (rl/envs/maze_layouts.h).
//
// What the environment does (each item as in OGBench 1.2 ogbench/locomaze/{point.py,maze.py,__init__.py}):
//  * model: a sphere of radius 0.7 (density 100, mass 143.7) on two slide joints (x, y) over a plane; every
//    wall cell is a box of half-size (2, 2, 1) centred on the cell, at z = 1; timestep 0.02, RK4; geom
//    defaults condim 3, friction (1, 0.5, 0.5), margin 0; two motors exist but OGBench never sets ctrl, so
//    they stay 0.
//  * observation: qpos = (x, y), 2-D (OGBench's PointEnv.get_ob returns qpos only; velocities are not
//  observed).
//  * action in [-1, 1]^2: the point is moved kinematically, qpos += 0.2 * action, qvel is zeroed, and the
//    physics runs 5 steps (frame_skip 5, control period 0.1 s); the only dynamics left are the wall contacts
//    that push the sphere back out of a wall it was moved into.
//  * reset: start = centre of the task's start cell + U(-1, 1) per axis (in that order: x, then y); goal =
//  the
//    exact centre of the goal cell (single-task variants have add_noise_to_goal=False); qvel ~ N(0, 0.1^2)
//    (unobserved, and zeroed by the first step).
//  * success: ||xy - goal|| <= 1, judged on the state BEFORE the action (success_timing='pre' in single-task
//    mode); reward = success - 1; terminated = success; truncated when 1000 steps have elapsed (gymnasium's
//    TimeLimit, max_episode_steps=1000 for every single-task point maze). The step that terminates is still
//    simulated, as in OGBench.
//
// Faithfulness: the layouts, coordinates, tasks, noise, tolerances, reward, termination, time limit, action
// mapping and the physical model are OGBench's. Differences, all documented in docs/environments.md:
//  * physics engine: Debian's MuJoCo 2.2.2 instead of the 3.x that OGBench pins. The point only meets walls
//  in
//    contacts, and both versions solve the same soft-contact problem, so free motion is identical and contact
//    push-back agrees to solver tolerance (checked against OGBench + MuJoCo 3 in Python when this was
//    written: see the doc for the numbers).
//  * random numbers come from rl::Rng, not numpy: same distributions, different streams, so a seed does not
//    reproduce an OGBench episode.
//  * by default actions are clipped to [-1, 1] before use (OGBench's env does not clip: its agents do). For
//    actions inside the box this changes nothing; outside it, an unclipped action could jump the point
//    through a wall. PointMazeOptions::clip_actions = false restores OGBench's behaviour.
//  * rendering, the visual goal marker, lights and textures are left out (state observations only).
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/tensor.h"
#include "rl/data/dataset.h"
#include "rl/envs/maze_layouts.h"
#include "rl/envs/rng.h"

struct mjModel_;
struct mjData_;

namespace rl {

inline constexpr int kPointMazeObsDim = 2;
inline constexpr int kPointMazeActionDim = 2;
inline constexpr int kPointMazeFrameSkip = 5;           // PointEnv: frame_skip=5
inline constexpr double kPointMazeTimestep = 0.02;      // point.xml: <option timestep="0.02">
inline constexpr double kPointMazeActionScale = 0.2;    // PointEnv.step: qpos += 0.2 * action
inline constexpr int kPointMazeMaxEpisodeSteps = 1000;  // max_episode_steps of every pointmaze env

// The MJCF text of the point-mass-in-a-maze model for `layout` (what PointMassSim loads).
std::string pointmaze_mjcf(const MazeLayout& layout);

// The simulated point mass alone: model and data, state access and OGBench's PointEnv.step. Used by PointMaze
// (single-task episodes) and by the data generator (which moves goals around). The compiled mjModel is shared
// by every simulator of the same layout (it is read-only during stepping); each simulator owns its mjData.
class PointMassSim {
 public:
  explicit PointMassSim(const MazeLayout& layout);
  ~PointMassSim();
  PointMassSim(PointMassSim&&) noexcept;
  PointMassSim& operator=(PointMassSim&&) noexcept;
  PointMassSim(const PointMassSim&) = delete;
  PointMassSim& operator=(const PointMassSim&) = delete;

  const MazeLayout& layout() const { return *layout_; }
  // Sets qpos and qvel (OGBench's set_state / set_xy) and recomputes the derived quantities.
  void set_state(Vec2 xy, Vec2 velocity);
  // PointEnv.step: qpos += 0.2 * (ax, ay); qvel = 0; 5 physics steps. No clipping or validation here.
  // Throws if the simulation reports a numerical failure (never seen for in-range actions).
  void step(double ax, double ay);
  Vec2 xy() const;
  Vec2 velocity() const;
  const mjModel_* model() const { return model_.get(); }

 private:
  const MazeLayout* layout_;
  std::shared_ptr<const mjModel_> model_;
  mjData_* data_ = nullptr;
};

struct PointMazeOptions {
  int task_id = 1;                                    // 1..5 (0 = default task = 1)
  int max_episode_steps = kPointMazeMaxEpisodeSteps;  // truncation
  bool clip_actions = true;                           // clip to [-1, 1] first (see the header comment)
};

struct PointMazeStep {
  std::array<double, 2> obs{};  // (x, y) after the step
  double reward = -1.0;         // success - 1
  bool terminated = false;      // success (judged before the step)
  bool truncated = false;       // the time limit was reached with this step
  bool success = false;         // OGBench's info['success']
};

// One single-task episode at a time. Not thread-safe; one PointMaze per thread.
class PointMaze {
 public:
  explicit PointMaze(std::string_view maze = "medium", PointMazeOptions options = {});
  PointMaze(const MazeLayout& layout, PointMazeOptions options);

  // Starts an episode; returns the first observation. reset(seed) uses Rng(seed).
  std::array<double, 2> reset(uint64_t seed);
  std::array<double, 2> reset(Rng& rng);
  // Advances one control step. `action` must hold 2 finite numbers; stepping before reset or after the
  // episode ended (terminated or truncated) is an error.
  PointMazeStep step(std::span<const double> action);
  PointMazeStep step(std::span<const float> action);
  PointMazeStep step(double ax, double ay);

  const MazeLayout& layout() const { return sim_.layout(); }
  int task_id() const { return task_id_; }
  const PointMazeOptions& options() const { return options_; }
  Vec2 xy() const { return sim_.xy(); }
  Vec2 goal() const { return goal_; }
  bool is_success() const;  // ||xy - goal|| <= 1 now
  int elapsed_steps() const { return elapsed_; }
  bool done() const { return done_; }
  PointMassSim& sim() { return sim_; }

 private:
  PointMassSim sim_;
  PointMazeOptions options_;
  int task_id_ = 1;
  Vec2 goal_;
  int elapsed_ = 0;
  bool started_ = false;
  bool done_ = false;
};

struct PointMazeBatchStep {
  engine::Tensor obs;               // f32 [N, 2]; an env that was already done repeats its final observation
  engine::Tensor rewards;           // f32 [N]; 0 for envs that were already done before this call
  std::vector<uint8_t> terminated;  // this call's flags (0 for envs already done)
  std::vector<uint8_t> truncated;
  std::vector<uint8_t> success;
};

// N independent single-task episodes stepped together, for evaluation. Envs that finish stay finished (their
// rows are ignored on later steps) until the next reset, so a caller can loop `while (!all_done())`.
class PointMazeBatch {
 public:
  PointMazeBatch(std::string_view maze, int num_envs, PointMazeOptions options = {});

  // Resets every env; env k draws from Rng::stream(seed, k). Returns f32 [N, 2].
  engine::Tensor reset(uint64_t seed);
  // actions: concrete f32 or f64 [N, 2]; rows of finished envs are not read. NaN/inf in a running env's row
  // is an error naming the row.
  PointMazeBatchStep step(const engine::Tensor& actions);

  int size() const { return int(envs_.size()); }
  const std::vector<uint8_t>& done() const { return done_; }
  bool all_done() const;
  // info['success'] of each env's last step (what OGBench's evaluation reports); 0 for envs still running.
  const std::vector<uint8_t>& final_success() const { return final_success_; }
  // Mean of final_success() over the batch.
  double success_rate() const;
  PointMaze& env(int k);

 private:
  std::vector<PointMaze> envs_;
  std::vector<uint8_t> done_;
  std::vector<uint8_t> final_success_;
  engine::Tensor last_obs_;
  bool started_ = false;
};

// The single-task reward relabelling of ogbench/relabel_utils.py for a navigate data set loaded with
// rl::load_dataset: success = ||observations[t] - goal|| <= 1 with the task's exact goal centre (observations
// are qpos for point mazes), rewards = success - 1, masks = 1 - success. Sets has_rewards. Returns a new
// Dataset.
Dataset relabel_pointmaze_singletask(const Dataset& ds, const MazeLayout& layout, int task_id);

}  // namespace rl
