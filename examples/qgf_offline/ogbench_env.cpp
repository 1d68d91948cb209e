// OgbenchEnv and the external-environment hook (see ogbench_env.h).
#include "ogbench_env.h"

#include "config.h"

namespace qgf_offline {
namespace {

ExternalEnvFactory& factory() {
  static ExternalEnvFactory f;
  return f;
}

}  // namespace

const std::vector<OgbenchSpec>& ogbench_specs() {
  // Dimensions and limits of OGBench 1.2's single-task manipulation environments (examples/ogbench/
  // check_data.py compares them with the package's; all four were checked by hand against ogbench 1.2.2).
  static const std::vector<OgbenchSpec> specs = {
      {"cube-single", 28, 5, 200, 2},
      {"cube-double", 37, 5, 500, 2},
      {"scene", 40, 5, 750, 2},
      {"puzzle-3x3", 55, 5, 500, 4},
  };
  return specs;
}

const OgbenchSpec* find_ogbench_spec(const std::string& env_name) {
  for (const OgbenchSpec& s : ogbench_specs())
    if (s.name == env_name) return &s;
  return nullptr;
}

void set_external_env_factory(ExternalEnvFactory f) { factory() = std::move(f); }
bool has_external_env_factory() { return static_cast<bool>(factory()); }

void require_episode_backend(const std::string& env_name, const std::string& what) {
  if (!find_ogbench_spec(env_name) || has_external_env_factory()) return;
  throw UsageError(
      what + " runs " + env_name +
      " episodes, which need the official OGBench environment (Python): run it through the bridge,\n"
      "  examples/ogbench/.venv/bin/python examples/ogbench/evaluate.py --results DIR   (docs/ogbench.md)\n"
      "  qgf_offline itself trains on an OGBench data set (train --data FILE --eval-every 0)");
}

OgbenchEnv::OgbenchEnv(const OgbenchSpec& spec, int task) : spec_(spec), task_(task) {
  if (task < 1 || task > 5)
    throw UsageError(spec.name + " has single tasks 1..5 (got --task " + std::to_string(task) + ")");
}

Env& OgbenchEnv::backend() {
  if (!backend_) {
    require_episode_backend(spec_.name, "this command");
    backend_ = factory()(spec_, task_);
    if (!backend_)
      throw std::runtime_error("the external environment factory returned nothing for " + spec_.name);
    // The episode limit is the spec's; the environment's own done flags end episodes earlier.
    if (backend_->obs_dim() != spec_.obs_dim || backend_->action_dim() != spec_.action_dim)
      throw std::runtime_error(
          spec_.name + ": the external environment has obs_dim " + std::to_string(backend_->obs_dim()) +
          " and action_dim " + std::to_string(backend_->action_dim()) + "; qgf_offline expects " +
          std::to_string(spec_.obs_dim) + " and " + std::to_string(spec_.action_dim) + " (ogbench_env.cpp)");
  }
  return *backend_;
}

Tensor OgbenchEnv::reset(int64_t batch, uint64_t seed) { return backend().reset(batch, seed); }
StepResult OgbenchEnv::step(const Tensor& actions) { return backend().step(actions); }

rl::DatasetMembers OgbenchEnv::dataset_members() const {
  const std::string k = std::to_string(task_);
  return {
      "rewards_task" + k, "masks_task" + k,
      "generate the data set with examples/ogbench/generate.py, which writes every task's rewards and masks "
      "(docs/ogbench.md)"};
}

}  // namespace qgf_offline
