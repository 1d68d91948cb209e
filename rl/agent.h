// A QGF agent's learners and their joint training step: the flow policy (flow-matching BC), the Q ensemble
// and V (IQL), each with its own Adam state, updated together on the same batch in one jittable function,
// then the Polyak target update. The RNG key lives in the state, so a checkpointed state resumes bitwise.
#pragma once
#include "nn/optim.h"
#include "rl/critic.h"
#include "rl/data/chunks.h"
#include "rl/flow.h"

namespace rl {

struct AgentConfig {
  FlowConfig flow;
  CriticConfig critic;
  nn::AdamConfig adam;  // the paper: lr 3e-4 for all three, no clipping
  uint64_t jit_hash() const { return flow.jit_hash() * 1000003 ^ critic.jit_hash() * 31 ^ adam.jit_hash(); }
};

struct AgentState {
  nn::Mlp flow;
  Critic critic;
  nn::AdamState<nn::Mlp> flow_opt, q_opt, v_opt;
  Tensor key;  // u32[2], split every step
  auto tree_fields() const { return std::tie(flow, critic, flow_opt, q_opt, v_opt, key); }
  auto tree_fields() { return std::tie(flow, critic, flow_opt, q_opt, v_opt, key); }
};

AgentState init_agent(uint64_t seed, const AgentConfig& cfg);

struct TrainMetrics {
  Tensor flow_loss, q_loss, v_loss;
  auto tree_fields() const { return std::tie(flow_loss, q_loss, v_loss); }
  auto tree_fields() { return std::tie(flow_loss, q_loss, v_loss); }
};

struct TrainOutput {
  AgentState state;
  TrainMetrics metrics;
  auto tree_fields() const { return std::tie(state, metrics); }
  auto tree_fields() { return std::tie(state, metrics); }
};

// The learners' view of a sampled chunk batch: the chunk is the action, and the Q loss is weighted by the
// validity of the chunk's last step (chunks that cross an episode end are truncated), as in QGF's code.
CriticBatch critic_batch(const Batch& b);

// One step on one batch (batch.actions are the action chunks the flow imitates). Jit it with the config as a
// static argument: engine::jit([cfg](const AgentState& s, const CriticBatch& b) { return train_step(s, b,
// cfg); }).
TrainOutput train_step(const AgentState& s, const CriticBatch& batch, const AgentConfig& cfg);

}  // namespace rl
