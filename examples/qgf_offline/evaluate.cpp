// Evaluation runs, the per-method samplers and the validation-chosen sweep (see evaluate.h).
#include "evaluate.h"

#include <cmath>
#include <functional>

#include "engine/compile/jit.h"
#include "interrupt.h"
#include "ops/api.h"
#include "progress.h"
#include "rl/samplers.h"
#include "run_dir.h"

namespace qgf_offline {

using nlohmann::json;

namespace {

using SampleFn =
    std::function<Tensor(const rl::AgentState&, const Tensor& obs, const Tensor& noise, const Tensor& w)>;

// One compiled executable per method (per alpha for GradStep, whose step size is a static option); the
// weight, the observations and the noise are runtime inputs, so a sweep over w reuses it.
template <class F>
SampleFn jitted(F f, const std::string& name) {
  engine::JitOptions opt;
  opt.name = "sampler " + name;
  auto j = std::make_shared<engine::Jitted<F>>(std::move(f), std::move(opt));
  return [j](const rl::AgentState& s, const Tensor& o, const Tensor& z, const Tensor& w) {
    return (*j)(s.flow, s.critic.q, o, z, w);
  };
}

bool uses_best_of_n(const std::string& method) { return method == "BoN" || method == "QGF+BoN"; }

SampleFn make_sampler(const std::string& method, double alpha, const Config& cfg,
                      const rl::AgentConfig& agent) {
  const rl::FlowConfig fc = agent.flow;
  const rl::CriticConfig cc = agent.critic;
  auto guided = [&](rl::Guidance kind, rl::GradStepOptions gs = {}) {
    return jitted(
        [fc, cc, kind, gs](const nn::Mlp& flow, const nn::Mlp& q, const Tensor& o, const Tensor& z,
                           const Tensor& w) {
          return rl::sample_guided(kind, flow, fc, rl::critic_q(q, cc), o, z, w, gs);
        },
        method);
  };
  auto best_of_n = [&](rl::Guidance base) {
    return jitted(
        [fc, cc, base](const nn::Mlp& flow, const nn::Mlp& q, const Tensor& o, const Tensor& z,
                       const Tensor& w) {
          return rl::sample_best_of_n(base, flow, fc, rl::critic_q(q, cc), o, z, w);
        },
        method);
  };
  if (method == "BC") return guided(rl::Guidance::BC);
  if (method == "QGF") return guided(rl::Guidance::QGF);
  if (method == "QGF-Jacobian") return guided(rl::Guidance::QGFJacobian);
  if (method == "QFQL") return guided(rl::Guidance::QFQL);
  if (method == "GradStep")
    return guided(rl::Guidance::GradStep, rl::GradStepOptions{alpha, cfg.gradstep_steps});
  if (method == "BoN") return best_of_n(rl::Guidance::BC);
  if (method == "QGF+BoN") return best_of_n(rl::Guidance::QGF);
  throw UsageError("unknown method '" + method + "'");
}

void mean_se(const std::vector<double>& x, double& mean, double& se) {
  const double n = double(x.size());
  mean = 0;
  for (double v : x) mean += v;
  mean /= n;
  double ss = 0;
  for (double v : x) ss += (v - mean) * (v - mean);
  se = x.size() > 1 ? std::sqrt(ss / (n - 1) / n) : 0;
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

std::vector<double> knob_values(const Config& cfg, const MethodInfo& m) {
  if (m.knob == "w") return cfg.weights;
  if (m.knob == "alpha") return cfg.gradstep_alphas;
  return {0.0};
}

// Best validation success; ties go to the higher validation return, then to the smaller knob value.
size_t choose(const std::vector<SweepPoint>& pts) {
  size_t best = 0;
  for (size_t i = 1; i < pts.size(); ++i) {
    const EvalStats &a = pts[i].val, &b = pts[best].val;
    if (a.success_mean > b.success_mean + 1e-12 ||
        (std::abs(a.success_mean - b.success_mean) <= 1e-12 && a.return_mean > b.return_mean + 1e-12))
      best = i;
  }
  return best;
}

}  // namespace

json stats_json(const EvalStats& s) {
  return json{{"episodes", s.episodes},
              {"success_mean", s.success_mean},
              {"success_se", s.success_se},
              {"return_mean", s.return_mean},
              {"return_se", s.return_se}};
}

MethodInfo method_info(const std::string& method) {
  if (method == "BC" || method == "BoN") return {method, ""};
  if (method == "GradStep") return {method, "alpha"};
  return {method, "w"};
}

uint64_t split_seed(uint64_t seed, const std::string& split) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a: the same on every platform, unlike std::hash
  for (char c : split) h = (h ^ uint8_t(c)) * 0x100000001b3ull;
  return splitmix64(seed ^ h);
}

struct Samplers::Impl {
  Config cfg;
  rl::AgentConfig agent;
  std::map<std::string, SampleFn> cache;
};

Samplers::Samplers(const Config& cfg, const rl::AgentConfig& agent)
    : impl_(std::make_unique<Impl>(Impl{cfg, agent, {}})) {}
Samplers::Samplers(Samplers&&) noexcept = default;
Samplers::~Samplers() = default;

Tensor Samplers::sample(const std::string& method, double value, const rl::AgentState& s, const Tensor& obs,
                        const Tensor& key, const Tensor& w) {
  const Config& cfg = impl_->cfg;
  const std::string name = method == "GradStep" ? method + "@" + std::to_string(value) : method;
  auto it = impl_->cache.find(name);
  if (it == impl_->cache.end())
    it = impl_->cache.emplace(name, make_sampler(method, value, cfg, impl_->agent)).first;
  const int64_t b = obs.dim(0), chunk = impl_->agent.flow.action_dim;  // H * action_dim
  const Tensor noise = uses_best_of_n(method) ? ops::random_normal(key, {cfg.best_of_n, b, chunk})
                                              : ops::random_normal(key, {b, chunk});
  const engine::Device device = engine::parse_device(cfg.device);
  return it->second(s, engine::to_device(obs, device), engine::to_device(noise, device), w);
}

struct Evaluator::Impl {
  const Config& cfg;
  Env& env;
  Samplers samplers;
};

Evaluator::Evaluator(const Config& cfg, const rl::AgentConfig& agent, Env& env)
    : impl_(std::make_unique<Impl>(Impl{cfg, env, Samplers(cfg, agent)})) {}
Evaluator::~Evaluator() = default;

EvalStats Evaluator::run(const std::string& method, double value, const rl::AgentState& s, int64_t episodes,
                         uint64_t seed, Rollouts* record) {
  Env& env = impl_->env;
  // Episodes run on the host; each sampler call takes its observations and noise to the device (the noise
  // is drawn on the host, so both devices see the same noise) and brings the chunk back.
  const engine::Device device = engine::parse_device(impl_->cfg.device);
  const rl::AgentState& state = device == engine::Device::CPU ? s : engine::tree_to_device(s, device);
  const int64_t e = episodes, a = env.action_dim(), h = impl_->cfg.horizon, ha = h * a;
  const Tensor base_key = ops::random_key(seed);
  const Tensor w = engine::to_device(ops::scalar(value), device);
  Tensor obs = env.reset(e, seed);
  std::vector<double> ret(size_t(e), 0.0), succ(size_t(e), 0.0);
  std::vector<uint8_t> alive(size_t(e), 1);
  if (record) {
    *record = Rollouts{method, env.obs_dim(), a, {}, {}, {}, {}};
    record->obs.resize(size_t(e));
    record->actions.resize(size_t(e));
    const std::vector<float> o = obs.to_vector<float>();
    for (size_t i = 0; i < size_t(e); ++i)
      record->obs[i].assign(o.begin() + long(i) * env.obs_dim(), o.begin() + long(i + 1) * env.obs_dim());
  }
  std::vector<float> chunk, act(size_t(e * a));
  bool complete = true;
  for (int t = 0; t < env.max_steps(); ++t) {
    if (interrupted()) {  // a long episode batch (a slow Python environment) must not delay Ctrl-C
      complete = false;
      break;
    }
    const int64_t k = t % h;
    if (k == 0) {  // one sampler call for every episode's next chunk
      const Tensor key = ops::random_fold_in(base_key, uint32_t(t));
      chunk = impl_->samplers.sample(method, value, state, obs, key, w).to_vector<float>();
    }
    for (int64_t i = 0; i < e; ++i)
      for (int64_t j = 0; j < a; ++j) act[size_t(i * a + j)] = chunk[size_t(i * ha + k * a + j)];
    StepResult r = env.step(Tensor::from_vector(act, {e, a}));
    const std::vector<float> o = record ? r.obs.to_vector<float>() : std::vector<float>();
    bool any = false;
    for (size_t i = 0; i < size_t(e); ++i) {
      if (!alive[i]) continue;
      ret[i] += r.reward[i];
      if (r.success[i]) succ[i] = 1;
      if (record) {
        record->actions[i].insert(record->actions[i].end(), act.begin() + long(i) * a,
                                  act.begin() + long(i + 1) * a);
        record->obs[i].insert(record->obs[i].end(), o.begin() + long(i) * env.obs_dim(),
                              o.begin() + long(i + 1) * env.obs_dim());
      }
      if (r.done[i]) alive[i] = 0;
      any = any || alive[i];
    }
    obs = r.obs;
    if (!any) break;
  }
  EvalStats st;
  st.episodes = e;
  st.complete = complete;
  mean_se(succ, st.success_mean, st.success_se);
  mean_se(ret, st.return_mean, st.return_se);
  if (record) {
    record->returns.assign(ret.begin(), ret.end());
    record->success.assign(succ.begin(), succ.end());
  }
  return st;
}

EvalReport evaluate_all(const Config& cfg, Evaluator& ev, const rl::AgentState& s, int64_t checkpoint_step,
                        bool show_progress, const std::string& evals_log) {
  EvalReport rep;
  rep.checkpoint_step = checkpoint_step;
  int64_t total = 0;
  for (const std::string& m : cfg.methods) total += 2 * int64_t(knob_values(cfg, method_info(m)).size());
  Progress bar("evaluate", total, show_progress);
  JsonlWriter log(evals_log);
  const uint64_t val_seed = split_seed(cfg.seed, "validation"), test_seed = split_seed(cfg.seed, "test");
  int64_t done = 0;
  auto stop_if_interrupted = [&] {
    if (interrupted())
      throw Interrupted{
          "interrupted during evaluation (the training checkpoints are intact); rerun it with:\n  "
          "qgf_offline evaluate --results " +
          cfg.results};
  };
  for (const std::string& m : cfg.methods) {
    MethodResult mr;
    mr.info = method_info(m);
    for (double v : knob_values(cfg, mr.info)) {
      SweepPoint p;
      p.value = v;
      const std::string label = m + (mr.info.knob.empty() ? "" : " " + mr.info.knob + "=" + format_number(v));
      for (const char* split : {"validation", "test"}) {
        stop_if_interrupted();
        bar.update(done, label + " (" + split + ")");
        const bool val = std::string(split) == "validation";
        const EvalStats st =
            ev.run(m, v, s, val ? cfg.val_episodes : cfg.eval_episodes, val ? val_seed : test_seed);
        if (!st.complete) stop_if_interrupted();
        (val ? p.val : p.test) = st;
        json rec = stats_json(st);
        rec.update(json{{"phase", "final"},
                        {"checkpoint_step", checkpoint_step},
                        {"method", m},
                        {"knob", mr.info.knob},
                        {"value", v},
                        {"split", split}});
        log.write(rec);
        bar.update(++done, label);
      }
      mr.points.push_back(p);
    }
    mr.chosen = choose(mr.points);
    rep.methods.push_back(std::move(mr));
  }
  bar.finish();
  // The rollouts the plots show: BC and QGF at its validation-chosen weight, on the reported (test) seeds.
  for (const MethodResult& mr : rep.methods) {
    if (mr.info.name != "BC" && mr.info.name != "QGF") continue;
    stop_if_interrupted();
    Rollouts r;
    if (!ev.run(mr.info.name, mr.headline().value, s, cfg.eval_episodes, test_seed, &r).complete)
      stop_if_interrupted();
    r.label =
        mr.info.name + (mr.info.knob.empty() ? "" : " (w = " + format_number(mr.headline().value) + ")");
    rep.showcase.push_back(std::move(r));
  }
  rep.seconds = bar.elapsed_s();
  return rep;
}

}  // namespace qgf_offline
