// Policy (see policy.h).
#include "policy.h"

#include "app.h"
#include "engine/transforms/tree.h"
#include "env.h"
#include "ops/api.h"
#include "run_dir.h"
#include "train.h"

namespace qgf_offline {

Policy::Policy(const std::string& results, const std::string& checkpoint, const std::string& device)
    : cfg_(saved_run_config(results)) {
  if (!device.empty()) cfg_.device = device;
  validate_config(cfg_);
  const engine::Device dev = engine::parse_device(cfg_.device);
  engine::require_device(dev, "qgf_offline Policy device");
  // The environment gives the dimensions only: no episode is run, so an OGBench task needs no bridge here.
  const std::unique_ptr<Env> env = make_env(cfg_);
  obs_dim_ = env->obs_dim();
  action_dim_ = env->action_dim();
  agent_ = make_agent_config(cfg_, obs_dim_, action_dim_);
  RunPaths paths;
  paths.dir = results;
  paths.data = cfg_.data.empty() ? results + "/dataset.npz" : cfg_.data;
  TrainResult t = load_trained(cfg_, paths, *env, checkpoint);
  step_ = t.step;
  state_ = dev == engine::Device::CPU ? std::move(t.state) : engine::tree_to_device(t.state, dev);
  samplers_ = std::make_unique<Samplers>(cfg_, agent_);
}

Tensor Policy::sample(const Tensor& obs, const std::string& method, double value, uint64_t seed) {
  if (obs.ndim() != 2 || obs.dim(1) != obs_dim_ || obs.dtype() != engine::DType::F32)
    throw UsageError("Policy.sample: observations must be f32 [batch, " + std::to_string(obs_dim_) +
                     "] for " + cfg_.env + ", got " + obs.aval().str());
  const std::lock_guard<std::mutex> lock(mu_);
  const engine::Device dev = engine::parse_device(cfg_.device);
  const Tensor w = engine::to_device(ops::scalar(value), dev);
  const Tensor chunks = samplers_->sample(method, value, state_, obs, ops::random_key(seed), w);
  return ops::reshape(engine::to_device(chunks, engine::Device::CPU),
                      {obs.dim(0), cfg_.horizon, action_dim_});
}

}  // namespace qgf_offline
