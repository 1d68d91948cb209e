// Smoke tests of the qgf_offline program (examples/qgf_offline), run in-process through its entry function:
// `all` on the bandit with a tiny budget writes every promised file with sane contents; a run interrupted
// and resumed ends bitwise where an uninterrupted one does; bad flags, an unbuilt environment, a missing or
// corrupt data set and a corrupt checkpoint exit non-zero with a message that names the problem.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "engine/core/device.h"
#include "examples/qgf_offline/app.h"
#include "examples/qgf_offline/config.h"
#include "examples/qgf_offline/env.h"
#include "examples/qgf_offline/interrupt.h"
#include "examples/qgf_offline/ogbench_env.h"
#include "examples/qgf_offline/policy.h"
#include "rl/data/npz_writer.h"

namespace {

namespace fs = std::filesystem;

struct Outcome {
  int rc;
  std::string out, err;
};

Outcome run(std::vector<std::string> args) {
  args.insert(args.begin(), "qgf_offline");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  const int rc = qgf_offline_main(int(args.size()), argv.data());
  std::string out = testing::internal::GetCapturedStdout();
  return Outcome{rc, out, testing::internal::GetCapturedStderr()};
}

// A tiny budget: a few seconds, most of it compiling the training step and the samplers.
std::vector<std::string> tiny(const std::string& cmd, const std::string& dir) {
  // clang-format off
  return {cmd, "--env", "bandit", "--results", dir, "--steps", "40", "--batch", "32", "--hidden", "16,16", "--data-size", "300",
          "--eval-episodes", "8", "--val-episodes", "8", "--weights", "0,1", "--gradstep-alphas", "0.1",
          "--best-of-n", "2", "--flow-steps", "3", "--checkpoint-every", "20", "--log-every", "10",
          "--eval-every", "20"};
  // clang-format on
}

std::vector<std::string> with(std::vector<std::string> a, std::initializer_list<std::string> more) {
  a.insert(a.end(), more);
  return a;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::string> lines(const fs::path& p) {
  std::vector<std::string> out;
  std::ifstream in(p);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.push_back(l);
  return out;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string c; std::getline(ss, c, sep);) out.push_back(c);
  return out;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class QgfOffline : public testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("qgf_offline_test_" + std::to_string(::getpid()) + "_" +
                                         testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  std::string dir(const std::string& name) const { return (root_ / name).string(); }
  fs::path root_;
};

TEST_F(QgfOffline, AllWritesTablesLogsCheckpointsAndPlots) {
  const fs::path d = dir("run");
  const Outcome o = run(with(tiny("all", d), {"--quiet"}));
  ASSERT_EQ(o.rc, 0) << o.err;
  EXPECT_TRUE(o.err.empty()) << "--quiet printed: " << o.err;
  const std::vector<std::string> methods = {"BC",           "QGF",  "BoN",     "QGF+BoN",
                                            "QGF-Jacobian", "QFQL", "GradStep"};
  for (const std::string& m : methods)
    EXPECT_TRUE(contains(o.out, "\n  " + m + " ")) << m << " not in\n" << o.out;

  for (const char* f :
       {"config.json", "dataset.npz", "results.md", "results.csv", "sweep.csv", "results.json",
        "losses.jsonl", "evals.jsonl", "checkpoints/step_00000020.safetensors",
        "checkpoints/step_00000040.safetensors", "plots/learning_curves.gp", "plots/guidance_sweep.gp",
        "plots/bandit_samples.gp", "plots/losses.dat", "plots/bandit_landscape.dat", "plots/sweep_QGF.dat"})
    EXPECT_TRUE(fs::exists(d / f)) << f;
  if (std::system("command -v gnuplot >/dev/null 2>&1") == 0)
    for (const char* f : {"learning_curves", "guidance_sweep", "bandit_samples"}) {
      EXPECT_GT(fs::file_size(d / "plots" / (std::string(f) + ".png")), 1000u) << f;
      EXPECT_TRUE(fs::exists(d / "plots" / (std::string(f) + ".svg"))) << f;
    }

  // The effective settings: the flags over the bandit's defaults.
  const std::string cfg = slurp(d / "config.json");
  EXPECT_TRUE(contains(cfg, "\"steps\": 40")) << cfg;
  EXPECT_TRUE(contains(cfg, "\"lr\": 0.001")) << cfg;  // the bandit's default, not the global 3e-4

  // Losses at steps 1, 10, 20, 30, 40; evaluations: 2 during training x 2 methods, and the final sweep
  // (BC 1, QGF 2, BoN 1, QGF+BoN 2, QGF-Jacobian 2, QFQL 2, GradStep 1 settings) x 2 splits.
  const std::vector<std::string> loss = lines(d / "losses.jsonl");
  ASSERT_EQ(loss.size(), 5u);
  EXPECT_TRUE(contains(loss.back(), "\"step\":40")) << loss.back();
  for (const char* k : {"\"flow_loss\"", "\"q_loss\"", "\"v_loss\""}) EXPECT_TRUE(contains(loss.back(), k));
  const std::vector<std::string> evals = lines(d / "evals.jsonl");
  EXPECT_EQ(evals.size(), 4u + 2u * 11u);

  // results.csv: a header and one row per method with rates in [0, 1].
  const std::vector<std::string> csv = lines(d / "results.csv");
  ASSERT_EQ(csv.size(), 1 + methods.size());
  EXPECT_EQ(split(csv[0], ',')[4], "success_mean");
  for (size_t i = 1; i < csv.size(); ++i) {
    const std::vector<std::string> c = split(csv[i], ',');
    EXPECT_EQ(c[0], methods[i - 1]);
    const double s = std::stod(c[4]);
    EXPECT_GE(s, 0.0);
    EXPECT_LE(s, 1.0);
    EXPECT_EQ(c[3], "8");  // test episodes
  }
  EXPECT_EQ(lines(d / "sweep.csv").size(), 1u + 2u * 11u);
  EXPECT_TRUE(contains(slurp(d / "results.md"), "| QGF | w = "));

  // Evaluating the finished run again needs no flags: the settings come from its config.json.
  const Outcome again = run({"evaluate", "--results", d.string(), "--quiet", "--no-plots"});
  EXPECT_EQ(again.rc, 0) << again.err;
  EXPECT_TRUE(contains(again.out, "checkpoint at step 40")) << again.out;
}

TEST_F(QgfOffline, InterruptedRunResumesBitwise) {
  const std::string straight = dir("straight"), resumed = dir("resumed");
  for (const std::string& d : {straight, resumed})
    ASSERT_EQ(run(with(tiny("generate", d), {"--quiet"})).rc, 0);
  ASSERT_EQ(run(with(tiny("train", straight), {"--quiet"})).rc, 0);

  // Ctrl-C after step 25 (simulated): the step finishes, a checkpoint is written, exit 130 with a resume
  // hint.
  const Outcome stop = run(with(tiny("train", resumed), {"--simulate-interrupt-at", "25"}));
  EXPECT_EQ(stop.rc, 130);
  EXPECT_TRUE(contains(stop.err, "stopped after step 25 of 40")) << stop.err;
  EXPECT_TRUE(contains(stop.err, "qgf_offline train --results " + resumed)) << stop.err;
  EXPECT_TRUE(fs::exists(fs::path(resumed) / "checkpoints/step_00000025.safetensors"));
  EXPECT_FALSE(fs::exists(fs::path(resumed) / "checkpoints/step_00000040.safetensors"));

  // The hinted command, with no other flags: settings from config.json, state from the newest checkpoint.
  const Outcome go = run({"train", "--results", resumed});
  ASSERT_EQ(go.rc, 0) << go.err;
  EXPECT_TRUE(contains(go.err, "resuming from step 25")) << go.err;
  const std::string a = slurp(fs::path(straight) / "checkpoints/step_00000040.safetensors");
  const std::string b = slurp(fs::path(resumed) / "checkpoints/step_00000040.safetensors");
  EXPECT_FALSE(a.empty());
  EXPECT_TRUE(a == b) << "the resumed run's final checkpoint differs from the uninterrupted run's";
  // The loss log has each step once, with the same values (the wall-clock field aside).
  auto strip_time = [](std::vector<std::string> ls) {
    for (std::string& l : ls) l = l.substr(l.find(','));  // {"elapsed_s":...,  comes first (sorted keys)
    return ls;
  };
  EXPECT_EQ(strip_time(lines(fs::path(straight) / "losses.jsonl")),
            strip_time(lines(fs::path(resumed) / "losses.jsonl")));
  // Nothing left to do: a second resume is a no-op that still succeeds.
  const Outcome noop = run({"train", "--results", resumed});
  EXPECT_EQ(noop.rc, 0) << noop.err;
  EXPECT_TRUE(contains(noop.err, "nothing to do")) << noop.err;
}

TEST_F(QgfOffline, BadFlagsAndSettingsExitWithUsageErrors) {
  const std::string d = dir("never");
  const std::string bad_config = dir("bad.json");
  std::ofstream(bad_config) << R"({"steps": 10, "stepz": 3})";
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--steps", "abc"}, "--steps"},
      {{"--bogus-flag"}, "--bogus-flag"},
      {{"frobnicate"}, "frobnicate"},
      {{"--env", "pointmaze-medium", "--task", "7"}, "task"},
      {{"--env", "cartpole"}, "unknown environment 'cartpole'"},
      {{"--methods", "BC,Nope"}, "unknown method 'Nope'"},
      {{"--weights", "1,x"}, "--weights"},
      {{"--eval-episodes", "1"}, "eval_episodes"},
      {{"--horizon", "3"}, "horizon"},
      {{"--hidden", "0"}, "hidden"},
      {{"--device", "tpu"}, "must be cpu or cuda"},
      {{"--config", dir("missing.json")}, "cannot be opened"},
      {{"--config", bad_config}, "unknown setting 'stepz'"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = c.args;
    if (args[0] != "--env") args.insert(args.end(), {"--env", "bandit"});  // bandit-specific checks (horizon)
    args.insert(args.end(), {"--results", d});
    const Outcome o = run(args);
    EXPECT_EQ(o.rc, 2) << c.args[0] << ": " << o.err;
    EXPECT_TRUE(contains(o.err, "error")) << o.err;
    EXPECT_TRUE(contains(o.err, c.message)) << "expected '" << c.message << "' in: " << o.err;
  }
  EXPECT_FALSE(fs::exists(d)) << "a rejected command created its results directory";

  // Training without a data set is a runtime error (exit 1) that says how to make one.
  const Outcome o = run({"train", "--results", d});
  EXPECT_EQ(o.rc, 1);
  EXPECT_TRUE(contains(o.err, "no data set")) << o.err;
  EXPECT_TRUE(contains(o.err, "qgf_offline generate")) << o.err;
}

TEST_F(QgfOffline, CorruptCheckpointAndDataSetAreReported) {
  const fs::path d = dir("run");
  ASSERT_EQ(run(with(tiny("all", d.string()), {"--quiet", "--no-plots", "--methods", "BC,QGF"})).rc, 0);
  const fs::path newest = d / "checkpoints/step_00000040.safetensors";
  std::ofstream(newest, std::ios::binary | std::ios::trunc) << "not a checkpoint";

  const Outcome ev = run({"evaluate", "--results", d.string(), "--quiet"});
  EXPECT_EQ(ev.rc, 1);
  EXPECT_TRUE(contains(ev.err, newest.string())) << ev.err;
  EXPECT_TRUE(contains(ev.err, "cannot be read")) << ev.err;
  const Outcome tr = run({"train", "--results", d.string(), "--steps", "60", "--quiet"});
  EXPECT_EQ(tr.rc, 1);
  EXPECT_TRUE(contains(tr.err, newest.string())) << tr.err;

  // Without it, the step-20 checkpoint is used; asking for other network widths is refused, naming both.
  fs::remove(newest);
  const Outcome wide = run({"evaluate", "--results", d.string(), "--hidden", "8,8", "--quiet"});
  EXPECT_EQ(wide.rc, 1);
  EXPECT_TRUE(contains(wide.err, "was trained with")) << wide.err;
  EXPECT_TRUE(contains(slurp(d / "config.json"), "16")) << "a refused run overwrote config.json";
  EXPECT_EQ(run({"evaluate", "--results", d.string(), "--quiet", "--no-plots"}).rc, 0);

  std::ofstream(d / "dataset.npz", std::ios::binary | std::ios::trunc) << "garbage";
  const Outcome ds = run({"train", "--results", d.string(), "--steps", "60", "--quiet"});
  EXPECT_EQ(ds.rc, 1);
  EXPECT_TRUE(contains(ds.err, "dataset.npz")) << ds.err;
}

// The main job's environment with a tiny budget: 3 navigate episodes, 20 steps, 2 + 2 evaluation episodes.
TEST_F(QgfOffline, PointMazeSmokeRun) {
  const std::string d = dir("pointmaze");
  const Outcome o = run({"all",
                         "--env",
                         "pointmaze-medium",
                         "--task",
                         "1",
                         "--results",
                         d,
                         "--data-size",
                         "3003",
                         "--steps",
                         "20",
                         "--batch",
                         "32",
                         "--hidden",
                         "16,16",
                         "--flow-steps",
                         "3",
                         "--eval-episodes",
                         "2",
                         "--val-episodes",
                         "2",
                         "--weights",
                         "0,0.01",
                         "--methods",
                         "BC,QGF",
                         "--checkpoint-every",
                         "10",
                         "--eval-every",
                         "10",
                         "--log-every",
                         "10",
                         "--no-plots",
                         "--quiet"});
  ASSERT_EQ(o.rc, 0) << o.err;
  EXPECT_TRUE(fs::exists(fs::path(d) / "results.md"));
  EXPECT_TRUE(fs::exists(fs::path(d) / "results.csv"));
  EXPECT_TRUE(fs::exists(fs::path(d) / "dataset.npz"));
}

// A stand-in for the Python bridge's batch of OGBench environments: a point that moves by the first
// action entry and succeeds past x = 0.5 (so guided and unguided methods can differ), with the OGBench
// task's observation and action sizes.
class FakeManipulationEnv : public qgf_offline::Env {
 public:
  FakeManipulationEnv(const qgf_offline::OgbenchSpec& spec, int task) : spec_(spec), task_(task) {}
  std::string name() const override { return spec_.name; }
  int64_t obs_dim() const override { return spec_.obs_dim; }
  int64_t action_dim() const override { return spec_.action_dim; }
  int max_steps() const override { return 12; }
  engine::Tensor reset(int64_t batch, uint64_t) override {
    x_.assign(size_t(batch), 0.f);
    done_.assign(size_t(batch), 0);
    return obs();
  }
  qgf_offline::StepResult step(const engine::Tensor& actions) override {
    if (++steps_ == interrupt_at) qgf_offline::request_interrupt();  // Ctrl-C in the middle of an episode
    const std::vector<float> a = actions.to_vector<float>();
    qgf_offline::StepResult r;
    for (size_t i = 0; i < x_.size(); ++i) {
      x_[i] += 0.1f * a[i * size_t(spec_.action_dim)];
      const bool ok = x_[i] > 0.5f;
      r.reward.push_back(ok ? 0.f : -1.f);
      r.success.push_back(ok);
      done_[i] = done_[i] || ok;
      r.done.push_back(done_[i]);
    }
    r.obs = obs();
    return r;
  }
  int task() const { return task_; }
  int interrupt_at = -1;

 private:
  engine::Tensor obs() const {
    std::vector<float> o(x_.size() * size_t(spec_.obs_dim), 0.f);
    for (size_t i = 0; i < x_.size(); ++i) o[i * size_t(spec_.obs_dim)] = x_[i];
    return engine::Tensor::from_vector(o, {int64_t(x_.size()), spec_.obs_dim});
  }
  qgf_offline::OgbenchSpec spec_;
  int task_;
  std::vector<float> x_;
  std::vector<uint8_t> done_;
  int steps_ = 0;
};

// An OGBench-format file as examples/ogbench/generate.py writes it: raw layout, with task 2's relabelled
// rewards and masks only.
void write_manipulation_data(const std::string& path, int64_t rows) {
  const size_t n = size_t(rows);
  std::vector<float> obs(n * 28), act(n * 5), rew(n), mask(n), term(n);
  for (int64_t t = 0; t < rows; ++t) {
    obs[size_t(t * 28)] = float(t % 50) / 50.f;
    act[size_t(t * 5)] = 0.5f;
    rew[size_t(t)] = t % 50 > 25 ? 0.f : -1.f;
    mask[size_t(t)] = t % 50 > 25 ? 0.f : 1.f;
    term[size_t(t)] = t % 50 == 49 ? 1.f : 0.f;
  }
  rl::write_npz(path, {{"observations", engine::Tensor::from_vector(obs, {rows, 28})},
                       {"actions", engine::Tensor::from_vector(act, {rows, 5})},
                       {"terminals", engine::Tensor::from_vector(term, {rows})},
                       {"rewards_task2", engine::Tensor::from_vector(rew, {rows})},
                       {"masks_task2", engine::Tensor::from_vector(mask, {rows})}});
}

// OGBench manipulation tasks: trained here from the relabelled members of the file, refused for anything
// that runs episodes without the bridge, and evaluated through an installed external environment exactly
// like a built-in one; the trained run serves as a Policy.
TEST_F(QgfOffline, OgbenchTaskTrainsHereAndRunsEpisodesThroughTheBridgeHook) {
  const std::string data = dir("cube.npz"), d = dir("cube"), other = dir("cube-task3");
  write_manipulation_data(data, 200);
  const std::vector<std::string> budget = {"--data",
                                           data,
                                           "--steps",
                                           "20",
                                           "--batch",
                                           "16",
                                           "--hidden",
                                           "16,16",
                                           "--flow-steps",
                                           "3",
                                           "--checkpoint-every",
                                           "10",
                                           "--log-every",
                                           "10",
                                           "--quiet"};
  auto cmd = [&](std::vector<std::string> head) {
    head.insert(head.end(), budget.begin(), budget.end());
    return head;
  };
  ASSERT_EQ(qgf_offline::find_ogbench_spec("cube-single")->default_task, 2);
  Outcome o = run(cmd({"train", "--env", "cube-single", "--results", d}));  // the default task: 2
  ASSERT_EQ(o.rc, 0) << o.err;
  EXPECT_TRUE(contains(slurp(fs::path(d) / "config.json"), "\"task\": 2"));

  o = run(cmd({"train", "--env", "cube-single", "--task", "3", "--results", other}));
  EXPECT_EQ(o.rc, 1);
  EXPECT_TRUE(contains(o.err, "rewards_task3") && contains(o.err, "examples/ogbench/generate.py")) << o.err;
  o = run({"generate", "--env", "cube-single", "--results", other, "--quiet"});
  EXPECT_EQ(o.rc, 2);
  EXPECT_TRUE(contains(o.err, "examples/ogbench/generate.py")) << o.err;
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"evaluate", "--results", d, "--quiet"},
        cmd({"train", "--env", "cube-single", "--results", other, "--eval-every", "10"})}) {
    o = run(args);
    EXPECT_EQ(o.rc, 2) << args[0];
    EXPECT_TRUE(contains(o.err, "examples/ogbench/evaluate.py")) << o.err;
  }

  int made_for_task = 0;
  qgf_offline::set_external_env_factory([&](const qgf_offline::OgbenchSpec& spec, int task) {
    made_for_task = task;
    return std::make_unique<FakeManipulationEnv>(spec, task);
  });
  o = run({"evaluate", "--results", d, "--methods", "BC,QGF", "--weights", "0.1", "--eval-episodes", "3",
           "--val-episodes", "2", "--no-plots", "--quiet"});
  qgf_offline::set_external_env_factory({});
  ASSERT_EQ(o.rc, 0) << o.err;
  EXPECT_EQ(made_for_task, 2);
  const std::vector<std::string> csv = lines(fs::path(d) / "results.csv");
  ASSERT_EQ(csv.size(), 3u) << slurp(fs::path(d) / "results.csv");
  EXPECT_TRUE(contains(csv[2], "QGF,")) << csv[2];

  // Ctrl-C during an episode batch stops the evaluation there, with the rerun hint, and logs nothing partial.
  const size_t logged = lines(fs::path(d) / "evals.jsonl").size();
  qgf_offline::set_external_env_factory([&](const qgf_offline::OgbenchSpec& spec, int task) {
    auto env = std::make_unique<FakeManipulationEnv>(spec, task);
    env->interrupt_at = 3;
    return env;
  });
  o = run({"evaluate", "--results", d, "--methods", "BC", "--eval-episodes", "3", "--val-episodes", "2",
           "--no-plots", "--quiet"});
  qgf_offline::set_external_env_factory({});
  EXPECT_EQ(o.rc, 130) << o.err;
  EXPECT_TRUE(contains(o.err, "interrupted during evaluation")) << o.err;
  EXPECT_EQ(lines(fs::path(d) / "evals.jsonl").size(), logged);

  qgf_offline::Policy policy(d);
  EXPECT_EQ(policy.checkpoint_step(), 20);
  const engine::Tensor obs = engine::Tensor::from_vector(std::vector<float>(4 * 28, 0.1f), {4, 28});
  const engine::Tensor a = policy.sample(obs, "QGF", 0.1, 5), b = policy.sample(obs, "QGF", 0.1, 5);
  EXPECT_EQ(a.shape(), (engine::Shape{4, 5, 5}));
  EXPECT_EQ(a.to_vector<float>(), b.to_vector<float>());
  EXPECT_NE(a.to_vector<float>(), policy.sample(obs, "QGF", 0.1, 6).to_vector<float>());
  EXPECT_THROW(
      policy.sample(engine::Tensor::from_vector(std::vector<float>(4 * 27, 0.f), {4, 27}), "QGF", 0.1, 0),
      qgf_offline::UsageError);
  EXPECT_THROW(policy.sample(obs, "NoSuchMethod", 0.1, 0), qgf_offline::UsageError);
}

}  // namespace

