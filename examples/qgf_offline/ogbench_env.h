// OGBench's manipulation tasks (cube-single, cube-double, scene, puzzle-3x3) as qgf_offline environments.
// Their physics is the official Python environment (MuJoCo 3, which the C library here cannot replace; see
// docs/ogbench.md), so the program knows each one's shape and data layout but steps it only through an
// external backend: examples/ogbench's Python bridge installs one (set_external_env_factory) before it runs
// the program in-process. Without one, training works (it needs the data set only) and anything that runs
// episodes stops with an error that points at examples/ogbench/evaluate.py.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "env.h"

namespace qgf_offline {

struct OgbenchSpec {
  std::string name;  // e.g. "cube-single": the OGBench environment is "<name>-singletask-task<k>-v0"
  int64_t obs_dim, action_dim;
  int max_steps;     // the single-task episode limit
  int default_task;  // OGBench's suffix-free single-task name
};
const std::vector<OgbenchSpec>& ogbench_specs();
const OgbenchSpec* find_ogbench_spec(const std::string& env_name);  // nullptr when not an OGBench task

// Makes the environment that steps `spec` for `task` (the bridge: a batch of official environments).
using ExternalEnvFactory = std::function<std::unique_ptr<Env>(const OgbenchSpec& spec, int task)>;
void set_external_env_factory(ExternalEnvFactory factory);  // an empty function uninstalls it
bool has_external_env_factory();

// The program's Env for an OGBench task: shape and data from the spec, episodes from the factory.
class OgbenchEnv : public Env {
 public:
  OgbenchEnv(const OgbenchSpec& spec, int task);
  std::string name() const override { return spec_.name; }
  int64_t obs_dim() const override { return spec_.obs_dim; }
  int64_t action_dim() const override { return spec_.action_dim; }
  int max_steps() const override { return spec_.max_steps; }
  Tensor reset(int64_t batch, uint64_t seed) override;
  StepResult step(const Tensor& actions) override;
  // examples/ogbench/generate.py stores each task's relabelled rewards and masks as rewards_task<k> /
  // masks_task<k> beside OGBench's own members; training reads this task's pair.
  rl::DatasetMembers dataset_members() const override;

 private:
  Env& backend();
  OgbenchSpec spec_;
  int task_;
  std::unique_ptr<Env> backend_;
};

// Throws the "runs in Python" UsageError unless a factory is installed (for commands that run episodes).
void require_episode_backend(const std::string& env_name, const std::string& what);

}  // namespace qgf_offline
