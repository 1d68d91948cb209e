// gnuplot scripts and data for the figures (see plots.h).
#include "plots.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "bandit_env.h"
#include "gnuplot.h"
#include "ogbench_env.h"
#include "pointmaze_env.h"
#include "rl/envs/maze_layouts.h"

namespace qgf_offline {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using namespace gp;

// ---- learning curves ----
std::string learning_curves(const Config& cfg, const RunPaths& paths, const std::string& dir) {
  std::string loss_dat = "# step flow_loss q_loss v_loss\n";
  for (const json& j : read_jsonl(paths.losses()))
    loss_dat += f(j.value("step", 0.0)) + " " + f(j.value("flow_loss", NAN)) + " " +
                f(j.value("q_loss", NAN)) + " " + f(j.value("v_loss", NAN)) + "\n";
  write_text_file(dir + "/losses.dat", loss_dat);
  std::string bc, qgf;
  for (const json& j : read_jsonl(paths.evals())) {
    if (j.value("phase", "") != "train") continue;
    const std::string row = f(j.value("step", 0.0)) + " " + f(j.value("success_mean", NAN)) + " " +
                            f(j.value("success_se", NAN)) + " " + f(j.value("return_mean", NAN)) + " " +
                            f(j.value("return_se", NAN)) + "\n";
    (j.value("method", "") == "BC" ? bc : qgf) += row;
  }
  const bool evals = !bc.empty() || !qgf.empty();
  if (evals)
    write_text_file(dir + "/train_evals.dat",
                    "# step success se return se\n# BC\n" + bc + "\n\n# QGF\n" + qgf);
  std::ostringstream b;
  b << "  set multiplot layout " << (evals ? "2,2" : "1,3") << " title "
    << q("Training on " + cfg.env + " (batch " + std::to_string(cfg.batch) + ", lr " + f(cfg.lr) + ")")
    << "\n"
    << "  set grid\n  set key top right\n  set xlabel \"training step\"\n  set xrange [0:" << cfg.steps
    << "]\n"
    << "  unset logscale y\n  set ylabel \"flow-matching BC loss\"\n  set title \"Flow policy\"\n"
    << "  plot \"losses.dat\" using 1:2 with lines lw 2 lc rgb \"" << kColors[0]
    << "\" title \"flow BC loss\"\n"
    << "  set logscale y\n  set ylabel \"Q loss (log scale)\"\n  set title \"Critic Q (TD, 2 heads)\"\n"
    << "  plot \"losses.dat\" using 1:3 with lines lw 2 lc rgb \"" << kColors[1] << "\" title \"Q loss\"\n"
    << "  set ylabel \"V loss (log scale)\"\n  set title \"Value V (expectile " << f(cfg.expectile) << ")\"\n"
    << "  plot \"losses.dat\" using 1:4 with lines lw 2 lc rgb \"" << kColors[2] << "\" title \"V loss\"\n"
    << "  unset logscale y\n";
  if (evals)
    b << "  set ylabel \"success rate\"\n  set yrange [0:1.05]\n  set key bottom right\n"
      << "  set title \"Success during training (" << cfg.val_episodes << " episodes)\"\n"
      << "  plot \"train_evals.dat\" index 0 using 1:2:3 with yerrorlines lw 2 lc rgb \"" << kColors[3]
      << "\" title \"BC\", \\\n"
      << "       \"train_evals.dat\" index 1 using 1:2:3 with yerrorlines lw 2 lc rgb \"" << kColors[4]
      << "\" title \"QGF (w = " << f(cfg.monitor_weight) << ")\"\n  set yrange [*:*]\n";
  write_text_file(dir + "/learning_curves.gp",
                  script("learning_curves", "Learning curves: losses against the training step", 1200,
                         evals ? 850 : 420, b.str()));
  return "learning_curves";
}

// ---- guidance sweep ----
std::string guidance_sweep(const Config& cfg, const EvalReport& rep, const std::string& dir) {
  std::vector<const MethodResult*> swept_w, swept_a, flat;
  for (const MethodResult& m : rep.methods)
    (m.info.knob == "w" ? swept_w : m.info.knob == "alpha" ? swept_a : flat).push_back(&m);
  for (const MethodResult& m : rep.methods) {
    std::string d = "# idx value test_success se test_return se val_success val_return chosen\n";
    for (size_t i = 0; i < m.points.size(); ++i) {
      const SweepPoint& p = m.points[i];
      d += std::to_string(i) + " " + f(p.value) + " " + f(p.test.success_mean) + " " + f(p.test.success_se) +
           " " + f(p.test.return_mean) + " " + f(p.test.return_se) + " " + f(p.val.success_mean) + " " +
           f(p.val.return_mean) + " " + (i == m.chosen ? "1" : "0") + "\n";
    }
    write_text_file(dir + "/sweep_" + safe_name(m.info.name) + ".dat", d);
  }
  // Settings sit at evenly spaced positions (the weights are roughly geometric), labelled with their values;
  // each method is shifted a little so that error bars do not overlap.
  auto panel = [&](const std::vector<const MethodResult*>& ms, int col, const std::string& ylabel,
                   const std::string& xlabel, const std::string& title, const std::vector<double>& values,
                   bool with_flat, bool key, double x0, double y0, double w, double h) {
    std::ostringstream b;
    b << "  set origin " << f(x0) << "," << f(y0) << "\n  set size " << f(w) << "," << f(h)
      << "\n  set title " << q(title) << "\n  set xlabel " << q(xlabel) << "\n  set ylabel " << q(ylabel)
      << "\n"
      << "  set xrange [-0.4:" << f(double(values.size()) - 0.6) << "]\n  set xtics (";
    for (size_t i = 0; i < values.size(); ++i) b << (i ? ", " : "") << q(f(values[i])) << " " << i;
    b << ")\n"
      << (col == 3 ? "  set yrange [0:1.05]\n" : "  set yrange [*:*]\n")
      << (key ? "  set key outside right top vertical samplen 2\n" : "  unset key\n");
    std::vector<std::string> series;
    const double spread = 0.07;
    for (size_t k = 0; k < ms.size(); ++k) {
      const std::string file = q("sweep_" + safe_name(ms[k]->info.name) + ".dat");
      const std::string x = "($1 + " + f((double(k) - double(ms.size() - 1) / 2) * spread) + ")";
      const std::string color = kColors[(ms[k] - &rep.methods[0]) % 8];
      series.push_back(file + " using " + x + ":" + std::to_string(col) + ":" + std::to_string(col + 1) +
                       " with yerrorlines lw 2 pt 7 ps 0.8 lc rgb \"" + color + "\" title " +
                       q(ms[k]->info.name));
      series.push_back(file + " using " + x + ":($9 > 0 ? $" + std::to_string(col) +
                       " : 1/0) with points pt 6 ps 2.6 lw 2 lc rgb \"" + color + "\" notitle");
    }
    if (with_flat)
      for (const MethodResult* m : flat) {
        const SweepPoint& p = m->headline();
        const double y = col == 3 ? p.test.success_mean : p.test.return_mean;
        const double se = col == 3 ? p.test.success_se : p.test.return_se;
        char t[96];
        std::snprintf(t, sizeof t, "%s (no weight): %.3f ± %.3f", m->info.name.c_str(), y, se);
        series.push_back(f(y) + " with lines dt 2 lw 2 lc rgb \"" + kColors[(m - &rep.methods[0]) % 8] +
                         "\" title " + q(t));
      }
    if (key)
      series.push_back("NaN with points pt 6 ps 2.6 lw 2 lc rgb \"black\" title \"chosen on validation\"");
    b << "  plot ";
    for (size_t i = 0; i < series.size(); ++i) b << (i ? ", \\\n       " : "") << series[i];
    b << "\n";
    return b.str();
  };
  const bool alpha = !swept_a.empty();
  const bool wpanel = !swept_w.empty() || !flat.empty();
  const int cols = int(wpanel) + int(alpha);
  // Placed by hand: the weight panels are wider and carry the legend on their right; GradStep's panels have
  // one method (named in their titles) and no legend.
  const double wx0 = 0, ww = alpha ? (wpanel ? 0.66 : 0) : 1.0, ax0 = ww, aw = 1.0 - ww;
  std::ostringstream b;
  b << "  set multiplot title "
    << q(cfg.env + ": test episodes (" + std::to_string(cfg.eval_episodes) +
         " per point), mean ± standard error")
    << "\n"
    << "  set grid\n  set bars small\n";
  const std::string wx = "guidance weight w",
                    ax = "step size alpha (" + std::to_string(cfg.gradstep_steps) + " gradient steps)";
  for (int row = 0; row < 2; ++row) {
    const int col = row == 0 ? 3 : 5;
    const std::string yl = row == 0 ? "success rate" : "return", what = row == 0 ? "Success" : "Return";
    const double y0 = row == 0 ? 0.48 : 0.0;
    if (wpanel)
      b << panel(swept_w, col, yl, wx, what + " versus guidance weight", cfg.weights, true, true, wx0, y0, ww,
                 0.48);
    if (alpha)
      b << panel(swept_a, col, yl, ax, "GradStep: " + what + " versus step size", cfg.gradstep_alphas,
                 !wpanel, !wpanel, ax0, y0, aw, 0.48);
  }
  write_text_file(dir + "/guidance_sweep.gp",
                  script("guidance_sweep", "Success and return against the guidance weight, per method",
                         cols == 2 ? 1500 : 1000, 950, b.str()));
  return "guidance_sweep";
}

// ---- the bandit: reward landscape with the actions of the data, BC and QGF ----
std::string bandit_samples(const Config& cfg, const EvalReport& rep, const rl::Dataset* ds,
                           const std::string& dir) {
  std::string land = "# x y reward (the bandit's reward landscape)\n";
  const int n = 121;
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      const double x = -1 + 2.0 * j / (n - 1), y = -1 + 2.0 * i / (n - 1);
      land += f(x) + " " + f(y) + " " + f(BanditModel::reward(x, y)) + "\n";
    }
    land += "\n";
  }
  write_text_file(dir + "/bandit_landscape.dat", land);
  struct Panel {
    std::string file, title;
  };
  std::vector<Panel> panels;
  if (ds && ds->size() > 0) {
    const std::vector<float> a = ds->actions.to_vector<float>();
    const int64_t shown = std::min<int64_t>(ds->size(), 1000);
    std::string d = "# x y (data set actions, first " + std::to_string(shown) + ")\n";
    for (int64_t i = 0; i < shown; ++i) d += f(a[size_t(2 * i)]) + " " + f(a[size_t(2 * i + 1)]) + "\n";
    write_text_file(dir + "/bandit_data.dat", d);
    panels.push_back({"bandit_data.dat", "Offline data (" + std::to_string(shown) + " of " +
                                             std::to_string(ds->size()) + " actions)"});
  }
  for (const Rollouts& r : rep.showcase) {
    std::string d = "# x y reward (first action of each test episode): " + r.label + "\n";
    double succ = 0;
    for (size_t i = 0; i < r.actions.size(); ++i) {
      d += f(r.actions[i][0]) + " " + f(r.actions[i][1]) + " " + f(r.returns[i]) + "\n";
      succ += r.success[i];
    }
    const std::string file = "bandit_" + safe_name(r.label.substr(0, r.label.find(' '))) + ".dat";
    write_text_file(dir + "/" + file, d);
    char t[160];
    std::snprintf(t, sizeof t, "%s: success %.2f (%zu episodes)", r.label.c_str(),
                  succ / double(std::max<size_t>(r.actions.size(), 1)), r.actions.size());
    panels.push_back({file, t});
  }
  const double radius =
      BanditModel::width * std::sqrt(-2 * std::log(BanditModel::success_reward / BanditModel::heights[1]));
  std::ostringstream b;
  b << "  set multiplot layout 1," << panels.size() << " title "
    << q("Bandit: actions over the reward landscape (heights 0 / 1 / 0.5; success: reward > 0.9)") << "\n"
    << "  set size ratio -1\n  set xrange [-1:1]\n  set yrange [-1:1]\n  set xlabel \"action a1\"\n"
    << "  set ylabel \"action a2\"\n  set cblabel \"reward\"\n  set cbrange [0:1]\n"
    << "  set palette defined (0 \"#ffffff\", 0.5 \"#9ecae1\", 1 \"#08519c\")\n"
    << "  set key below\n  set object 1 circle at " << f(BanditModel::centers[1][0]) << ","
    << f(BanditModel::centers[1][1]) << " size " << f(radius)
    << " front fs empty border lc rgb \"black\" lw 2\n";
  for (const Panel& p : panels)
    b << "  set title " << q(p.title)
      << "\n  plot \"bandit_landscape.dat\" using 1:2:3 with image notitle, \\\n"
      << "       " << q(p.file)
      << " using 1:2 with points pt 7 ps 0.45 lc rgb \"#d95f02\" title \"actions\", \\\n"
      << "       NaN with lines lw 2 lc rgb \"black\" title \"success region (reward > 0.9)\"\n";
  b << "  unset object 1\n";
  write_text_file(
      dir + "/bandit_samples.gp",
      script("bandit_samples", "The bandit's reward landscape with the actions of the data, BC and QGF",
             int(430 * panels.size() + 80), 500, b.str()));
  return "bandit_samples";
}

