// Training: the joint QGF learner (flow BC + IQL critic, rl::train_step) jitted once, on seeded batches of
// H-step chunks from the offline data set (rl::sample_chunks: a batch depends only on (seed, step), so a run
// resumed from a checkpoint draws exactly the batches the uninterrupted run would have). Losses go to
// losses.jsonl every log_every steps, checkpoints every checkpoint_every steps, optional evaluations every
// eval_every steps; Ctrl-C finishes the step, writes a checkpoint and stops with a resume hint.
#pragma once
#include <functional>
#include <string>

#include "config.h"
#include "env.h"
#include "rl/agent.h"
#include "rl/data/dataset.h"
#include "run_dir.h"

namespace qgf_offline {

rl::AgentConfig make_agent_config(const Config& cfg, int64_t obs_dim, int64_t action_dim);

// The run's data set, action-clipped, checked against the environment's dimensions.
rl::Dataset load_run_dataset(const RunPaths& paths, const Env& env);

class Evaluator;

struct TrainOptions {
  bool show_progress = false;
  int64_t simulate_interrupt_at = -1;  // testing: behave as if Ctrl-C arrived after this step
  std::string command = "train";       // the subcommand, for the resume hint
  Evaluator* monitor = nullptr;        // for eval_every (shares compiled samplers); made here when null
  std::function<void()> on_ready;      // called once the starting state (fresh or resumed) is known
};

struct TrainResult {
  rl::AgentState state;
  int64_t step = 0;
};

// Resumes from the newest checkpoint in the run directory if there is one. Throws Interrupted after writing
// a checkpoint when interrupted.
TrainResult run_train(const Config& cfg, const RunPaths& paths, Env& env, const TrainOptions& opt);

// The newest checkpoint (or `explicit_path`) restored for evaluation; an error if there is none.
TrainResult load_trained(const Config& cfg, const RunPaths& paths, const Env& env,
                         const std::string& explicit_path);

}  // namespace qgf_offline
