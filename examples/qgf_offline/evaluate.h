// Evaluation: every method is one jitted sampler over the trained flow and critic, called once per control
// step for a whole batch of episodes (action chunks of H steps run open loop). For each method and each
// setting of its knob (the guidance weight w, or GradStep's step size alpha) the episodes are run twice: on
// validation seeds, which choose the setting, and on test seeds, which are reported. The headline number
// of a method is its test result at the setting that did best on validation, never the best test result.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config.h"
#include "env.h"
#include "rl/agent.h"

namespace qgf_offline {

struct EvalStats {
  int64_t episodes = 0;
  double success_mean = 0, success_se = 0;  // standard error of the mean over episodes
  double return_mean = 0, return_se = 0;
  bool complete = true;  // false: Ctrl-C stopped the episodes early; the numbers mean nothing
};
nlohmann::json stats_json(const EvalStats& s);

// What happened in a batch of episodes (kept for the plots: first actions, visited observations).
struct Rollouts {
  std::string label;
  int64_t obs_dim = 0, action_dim = 0;
  std::vector<std::vector<float>> obs, actions;  // per episode, flattened over its steps
  std::vector<float> returns;
  std::vector<uint8_t> success;
};

struct MethodInfo {
  std::string name;
  std::string knob;  // "w", "alpha" or "" (nothing to sweep)
};
MethodInfo method_info(const std::string& method);

struct SweepPoint {
  double value = 0;  // w or alpha (0 when the method has no knob)
  EvalStats val, test;
};

struct MethodResult {
  MethodInfo info;
  std::vector<SweepPoint> points;
  size_t chosen = 0;  // index into points, picked on validation
  const SweepPoint& headline() const { return points[chosen]; }
};

struct EvalReport {
  int64_t checkpoint_step = 0;
  std::vector<MethodResult> methods;
  std::vector<Rollouts> showcase;  // BC and QGF at its chosen weight, on the test seeds
  double seconds = 0;
};

uint64_t split_seed(uint64_t seed, const std::string& split);  // "validation" / "test" / "monitor"

// The compiled samplers of a run, one per method (BC, QGF, QGF-Jacobian, QFQL, BoN, QGF+BoN; GradStep one
// per alpha, a static option), made on first use; the guidance weight w is a runtime input, so one sampler
// serves a whole sweep. Shared by the evaluation and by Policy (policy.h).
class Samplers {
 public:
  Samplers(const Config& cfg, const rl::AgentConfig& agent);
  Samplers(Samplers&&) noexcept;
  ~Samplers();
  // Action chunks f32 [B, H * action_dim] on the run's device for host observations obs [B, obs_dim]. The
  // starting noise is drawn on the host from `key` (so every device sees the same noise); `value` selects
  // GradStep's sampler; w is the knob on the run's device; s is on the run's device. An unknown method is a
  // UsageError naming it.
  Tensor sample(const std::string& method, double value, const rl::AgentState& s, const Tensor& obs,
                const Tensor& key, const Tensor& w);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class Evaluator {
 public:
  Evaluator(const Config& cfg, const rl::AgentConfig& agent, Env& env);
  ~Evaluator();
  // Runs `episodes` episodes of `method` at knob value `value` (ignored for BC and BoN).
  EvalStats run(const std::string& method, double value, const rl::AgentState& s, int64_t episodes,
                uint64_t seed, Rollouts* record = nullptr);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The whole sweep over cfg.methods; polls the interrupt flag between runs (throws Interrupted).
EvalReport evaluate_all(const Config& cfg, Evaluator& ev, const rl::AgentState& s, int64_t checkpoint_step,
                        bool show_progress, const std::string& evals_log);

}  // namespace qgf_offline
