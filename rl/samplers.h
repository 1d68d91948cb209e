// Test-time samplers over one BC flow policy and one critic (QGF.md, "Variants and baselines"). Each is a
// pure function of (flow parameters, Q parameters, observations, noise, guidance weight): batched over
// states, with the weight and the noise as runtime tensors, so one jitted executable serves every weight and
// seed.
//   BC           unguided Euler sampling (w ignored)
//   QGF          a_hat = clip(a + (1 - t) v, -1, 1);  g = grad_{a_hat} min_i Q(s, a_hat);  a += dt (v + w g)
//   QGFJacobian  the same g pulled back through a_hat(a): (d a_hat / d a)^T g (a vjp through v)
//   QFQL         g = grad_a min_i Q(s, a) at the noisy a itself
//   BPTT         g = grad_a min_i Q(s, clip(ODE(a))): integrate the BC flow from (a, t) to t = 1, backprop
//   the chain GradStep     BC sample, then L steps of a = clip(a + alpha grad_a Q(s, a), -1, 1) (alpha, L in
//   options)
// Best-of-N (over BC or QGF samples) and CFGRL are below. Results are clipped to [-1, 1].
#pragma once
#include <functional>

#include "rl/critic.h"
#include "rl/flow.h"

namespace rl {

// The critic as the samplers see it: (obs [B, obs_dim], actions [B, action_dim]) -> the min-head Q [B]. Any
// differentiable function works (the tests use closed-form Q functions).
using QFunction = std::function<Tensor(const Tensor& obs, const Tensor& actions)>;
QFunction critic_q(const nn::Mlp& q, const CriticConfig& cfg);  // min_i Q_i of a trained critic
// The Q every guided sampler should use: the critic's *target* heads (QGF.md; the official code does so).
QFunction guidance_critic(const Critic& c, const CriticConfig& cfg);

enum class Guidance { BC, QGF, QGFJacobian, QFQL, BPTT, GradStep };
const char* guidance_name(Guidance g);

struct GradStepOptions {
  double alpha = 0.01;
  int steps = 3;
};

// obs [B, obs_dim], noise [B, action_dim] (a_0 ~ N(0, I)), w a scalar tensor (the guidance weight 1/beta).
Tensor sample_guided(Guidance kind, const nn::Mlp& flow, const FlowConfig& fcfg, const QFunction& q,
                     const Tensor& obs, const Tensor& noise, const Tensor& w, const GradStepOptions& gs = {});

// The guidance direction alone at one Euler step (for tests and analysis): QGF, QGFJacobian, QFQL or BPTT at
// the noisy a [B, action_dim] and time step k of fcfg.steps.
Tensor guidance_gradient(Guidance kind, const nn::Mlp& flow, const FlowConfig& fcfg, const QFunction& q,
                         const Tensor& obs, const Tensor& a, int k);

// Best-of-N: noise [N, B, action_dim]; draws N chunks per state with `base` (BC or QGF), returns for every
// state the one with the highest min-head Q.
Tensor sample_best_of_n(Guidance base, const nn::Mlp& flow, const FlowConfig& fcfg, const QFunction& q,
                        const Tensor& obs, const Tensor& noise, const Tensor& w);

// CFGRL: a flow conditioned on an optimality label (cond_dim = 2: (1, 0) optimal, (0, 1) not, (0, 0) null),
// trained with classifier-free dropout (cfgrl_loss; `optimal` [B] is e.g. advantage > 0); sampled with
// v = v(null) + w (v(optimal) - v(null)): w = 0 is the behavior policy, w = 1 the optimal-conditioned one.
Tensor cfgrl_loss(const nn::Mlp& flow, const FlowConfig& fcfg, const Tensor& obs, const Tensor& actions,
                  const Tensor& optimal, const Tensor& key, double p_uncond = 0.1);
Tensor sample_cfgrl(const nn::Mlp& flow, const FlowConfig& fcfg, const Tensor& obs, const Tensor& noise,
                    const Tensor& w);

}  // namespace rl
