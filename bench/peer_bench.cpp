// Our engine's side of the peer benchmarks (issue 8; bench/peers/run_all.py drives it against JAX and
// PyTorch): one process times one workload and prints one JSON line
//   {"engine": "qgf", "workload": ..., "median_ms": ..., "p10_ms": ..., "p90_ms": ..., "reps": N, ...}
// Every timed repetition makes `inner` complete calls (device synchronized after the last) and records the
// time per call; `warmup` calls come first (the jit compiles there). The weights and inputs are the files the
// peers read: peer_export's directory for the QGF workloads, --export-mlp's for the canonical MLP ones.
//   peer_bench --workload NAME [--data DIR] [--reps 20] [--warmup 3] [--inner 1] [--threads T]
//              [--device cpu|cuda]
//   peer_bench --export-mlp DIR [--hidden 256] [--batch 256]     (writes DIR/mlp.safetensors)
// Workloads:
//   mlp_step           canonical::train_step jitted (MLP in 32, 4 hidden, out 8; MSE, value_and_grad, Adam),
//                      the outputs fed back as the next call's inputs (DIR/mlp.safetensors)
//   per_example_grads  jit(vmap(grad(mlp_loss), {none, 0, 0})) over the batch of DIR/mlp.safetensors
//   tiny_eager         x * 2 + 1 on f32[4], eager (three ops dispatched one by one)
//   tiny_jit           the same jitted (the call overhead on a cache hit)
//   qgf_step           rl::train_step jitted on peer_export's state0 and batch, the state fed back
//   qgf_sample         the QGF sampler (T Euler steps, target critic's min head), jitted, on state0 and
//                      peer_export's sampler inputs
//   stream_floor       T passes of a parallel read over the bytes of the flow and target-critic weights of
//                      state0 (what a QGF sampler call at batch 1 must stream at least once per Euler step);
//                      also reports a DRAM-bandwidth floor from a 256 MiB read
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "bench/peer_state.h"
#include "engine/compile/jit.h"
#include "engine/core/device.h"
#include "nn/checkpoint.h"
#include "ops/api.h"
#include "rl/agent.h"
#include "rl/samplers.h"
#include "tests/support/canonical.h"

namespace {

using engine::Tensor;
using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

struct Options {
  std::string workload, data, export_mlp;
  int reps = 20, warmup = 3, inner = 1, threads = 0;
  int64_t hidden = 256, batch = 256;
  engine::Device device = engine::Device::CPU;
};

[[noreturn]] void usage() {
  std::fprintf(
      stderr,
      "usage: peer_bench --workload mlp_step|per_example_grads|tiny_eager|tiny_jit|qgf_step|qgf_sample|"
      "stream_floor [--data DIR] [--reps N] [--warmup K] [--inner M] [--threads T] [--device cpu|cuda]\n"
      "       peer_bench --export-mlp DIR [--hidden 256] [--batch 256]\n");
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  using Set = std::function<void(const std::string&)>;
  const std::map<std::string, Set> flags = {
      {"--workload", [&](const std::string& v) { o.workload = v; }},
      {"--data", [&](const std::string& v) { o.data = v; }},
      {"--export-mlp", [&](const std::string& v) { o.export_mlp = v; }},
      {"--reps", [&](const std::string& v) { o.reps = std::stoi(v); }},
      {"--warmup", [&](const std::string& v) { o.warmup = std::stoi(v); }},
      {"--inner", [&](const std::string& v) { o.inner = std::stoi(v); }},
      {"--threads", [&](const std::string& v) { o.threads = std::stoi(v); }},
      {"--hidden", [&](const std::string& v) { o.hidden = std::stoll(v); }},
      {"--batch", [&](const std::string& v) { o.batch = std::stoll(v); }},
      {"--device", [&](const std::string& v) { o.device = engine::parse_device(v); }}};
  for (int i = 1; i < argc; i += 2) {
    const auto it = flags.find(argv[i]);
    if (it == flags.end() || i + 1 >= argc) usage();
    it->second(argv[i + 1]);
  }
  if (o.workload.empty() == o.export_mlp.empty() || o.reps < 1 || o.inner < 1 || o.warmup < 0) usage();
  return o;
}

const Options* g_opt = nullptr;

template <class T>
T on_device(const T& tree) {
  return engine::tree_map(tree, [](const Tensor& x) { return engine::to_device(x, g_opt->device); });
}

// Times `call` as described at the top; returns the per-call times in ms, sorted.
double g_first_ms = 0;  // the first warm-up call (the jit compiles there), reported as first_call_ms

std::vector<double> time_calls(const std::function<void()>& call) {
  for (int i = 0; i < g_opt->warmup; ++i) {
    const auto t0 = Clock::now();
    call();
    engine::synchronize(g_opt->device);
    if (i == 0) g_first_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  }
  std::vector<double> t;
  for (int r = 0; r < g_opt->reps; ++r) {
    const auto t0 = Clock::now();
    for (int k = 0; k < g_opt->inner; ++k) call();
    engine::synchronize(g_opt->device);
    t.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count() / g_opt->inner);
  }
  std::sort(t.begin(), t.end());
  return t;
}

