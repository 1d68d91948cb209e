// The path names of a QGF agent's leaves in the peer files ("flow/hidden/0/w", "q_opt/mu/norms/1/scale",
// "key", ...), shared by bench/peer_export.cpp (which writes them) and bench/peer_bench.cpp (which reads them
// back), so both sides agree by construction. for_each_*(prefix, x, f) calls f(name, leaf) on every leaf of
// x, in file order; x may be const (to write) or not (f may then assign the leaf, to read).
#pragma once
#include <string>

#include "rl/agent.h"

namespace peers {

template <class M, class F>  // M: nn::Mlp or const nn::Mlp
void for_each_mlp(const std::string& p, M& m, F&& f) {
  for (size_t i = 0; i < m.hidden.size(); ++i) {
    f(p + "/hidden/" + std::to_string(i) + "/w", m.hidden[i].w);
    f(p + "/hidden/" + std::to_string(i) + "/b", m.hidden[i].b);
  }
  for (size_t i = 0; i < m.norms.size(); ++i) {
    f(p + "/norms/" + std::to_string(i) + "/scale", m.norms[i].scale);
    f(p + "/norms/" + std::to_string(i) + "/bias", m.norms[i].bias);
  }
  f(p + "/head/w", m.head.w);
  f(p + "/head/b", m.head.b);
}

template <class A, class F>  // A: nn::AdamState<nn::Mlp>, const or not
void for_each_adam(const std::string& p, A& a, F&& f) {
  for_each_mlp(p + "/mu", a.mu, f);
  for_each_mlp(p + "/nu", a.nu, f);
  f(p + "/count", a.count);
}

template <class S, class F>  // S: rl::AgentState, const or not
void for_each_state(S& s, F&& f) {
  for_each_mlp("flow", s.flow, f);
  for_each_mlp("critic/q", s.critic.q, f);
  for_each_mlp("critic/q_target", s.critic.q_target, f);
  for_each_mlp("critic/v", s.critic.v, f);
  for_each_adam("flow_opt", s.flow_opt, f);
  for_each_adam("q_opt", s.q_opt, f);
  for_each_adam("v_opt", s.v_opt, f);
  f(std::string("key"), s.key);
}

}  // namespace peers
