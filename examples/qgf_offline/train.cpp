// The training loop with logging, checkpoints, resume and interruption (see train.h).
#include "train.h"

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "engine/compile/jit.h"
#include "evaluate.h"
#include "interrupt.h"
#include "progress.h"
#include "rl/data/chunks.h"

namespace qgf_offline {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {
engine::JitOptions train_jit_options() {
  engine::JitOptions o;
  o.name = "train_step";
  return o;
}
}  // namespace

rl::AgentConfig make_agent_config(const Config& cfg, int64_t obs_dim, int64_t action_dim) {
  rl::AgentConfig a;
  a.flow = rl::make_flow_config(obs_dim, action_dim * cfg.horizon, cfg.hidden);
  a.flow.steps = cfg.flow_steps;
  a.critic =
      rl::make_critic_config(obs_dim, action_dim * cfg.horizon, cfg.hidden, cfg.discount, int(cfg.horizon));
  a.critic.expectile = cfg.expectile;
  a.critic.polyak = cfg.polyak;
  a.adam.lr = cfg.lr;
  return a;
}

rl::Dataset load_run_dataset(const RunPaths& paths, const Env& env) {
  if (!fs::exists(paths.data))
    throw std::runtime_error("no data set at '" + paths.data +
                             "'\n  hint: run `qgf_offline generate --results " + paths.dir +
                             "` first, or pass --data FILE (an OGBench-format .npz)");
  rl::Dataset ds =
      env.prepare_dataset(rl::clip_dataset_actions(rl::load_dataset(paths.data, env.dataset_members())));
  if (ds.size() == 0) throw std::runtime_error("data set '" + paths.data + "' has no transitions");
  if (ds.obs_dim() != env.obs_dim() || ds.action_dim() != env.action_dim())
    throw std::runtime_error("data set '" + paths.data + "' has obs_dim " + std::to_string(ds.obs_dim()) +
                             " and action_dim " + std::to_string(ds.action_dim()) + ", but " + env.name() +
                             " needs " + std::to_string(env.obs_dim()) + " and " +
                             std::to_string(env.action_dim()) +
                             "\n  hint: regenerate it with `qgf_offline generate --results " + paths.dir +
                             "`, or pass the data set made for this environment with --data");
  return ds;
}

TrainResult load_trained(const Config& cfg, const RunPaths& paths, const Env& env,
                         const std::string& explicit_path) {
  const rl::AgentConfig acfg = make_agent_config(cfg, env.obs_dim(), env.action_dim());
  std::string path = explicit_path;
  if (path.empty()) {
    const std::vector<CheckpointFile> ck = list_checkpoints(paths);
    if (ck.empty())
      throw std::runtime_error("no checkpoint in '" + paths.checkpoints() +
                               "'\n  hint: train first: `qgf_offline train --results " + paths.dir + "`");
    path = ck.back().path;
  } else if (!fs::exists(path)) {
    throw std::runtime_error("checkpoint '" + path + "' does not exist");
  }
  LoadedCheckpoint l = load_checkpoint(path, rl::init_agent(cfg.seed, acfg),
                                       architecture_json(cfg, env.obs_dim(), env.action_dim()));
  return {std::move(l.state), l.step};
}

TrainResult run_train(const Config& cfg, const RunPaths& paths, Env& env, const TrainOptions& opt) {
  const rl::Dataset ds = load_run_dataset(paths, env);
  const rl::AgentConfig acfg = make_agent_config(cfg, env.obs_dim(), env.action_dim());
  const json arch = architecture_json(cfg, env.obs_dim(), env.action_dim());
  rl::ChunkConfig cc;
  cc.horizon = cfg.horizon;
  cc.discount = cfg.discount;

  TrainResult res{rl::init_agent(cfg.seed, acfg), 0};
  const std::vector<CheckpointFile> ck = list_checkpoints(paths);
  if (!ck.empty()) {
    LoadedCheckpoint l = load_checkpoint(ck.back().path, res.state, arch);
    res = {std::move(l.state), l.step};
    info("train: resuming from step " + std::to_string(res.step) + " (" + ck.back().path + ")");
  }
  // The agent lives on the device for the whole run; checkpoints copy it back (nn/checkpoint).
  const engine::Device device = engine::parse_device(cfg.device);
  res.state = engine::tree_to_device(res.state, device);
  // Log lines past the checkpoint belong to steps that will be redone.
  const int64_t start = res.step;
  filter_jsonl(paths.losses(), [&](const json& j) { return j.value("step", int64_t(0)) <= start; });
  filter_jsonl(paths.evals(), [&](const json& j) {
    return j.value("phase", "") != "train" || j.value("step", int64_t(0)) <= start;
  });
  if (opt.on_ready) opt.on_ready();
  if (start >= cfg.steps) {
    info("train: already trained to step " + std::to_string(start) +
         " (steps = " + std::to_string(cfg.steps) + "): nothing to do");
    return res;
  }
  info("train: " + std::to_string(cfg.steps - start) + " steps of batch " + std::to_string(cfg.batch) +
       " on " + std::to_string(ds.size()) + " transitions (" + paths.data + "), hidden " +
       json(cfg.hidden).dump() + ", H = " + std::to_string(cfg.horizon));

  auto step_fn = engine::jit(
      [acfg](const rl::AgentState& s, const rl::CriticBatch& b) { return rl::train_step(s, b, acfg); },
      train_jit_options());
  JsonlWriter losses(paths.losses()), evals(paths.evals());
  std::unique_ptr<Evaluator> own_monitor;
  Evaluator* monitor = opt.monitor;
  Progress bar("train", cfg.steps, opt.show_progress, start);
  std::string note, eval_note;
  int64_t saved_at = start;
  const uint64_t monitor_seed = split_seed(cfg.seed, "monitor");

  for (int64_t step = start; step < cfg.steps;) {
    const rl::CriticBatch batch = engine::tree_to_device(
        rl::critic_batch(rl::sample_chunks(ds, cc, cfg.batch, cfg.seed, uint64_t(step))), device);
    rl::TrainOutput out = step_fn(res.state, batch);
    res.state = std::move(out.state);
    res.step = ++step;
    if (step % cfg.log_every == 0 || step == cfg.steps || step == 1) {
      const double fl = out.metrics.flow_loss.item<float>(), ql = out.metrics.q_loss.item<float>(),
                   vl = out.metrics.v_loss.item<float>();
      if (!std::isfinite(fl) || !std::isfinite(ql) || !std::isfinite(vl))
        throw std::runtime_error("training diverged at step " + std::to_string(step) + " (flow loss " +
                                 std::to_string(fl) + ", Q loss " + std::to_string(ql) + ", V loss " +
                                 std::to_string(vl) +
                                 ")\n  hint: lower --lr or start from an earlier checkpoint");
      losses.write(json{
          {"step", step}, {"flow_loss", fl}, {"q_loss", ql}, {"v_loss", vl}, {"elapsed_s", bar.elapsed_s()}});
      char buf[96];
      std::snprintf(buf, sizeof buf, "flow %.4f  Q %.4g  V %.4g", fl, ql, vl);
      note = buf;
    }
    if (cfg.eval_every > 0 && (step % cfg.eval_every == 0 || step == cfg.steps)) {
      if (!monitor) monitor = (own_monitor = std::make_unique<Evaluator>(cfg, acfg, env)).get();
      eval_note.clear();
      for (const std::string m : {"BC", "QGF"}) {
        const double w = m == "QGF" ? cfg.monitor_weight : 0.0;
        const EvalStats st = monitor->run(m, w, res.state, cfg.val_episodes, monitor_seed);
        if (!st.complete) break;  // Ctrl-C: the checkpoint and the message follow below
        json rec = stats_json(st);
        rec.update(json{{"phase", "train"},
                        {"step", step},
                        {"method", m},
                        {"knob", m == "QGF" ? "w" : ""},
                        {"value", w},
                        {"split", "monitor"}});
        evals.write(rec);
        char buf[64];
        std::snprintf(buf, sizeof buf, "%s%s %.2f", eval_note.empty() ? "success " : "  ", m.c_str(),
                      st.success_mean);
        eval_note += buf;
      }
    }
    bar.update(step, eval_note.empty() ? note : note + " | " + eval_note);
    if (step % cfg.checkpoint_every == 0 || step == cfg.steps) {
      save_checkpoint(paths, res.state, step, arch, cfg.keep_checkpoints);
      saved_at = step;
    }
    if (step == opt.simulate_interrupt_at) request_interrupt();
    if (interrupted() && step < cfg.steps) {
      if (saved_at != step) save_checkpoint(paths, res.state, step, arch, cfg.keep_checkpoints);
      bar.finish(note);
      throw Interrupted{"interrupted: stopped after step " + std::to_string(step) + " of " +
                        std::to_string(cfg.steps) + "; checkpoint saved to " + paths.checkpoint(step) +
                        "\nresume with:\n  qgf_offline " + opt.command + " --results " + paths.dir};
    }
  }
  bar.finish(note);
  char rate[32];
  std::snprintf(rate, sizeof rate, "%.0f", double(cfg.steps - start) / std::max(bar.elapsed_s(), 1e-9));
  info("train: " + std::to_string(cfg.steps - start) + " steps in " + format_duration(bar.elapsed_s()) +
       " (" + rate + " steps/s, compilation included); checkpoint " + paths.checkpoint(cfg.steps));
  return res;
}

}  // namespace qgf_offline