// Nearest-rank percentile of sorted values (bench/peers/peer_bench.py uses the same rule).
double pct(const std::vector<double>& s, double q) {
  return s[std::min(s.size() - 1, size_t(std::lround(q * double(s.size() - 1))))];
}

void report(const std::vector<double>& t, Json extra = Json::object()) {
  Json j = {{"engine", "qgf"},
            {"workload", g_opt->workload},
            {"device", engine::device_name(g_opt->device)},
            {"median_ms", pct(t, 0.5)},
            {"p10_ms", pct(t, 0.1)},
            {"p90_ms", pct(t, 0.9)},
            {"min_ms", t.front()},
            {"reps", g_opt->reps},
            {"inner", g_opt->inner},
            {"warmup", g_opt->warmup},
            {"first_call_ms", g_first_ms},
            {"threads", omp_get_max_threads()}};
  j.update(extra);
  std::printf("%s\n", j.dump().c_str());
}

std::string file(const char* name) { return (std::filesystem::path(g_opt->data) / name).string(); }

// ---- the canonical MLP (tests/support/canonical.h) ----
constexpr int kIn = 32, kDepth = 4, kOut = 8;

void export_mlp(const Options& o) {
  const canonical::MlpParams p = canonical::init_mlp(kIn, int(o.hidden), kDepth, kOut, 1);
  const Tensor key = ops::random_key(2);
  nn::Checkpoint ck;
  for (int i = 0; i < kDepth; ++i) {
    const std::string s = std::to_string(i);
    ck.add("w/" + s, p.w[i]).add("b/" + s, p.b[i]).add("ln_gamma/" + s, p.ln_gamma[i]);
    ck.add("ln_beta/" + s, p.ln_beta[i]);
  }
  ck.add("w_out", p.w_out).add("b_out", p.b_out);
  ck.add("x", ops::random_normal(ops::random_fold_in(key, 0), {o.batch, kIn}));
  ck.add("y", ops::random_normal(ops::random_fold_in(key, 1), {o.batch, kOut}));
  const Json cfg = {{"in", kIn},
                    {"hidden", o.hidden},
                    {"depth", kDepth},
                    {"out", kOut},
                    {"batch", o.batch},
                    {"lr", canonical::kDefaultLr},
                    {"b1", canonical::kAdamBeta1},
                    {"b2", canonical::kAdamBeta2},
                    {"eps", canonical::kAdamEps},
                    {"ln_eps", 1e-6}};
  ck.set_metadata("config", cfg.dump());
  std::filesystem::create_directories(o.export_mlp);
  ck.save((std::filesystem::path(o.export_mlp) / "mlp.safetensors").string());
}

struct MlpData {
  canonical::MlpParams p;
  Tensor x, y;
};

