// A trained qgf_offline run as a policy object: its settings, its newest (or a chosen) checkpoint and one
// compiled sampler per method, sampling action chunks for a batch of observations. This is what the
// Python bridge (examples/ogbench) exposes to drive the official environments, and what a robot's control
// loop would embed.
#pragma once
#include <memory>
#include <mutex>
#include <string>

#include "config.h"
#include "evaluate.h"
#include "rl/agent.h"

namespace qgf_offline {

class Policy {
 public:
  // results: a run directory; checkpoint: a file in it ("" = the newest); device: "" keeps the run's own.
  Policy(const std::string& results, const std::string& checkpoint = "", const std::string& device = "");

  // obs: f32 [B, obs_dim] (host). Returns f32 [B, horizon, action_dim] on the host: the chunk to execute
  // open loop. `value` is the guidance weight w (GradStep: its step size alpha; BC/BoN ignore it); the
  // starting noise depends only on `seed`, so the same call returns the same chunk. Calls from several
  // threads are serialized.
  Tensor sample(const Tensor& obs, const std::string& method, double value, uint64_t seed);

  const Config& config() const { return cfg_; }
  int64_t checkpoint_step() const { return step_; }
  int64_t obs_dim() const { return obs_dim_; }
  int64_t action_dim() const { return action_dim_; }

 private:
  Config cfg_;
  rl::AgentConfig agent_;
  rl::AgentState state_;  // on cfg_.device
  int64_t step_ = 0, obs_dim_ = 0, action_dim_ = 0;
  std::unique_ptr<Samplers> samplers_;
  std::mutex mu_;  // one sample() at a time (the bridge releases the GIL)
};

}  // namespace qgf_offline