// `summarize` over hand-made run directories: the per-task mean and standard error over seeds equal the
// closed forms, the chosen settings of every seed are listed, a setting that differs between runs is
// flagged, and a malformed results.csv, an empty directory or a run setting given as a flag are errors.
TEST_F(QgfOffline, SummarizeAggregatesSeedsPerTask) {
  auto write_run =
      [&](const std::string& name, int task, int seed, int steps, double bc, double qgf, double w) {
        const fs::path d = root_ / "table" / name;
        fs::create_directories(d);
        std::ofstream(d / "config.json") << "{\"env\": \"pointmaze-medium\", \"task\": " << task
                                         << ", \"seed\": " << seed << ", \"steps\": " << steps << "}";
        std::ofstream(d / "results.csv")
            << "method,knob,value,episodes,success_mean,success_se,return_mean,return_se\n"
            << "BC,,0,50," << bc << ",0.01,-900,5\n"
            << "QGF,w," << w << ",50," << qgf << ",0.02,-200,5\n";
        return d;
      };
  write_run("t1s0", 1, 0, 100, 0.0, 0.2, 3);
  write_run("t1s1", 1, 1, 100, 0.1, 0.4, 1);
  write_run("t1s2", 1, 2, 100, 0.2, 0.6, 3);
  write_run("t2s0", 2, 0, 200, 0.5, 0.9, 10);
  const std::string table = (root_ / "table").string();
  const Outcome o = run({"summarize", "--results", table, "--quiet"});
  ASSERT_EQ(o.rc, 0) << o.err;
  EXPECT_TRUE(contains(o.err, "differ")) << "steps 100 vs 200 was not flagged: " << o.err;

  // QGF on task 1: 0.2, 0.4, 0.6 -> mean 0.4, SE = sd / sqrt(3) = 0.2 / sqrt(3).
  bool found = false;
  for (const std::string& l : lines(root_ / "table" / "summary.csv")) {
    const std::vector<std::string> c = split(l, ',');
    if (c.size() == 8 && c[0] == "pointmaze-medium" && c[1] == "1" && c[2] == "QGF") {
      found = true;
      EXPECT_EQ(c[3], "3");
      EXPECT_NEAR(std::stod(c[4]), 0.4, 1e-9);
      EXPECT_NEAR(std::stod(c[5]), 0.2 / std::sqrt(3.0), 1e-5);
      EXPECT_NEAR(std::stod(c[6]), -200, 1e-9);
      EXPECT_NEAR(std::stod(c[7]), 0, 1e-9);
    }
  }
  EXPECT_TRUE(found) << slurp(root_ / "table" / "summary.csv");
  const std::string md = slurp(root_ / "table" / "summary.md");
  EXPECT_TRUE(contains(md, "w = 3, w = 1, w = 3")) << md;
  EXPECT_TRUE(contains(md, "| 2 | 0 | 0.50 ± 0.00 | 0.90 ± 0.00 |")) << md;  // one seed: no spread
  // Mean over tasks of QGF: (0.4 + 0.9) / 2.
  EXPECT_TRUE(contains(md, "| mean over tasks | | 0.30 ± 0.03 | 0.65 ± 0.06 |")) << md;
  EXPECT_TRUE(contains(o.out, "pointmaze-medium: test success by task")) << o.out;

  // Errors: a non-number names the file, the line and the column; nothing to summarize; a run setting.
  const fs::path broken = write_run("t3s0", 3, 0, 100, 0.1, 0.2, 1);
  std::ofstream(broken / "results.csv", std::ios::app) << "GradStep,alpha,0.1,50,oops,0,0,0\n";
  const Outcome bad = run({"summarize", "--results", table, "--quiet"});
  EXPECT_EQ(bad.rc, 1);
  EXPECT_TRUE(contains(bad.err, (broken / "results.csv").string() + " line 4")) << bad.err;
  EXPECT_TRUE(contains(bad.err, "success_mean")) << bad.err;
  fs::create_directories(root_ / "empty");
  const Outcome none = run({"summarize", "--results", (root_ / "empty").string(), "--quiet"});
  EXPECT_EQ(none.rc, 2);
  EXPECT_TRUE(contains(none.err, "no finished run")) << none.err;
  const Outcome flag = run({"summarize", "--results", table, "--eval-episodes", "5", "--quiet"});
  EXPECT_EQ(flag.rc, 2);
  EXPECT_TRUE(contains(flag.err, "--eval-episodes")) << flag.err;
}