MlpData load_mlp() {
  const nn::CheckpointReader r = nn::load_checkpoint(file("mlp.safetensors"));
  const Json cfg = Json::parse(r.metadata("config"));
  MlpData d;
  for (int i = 0; i < cfg["depth"].get<int>(); ++i) {
    const std::string s = std::to_string(i);
    d.p.w.push_back(r.tensor("w/" + s));
    d.p.b.push_back(r.tensor("b/" + s));
    d.p.ln_gamma.push_back(r.tensor("ln_gamma/" + s));
    d.p.ln_beta.push_back(r.tensor("ln_beta/" + s));
  }
  d.p.w_out = r.tensor("w_out");
  d.p.b_out = r.tensor("b_out");
  d.x = r.tensor("x");
  d.y = r.tensor("y");
  return MlpData{on_device(d.p), on_device(d.x), on_device(d.y)};
}

void mlp_step() {
  const MlpData d = load_mlp();
  canonical::MlpParams p = d.p;
  canonical::AdamState s = on_device(canonical::init_adam(p));
  auto step = engine::jit([](const canonical::MlpParams& pp, const canonical::AdamState& ss, const Tensor& x,
                             const Tensor& y) { return canonical::train_step(pp, ss, x, y); });
  Tensor loss;
  const std::vector<double> t = time_calls([&] { std::tie(p, s, loss) = step(p, s, d.x, d.y); });
  report(t, {{"hidden", d.p.w[0].dim(1)}, {"batch", d.x.dim(0)}, {"jit_compiles", step.stats().misses}});
}

void per_example_grads() {
  const MlpData d = load_mlp();
  auto f = engine::jit(engine::vmap(engine::grad(canonical::mlp_loss), {std::nullopt, 0, 0}));
  canonical::MlpParams g;
  const std::vector<double> t = time_calls([&] { g = f(d.p, d.x, d.y); });
  report(t, {{"hidden", d.p.w[0].dim(1)}, {"batch", d.x.dim(0)}, {"jit_compiles", f.stats().misses}});
}

Tensor tiny_fn(const Tensor& x) { return x * 2.0 + 1.0; }

void tiny(bool jitted) {
  const Tensor x = engine::to_device(Tensor::from_vector<float>({1.f, 2.f, 3.f, 4.f}), g_opt->device);
  auto f = engine::jit(tiny_fn);
  Tensor y;
  if (!jitted) return report(time_calls([&] { y = tiny_fn(x); }));
  const std::vector<double> t = time_calls([&] { y = f(x); });
  report(t, {{"jit_compiles", f.stats().misses}});
}

// ---- QGF, on peer_export's files ----
struct Qgf {
  Json cfg;
  rl::AgentConfig agent;
  rl::AgentState state;
};

Qgf load_qgf() {
  const nn::CheckpointReader r = nn::load_checkpoint(file("state0.safetensors"));
  Qgf q;
  q.cfg = Json::parse(r.metadata("config"));
  const auto hidden = q.cfg["hidden"].get<std::vector<int64_t>>();
  const int64_t obs = q.cfg["obs_dim"], act = q.cfg["action_dim"];  // act: the chunk (flow) dimension
  q.agent.flow = rl::make_flow_config(obs, act, hidden);
  q.agent.flow.steps = q.cfg["steps"].get<int>();
  q.agent.critic =
      rl::make_critic_config(obs, act, hidden, q.cfg["discount"].get<double>(), q.cfg["horizon"].get<int>());
  q.state = rl::init_agent(0, q.agent);  // the structure; every leaf is replaced by the file's
  peers::for_each_state(q.state, [&](const std::string& name, Tensor& t) { t = r.restore(name, t); });
  q.state = on_device(q.state);
  return q;
}

void qgf_step() {
  const Qgf q = load_qgf();
  const nn::CheckpointReader r = nn::load_checkpoint(file("batch.safetensors"));
  const rl::CriticBatch b =
      on_device(rl::CriticBatch{r.tensor("obs"), r.tensor("actions"), r.tensor("rewards"), r.tensor("masks"),
                                r.tensor("next_obs"), r.tensor("weight")});
  const rl::AgentConfig cfg = q.agent;
  auto step = engine::jit(
      [cfg](const rl::AgentState& st, const rl::CriticBatch& bb) { return rl::train_step(st, bb, cfg); });
  rl::AgentState s = q.state;
  const std::vector<double> t = time_calls([&] { s = step(s, b).state; });
  report(t, {{"hidden", q.cfg["hidden"]}, {"batch", b.obs.dim(0)}, {"jit_compiles", step.stats().misses}});
}

