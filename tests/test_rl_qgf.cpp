// QGF end to end on problems with known answers: flow BC on a 2-D Gaussian mixture (mode weights), guided
// sampling on a multimodal bandit with a closed-form Q (mass on the best mode against the tilted target
// pi_ref * exp(w Q)), the guidance gradients of QGF-Jacobian and BPTT against finite differences, and the IQL
// critic on a chain MDP against expectile values from dynamic programming.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>

#include "engine/compile/jit.h"
#include "nn/optim.h"
#include "ops/api.h"
#include "rl/agent.h"
#include "rl/samplers.h"

namespace {

using engine::DType;
using engine::Tensor;

// ---- the 2-D mixture: three narrow modes with known weights ----
struct Mixture {
  std::vector<std::array<float, 2>> mu{{-0.5f, -0.5f}, {0.5f, -0.5f}, {0.0f, 0.55f}};
  std::vector<double> weight{0.5, 0.3, 0.2};
  float sigma = 0.05f;

  Tensor sample(std::mt19937_64& rng, int n) const {
    std::discrete_distribution<int> pick(weight.begin(), weight.end());
    std::normal_distribution<float> z(0.f, sigma);
    std::vector<float> a(size_t(2 * n));
    for (int i = 0; i < n; ++i) {
      const int m = pick(rng);
      a[size_t(2 * i)] = mu[size_t(m)][0] + z(rng);
      a[size_t(2 * i + 1)] = mu[size_t(m)][1] + z(rng);
    }
    return Tensor::from_vector(a, {n, 2});
  }
  // Fraction of samples nearest to each mode, and the fraction farther than 4 sigma from every mode.
  std::vector<double> masses(const Tensor& a, double* off_data = nullptr) const {
    const std::vector<float> v = a.to_vector<float>();
    const size_t n = v.size() / 2;
    std::vector<double> m(mu.size(), 0.0);
    double off = 0;
    for (size_t i = 0; i < n; ++i) {
      size_t best = 0;
      double bd = 1e30;
      for (size_t k = 0; k < mu.size(); ++k) {
        const double dx = v[2 * i] - mu[k][0], dy = v[2 * i + 1] - mu[k][1], d = dx * dx + dy * dy;
        if (d < bd) {
          bd = d;
          best = k;
        }
      }
      m[best] += 1.0 / double(n);
      if (std::sqrt(bd) > 4 * sigma) off += 1.0 / double(n);
    }
    if (off_data) *off_data = off;
    return m;
  }
};

// A flow policy fitted to the mixture (shared by the tests below; trained once).
struct FittedFlow {
  rl::FlowConfig cfg;
  nn::Mlp params;
};

const FittedFlow& fitted_flow() {
  static const FittedFlow f = [] {
    FittedFlow r;
    r.cfg = rl::make_flow_config(1, 2, {64, 64});
    r.params = rl::init_flow(ops::random_key(7), r.cfg);
    nn::AdamConfig adam;
    adam.lr = 2e-3;
    auto opt = nn::adam_init(r.params);
    const rl::FlowConfig cfg = r.cfg;
    auto step = engine::jit([cfg, adam](const nn::Mlp& p, const nn::AdamState<nn::Mlp>& s, const Tensor& obs,
                                        const Tensor& a, const Tensor& key) {
      auto [loss, g] =
          engine::value_and_grad([&](const nn::Mlp& q) { return rl::flow_bc_loss(q, cfg, obs, a, key); })(p);
      auto [p2, s2] = nn::adam_update(p, g, s, adam);
      return std::make_tuple(p2, s2, loss);
    });
    Mixture mix;
    std::mt19937_64 rng(1);
    const Tensor obs = ops::zeros({256, 1});
    for (int i = 0; i < 2500; ++i) {
      auto [p2, s2, loss] = step(r.params, opt, obs, mix.sample(rng, 256),
                                 ops::random_fold_in(ops::random_key(3), uint32_t(i)));
      r.params = p2;
      opt = s2;
    }
    return r;
  }();
  return f;
}

TEST(FlowBC, ReproducesTheMixtureModeWeights) {
  const FittedFlow& f = fitted_flow();
  const int n = 4096;
  const Tensor a =
      rl::sample_bc(f.params, f.cfg, ops::zeros({n, 1}), ops::random_normal(ops::random_key(11), {n, 2}));
  Mixture mix;
  const std::vector<double> m = mix.masses(a);
  for (size_t k = 0; k < m.size(); ++k) EXPECT_NEAR(m[k], mix.weight[k], 0.05) << "mode " << k;
}

// A smooth bandit reward: a bump of height c_k around each mode, wider than the modes, so Q is nearly
// constant on each mode and its gradient vanishes at the mode centres. Best mode: 1.
Tensor bandit_q(const Tensor& /*obs*/, const Tensor& a) {
  const Mixture mix;
  const double c[3] = {0.0, 1.0, 0.5}, s = 0.25;
  const Tensor ax = ops::reshape(ops::slice_axis(a, 1, 0, 1), {a.dim(0)});
  const Tensor ay = ops::reshape(ops::slice_axis(a, 1, 1, 2), {a.dim(0)});
  Tensor q = ops::zeros({a.dim(0)}, a.dtype());
  for (size_t k = 0; k < 3; ++k) {
    const Tensor d2 = ops::square(ax - double(mix.mu[k][0])) + ops::square(ay - double(mix.mu[k][1]));
    q = q + c[k] * ops::exp(d2 * (-0.5 / (s * s)));
  }
  return q;
}

std::vector<double> tilted(const Mixture& mix, double w) {
  const double c[3] = {0.0, 1.0, 0.5};
  std::vector<double> p(3);
  double z = 0;
  for (int k = 0; k < 3; ++k) z += p[size_t(k)] = mix.weight[size_t(k)] * std::exp(w * c[k]);
  for (double& x : p) x /= z;
  return p;
}

TEST(QGF, MassOnTheBestModeGrowsWithTheWeightAndTracksTheTiltedTarget) {
  const FittedFlow& f = fitted_flow();
  const Mixture mix;
  const int n = 2048;
  const Tensor obs = ops::zeros({n, 1});
  const Tensor noise = ops::random_normal(ops::random_key(12), {n, 2});
  const rl::FlowConfig cfg = f.cfg;
  auto sampler = [&](rl::Guidance g) {
    return engine::jit([cfg, g](const nn::Mlp& p, const Tensor& o, const Tensor& z, const Tensor& w) {
      return rl::sample_guided(g, p, cfg, bandit_q, o, z, w);
    });
  };
  auto qgf = sampler(rl::Guidance::QGF), qfql = sampler(rl::Guidance::QFQL),
       bptt = sampler(rl::Guidance::BPTT);
  double prev = -1;
  std::printf(
      "[results] w | QGF best-mode mass | tilted target | QGF off-data | QFQL best | QFQL off-data | BPTT "
      "best | BPTT off-data\n");
  for (double w : {0.0, 0.5, 1.0, 2.0, 4.0}) {
    const Tensor wt = ops::scalar(w);
    double off_q = 0, off_f = 0, off_b = 0;
    const auto mq = mix.masses(qgf(f.params, obs, noise, wt), &off_q);
    const auto mf = mix.masses(qfql(f.params, obs, noise, wt), &off_f);
    const auto mb = mix.masses(bptt(f.params, obs, noise, wt), &off_b);
    const auto target = tilted(mix, w);
    std::printf("[results] %.1f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f\n", w, mq[1], target[1],
                off_q, mf[1], off_f, mb[1], off_b);
    EXPECT_GT(mq[1], prev) << "the best mode's mass must grow with w";
    prev = mq[1];
    if (w <= 1.0) {
      for (int k = 0; k < 3; ++k)
        EXPECT_NEAR(mq[size_t(k)], target[size_t(k)], 0.08) << "w " << w << " mode " << k;
    }
  }
}

TEST(Samplers, BestOfNPicksTheHighestQCandidateAndGradStepClimbsQ) {
  const FittedFlow& f = fitted_flow();
  const rl::FlowConfig cfg = f.cfg;
  const int b = 256, n = 8;
  const Tensor obs = ops::zeros({b, 1});
  const Tensor noise = ops::random_normal(ops::random_key(21), {n, b, 2});
  const Tensor w = ops::scalar(0.0);
  const Tensor best = rl::sample_best_of_n(rl::Guidance::BC, f.params, cfg, bandit_q, obs, noise, w);
  // Every state's pick is exactly the candidate with the highest Q.
  std::vector<std::vector<float>> cand;
  std::vector<std::vector<float>> cq;
  for (int i = 0; i < n; ++i) {
    const Tensor a =
        rl::sample_bc(f.params, cfg, obs, ops::reshape(ops::slice_axis(noise, 0, i, i + 1), {b, 2}));
    cand.push_back(a.to_vector<float>());
    cq.push_back(bandit_q(obs, a).to_vector<float>());
  }
  const std::vector<float> bv = best.to_vector<float>();
  for (int j = 0; j < b; ++j) {
    int arg = 0;
    for (int i = 1; i < n; ++i)
      if (cq[size_t(i)][size_t(j)] > cq[size_t(arg)][size_t(j)]) arg = i;
    EXPECT_EQ(bv[size_t(2 * j)], cand[size_t(arg)][size_t(2 * j)]);
    EXPECT_EQ(bv[size_t(2 * j + 1)], cand[size_t(arg)][size_t(2 * j + 1)]);
  }
  // GradStep: a few ascent steps on Q from the BC samples raise the mean Q.
  const Tensor z = ops::reshape(ops::slice_axis(noise, 0, 0, 1), {b, 2});
  const double q_bc = ops::mean(bandit_q(obs, rl::sample_bc(f.params, cfg, obs, z))).item<float>();
  rl::GradStepOptions gs;
  gs.alpha = 0.05;
  const Tensor stepped = rl::sample_guided(rl::Guidance::GradStep, f.params, cfg, bandit_q, obs, z, w, gs);
  EXPECT_GT(ops::mean(bandit_q(obs, stepped)).item<float>(), q_bc);
  EXPECT_LE(ops::max(ops::abs(stepped)).item<float>(), 1.0f);
}

TEST(Samplers, CfgrlGuidanceMovesMassToTheOptimalMode) {
  // The optimality bit marks mode 1's samples; w = 1 samples the conditional flow, w = 0 the unconditional.
  rl::FlowConfig cfg = rl::make_flow_config(1, 2, {64, 64});
  cfg.cond_dim = 2;
  nn::Mlp p = rl::init_flow(ops::random_key(31), cfg);
  nn::AdamConfig adam;
  adam.lr = 2e-3;
  auto opt = nn::adam_init(p);
  auto step = engine::jit([cfg, adam](const nn::Mlp& p, const nn::AdamState<nn::Mlp>& s, const Tensor& obs,
                                      const Tensor& a, const Tensor& optimal, const Tensor& key) {
    auto g =
        engine::grad([&](const nn::Mlp& q) { return rl::cfgrl_loss(q, cfg, obs, a, optimal, key, 0.2); })(p);
    return nn::adam_update(p, g, s, adam);
  });
  Mixture mix;
  std::mt19937_64 rng(4);
  const Tensor obs = ops::zeros({256, 1});
  for (int i = 0; i < 2500; ++i) {
    const Tensor a = mix.sample(rng, 256);
    // Optimal: nearest to mode 1.
    std::vector<float> av = a.to_vector<float>(), opt_bits(256);
    for (int j = 0; j < 256; ++j)
      opt_bits[size_t(j)] =
          std::hypot(av[size_t(2 * j)] - mix.mu[1][0], av[size_t(2 * j + 1)] - mix.mu[1][1]) < 0.25f;
    std::tie(p, opt) = step(p, opt, obs, a, Tensor::from_vector(opt_bits),
                            ops::random_fold_in(ops::random_key(5), uint32_t(i)));
  }
  const int n = 2048;
  const Tensor noise = ops::random_normal(ops::random_key(32), {n, 2});
  const auto m0 = mix.masses(rl::sample_cfgrl(p, cfg, ops::zeros({n, 1}), noise, ops::scalar(0.0)));
  const auto m1 = mix.masses(rl::sample_cfgrl(p, cfg, ops::zeros({n, 1}), noise, ops::scalar(1.0)));
  std::printf("[results] CFGRL mode-1 mass: w=0 %.3f, w=1 %.3f\n", m0[1], m1[1]);
  EXPECT_NEAR(m0[1], mix.weight[1], 0.08);
  EXPECT_GT(m1[1], 0.85);
}

// ---- guidance gradients against central differences (f64 networks, away from the clip boundary) ----
TEST(QGF, JacobianAndBpttGradientsMatchFiniteDifferences) {
  rl::FlowConfig cfg = rl::make_flow_config(3, 2, {16, 16});
  cfg.net.init.scale = 0.1;  // small velocities: a_hat stays inside (-1, 1), away from the clip
  const nn::Mlp flow = nn::init_mlp(
      ops::random_key(5), cfg.obs_dim + cfg.action_dim + cfg.time_dim,
      [&] {
        auto n = cfg.net;
        n.out = cfg.action_dim;
        return n;
      }(),
      DType::F64);
  const int b = 3;
  const Tensor obs = ops::random_normal(ops::random_key(6), {b, 3}, DType::F64);
  const Tensor a = ops::random_uniform(ops::random_key(8), {b, 2}, -0.3, 0.3, DType::F64);
  for (auto [kind, k] : {std::pair{rl::Guidance::QGFJacobian, 6}, std::pair{rl::Guidance::BPTT, 4}}) {
    const Tensor g = rl::guidance_gradient(kind, flow, cfg, bandit_q, obs, a, k);
    auto objective = [&](const Tensor& x) -> double {
      Tensor end;
      if (kind == rl::Guidance::QGFJacobian) {
        const double t = double(k) / cfg.steps;
        end =
            ops::clip(x + (1.0 - t) * rl::velocity(flow, cfg, obs, x, ops::scalar(t, DType::F64)), -1.0, 1.0);
      } else {
        end = x;
        for (int j = k; j < cfg.steps; ++j)
          end = end + (1.0 / cfg.steps) *
                          rl::velocity(flow, cfg, obs, end, ops::scalar(double(j) / cfg.steps, DType::F64));
      }
      return ops::sum(bandit_q(obs, end)).item<double>();
    };
    const std::vector<double> av = a.to_vector<double>(), gv = g.to_vector<double>();
    for (size_t i = 0; i < av.size(); ++i) {
      std::vector<double> hi = av, lo = av;
      hi[i] += 1e-6;
      lo[i] -= 1e-6;
      const double fd =
          (objective(Tensor::from_vector(hi, {b, 2})) - objective(Tensor::from_vector(lo, {b, 2}))) / 2e-6;
      EXPECT_NEAR(gv[i], fd, 1e-6 + 1e-5 * std::fabs(fd)) << rl::guidance_name(kind) << " element " << i;
    }
  }
}

// ---- IQL on a chain MDP: states 0..4 (one-hot), actions -1 / +1, reward 1 on reaching the terminal state 4
// ----
TEST(IQL, ChainMdpMatchesExpectileDynamicProgramming) {
  const int S = 5;
  const double gamma = 0.9, tau = 0.9;
  // Dynamic programming: with the two actions equally likely in the data, the expectile of {q_lo, q_hi} is
  // tau q_hi + (1 - tau) q_lo.
  auto step_of = [](int s, int a) { return std::clamp(s + a, 0, 4); };
  std::vector<double> v(S, 0.0);
  for (int it = 0; it < 500; ++it)
    for (int s = 0; s < 4; ++s) {
      double q[2];
      for (int i = 0; i < 2; ++i) {
        const int s2 = step_of(s, i ? 1 : -1);
        q[i] = (s2 == 4 ? 1.0 : 0.0) + (s2 == 4 ? 0.0 : gamma * v[size_t(s2)]);
      }
      v[size_t(s)] = tau * std::max(q[0], q[1]) + (1 - tau) * std::min(q[0], q[1]);
    }
  // The data: every (state, action) of the non-terminal states once.
  std::vector<float> obs, act, rew, mask, next;
  for (int s = 0; s < 4; ++s)
    for (int a : {-1, 1}) {
      const int s2 = step_of(s, a);
      for (int j = 0; j < S; ++j) obs.push_back(j == s ? 1.f : 0.f);
      for (int j = 0; j < S; ++j) next.push_back(j == s2 ? 1.f : 0.f);
      act.push_back(float(a));
      rew.push_back(s2 == 4 ? 1.f : 0.f);
      mask.push_back(s2 == 4 ? 0.f : 1.f);
    }
  const int n = 8;
  rl::CriticBatch batch{Tensor::from_vector(obs, {n, S}),  Tensor::from_vector(act, {n, 1}),
                        Tensor::from_vector(rew, {n}),     Tensor::from_vector(mask, {n}),
                        Tensor::from_vector(next, {n, S}), ops::ones({n})};
  rl::CriticConfig cfg = rl::make_critic_config(S, 1, {32, 32}, gamma, 1);
  cfg.expectile = tau;
  cfg.polyak = 0.05;
  rl::Critic c = rl::init_critic(ops::random_key(9), cfg);
  nn::AdamConfig adam;
  adam.lr = 3e-3;
  auto qo = nn::adam_init(c.q);
  auto vo = nn::adam_init(c.v);
  auto step = engine::jit([cfg, adam](const rl::Critic& c, const nn::AdamState<nn::Mlp>& qo,
                                      const nn::AdamState<nn::Mlp>& vo, const rl::CriticBatch& b) {
    auto gq = engine::grad([&](const nn::Mlp& q) { return rl::q_loss(q, c.v, cfg, b); })(c.q);
    auto gv = engine::grad([&](const nn::Mlp& v) { return rl::v_loss(v, c.q_target, cfg, b); })(c.v);
    rl::Critic out;
    nn::AdamState<nn::Mlp> qo2, vo2;
    std::tie(out.q, qo2) = nn::adam_update(c.q, gq, qo, adam);
    std::tie(out.v, vo2) = nn::adam_update(c.v, gv, vo, adam);
    out.q_target = nn::polyak(c.q_target, out.q, cfg.polyak);
    return std::make_tuple(out, qo2, vo2);
  });
  for (int i = 0; i < 3000; ++i) std::tie(c, qo, vo) = step(c, qo, vo, batch);
  const std::vector<float> learned = rl::v_value(c.v, cfg, batch.obs).to_vector<float>();
  for (int i = 0; i < n; ++i) {
    const int s = i / 2;
    EXPECT_NEAR(learned[size_t(i)], v[size_t(s)], 0.03) << "state " << s;
  }
}

}  // namespace
