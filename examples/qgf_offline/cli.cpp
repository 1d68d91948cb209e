// The flag table (see cli.h).
#include "cli.h"

#include <CLI/CLI.hpp>
#include <cstdio>

#include "config.h"
#include "env.h"

namespace qgf_offline {

using nlohmann::json;

namespace {

// An option whose value, when given, becomes overrides[key].
template <class T>
CLI::Option* setting(CLI::App& app, json& ov, const std::string& flag, const std::string& key,
                     const std::string& help) {
  CLI::Option* o = app.add_option_function<T>(
      flag, [&ov, key](const T& v) { ov[key] = v; }, help);
  if constexpr (std::is_same_v<T, std::vector<int64_t>>) o->type_name("N,N,...");
  if constexpr (std::is_same_v<T, std::vector<double>>) o->type_name("X,X,...");
  if constexpr (std::is_same_v<T, std::vector<std::string>>) o->type_name("NAME,...");
  if constexpr (requires(T t) { t.push_back(t.front()); }) o->delimiter(',')->allow_extra_args(false);
  return o;
}

constexpr char kFooter[] = R"(Subcommands (default: all):
  generate   write the offline data set (OGBench .npz) into the results directory
  train      train the agent; resumes from the newest checkpoint in the results directory
  evaluate   evaluate the newest checkpoint: results table (results.md/.csv) and plots
  all        generate (if the data set is missing), train, evaluate
  summarize  gather the finished runs under --results DIR into one table per environment and task (mean ± SE
             over seeds) and a chart: DIR/summary.md (or --output FILE), summary.csv, plots/

Settings come from (later wins): defaults, the environment's defaults, <results>/config.json of an existing run,
--config FILE (JSON with the same keys as config.json), then the flags. The effective settings are saved to
<results>/config.json. Ctrl-C during training writes a checkpoint; run the same command again to resume.

Examples:
  qgf_offline                                  # pointmaze-medium task 1, end to end (about 10 min, 2 cores)
  qgf_offline --env bandit --name demo --weights 0,1,2,4,8   # the bandit, end to end, in seconds
  qgf_offline train --results runs/bandit-demo --steps 3000   # continue training to step 3000
  qgf_offline evaluate --results runs/bandit-demo --methods BC,QGF
  qgf_offline summarize --results runs/pointmaze-table          # after scripts/pointmaze_table.sh
)";

}  // namespace

CliArgs parse_cli(int argc, char** argv) {
  CliArgs a;
  CLI::App app(
      "Offline RL with Q-guided flow policies (QGF): generate a data set, train a flow policy and an IQL "
      "critic, and evaluate BC, QGF and the baselines.",
      "qgf_offline");
  app.fallthrough();  // options may come before or after the subcommand
  app.require_subcommand(0, 1);
  app.footer(kFooter);
  app.get_formatter()->column_width(34);
  json& ov = a.overrides;

  std::string envs;
  for (const EnvEntry& e : env_catalog()) envs += "\n    " + e.name + ": " + e.summary;
  app.add_option("--config", a.config_file, "JSON file of settings (keys as in config.json)");
  setting<std::string>(app, ov, "--results", "results",
                       "run directory (default runs/<env>-<name or timestamp>)");
  setting<std::string>(app, ov, "--name", "name", "names the default run directory runs/<env>-<name>");
  setting<std::string>(app, ov, "--env", "env", "environment (default pointmaze-medium, task 1):" + envs);
  setting<int>(app, ov, "--task", "task", "single-task id (1..5) of a point maze or an OGBench task");
  setting<uint64_t>(app, ov, "--seed", "seed",
                    "seed of the data, the networks, the batches and the episodes");
  setting<std::string>(app, ov, "--data", "data", "data set .npz (default <results>/dataset.npz)");
  setting<int64_t>(app, ov, "--data-size", "data_size", "transitions to generate (bandit)");
  setting<int64_t>(app, ov, "--steps", "steps", "training steps (a resumed run trains up to this total)");
  setting<int64_t>(app, ov, "--batch", "batch", "batch size");
  setting<std::vector<int64_t>>(app, ov, "--hidden", "hidden",
                                "hidden layer widths of every network, e.g. 64,64");
  setting<double>(app, ov, "--lr", "lr", "Adam learning rate");
  setting<int64_t>(app, ov, "--horizon", "horizon", "action chunk length H (bandit: 1)");
  setting<double>(app, ov, "--discount", "discount", "discount factor");
  setting<double>(app, ov, "--expectile", "expectile", "IQL expectile of the V loss");
  setting<double>(app, ov, "--polyak", "polyak", "target network update rate");
  setting<int>(app, ov, "--flow-steps", "flow_steps", "Euler steps of the flow sampler");
  setting<int>(app, ov, "--threads", "threads",
               "CPU threads (0: the OpenMP default; results do not depend on it)");
  setting<std::string>(app, ov, "--device", "device",
                       "cpu or cuda: where training and the samplers run (the environments stay on the CPU)");
  setting<int64_t>(app, ov, "--log-every", "log_every", "log the losses every N steps (losses.jsonl)");
  setting<int64_t>(app, ov, "--checkpoint-every", "checkpoint_every", "write a checkpoint every N steps");
  setting<int64_t>(app, ov, "--keep-checkpoints", "keep_checkpoints", "checkpoints kept (newest)");
  setting<int64_t>(app, ov, "--eval-every", "eval_every",
                   "evaluate BC and QGF every N training steps (0: off)");
  setting<double>(app, ov, "--monitor-weight", "monitor_weight",
                  "QGF weight of the evaluations during training");
  setting<int64_t>(app, ov, "--eval-episodes", "eval_episodes",
                   "reported (test) episodes per method and setting");
  setting<int64_t>(app, ov, "--val-episodes", "val_episodes",
                   "validation episodes that choose each method's setting");
  setting<std::vector<double>>(app, ov, "--weights", "weights",
                               "guidance weights to sweep, e.g. 0,0.5,1,2,4,8");
  setting<int64_t>(app, ov, "--best-of-n", "best_of_n", "N of best-of-N and QGF+best-of-N");
  setting<std::vector<double>>(app, ov, "--gradstep-alphas", "gradstep_alphas",
                               "GradStep step sizes to sweep");
  setting<int>(app, ov, "--gradstep-steps", "gradstep_steps", "GradStep gradient steps");
  setting<std::vector<std::string>>(
      app, ov, "--methods", "methods",
      "methods to evaluate (default all): BC,QGF,BoN,QGF+BoN,QGF-Jacobian,QFQL,GradStep");
  app.add_flag_callback(
      "--no-plots", [&ov] { ov["plots"] = false; }, "do not write or render plots");
  app.add_option("--checkpoint", a.checkpoint, "evaluate this checkpoint file instead of the newest one");
  app.add_option("--output", a.output,
                 "summarize: the Markdown file to write (default <results>/summary.md)");
  app.add_flag("--print-config", a.print_config, "print the effective settings (JSON) and exit");
  app.add_flag("-q,--quiet", a.quiet, "no progress bars or info lines (the results table is still printed)");
  app.add_option("--simulate-interrupt-at", a.simulate_interrupt_at,
                 "testing: act as if Ctrl-C came after step N")
      ->group("");

  for (const char* cmd : {"generate", "train", "evaluate", "all", "summarize"})
    app.add_subcommand(cmd, "")->group("");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    a.exit_code = 0;
    return a;
  } catch (const CLI::ParseError& e) {
    throw UsageError(e.what());
  }
  for (CLI::App* sub : app.get_subcommands()) a.command = sub->get_name();
  return a;
}

}  // namespace qgf_offline
