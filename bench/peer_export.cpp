// Exports one QGF workload's weights, inputs and results as safetensors files, for the JAX and PyTorch
// peers in bench/peers/ (numerical parity on the same weights). For one configuration it:
//   1. builds the agent with rl::init_agent(seed, cfg), then runs --warmup train steps on other batches (so
//      the exported state has non-zero Adam moments, a step count and q_target != q: a generic step);
//   2. writes that state (state0), one deterministic CriticBatch (masks and weights with zeros), and the
//      exact flow-matching draws train_step makes from the state's key (a_0 noise and times t);
//   3. writes the three losses and their gradients w.r.t. the flow, Q-ensemble and V parameters
//      (value_and_grad exactly as train_step calls it);
//   4. runs ONE rl::train_step (jitted, or eager with --eager) and writes its metrics and the new state;
//   5. runs the QGF sampler (rl::sample_guided, Guidance::QGF, target critic, T = --steps) on given
//      obs / noise / w and writes them with the actions.
// Leaves are named by tree path ("flow/hidden/0/w", "q_opt/mu/norms/1/scale", ...); every file's metadata
// holds the configuration as JSON ("config"). Files: DIR/{state0,batch,grads,step,sampler}.safetensors.
//   peer_export --hidden 64,64 --batch 8 --obs-dim 40 --action-dim 5 --horizon 5 --seed 0 --out DIR
//               [--sample-batch B] [--steps 10] [--w 0.5] [--warmup 2] [--eager]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "bench/peer_state.h"
#include "engine/compile/jit.h"
#include "nn/checkpoint.h"
#include "ops/api.h"
#include "rl/agent.h"
#include "rl/samplers.h"

namespace {

using engine::Tensor;

struct Options {
  std::vector<int64_t> hidden{512, 512, 512, 512};
  int64_t batch = 256, sample_batch = -1, obs_dim = 40, action_dim = 5, horizon = 5;
  uint64_t seed = 0;
  int steps = 10, warmup = 2;
  double w = 0.5;
  bool eager = false;
  std::string out;
};

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: peer_export --out DIR [--hidden 512,512,512,512] [--batch 256] [--sample-batch B] "
               "[--obs-dim 40] [--action-dim 5] [--horizon 5] [--seed 0] [--steps 10] [--w 0.5] "
               "[--warmup 2] [--eager]\n");
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    if (a == "--hidden") {
      o.hidden.clear();
      std::stringstream ss(next());
      for (std::string tok; std::getline(ss, tok, ',');) o.hidden.push_back(std::stoll(tok));
    } else if (a == "--batch") {
      o.batch = std::stoll(next());
    } else if (a == "--sample-batch") {
      o.sample_batch = std::stoll(next());
    } else if (a == "--obs-dim") {
      o.obs_dim = std::stoll(next());
    } else if (a == "--action-dim") {
      o.action_dim = std::stoll(next());
    } else if (a == "--horizon") {
      o.horizon = std::stoll(next());
    } else if (a == "--seed") {
      o.seed = std::stoull(next());
    } else if (a == "--steps") {
      o.steps = std::stoi(next());
    } else if (a == "--w") {
      o.w = std::stod(next());
    } else if (a == "--warmup") {
      o.warmup = std::stoi(next());
    } else if (a == "--eager") {
      o.eager = true;
    } else if (a == "--out") {
      o.out = next();
    } else {
      usage();
    }
  }
  if (o.out.empty() || o.hidden.empty()) usage();
  if (o.sample_batch < 0) o.sample_batch = o.batch;
  return o;
}

rl::AgentConfig agent_config(const Options& o) {
  const int64_t chunk = o.action_dim * o.horizon;
  rl::AgentConfig cfg;
  cfg.flow = rl::make_flow_config(o.obs_dim, chunk, o.hidden);
  cfg.flow.steps = o.steps;
  cfg.critic = rl::make_critic_config(o.obs_dim, chunk, o.hidden, 0.99, int(o.horizon));
  return cfg;
}