void qgf_sample() {
  const Qgf q = load_qgf();
  const nn::CheckpointReader r = nn::load_checkpoint(file("sampler.safetensors"));
  const Tensor obs = on_device(r.tensor("obs")), noise = on_device(r.tensor("noise")),
               w = on_device(r.tensor("w"));
  const rl::FlowConfig fc = q.agent.flow;
  const rl::CriticConfig cc = q.agent.critic;
  auto sampler = engine::jit(
      [fc, cc](const nn::Mlp& f, const nn::Mlp& qt, const Tensor& o, const Tensor& z, const Tensor& ww) {
        return rl::sample_guided(rl::Guidance::QGF, f, fc, rl::critic_q(qt, cc), o, z, ww);
      });
  Tensor actions;
  const std::vector<double> t =
      time_calls([&] { actions = sampler(q.state.flow, q.state.critic.q_target, obs, noise, w); });
  report(t, {{"hidden", q.cfg["hidden"]},
             {"batch", obs.dim(0)},
             {"steps", fc.steps},
             {"jit_compiles", sampler.stats().misses}});
}

// Parallel read-sum of n floats (the threads split the buffer, as the engine's kernels do).
float read_pass(const float* p, int64_t n) {
  float acc = 0.f;
#pragma omp parallel for simd reduction(+ : acc) schedule(static)
  for (int64_t i = 0; i < n; ++i) acc += p[i];
  return acc;
}

void stream_floor() {
  if (g_opt->device != engine::Device::CPU) throw std::runtime_error("stream_floor: CPU only");
  const Qgf q = load_qgf();
  std::vector<float> buf;  // the flow's and the target critic's weights, contiguous
  auto add = [&](const std::string&, const Tensor& t) {
    const std::vector<float> v = t.to_vector<float>();
    buf.insert(buf.end(), v.begin(), v.end());
  };
  peers::for_each_mlp("flow", q.state.flow, add);
  peers::for_each_mlp("q_target", q.state.critic.q_target, add);
  const int steps = q.agent.flow.steps;
  const int64_t n = int64_t(buf.size());
  volatile float sink = 0.f;
  const std::vector<double> t = time_calls([&] {
    for (int k = 0; k < steps; ++k) sink = sink + read_pass(buf.data(), n);
  });
  // DRAM: a 256 MiB read (far larger than any cache here), best of 5 passes.
  const int64_t big = int64_t(64) << 20;
  std::vector<float> dram(size_t(big), 1.f);
  double best = 1e30;
  for (int i = 0; i < 6; ++i) {
    const auto t0 = Clock::now();
    sink = sink + read_pass(dram.data(), big);
    if (i > 0) best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  const double bytes = double(n) * 4.0, dram_gbps = double(big) * 4.0 / best / 1e9;
  report(t, {{"hidden", q.cfg["hidden"]},
             {"batch", 1},
             {"bytes_per_step", bytes},
             {"steps", steps},
             {"warm_gbps", bytes * steps / (pct(t, 0.5) * 1e-3) / 1e9},
             {"dram_gbps", dram_gbps},
             {"dram_floor_ms", bytes * steps / (dram_gbps * 1e9) * 1e3}});
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  g_opt = &o;
  if (o.threads > 0) omp_set_num_threads(o.threads);
  try {
    if (!o.export_mlp.empty()) {
      export_mlp(o);
      return 0;
    }
    engine::require_device(o.device, "peer_bench");
    const std::map<std::string, std::function<void()>> workloads = {{"mlp_step", mlp_step},
                                                                    {"per_example_grads", per_example_grads},
                                                                    {"tiny_eager", [] { tiny(false); }},
                                                                    {"tiny_jit", [] { tiny(true); }},
                                                                    {"qgf_step", qgf_step},
                                                                    {"qgf_sample", qgf_sample},
                                                                    {"stream_floor", stream_floor}};
    const auto it = workloads.find(o.workload);
    if (it == workloads.end()) usage();
    it->second();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "peer_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
