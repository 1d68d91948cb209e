// The environments the program knows: defaults, construction and data generation per --env.
//
// - bandit: the 2-D multimodal bandit (bandit_env.h), seconds end to end.
// - pointmaze-medium / pointmaze-large: OGBench's single-task point mazes on MuJoCo (rl/envs,
//   docs/environments.md) through PointMazeEnv (pointmaze_env.h); data from the navigate oracle.
// - cube-single, cube-double, scene, puzzle-3x3: OGBench manipulation (ogbench_env.h); data and episodes come
//   from the official Python environment (examples/ogbench), training runs here.
// The plot hook for mazes (walls and rollouts) is write_env_plot() in plots.cpp.
#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "bandit_env.h"
#include "config.h"
#include "env.h"
#include "ogbench_env.h"
#include "pointmaze_env.h"
#include "rl/envs/maze_layouts.h"
#include "rl/envs/oracle.h"

namespace qgf_offline {

namespace {

[[noreturn]] void not_built(const std::string& name) {
  throw UsageError("environment '" + name + "' is not available in this build of qgf_offline");
}

}  // namespace

const std::vector<EnvEntry>& env_catalog() {
  static const std::vector<EnvEntry> catalog = [] {
    std::vector<EnvEntry> c = {
        {"bandit", true, "2-D multimodal bandit: one step, three reward bumps (finishes in seconds)"},
        {"pointmaze-medium", true, "OGBench pointmaze-medium-singletask, --task 1..5 (MuJoCo)"},
        {"pointmaze-large", true, "OGBench pointmaze-large-singletask, --task 1..5 (MuJoCo)"},
    };
    for (const OgbenchSpec& s : ogbench_specs())
      c.push_back({s.name, true,
                   "OGBench " + s.name + "-singletask, --task 1..5 (default " +
                       std::to_string(s.default_task) + "): data and episodes in Python (examples/ogbench)"});
    return c;
  }();
  return catalog;
}

void require_env(const std::string& name) {
  std::string names;
  for (const EnvEntry& e : env_catalog()) {
    if (e.name == name) {
      if (!e.available) not_built(name);
      return;
    }
    names += (names.empty() ? "" : ", ") + e.name;
  }
  throw UsageError("unknown environment '" + name + "'; choose one of: " + names);
}

std::string env_defaults_json(const std::string& name) {
  if (name == "bandit")
    return R"({"steps": 1500, "batch": 256, "hidden": [64, 64], "lr": 0.001, "horizon": 1, "data_size": 10000,
               "eval_episodes": 500, "val_episodes": 500, "checkpoint_every": 500, "eval_every": 500,
               "log_every": 25, "threads": 1, "weights": [0, 0.5, 1, 2, 4, 8],
               "gradstep_alphas": [0.01, 0.03, 0.1, 0.3]})";
  if (name == "pointmaze-medium" || name == "pointmaze-large")
    // The 15-minute budget on 2 cores (the paper: 4x512 or 4x1024 networks and 1M steps; QGF.md): OGBench's
    // full navigate data set (1000 x 1001, 20 s), 50k steps of 3x256 networks (about 7 minutes at 115
    // steps/s), then 50 validation + 50 test episodes per method and setting (about 3 minutes). Q here is
    // about minus the steps to the goal, so useful guidance weights are O(0.1..1), far above the paper's
    // manipulation weights.
    return R"({"steps": 50000, "batch": 256, "hidden": [256, 256, 256], "lr": 0.0003, "horizon": 5,
               "data_size": 1001000, "eval_episodes": 50, "val_episodes": 50, "checkpoint_every": 5000,
               "eval_every": 10000, "log_every": 250, "weights": [0, 0.1, 0.3, 1, 3],
               "gradstep_alphas": [0.03, 0.1, 0.3]})";
  if (const OgbenchSpec* spec = find_ogbench_spec(name))
    // A CPU budget (the paper: 4x512..4x1024 networks, batch 1024, 500k..1M steps; QGF.md): 3x256 networks,
    // 50k steps, 25-D chunks (H = 5). No evaluation during training: episodes run in the Python bridge.
    // The paper's weights (0.004..0.12) go with gamma 0.999; Q here (gamma 0.99) is ten times smaller.
    return R"({"steps": 50000, "batch": 256, "hidden": [256, 256, 256], "lr": 0.0003, "horizon": 5,
               "eval_episodes": 50, "val_episodes": 50, "checkpoint_every": 5000, "eval_every": 0,
               "log_every": 250, "weights": [0, 0.03, 0.1, 0.3, 1], "gradstep_alphas": [0.01, 0.03, 0.1],
               "task": )" +
           std::to_string(spec->default_task) + "}";
  return "{}";
}

std::unique_ptr<Env> make_env(const Config& cfg) {
  require_env(cfg.env);
  if (cfg.env == "bandit") return std::make_unique<BanditEnv>();
  if (const OgbenchSpec* spec = find_ogbench_spec(cfg.env))
    return std::make_unique<OgbenchEnv>(*spec, cfg.task);
  return std::make_unique<PointMazeEnv>(pointmaze_maze_of(cfg.env), cfg.task);
}

void generate_dataset(const Config& cfg, const std::string& path, bool show_progress) {
  require_env(cfg.env);
  if (cfg.env == "bandit") return generate_bandit_dataset(cfg.data_size, cfg.seed, path, show_progress);
  if (find_ogbench_spec(cfg.env))
    throw UsageError(cfg.env +
                     " data come from OGBench's own oracles in Python:\n  examples/ogbench/.venv/bin/python "
                     "examples/ogbench/generate.py --env " +
                     cfg.env + " --out FILE.npz\n  then pass --data FILE.npz (docs/ogbench.md)");
  // OGBench's navigate data (1000 episodes x 1001 steps of the noisy BFS-subgoal oracle), with this run's
  // seed;
  // --data points at an OGBench file instead.
  const rl::MazeLayout& layout = rl::MazeLayout::get(pointmaze_maze_of(cfg.env));
  rl::NavigateDataConfig dc = rl::navigate_defaults(layout);
  dc.seed = cfg.seed;
  dc.episodes =
      int(std::max<int64_t>(1, cfg.data_size / dc.steps_per_episode));  // data_size counts transitions
  if (show_progress)
    std::fprintf(stderr, "generating %d navigate episodes of %d steps...\n", dc.episodes,
                 dc.steps_per_episode);
  rl::write_navigate_dataset(path, layout, dc, /*with_validation=*/false);
}

}  // namespace qgf_offline