// The configuration the peers need to rebuild the math, as a JSON object (stored in every file's metadata).
std::string config_json(const Options& o, const rl::AgentConfig& c) {
  std::ostringstream s;
  s.precision(17);
  s << "{\"hidden\": [";
  for (size_t i = 0; i < o.hidden.size(); ++i) s << (i ? ", " : "") << o.hidden[i];
  s << "], \"obs_dim\": " << c.flow.obs_dim << ", \"action_dim\": " << c.flow.action_dim
    << ", \"horizon\": " << c.critic.horizon << ", \"time_dim\": " << c.flow.time_dim
    << ", \"steps\": " << c.flow.steps << ", \"heads\": " << c.critic.heads
    << ", \"discount\": " << c.critic.discount << ", \"expectile\": " << c.critic.expectile
    << ", \"polyak\": " << c.critic.polyak << ", \"lr\": " << c.adam.lr << ", \"b1\": " << c.adam.b1
    << ", \"b2\": " << c.adam.b2 << ", \"eps\": " << c.adam.eps << ", \"eps_root\": " << c.adam.eps_root
    << ", \"ln_eps\": 1e-06, \"batch\": " << o.batch << ", \"sample_batch\": " << o.sample_batch
    << ", \"seed\": " << o.seed << ", \"warmup\": " << o.warmup << ", \"w\": " << o.w
    << ", \"jit\": " << (o.eager ? "false" : "true") << "}";
  return s.str();
}

// Path-named leaves (the peers rebuild nested dicts from the names; bench/peer_state.h names them).
void add_mlp(nn::Checkpoint& ck, const std::string& p, const nn::Mlp& m) {
  peers::for_each_mlp(p, m, [&](const std::string& name, const Tensor& t) { ck.add(name, t); });
}
void add_state(nn::Checkpoint& ck, const rl::AgentState& s) {
  peers::for_each_state(s, [&](const std::string& name, const Tensor& t) { ck.add(name, t); });
}

Tensor bernoulli(const Tensor& key, int64_t n, double p) {
  return ops::convert(ops::lt(ops::random_uniform(key, {n}), ops::full({n}, p)), engine::DType::F32);
}

// A deterministic batch from `key`: N(0, 1) observations, chunks uniform in [-1, 1], N(0, 1) rewards, masks
// 1 with probability 0.8 and weights 1 with probability 0.9 (so both branches are exercised).
rl::CriticBatch make_batch(const Tensor& key, int64_t b, int64_t obs_dim, int64_t act_dim) {
  return rl::CriticBatch{ops::random_normal(ops::random_fold_in(key, 0), {b, obs_dim}),
                         ops::random_uniform(ops::random_fold_in(key, 1), {b, act_dim}, -1.0, 1.0),
                         ops::random_normal(ops::random_fold_in(key, 2), {b}),
                         bernoulli(ops::random_fold_in(key, 3), b, 0.8),
                         ops::random_normal(ops::random_fold_in(key, 4), {b, obs_dim}),
                         bernoulli(ops::random_fold_in(key, 5), b, 0.9)};
}

