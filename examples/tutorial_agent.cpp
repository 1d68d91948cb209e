// The program behind docs/tutorial.md: a small agent written with the functional API. It fits a flow policy
// to a three-mode 2-D action distribution by flow-matching behavior cloning, writes its own Adam-trained
// training step as one jitted function, and then improves the policy at test time by guiding the flow with
// the gradient of a critic (here a known reward function), printing how the mass moves to the best mode.
#include <cmath>
#include <cstdio>
#include <random>

#include "engine/compile/jit.h"
#include "nn/optim.h"
#include "ops/api.h"
#include "rl/samplers.h"

using engine::Tensor;

// 1. Data: actions from three narrow modes with weights 0.5, 0.3, 0.2 (no observation: obs is a zero column).
const float kModes[3][2] = {{-0.5f, -0.5f}, {0.5f, -0.5f}, {0.0f, 0.55f}};

Tensor sample_actions(std::mt19937_64& rng, int n) {
  std::discrete_distribution<int> pick({0.5, 0.3, 0.2});
  std::normal_distribution<float> noise(0.f, 0.05f);
  std::vector<float> a;
  for (int i = 0; i < n; ++i) {
    const int m = pick(rng);
    a.push_back(kModes[m][0] + noise(rng));
    a.push_back(kModes[m][1] + noise(rng));
  }
  return Tensor::from_vector(a, {n, 2});
}

// 2. A critic: any differentiable function of (obs, actions) -> [B]. A bump of height c_k on each mode.
Tensor reward(const Tensor& /*obs*/, const Tensor& a) {
  const double c[3] = {0.0, 1.0, 0.5};
  const Tensor x = ops::squeeze(ops::slice_axis(a, 1, 0, 1), {1}),
               y = ops::squeeze(ops::slice_axis(a, 1, 1, 2), {1});
  Tensor q = ops::zeros({a.dim(0)});
  for (int k = 0; k < 3; ++k)
    q = q + c[k] * ops::exp((ops::square(x - double(kModes[k][0])) + ops::square(y - double(kModes[k][1]))) *
                            -8.0);
  return q;
}

int main() {
  // 3. The policy: a velocity network v(s, a_t, t) (an MLP on [obs, a_t, time embedding]).
  const rl::FlowConfig cfg = rl::make_flow_config(/*obs_dim=*/1, /*action_dim=*/2, /*hidden=*/{64, 64});
  nn::Mlp params = rl::init_flow(ops::random_key(0), cfg);
  nn::AdamConfig adam;
  adam.lr = 2e-3;
  nn::AdamState<nn::Mlp> opt = nn::adam_init(params);

  // 4. One training step as a pure function of (params, optimizer state, batch, key), compiled once.
  auto train_step = engine::jit([cfg, adam](const nn::Mlp& p, const nn::AdamState<nn::Mlp>& s,
                                            const Tensor& obs, const Tensor& actions, const Tensor& key) {
    auto [loss, grads] = engine::value_and_grad(
        [&](const nn::Mlp& q) { return rl::flow_bc_loss(q, cfg, obs, actions, key); })(p);
    auto [p2, s2] = nn::adam_update(p, grads, s, adam);
    return std::make_tuple(p2, s2, loss);
  });

  std::mt19937_64 rng(1);
  const Tensor obs = ops::zeros({256, 1});
  for (int step = 0; step < 2500; ++step) {
    auto [p2, s2, loss] = train_step(params, opt, obs, sample_actions(rng, 256),
                                     ops::random_fold_in(ops::random_key(2), uint32_t(step)));
    params = p2;
    opt = s2;
    if (step % 500 == 0) std::printf("step %4d  flow-matching loss %.4f\n", step, loss.item<float>());
  }

  // 5. Test-time guidance: one jitted sampler; the weight w and the noise are runtime inputs.
  auto sampler = engine::jit([cfg](const nn::Mlp& p, const Tensor& o, const Tensor& noise, const Tensor& w) {
    return rl::sample_guided(rl::Guidance::QGF, p, cfg, reward, o, noise, w);
  });
  const int n = 2048;
  const Tensor noise = ops::random_normal(ops::random_key(3), {n, 2});
  for (double w : {0.0, 1.0, 2.0, 4.0}) {
    const std::vector<float> a =
        sampler(params, ops::zeros({n, 1}), noise, ops::scalar(w)).to_vector<float>();
    int best = 0;
    for (int i = 0; i < n; ++i)
      best += std::hypot(a[size_t(2 * i)] - 0.5f, a[size_t(2 * i + 1)] + 0.5f) < 0.25f;
    std::printf("guidance w = %.1f: %.1f%% of actions on the best mode (data: 30%%)\n", w, 100.0 * best / n);
  }
}
