// Resolving the settings and the run directory, and running the subcommands (see app.h).
#include "app.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "cli.h"
#include "config.h"
#include "engine/core/error.h"
#include "env.h"
#include "evaluate.h"
#include "interrupt.h"
#include "ogbench_env.h"
#include "plots.h"
#include "progress.h"
#include "report.h"
#include "run_dir.h"
#include "summarize.h"
#include "train.h"

namespace qgf_offline {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Run {
  Config cfg;
  RunPaths paths;
};

std::string str_or(const json& j, const char* key, const std::string& dflt) {
  return j.contains(key) && j.at(key).is_string() ? j.at(key).get<std::string>() : dflt;
}

// The layers of config.h, lowest first: defaults, the environment's, <results>/config.json, --config, flags.
Run resolve(const CliArgs& cli) {
  const json& flags = cli.overrides;
  const json file = cli.config_file.empty() ? json::object() : read_json_file(cli.config_file, "config file");
  std::string results = str_or(flags, "results", str_or(file, "results", ""));
  auto saved_of = [](const std::string& dir) {
    const std::string p = dir + "/config.json";
    return !dir.empty() && fs::exists(p) ? read_json_file(p, "saved settings") : json::object();
  };
  json saved = saved_of(results);
  const std::string env = str_or(flags, "env", str_or(file, "env", str_or(saved, "env", Config{}.env)));
  require_env(env);
  if (results.empty()) {
    results = default_results_dir(env, str_or(flags, "name", str_or(file, "name", "")));
    saved = saved_of(results);
  }
  if (saved.contains("env") && saved["env"] != env)
    throw UsageError("results directory '" + results + "' holds a " + saved["env"].dump() + " run, not '" +
                     env + "'; choose another --results (or --name)");

  json j = default_config_json();
  merge_config(j, json::parse(env_defaults_json(env)), "defaults of " + env);
  merge_config(j, saved, results + "/config.json");
  if (!cli.config_file.empty()) merge_config(j, file, "config file '" + cli.config_file + "'");
  merge_config(j, flags, "command line");
  j["results"] = results;
  Run r{config_from_json(j, "settings"), {}};
  validate_config(r.cfg);
  r.paths.dir = results;
  r.paths.data = r.cfg.data.empty() ? results + "/dataset.npz" : r.cfg.data;
  return r;
}

void save_config(const Run& r) {
  fs::create_directories(r.paths.dir);
  write_text_file(r.paths.config(), config_to_json(r.cfg).dump(2) + "\n");
}

void generate(const Run& r, bool show) {
  const auto t0 = std::chrono::steady_clock::now();
  if (!fs::path(r.paths.data).parent_path().empty())
    fs::create_directories(fs::path(r.paths.data).parent_path());
  generate_dataset(r.cfg, r.paths.data, show);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  info("generate: wrote " + std::to_string(r.cfg.data_size) + " transitions of " + r.cfg.env + " to " +
       r.paths.data + " (" + format_number(std::round(s * 100) / 100) + " s)");
}

void evaluate_and_report(const Run& r, Env& env, Evaluator& ev, const TrainResult& trained, bool show) {
  const EvalReport rep = evaluate_all(r.cfg, ev, trained.state, trained.step, show, r.paths.evals());
  std::fputs(("\n" + results_table_text(r.cfg, rep) + "\n").c_str(), stdout);
  std::fflush(stdout);
  write_reports(r.cfg, rep, r.paths.dir);
  info("evaluate: " + format_duration(rep.seconds) + "; tables in " + r.paths.dir +
       "/results.md, results.csv, sweep.csv; log " + r.paths.evals());
  if (!r.cfg.plots) return;
  // Only the bandit's data panel uses the data set; a problem with it must not cost the results.
  std::optional<rl::Dataset> ds;
  try {
    if (r.cfg.env == "bandit" && fs::exists(r.paths.data)) ds = load_run_dataset(r.paths, env);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qgf_offline: note: the plots leave out the data set: %s\n", e.what());
  }
  const PlotOutcome p = write_plots(r.cfg, r.paths, rep, ds ? &*ds : nullptr);
  if (!p.images.empty()) info("plots: " + std::to_string(p.images.size()) + " images in " + r.paths.plots());
  if (!p.note.empty()) std::fprintf(stderr, "qgf_offline: note: %s\n", p.note.c_str());
}

// Takes the directory of runs (--results) and --output only: the settings of a run mean nothing here.
int summarize(const CliArgs& cli) {
  for (const auto& [key, value] : cli.overrides.items())
    if (key != "results") {
      std::string flag = key;
      std::replace(flag.begin(), flag.end(), '_', '-');
      throw UsageError("summarize reads the settings of each run from its config.json; drop the --" + flag +
                       " flag (it takes --results DIR and --output FILE)");
    }
  if (!cli.config_file.empty() || !cli.checkpoint.empty())
    throw UsageError("summarize takes --results DIR and --output FILE only");
  const SummaryOutcome s = summarize_runs(str_or(cli.overrides, "results", ""), cli.output);
  std::ifstream in(s.markdown);
  std::fputs(std::string(std::istreambuf_iterator<char>(in), {}).c_str(), stdout);
  info("summarize: " + std::to_string(s.runs) + " runs; wrote " + s.markdown + ", " + s.csv + " and " +
       std::to_string(s.images.size()) + " images");
  if (!s.note.empty()) std::fprintf(stderr, "qgf_offline: note: %s\n", s.note.c_str());
  return 0;
}

int run_command(const CliArgs& cli) {
  set_quiet(cli.quiet);
  const bool show = progress_wanted(cli.quiet);
  const auto t0 = std::chrono::steady_clock::now();
  const std::string& cmd = cli.command;
  if (cmd == "summarize") return summarize(cli);
  if (!cli.output.empty())
    throw UsageError("--output names the summary file: use it with the summarize subcommand");
  const Run r = resolve(cli);
  if (!cli.checkpoint.empty() && cmd != "evaluate")
    throw UsageError("--checkpoint selects the checkpoint to evaluate: use it with the evaluate subcommand");
  if (cli.print_config) {
    std::fputs((config_to_json(r.cfg).dump(2) + "\n").c_str(), stdout);
    return 0;
  }
  info("qgf_offline " + cmd + ": env " + r.cfg.env + ", results in " + r.paths.dir);
  // Small networks run best on one thread; more threads also spin-wait badly on a busy machine.
  if (r.cfg.threads > 0) omp_set_num_threads(r.cfg.threads);
  // A missing backend or GPU is reported before data generation or training starts.
  if (cmd != "generate") engine::require_device(engine::parse_device(r.cfg.device), "qgf_offline --device");
  // So is an OGBench task run outside the Python bridge, for the commands that run episodes.
  if (cmd == "evaluate" || cmd == "all")
    require_episode_backend(r.cfg.env, "qgf_offline " + cmd);
  else if (cmd == "train" && r.cfg.eval_every > 0)
    require_episode_backend(r.cfg.env,
                            "qgf_offline train with --eval-every " + std::to_string(r.cfg.eval_every));

  if (cmd == "generate") {
    save_config(r);
    generate(r, show);
    return 0;
  }
  std::unique_ptr<Env> env = make_env(r.cfg);
  const rl::AgentConfig acfg = make_agent_config(r.cfg, env->obs_dim(), env->action_dim());
  Evaluator ev(r.cfg, acfg, *env);
  TrainOptions topt;
  topt.show_progress = show;
  topt.simulate_interrupt_at = cli.simulate_interrupt_at;
  topt.command = cmd;
  topt.monitor = &ev;
  topt.on_ready = [&r] { save_config(r); };  // only once a checkpoint (if any) was accepted

  if (cmd == "train") {
    run_train(r.cfg, r.paths, *env, topt);
  } else if (cmd == "evaluate") {
    const TrainResult trained = load_trained(r.cfg, r.paths, *env, cli.checkpoint);
    save_config(r);
    info("evaluate: checkpoint at step " + std::to_string(trained.step));
    evaluate_and_report(r, *env, ev, trained, show);
  } else {  // all
    if (fs::exists(r.paths.data)) {
      info("generate: using the existing data set " + r.paths.data);
    } else {
      save_config(r);
      generate(r, show);
    }
    const TrainResult trained = run_train(r.cfg, r.paths, *env, topt);
    evaluate_and_report(r, *env, ev, trained, show);
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  info("qgf_offline " + cmd + ": finished in " + format_duration(s) + " (" +
       format_number(std::round(s * 10) / 10) + " s); results in " + r.paths.dir);
  return 0;
}

}  // namespace

Config saved_run_config(const std::string& results) {
  if (!fs::exists(results + "/config.json"))
    throw UsageError("'" + results + "' holds no qgf_offline run (no config.json); train one there first");
  CliArgs cli;
  cli.overrides["results"] = results;
  return resolve(cli).cfg;
}

}  // namespace qgf_offline

int qgf_offline_main(int argc, char** argv) {
  using namespace qgf_offline;
  InterruptGuard guard;
  try {
    const CliArgs cli = parse_cli(argc, argv);
    if (cli.exit_code) return *cli.exit_code;
    return run_command(cli);
  } catch (const Interrupted& e) {
    std::fprintf(stderr, "qgf_offline: %s\n", e.message.c_str());
    return kExitInterrupted;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "qgf_offline: error: %s\n  (see `qgf_offline --help`)\n", e.what());
    return 2;
  } catch (const engine::Error& e) {
    std::fprintf(stderr, "qgf_offline: error (%s): %s\n", engine::error_kind_name(e.kind()), e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qgf_offline: error: %s\n", e.what());
    return 1;
  }
}