void save(nn::Checkpoint& ck, const std::string& cfg, const std::string& path) {
  ck.set_metadata("config", cfg);
  ck.save(path);
  std::printf("wrote %s\n", path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  const rl::AgentConfig cfg = agent_config(o);
  const std::string meta = config_json(o, cfg);
  std::filesystem::create_directories(o.out);
  auto path = [&](const char* f) { return (std::filesystem::path(o.out) / f).string(); };

  auto step_fn = [cfg](const rl::AgentState& st, const rl::CriticBatch& b) {
    return rl::train_step(st, b, cfg);
  };
  auto jitted_step = engine::jit(step_fn);
  auto step = [&](const rl::AgentState& st, const rl::CriticBatch& b) {
    return o.eager ? step_fn(st, b) : jitted_step(st, b);
  };

  // 1. The state: init_agent, then warm-up steps on batches from other keys.
  const Tensor data_key = ops::random_fold_in(ops::random_key(o.seed), 12345);
  const int64_t chunk = cfg.flow.action_dim;
  rl::AgentState s = rl::init_agent(o.seed, cfg);
  for (int i = 0; i < o.warmup; ++i)
    s = step(s, make_batch(ops::random_fold_in(data_key, uint32_t(100 + i)), o.batch, o.obs_dim, chunk))
            .state;
  {
    nn::Checkpoint ck;
    add_state(ck, s);
    save(ck, meta, path("state0.safetensors"));
  }

  // 2. The batch and the flow-matching draws of train_step (its key use, replayed: split the state's key in
  // two, the second half is the flow key; a_0 from fold_in(flow_key, 0), t from fold_in(flow_key, 1)).
  const rl::CriticBatch batch = make_batch(ops::random_fold_in(data_key, 0), o.batch, o.obs_dim, chunk);
  const Tensor keys = ops::random_split(s.key, 2);
  const Tensor flow_key = ops::reshape(ops::slice_axis(keys, 0, 1, 2), {2});
  const Tensor a0 = ops::random_normal(ops::random_fold_in(flow_key, 0), batch.actions.shape());
  const Tensor t = ops::random_uniform(ops::random_fold_in(flow_key, 1), {o.batch}, 0.0, 1.0);
  {
    nn::Checkpoint ck;
    ck.add("obs", batch.obs).add("actions", batch.actions).add("rewards", batch.rewards);
    ck.add("masks", batch.masks).add("next_obs", batch.next_obs).add("weight", batch.weight);
    ck.add("flow_key", flow_key).add("flow_noise", a0).add("flow_time", t);
    save(ck, meta, path("batch.safetensors"));
  }

  // 3. Losses and gradients at state0, as train_step computes them.
  {
    auto [fl, fg] = engine::value_and_grad([&](const nn::Mlp& p) {
      return rl::flow_bc_loss(p, cfg.flow, batch.obs, batch.actions, flow_key);
    })(s.flow);
    auto [ql, qg] = engine::value_and_grad(
        [&](const nn::Mlp& q) { return rl::q_loss(q, s.critic.v, cfg.critic, batch); })(s.critic.q);
    auto [vl, vg] = engine::value_and_grad(
        [&](const nn::Mlp& v) { return rl::v_loss(v, s.critic.q_target, cfg.critic, batch); })(s.critic.v);
    nn::Checkpoint ck;
    ck.add("flow_loss", fl).add("q_loss", ql).add("v_loss", vl);
    add_mlp(ck, "flow_grad", fg);
    add_mlp(ck, "q_grad", qg);
    add_mlp(ck, "v_grad", vg);
    save(ck, meta, path("grads.safetensors"));
  }

  // 4. One training step.
  {
    const rl::TrainOutput out = step(s, batch);
    nn::Checkpoint ck;
    ck.add("metrics/flow_loss", out.metrics.flow_loss)
        .add("metrics/q_loss", out.metrics.q_loss)
        .add("metrics/v_loss", out.metrics.v_loss);
    add_state(ck, out.state);
    save(ck, meta, path("step.safetensors"));
  }

  // 5. The QGF sampler on state0's flow and target critic.
  {
    const Tensor skey = ops::random_fold_in(data_key, 1);
    const Tensor obs = ops::random_normal(ops::random_fold_in(skey, 0), {o.sample_batch, o.obs_dim});
    const Tensor noise = ops::random_normal(ops::random_fold_in(skey, 1), {o.sample_batch, chunk});
    const Tensor w = ops::scalar(o.w);
    const rl::FlowConfig fc = cfg.flow;
    const rl::CriticConfig cc = cfg.critic;
    auto sampler = [fc, cc](const nn::Mlp& f, const rl::Critic& c, const Tensor& ob, const Tensor& z,
                            const Tensor& ww) {
      return rl::sample_guided(rl::Guidance::QGF, f, fc, rl::guidance_critic(c, cc), ob, z, ww);
    };
    const Tensor actions = o.eager ? sampler(s.flow, s.critic, obs, noise, w)
                                   : engine::jit(sampler)(s.flow, s.critic, obs, noise, w);
    nn::Checkpoint ck;
    ck.add("obs", obs).add("noise", noise).add("w", w).add("actions", actions);
    save(ck, meta, path("sampler.safetensors"));
  }
  return 0;
}