// Environment-specific figure. HOOK(pointmaze): draw the maze walls and the BC / QGF rollouts (rep.showcase
// holds each episode's observations; the x-y position is the first two obs entries) in a
// pointmaze_rollouts.gp.
// The maze's walls with the x-y paths of BC's and QGF's test episodes (up to 10 each), starts and the goal.
std::string maze_rollouts(const Config& cfg, const EvalReport& rep, const std::string& dir) {
  const std::string maze = pointmaze_maze_of(cfg.env);
  const rl::MazeLayout& L = rl::MazeLayout::get(maze);
  const double h = rl::MazeLayout::kUnit / 2;
  std::ostringstream walls;
  int obj = 1;
  for (int i = 0; i < L.rows(); ++i)
    for (int j = 0; j < L.cols(); ++j) {
      if (!L.is_wall({i, j})) continue;
      const rl::Vec2 c = L.cell_center({i, j});
      walls << "  set object " << obj++ << " rect from " << f(c.x - h) << "," << f(c.y - h) << " to "
            << f(c.x + h) << "," << f(c.y + h) << " back fc rgb \"#636363\" fs solid 1.0 noborder\n";
    }
  const rl::Vec2 goal = L.cell_center(L.task(cfg.task).goal);
  const rl::Vec2 lo = L.cell_center({0, 0}), hi = L.cell_center({L.rows() - 1, L.cols() - 1});
  struct Panel {
    std::string file, title;
  };
  std::vector<Panel> panels;
  for (const Rollouts& r : rep.showcase) {
    std::string d = "# x y (one block per episode): " + r.label + "\n";
    double succ = 0;
    const size_t shown = std::min<size_t>(r.obs.size(), 10);
    for (size_t e = 0; e < r.obs.size(); ++e) {
      succ += r.success[e];
      if (e >= shown) continue;
      for (size_t k = 0; k + 1 < r.obs[e].size(); k += size_t(r.obs_dim))
        d += f(r.obs[e][k]) + " " + f(r.obs[e][k + 1]) + "\n";
      d += "\n\n";
    }
    const std::string file = "maze_" + safe_name(r.label.substr(0, r.label.find(' '))) + ".dat";
    write_text_file(dir + "/" + file, d);
    char t[200];
    std::snprintf(t, sizeof t, "%s: success %.2f over %zu episodes (%zu drawn)", r.label.c_str(),
                  succ / double(std::max<size_t>(r.obs.size(), 1)), r.obs.size(), shown);
    panels.push_back({file, t});
  }
  if (panels.empty()) return "";
  std::ostringstream b;
  b << "  set multiplot layout 1," << panels.size() << " title "
    << q(cfg.env + ", task " + std::to_string(cfg.task) +
         ": test rollouts (walls grey, goal: circle of radius "
         "1)")
    << "\n"
    << "  set size ratio -1\n  set xrange [" << f(lo.x - h) << ":" << f(hi.x + h) << "]\n  set yrange ["
    << f(lo.y - h) << ":" << f(hi.y + h) << "]\n  set xlabel \"x\"\n  set ylabel \"y\"\n  set key below\n"
    << walls.str() << "  set object " << obj << " circle at " << f(goal.x) << "," << f(goal.y) << " size "
    << f(rl::MazeLayout::kGoalTolerance) << " front fs empty border lc rgb \"#e31a1c\" lw 3\n";
  for (const Panel& p : panels)
    b << "  set title " << q(p.title) << "\n  plot " << q(p.file)
      << " using 1:2 with lines lw 1.5 lc rgb \"#1f78b4\" title \"paths\", \\\n       " << q(p.file)
      << " every ::0::0 using 1:2 with points pt 7 ps 1 lc rgb \"#33a02c\" title \"starts\", \\\n"
      << "       NaN with lines lw 3 lc rgb \"#e31a1c\" title \"goal (success radius)\"\n";
  write_text_file(dir + "/maze_rollouts.gp", script("maze_rollouts", "The maze with BC and QGF test rollouts",
                                                    int(520 * panels.size() + 80), 560, b.str()));
  return "maze_rollouts";
}

std::string write_env_plot(const Config& cfg, const EvalReport& rep, const rl::Dataset* ds,
                           const std::string& dir) {
  if (cfg.env == "bandit") return bandit_samples(cfg, rep, ds, dir);
  if (find_ogbench_spec(cfg.env)) return "";  // manipulation: the curves and the sweep only
  return maze_rollouts(cfg, rep, dir);
}

}  // namespace

PlotOutcome write_plots(const Config& cfg, const RunPaths& paths, const EvalReport& rep,
                        const rl::Dataset* ds) {
  const std::string dir = paths.plots();
  fs::create_directories(dir);
  std::vector<std::string> names = {learning_curves(cfg, paths, dir), guidance_sweep(cfg, rep, dir)};
  if (std::string e = write_env_plot(cfg, rep, ds, dir); !e.empty()) names.push_back(e);
  PlotOutcome out;
  for (const std::string& n : names) out.scripts.push_back(dir + "/" + n + ".gp");
  gp::Rendered r = gp::render(dir, names);
  out.images = std::move(r.images);
  out.note = std::move(r.note);
  return out;
}

}  // namespace qgf_offline
