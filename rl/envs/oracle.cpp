// The BFS-subgoal oracle and the parallel, seeded navigate data generator.
#include "rl/envs/oracle.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <mutex>

#include "engine/core/error.h"
#include "rl/data/npz_writer.h"
#include "rl/envs/pointmaze.h"

namespace rl {

using engine::ErrorKind;
using engine::Tensor;

namespace {

[[noreturn]] void fail(const std::string& problem, const std::string& hint) {
  engine::raise(ErrorKind::Value, "generate_navigate_data", problem, {}, {}, hint);
}

Vec2 noisy_center(const MazeLayout& layout, Cell c, Rng& rng) {
  const double noise = MazeLayout::kCellNoise * MazeLayout::kUnit / 4;
  const Vec2 p = layout.cell_center(c);
  const double x = p.x + rng.uniform(-noise, noise);
  const double y = p.y + rng.uniform(-noise, noise);
  return {x, y};
}

// One episode into rows [row0, row0 + steps) of the output arrays.
void run_episode(const MazeLayout& layout, PointMassSim& sim, const NavigateDataConfig& cfg, int64_t episode,
                 int64_t row0, float* obs, float* act, bool* term, float* qpos, float* qvel) {
  Rng rng = Rng::stream(cfg.seed, uint64_t(cfg.first_episode + episode));
  const MazeOracle oracle(layout);
  const auto& free = layout.free_cells();
  const auto& vertex = layout.vertex_cells();
  const Cell start = free[rng.below(free.size())];
  const Cell goal_cell = vertex[rng.below(vertex.size())];
  const Vec2 start_xy = noisy_center(layout, start, rng);
  Vec2 goal = noisy_center(layout, goal_cell, rng);
  const auto v = rng.normal2();
  sim.set_state(start_xy, {0.1 * v[0], 0.1 * v[1]});
  for (int t = 0; t < cfg.steps_per_episode; ++t) {
    const int64_t r = row0 + t;
    const Vec2 p = sim.xy();
    const Vec2 vel = sim.velocity();
    const auto a = oracle.action(p, goal, cfg.noise, rng);
    obs[2 * r] = qpos[2 * r] = float(p.x);
    obs[2 * r + 1] = qpos[2 * r + 1] = float(p.y);
    qvel[2 * r] = float(vel.x);
    qvel[2 * r + 1] = float(vel.y);
    act[2 * r] = float(a[0]);
    act[2 * r + 1] = float(a[1]);
    term[r] = t == cfg.steps_per_episode - 1;
    sim.step(a[0], a[1]);
    const Vec2 q = sim.xy();
    const double dx = q.x - goal.x, dy = q.y - goal.y;
    if (std::sqrt(dx * dx + dy * dy) <= MazeLayout::kGoalTolerance)  // success_timing='post'
      goal = noisy_center(layout, vertex[rng.below(vertex.size())], rng);
  }
}

}  // namespace

Vec2 MazeOracle::subgoal(Vec2 xy, Vec2 goal) const {
  return layout_->cell_center(layout_->next_cell(layout_->cell_of(xy), layout_->cell_of(goal)));
}

Vec2 MazeOracle::direction(Vec2 xy, Vec2 goal) const {
  const Vec2 s = subgoal(xy, goal);
  const double dx = s.x - xy.x, dy = s.y - xy.y;
  const double norm = std::sqrt(dx * dx + dy * dy) + 1e-6;
  return {dx / norm, dy / norm};
}

std::array<double, 2> MazeOracle::action(Vec2 xy, Vec2 goal, double noise, Rng& rng) const {
  const Vec2 d = direction(xy, goal);
  double ax = d.x, ay = d.y;
  if (noise > 0) {
    const auto n = rng.normal2();
    ax += noise * n[0];
    ay += noise * n[1];
  }
  return {std::clamp(ax, -1.0, 1.0), std::clamp(ay, -1.0, 1.0)};
}

NavigateDataConfig navigate_defaults(const MazeLayout& layout) {
  NavigateDataConfig c;
  if (layout.name() == "giant") {
    c.episodes = 500;
    c.steps_per_episode = 2001;
  }
  return c;
}

std::map<std::string, Tensor> generate_navigate_data(const MazeLayout& layout,
                                                     const NavigateDataConfig& cfg) {
  if (cfg.episodes < 1)
    fail("episodes = " + std::to_string(cfg.episodes) + " is not positive", "ask for >= 1");
  if (cfg.steps_per_episode < 2)
    fail("steps_per_episode = " + std::to_string(cfg.steps_per_episode) + " is below 2",
         "each episode needs at least two states to give a transition (OGBench uses 1001)");
  if (!(cfg.noise >= 0) || !std::isfinite(cfg.noise))
    fail("noise = " + std::to_string(cfg.noise) + " is not a finite non-negative number",
         "use OGBench's 0.5 (or 0 for the noiseless oracle)");
  if (cfg.first_episode < 0) fail("first_episode is negative", "use 0, or the train split's episode count");
  const int64_t n = int64_t(cfg.episodes) * cfg.steps_per_episode;
  Tensor obs = Tensor::empty({n, 2}, engine::DType::F32);
  Tensor act = Tensor::empty({n, 2}, engine::DType::F32);
  Tensor term = Tensor::empty({n}, engine::DType::Bool);
  Tensor qpos = Tensor::empty({n, 2}, engine::DType::F32);
  Tensor qvel = Tensor::empty({n, 2}, engine::DType::F32);
  float* po = obs.mutable_data<float>();
  float* pa = act.mutable_data<float>();
  bool* pt = term.mutable_data<bool>();
  float* pq = qpos.mutable_data<float>();
  float* pv = qvel.mutable_data<float>();

  std::exception_ptr error;
  std::mutex error_mu;
  const int threads = cfg.threads > 0 ? cfg.threads : omp_get_max_threads();
  // Exceptions must not cross the OpenMP region: the first one is kept and rethrown after it.
#pragma omp parallel num_threads(threads) if (cfg.episodes > 1)
  {
    try {
      PointMassSim sim(layout);
#pragma omp for schedule(dynamic, 4)
      for (int e = 0; e < cfg.episodes; ++e) {
        {
          std::lock_guard<std::mutex> lock(error_mu);
          if (error) continue;
        }
        try {
          run_episode(layout, sim, cfg, e, int64_t(e) * cfg.steps_per_episode, po, pa, pt, pq, pv);
        } catch (...) {
          std::lock_guard<std::mutex> lock(error_mu);
          if (!error) error = std::current_exception();
        }
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mu);
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
  return {{"observations", obs}, {"actions", act}, {"terminals", term}, {"qpos", qpos}, {"qvel", qvel}};
}

void write_navigate_dataset(const std::string& path, const MazeLayout& layout, const NavigateDataConfig& cfg,
                            bool with_validation) {
  const std::string ext = ".npz";
  if (path.size() <= ext.size() || path.compare(path.size() - ext.size(), ext.size(), ext) != 0)
    engine::raise(ErrorKind::Value, "write_navigate_dataset", "path '" + path + "' does not end in .npz", {},
                  {}, "name the file like OGBench's: pointmaze-<maze>-navigate-v0.npz");
  write_npz(path, generate_navigate_data(layout, cfg));
  if (with_validation) {
    NavigateDataConfig val = cfg;
    val.episodes = std::max(1, cfg.episodes / 10);
    val.first_episode = cfg.first_episode + cfg.episodes;
    write_npz(path.substr(0, path.size() - ext.size()) + "-val.npz", generate_navigate_data(layout, val));
  }
}

}  // namespace rl