// --device cuda: without a GPU (or a CUDA build) the run stops before training with a message naming the
// device; with one, the tiny bandit run trains on the GPU and its logged losses track the CPU run's.
TEST_F(QgfOffline, DeviceCudaTrainsLikeTheCpuOrSaysWhyNot) {
  const std::string gpu = dir("gpu");
  const Outcome o =
      run(with(tiny("all", gpu), {"--device", "cuda", "--quiet", "--no-plots", "--methods", "BC,QGF"}));
  if (!engine::device_available(engine::Device::CUDA)) {
    EXPECT_EQ(o.rc, 1) << o.err;
    EXPECT_TRUE(contains(o.err, "cuda")) << o.err;
    EXPECT_FALSE(fs::exists(fs::path(gpu) / "checkpoints")) << "it trained on the CPU instead";
    return;
  }
  ASSERT_EQ(o.rc, 0) << o.err;
  const std::string cpu = dir("cpu");
  ASSERT_EQ(run(with(tiny("all", cpu), {"--quiet", "--no-plots", "--methods", "BC,QGF"})).rc, 0);
  const std::vector<std::string> a = lines(fs::path(cpu) / "losses.jsonl"),
                                 b = lines(fs::path(gpu) / "losses.jsonl");
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    const nlohmann::json x = nlohmann::json::parse(a[i]), y = nlohmann::json::parse(b[i]);
    for (const char* k : {"flow_loss", "q_loss", "v_loss"})
      EXPECT_NEAR(x[k].get<double>(), y[k].get<double>(), 1e-3 * (1 + std::abs(x[k].get<double>())))
          << k << " at line " << i;
  }
}
