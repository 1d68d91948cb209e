// QGF benchmarks (issue 4): one full training step (flow + Q ensemble + V, Adam on all three, Polyak) at
// 4x512 / batch 256 and at the paper's 4x1024 / batch 1024, with 25-D action chunks (5-D actions, H = 5) and
// 40-D observations; and every sampler's latency at batch 1 (p50 / p99 over repeated calls) and throughput at
// batch 1024, T = 10 Euler steps. A plain program (percentiles are not Google Benchmark's), printing
// markdown. With --device cuda, parameters, batches and samples live on the GPU and every timed call ends
// with a device synchronization; QGF_CUDA_GRAPHS=1 in the environment makes the jitted functions replay CUDA
// graphs (compare a run with and without it for the graph-replay latency).
//   build/bench/bench_qgf [--quick] [--device cpu|cuda]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "engine/compile/jit.h"
#include "engine/core/device.h"
#include "engine/transforms/tree.h"
#include "ops/api.h"
#include "rl/agent.h"
#include "rl/samplers.h"

namespace {

using engine::Tensor;
using Clock = std::chrono::steady_clock;

constexpr int64_t kObs = 40, kAct = 25;
engine::Device g_device = engine::Device::CPU;

template <class T>
T on_device(const T& tree) {
  return engine::tree_map(tree, [](const Tensor& x) { return engine::to_device(x, g_device); });
}

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

std::vector<double> time_calls(const std::function<void()>& f, int warmup, int n) {
  for (int i = 0; i < warmup; ++i) f();
  engine::synchronize(g_device);
  std::vector<double> t;
  for (int i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    f();
    engine::synchronize(g_device);
    t.push_back(ms_since(t0));
  }
  std::sort(t.begin(), t.end());
  return t;
}
double pct(const std::vector<double>& sorted, double p) {
  return sorted[std::min(sorted.size() - 1, size_t(p * double(sorted.size())))];
}

rl::AgentConfig agent_config(int64_t hidden) {
  rl::AgentConfig cfg;
  cfg.flow = rl::make_flow_config(kObs, kAct, {hidden, hidden, hidden, hidden});
  cfg.critic = rl::make_critic_config(kObs, kAct, {hidden, hidden, hidden, hidden}, 0.99, 5);
  return cfg;
}

rl::CriticBatch random_batch(int64_t b) {
  const Tensor k = ops::random_key(9);
  return rl::CriticBatch{ops::random_normal(ops::random_fold_in(k, 0), {b, kObs}),
                         ops::random_uniform(ops::random_fold_in(k, 1), {b, kAct}, -1.0, 1.0),
                         ops::random_normal(ops::random_fold_in(k, 2), {b}),
                         ops::ones({b}),
                         ops::random_normal(ops::random_fold_in(k, 3), {b, kObs}),
                         ops::ones({b})};
}

void train_steps(bool quick) {
  std::printf("| network / batch | jitted train step, median ms | min ms | calls |\n|---|---|---|---|\n");
  for (auto [hidden, batch] : {std::pair<int64_t, int64_t>{512, 256}, {1024, 1024}}) {
    const rl::AgentConfig cfg = agent_config(hidden);
    rl::AgentState s = on_device(rl::init_agent(1, cfg));
    const rl::CriticBatch b = on_device(random_batch(batch));
    auto step = engine::jit(
        [cfg](const rl::AgentState& st, const rl::CriticBatch& bb) { return rl::train_step(st, bb, cfg); });
    const int n = quick ? 3 : (hidden == 1024 ? 10 : 50);
    const auto t = time_calls([&] { s = step(s, b).state; }, 2, n);
    std::printf("| 4x%lld / %lld | %.2f | %.2f | %d |\n", (long long)hidden, (long long)batch, pct(t, 0.5),
                t.front(), n);
  }
}

void samplers(bool quick) {
  const rl::AgentConfig cfg = agent_config(512);
  const rl::AgentState s = on_device(rl::init_agent(2, cfg));
  const rl::FlowConfig fc = cfg.flow;
  const rl::CriticConfig cc = cfg.critic;
  std::printf(
      "\n| sampler (4x512 nets, T = 10) | batch 1 p50 ms | batch 1 p99 ms | batch 1024 samples/s "
      "|\n|---|---|---|---|\n");
  struct Kind {
    const char* name;
    std::function<Tensor(const nn::Mlp&, const nn::Mlp&, const Tensor&, const Tensor&, const Tensor&)> fn;
    int64_t n = 1;  // best-of-N candidates
  };
  auto guided = [&](rl::Guidance g) {
    return [fc, cc, g](const nn::Mlp& f, const nn::Mlp& q, const Tensor& o, const Tensor& z,
                       const Tensor& w) { return rl::sample_guided(g, f, fc, rl::critic_q(q, cc), o, z, w); };
  };
  auto bon = [&](rl::Guidance g) {
    return
        [fc, cc, g](const nn::Mlp& f, const nn::Mlp& q, const Tensor& o, const Tensor& z, const Tensor& w) {
          return rl::sample_best_of_n(g, f, fc, rl::critic_q(q, cc), o, z, w);
        };
  };
  std::vector<Kind> kinds = {{"BC", guided(rl::Guidance::BC)},
                             {"QGF", guided(rl::Guidance::QGF)},
                             {"QGF-Jacobian", guided(rl::Guidance::QGFJacobian)},
                             {"QFQL", guided(rl::Guidance::QFQL)},
                             {"BPTT", guided(rl::Guidance::BPTT)},
                             {"GradStep", guided(rl::Guidance::GradStep)},
                             {"best-of-4 BC", bon(rl::Guidance::BC), 4},
                             {"best-of-4 QGF", bon(rl::Guidance::QGF), 4}};
  for (const Kind& k : kinds) {
    auto jitted = engine::jit(k.fn);
    auto run = [&](int64_t b, int calls) {
      const Tensor obs = on_device(ops::random_normal(ops::random_key(3), {b, kObs}));
      const engine::Shape zs = k.n > 1 ? engine::Shape{k.n, b, kAct} : engine::Shape{b, kAct};
      const Tensor z = on_device(ops::random_normal(ops::random_key(4), zs)),
                   w = on_device(ops::scalar(0.05));
      return time_calls([&] { (void)jitted(s.flow, s.critic.q_target, obs, z, w); }, 3, calls);
    };
    const auto t1 = run(1, quick ? 20 : 300);
    const auto tb = run(1024, quick ? 2 : 10);
    std::printf("| %s | %.3f | %.3f | %.0f |\n", k.name, pct(t1, 0.5), pct(t1, 0.99),
                1024.0 / (pct(tb, 0.5) / 1e3));
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (std::strcmp(argv[i], "--device") == 0 && i + 1 < argc) {
      g_device = engine::parse_device(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: bench_qgf [--quick] [--device cpu|cuda]\n");
      return 2;
    }
  }
  engine::require_device(g_device, "bench_qgf");
  const char* graphs = std::getenv("QGF_CUDA_GRAPHS");
  std::printf("device: %s%s\n\n", engine::describe_device(g_device).c_str(),
              g_device == engine::Device::CUDA
                  ? (graphs && std::string(graphs) == "1" ? " (CUDA-graph replay)" : " (no CUDA graphs)")
                  : "");
  train_steps(quick);
  samplers(quick);
}
