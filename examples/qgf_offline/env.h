// The environment interface the evaluation loop drives, and the registry of environments the program knows.
// An Env runs a batch of episodes in lock step: reset(batch, seed) starts them, step(actions) advances all of
// them by one control step. Episodes that have finished keep reporting done (their actions are ignored), so
// the evaluator can issue one sampler call per control step for the whole batch.
//
// Implemented: the 2-D multimodal bandit (bandit_env.h), the MuJoCo point mazes (pointmaze_env.h), and
// OGBench's manipulation tasks, stepped in the official Python environment through examples/ogbench's
// bridge (ogbench_env.h).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/core/tensor.h"
#include "rl/data/dataset.h"

namespace qgf_offline {

using engine::Tensor;

struct StepResult {
  Tensor obs;                    // f32 [N, obs_dim]: the observation after the step
  std::vector<float> reward;     // [N] (0 for episodes that had already finished)
  std::vector<uint8_t> done;     // [N]: 1 once the episode has ended (terminal or time limit)
  std::vector<uint8_t> success;  // [N]: 1 if the task counts as solved at this step
};

class Env {
 public:
  virtual ~Env() = default;
  virtual std::string name() const = 0;
  virtual int64_t obs_dim() const = 0;
  virtual int64_t action_dim() const = 0;  // one control step's action; actions live in [-1, 1]^action_dim
  virtual int max_steps() const = 0;       // episode time limit in control steps
  // Starts `batch` episodes; episode i's initial state depends only on (seed, i). Returns obs [batch,
  // obs_dim].
  virtual Tensor reset(int64_t batch, uint64_t seed) = 0;
  // actions: f32 [batch, action_dim], clipped to [-1, 1] by the environment.
  virtual StepResult step(const Tensor& actions) = 0;
  // The loaded data set as training needs it for this task, e.g. rewards relabelled for a single-task
  // pointmaze (rl::relabel_pointmaze_singletask). Default: unchanged.
  virtual rl::Dataset prepare_dataset(const rl::Dataset& ds) const { return ds; }
  // Which members of the data file hold this task's rewards and masks. Default: "rewards" and "masks".
  virtual rl::DatasetMembers dataset_members() const { return {}; }
};

struct Config;
class Progress;

// Names accepted by --env, with whether each is built into this binary.
struct EnvEntry {
  std::string name;
  bool available;
  std::string summary;
};
const std::vector<EnvEntry>& env_catalog();

// Throws a usage error (clear "not built yet" for pointmaze) when `name` is unknown or not available.
void require_env(const std::string& name);

// Settings that differ from the global defaults for this environment (JSON object of config keys).
std::string env_defaults_json(const std::string& name);

std::unique_ptr<Env> make_env(const Config& cfg);

// Writes the offline data set for cfg.env to `path` (OGBench .npz, transitions layout).
void generate_dataset(const Config& cfg, const std::string& path, bool show_progress);

}  // namespace qgf_offline
