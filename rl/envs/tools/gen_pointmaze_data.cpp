// gen_pointmaze_data: writes OGBench-format navigate data sets for the built-in point mazes (the native
// counterpart of `python generate_locomaze.py --env_name=pointmaze-<maze>-v0 --dataset_type=navigate`).
//
//   gen_pointmaze_data --maze medium --out data/pointmaze-medium-navigate-v0.npz
//                      [--episodes 1000] [--steps 1001] [--seed 0] [--noise 0.5] [--threads 0] [--no-val]
//
// Writes OUT and OUT-val.npz (episodes / 10 more episodes) unless --no-val. Defaults are OGBench's for the
// maze.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "rl/envs/oracle.h"

namespace {

[[noreturn]] void usage(const std::string& problem) {
  std::fprintf(
      stderr,
      "gen_pointmaze_data: %s\n"
      "usage: gen_pointmaze_data --maze medium|large|giant --out FILE.npz [--episodes N] [--steps N]\n"
      "                          [--seed N] [--noise X] [--threads N] [--no-val]\n",
      problem.c_str());
  std::exit(2);
}

long long parse_int(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  const long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0') usage(flag + " needs an integer, got '" + v + "'");
  return x;
}

}  // namespace

int main(int argc, char** argv) {
  std::string maze, out;
  long long episodes = -1, steps = -1, seed = 0, threads = 0;
  double noise = -1;
  bool val = true;
  for (int k = 1; k < argc; ++k) {
    const std::string a = argv[k];
    auto next = [&]() -> std::string {
      if (k + 1 >= argc) usage(a + " needs a value");
      return argv[++k];
    };
    if (a == "--maze")
      maze = next();
    else if (a == "--out")
      out = next();
    else if (a == "--episodes")
      episodes = parse_int(a, next());
    else if (a == "--steps")
      steps = parse_int(a, next());
    else if (a == "--seed")
      seed = parse_int(a, next());
    else if (a == "--threads")
      threads = parse_int(a, next());
    else if (a == "--noise") {
      const std::string v = next();
      char* end = nullptr;
      noise = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0') usage("--noise needs a number, got '" + v + "'");
    } else if (a == "--no-val")
      val = false;
    else if (a == "--help" || a == "-h")
      usage("help");
    else
      usage("unknown argument '" + a + "'");
  }
  if (maze.empty() || out.empty()) usage("--maze and --out are required");
  try {
    const rl::MazeLayout& layout = rl::MazeLayout::get(maze);
    rl::NavigateDataConfig cfg = rl::navigate_defaults(layout);
    if (episodes >= 0) cfg.episodes = int(episodes);
    if (steps >= 0) cfg.steps_per_episode = int(steps);
    if (noise >= 0) cfg.noise = noise;
    cfg.seed = uint64_t(seed);
    cfg.threads = int(threads);
    const auto t0 = std::chrono::steady_clock::now();
    rl::write_navigate_dataset(out, layout, cfg, val);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf(
        "wrote %s%s: %d episodes x %d steps (+%d validation episodes), seed %lld, noise %g, in %.1f s\n",
        out.c_str(), val ? " and its -val.npz" : "", cfg.episodes, cfg.steps_per_episode,
        val ? std::max(1, cfg.episodes / 10) : 0, seed, cfg.noise, s);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gen_pointmaze_data: %s\n", e.what());
    return 1;
  }
  return 0;
}
