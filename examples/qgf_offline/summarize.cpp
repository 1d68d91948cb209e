// Gathering finished runs into one table (see summarize.h).
#include "summarize.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>

#include "config.h"
#include "gnuplot.h"

namespace qgf_offline {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// One method's headline in one run (a row of results.csv).
struct Headline {
  std::string knob;  // "w", "alpha" or ""
  double value = 0, success = 0, ret = 0;
};

struct RunRecord {
  std::string dir, env;
  int64_t task = 0;
  uint64_t seed = 0;
  json config;
  std::vector<std::string> methods;  // in the order of results.csv
  std::map<std::string, Headline> headline;
};

[[noreturn]] void bad(const std::string& where, const std::string& what) {
  throw std::runtime_error("summarize: " + where + ": " + what);
}

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> cells;
  std::stringstream ss(line);
  for (std::string c; std::getline(ss, c, ',');) cells.push_back(c);
  if (!line.empty() && line.back() == ',') cells.emplace_back();
  return cells;
}

double number(const std::string& cell, const std::string& where, const std::string& column) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(cell, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != cell.size())
    bad(where,
        "column '" + column + "' is not a number ('" + cell + "'); rerun `qgf_offline evaluate` there");
  return v;
}

// results.csv as written by report.cpp: a header naming the columns, then one row per method.
void read_results(RunRecord& r, const std::string& path) {
  std::ifstream in(path);
  if (!in) bad(path, "cannot be read");
  std::string line;
  if (!std::getline(in, line)) bad(path, "is empty; rerun `qgf_offline evaluate` there");
  const std::vector<std::string> header = split_csv(line);
  std::map<std::string, size_t> col;
  for (size_t i = 0; i < header.size(); ++i) col[header[i]] = i;
  for (const char* need : {"method", "knob", "value", "success_mean", "return_mean"})
    if (!col.count(need))
      bad(path, std::string("the header has no '") + need + "' column (not a results.csv?)");
  for (int lineno = 2; std::getline(in, line); ++lineno) {
    if (line.empty()) continue;
    const std::vector<std::string> cells = split_csv(line);
    const std::string where = path + " line " + std::to_string(lineno);
    if (cells.size() != header.size())
      bad(where, std::to_string(cells.size()) + " cells, the header has " + std::to_string(header.size()));
    Headline h;
    h.knob = cells[col["knob"]];
    h.value = number(cells[col["value"]], where, "value");
    h.success = number(cells[col["success_mean"]], where, "success_mean");
    h.ret = number(cells[col["return_mean"]], where, "return_mean");
    const std::string& m = cells[col["method"]];
    if (m.empty()) bad(where, "empty method name");
    if (!r.headline.emplace(m, h).second) bad(where, "method '" + m + "' appears twice");
    r.methods.push_back(m);
  }
  if (r.methods.empty()) bad(path, "has no method rows; rerun `qgf_offline evaluate` there");
}

template <class T>
T config_value(const json& c, const char* key, const std::string& path) {
  if (!c.contains(key)) bad(path, std::string("has no '") + key + "' setting");
  try {
    return c.at(key).get<T>();
  } catch (const json::exception&) {
    bad(path, std::string("setting '") + key + "' has the wrong type (" + c.at(key).dump() + ")");
  }
}

std::vector<RunRecord> find_runs(const std::string& root) {
  std::vector<RunRecord> runs;
  std::vector<fs::path> dirs;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    if (it.depth() > 2) it.disable_recursion_pending();
    if (it->is_regular_file() && it->path().filename() == "results.csv" &&
        fs::exists(it->path().parent_path() / "config.json"))
      dirs.push_back(it->path().parent_path());
  }
  std::sort(dirs.begin(), dirs.end());
  for (const fs::path& d : dirs) {
    RunRecord r;
    r.dir = d.string();
    const std::string cpath = (d / "config.json").string();
    r.config = read_json_file(cpath, "saved settings");
    r.env = config_value<std::string>(r.config, "env", cpath);
    r.task = config_value<int64_t>(r.config, "task", cpath);
    r.seed = config_value<uint64_t>(r.config, "seed", cpath);
    read_results(r, (d / "results.csv").string());
    runs.push_back(std::move(r));
  }
  return runs;
}

// The settings that make up a run's budget; the summary states them and flags any that differ.
const char* kBudgetKeys[] = {"steps",      "batch",           "hidden",        "lr",           "horizon",
                             "flow_steps", "data_size",       "eval_episodes", "val_episodes", "weights",
                             "best_of_n",  "gradstep_alphas", "gradstep_steps"};

struct Stat {
  double mean = 0, se = 0;
};
Stat mean_se(const std::vector<double>& xs) {
  Stat s;
  for (double x : xs) s.mean += x / double(xs.size());
  if (xs.size() < 2) return s;
  double ss = 0;
  for (double x : xs) ss += (x - s.mean) * (x - s.mean);
  s.se = std::sqrt(ss / double(xs.size() - 1) / double(xs.size()));
  return s;
}

std::string pm(Stat s, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f ± %.*f", digits, s.mean, digits, s.se);
  return buf;
}

std::string fixed(double v, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

struct Group {  // one environment and task: its runs (one per seed), sorted by seed
  std::string env;
  int64_t task = 0;
  std::vector<const RunRecord*> runs;
};

}  // namespace

SummaryOutcome summarize_runs(const std::string& root, std::string output) {
  if (root.empty()) throw UsageError("summarize: give the directory of runs with --results DIR");
  if (!fs::is_directory(root)) throw UsageError("summarize: '" + root + "' is not a directory");
  const std::vector<RunRecord> runs = find_runs(root);
  if (runs.empty())
    throw UsageError("summarize: no finished run under '" + root +
                     "' (a run directory holds config.json and results.csv once `qgf_offline all` or "
                     "`evaluate` has finished)");
  if (output.empty()) output = (fs::path(root) / "summary.md").string();

  std::vector<std::string> methods, envs;
  std::map<std::pair<std::string, int64_t>, Group> groups;
  for (const RunRecord& r : runs) {
    for (const std::string& m : r.methods)
      if (std::find(methods.begin(), methods.end(), m) == methods.end()) methods.push_back(m);
    if (std::find(envs.begin(), envs.end(), r.env) == envs.end()) envs.push_back(r.env);
    Group& g = groups[{r.env, r.task}];
    g.env = r.env;
    g.task = r.task;
    for (const RunRecord* o : g.runs)
      if (o->seed == r.seed)
        throw UsageError("summarize: " + o->dir + " and " + r.dir + " are both " + r.env + " task " +
                         std::to_string(r.task) + " seed " + std::to_string(r.seed) + "; keep one of them");
    g.runs.push_back(&r);
  }
  std::sort(envs.begin(), envs.end());
  for (auto& [key, g] : groups)
    std::sort(g.runs.begin(), g.runs.end(), [](auto* a, auto* b) { return a->seed < b->seed; });

  // The budget: each key's value in every run; keys that differ are listed with their values.
  SummaryOutcome out;
  out.runs = int(runs.size());
  std::string budget, differs;
  for (const char* key : kBudgetKeys) {
    std::set<std::string> values;
    for (const RunRecord& r : runs)
      values.insert(r.config.contains(key) ? r.config.at(key).dump() : "(unset)");
    std::string joined;
    for (const std::string& v : values) joined += (joined.empty() ? "" : " / ") + v;
    (values.size() == 1 ? budget : differs) += "`" + std::string(key) + "` " + joined + "; ";
  }
  if (!differs.empty()) out.note = "settings differ between runs: " + differs;

  auto stat_of = [](const Group& g, const std::string& m, bool success) {
    std::vector<double> xs;
    for (const RunRecord* r : g.runs)
      if (auto it = r->headline.find(m); it != r->headline.end())
        xs.push_back(success ? it->second.success : it->second.ret);
    return std::pair{mean_se(xs), xs.size()};
  };

  std::ostringstream md;
  std::string csv = "env,task,method,seeds,success_mean,success_se,return_mean,return_se\n";
  md << "# Summary of " << runs.size() << " runs under `" << root << "`\n\n"
     << "Each cell is the test success rate as mean ± standard error over seeds. A seed's number is its mean "
        "over the test episodes, at the setting (guidance weight w, or GradStep's alpha) chosen on that "
        "seed's validation episodes. The row \"mean over tasks\" averages the task means; its error is "
        "sqrt(sum of SE^2) / tasks.\n\n"
     << "Budget of every run (config.json): " << budget.substr(0, budget.size() - 2) << ".\n\n";
  if (!differs.empty())
    md << "**Settings that differ between runs:** " << differs.substr(0, differs.size() - 2) << ".\n\n";

  const std::string plot_dir = (fs::path(output).parent_path() / "plots").string();
  std::vector<std::string> charts;
  // One overview table of an environment: success or return per task and method (mean ± SE over seeds),
  // then the mean over tasks. With `dat`, also the chart's data (success only).
  auto overview = [&](const std::string& env, bool success, std::string* dat, int* rows) {
    md << "## " << env << ": test " << (success ? "success" : "return") << " by task\n\n| task | seeds |";
    for (const std::string& m : methods) md << " " << m << " |";
    md << "\n|---|---|";
    for (size_t i = 0; i < methods.size(); ++i) md << "---|";
    md << "\n";
    const int digits = success ? 2 : 1;
    if (dat) {
      *dat = "# task";
      for (const std::string& m : methods) *dat += " " + gp::safe_name(m) + "_mean se";
      *dat += "\n";
    }
    std::vector<std::vector<Stat>> per_method(methods.size());
    auto row = [&](const std::string& label, const std::vector<Stat*>& cells) {
      if (!dat) return;
      *dat += "\"" + label + "\"";
      for (const Stat* c : cells) *dat += " " + gp::f(c ? c->mean : NAN) + " " + gp::f(c ? c->se : NAN);
      *dat += "\n";
      ++*rows;
    };
    for (const auto& [key, g] : groups) {
      if (g.env != env) continue;
      std::string seeds;
      for (const RunRecord* r : g.runs) seeds += (seeds.empty() ? "" : ", ") + std::to_string(r->seed);
      md << "| " << g.task << " | " << seeds << " |";
      std::vector<Stat> stats(methods.size());
      std::vector<Stat*> cells(methods.size(), nullptr);
      for (size_t k = 0; k < methods.size(); ++k) {
        const auto [st, n] = stat_of(g, methods[k], success);
        md << " " << (n ? pm(st, digits) : "-") << " |";
        if (n) {
          stats[k] = st;
          cells[k] = &stats[k];
          per_method[k].push_back(st);
        }
      }
      md << "\n";
      row("task " + std::to_string(g.task), cells);
    }
    md << "| mean over tasks | |";
    std::vector<Stat> means(methods.size());
    std::vector<Stat*> cells(methods.size(), nullptr);
    for (size_t k = 0; k < methods.size(); ++k) {
      const std::vector<Stat>& ss = per_method[k];
      double var = 0;
      for (const Stat& st : ss) {
        means[k].mean += st.mean / double(ss.size());
        var += st.se * st.se;
      }
      means[k].se = ss.empty() ? 0 : std::sqrt(var) / double(ss.size());
      md << " " << (ss.empty() ? "-" : pm(means[k], digits)) << " |";
      if (!ss.empty()) cells[k] = &means[k];
    }
    md << "\n\n";
    row("mean of tasks", cells);
  };

  for (const auto& [key, g] : groups)
    for (const std::string& m : methods) {
      const auto [st, n] = stat_of(g, m, true);
      const auto [ret, n2] = stat_of(g, m, false);
      if (n)
        csv += g.env + "," + std::to_string(g.task) + "," + m + "," + std::to_string(n) + "," +
               gp::f(st.mean) + "," + gp::f(st.se) + "," + gp::f(ret.mean) + "," + gp::f(ret.se) + "\n";
    }

  for (const std::string& env : envs) {
    std::string dat;
    int rows = 0;  // bar groups in the chart
    overview(env, true, &dat, &rows);
    overview(env, false, nullptr, nullptr);

    // The chart: one group of bars per task (and the mean), one bar per method, standard errors as bars.
    const std::string name = "summary_" + gp::safe_name(env);
    fs::create_directories(plot_dir);
    write_text_file(plot_dir + "/" + name + ".dat", dat);
    std::ostringstream b;
    b << "  set title " << gp::q(env + ": test success per task (mean ± SE over seeds)") << "\n"
      << "  set style data histograms\n  set style histogram errorbars gap 2 lw 1\n"
      << "  set style fill solid 0.85 border -1\n  set boxwidth 0.9\n  set yrange [0:1.08]\n"
      << "  set xrange [-0.6:" << rows - 0.4 << "]\n"
      << "  set ylabel \"success rate\"\n  set xlabel \"task\"\n  set grid ytics\n"
      << "  set key outside right top vertical samplen 2\n  plot ";
    for (size_t k = 0; k < methods.size(); ++k)
      b << (k ? ", \\\n       " : "") << gp::q(name + ".dat") << " using " << 2 + 2 * k << ":" << 3 + 2 * k
        << (k == 0 ? ":xtic(1)" : "") << " lc rgb \"" << gp::kColors[k % 8] << "\" title "
        << gp::q(methods[k]);
    b << "\n";
    write_text_file(plot_dir + "/" + name + ".gp",
                    gp::script(name, "Test success per task and method, " + env, 1300, 520, b.str()));
    charts.push_back(name);
    md << "![" << env << ": test success per task](plots/" << name << ".png)\n\n";
  }

  md << "## Per task\n\nChosen settings and test success of every seed, then the mean ± SE over seeds of the "
        "success rate and of the return.\n\n";
  for (const auto& [key, g] : groups) {
    std::string seeds;
    for (const RunRecord* r : g.runs) seeds += (seeds.empty() ? "" : " / ") + std::to_string(r->seed);
    md << "### " << g.env << ", task " << g.task << "\n\n"
       << "| method | chosen setting (seeds " << seeds << ") | test success (seeds " << seeds
       << ") | success, mean ± SE | return, mean ± SE |\n|---|---|---|---|---|\n";
    for (const std::string& m : methods) {
      std::string chosen, each;
      for (const RunRecord* r : g.runs) {
        auto it = r->headline.find(m);
        const bool has = it != r->headline.end();
        chosen += std::string(chosen.empty() ? "" : ", ") +
                  (!has                      ? "n/a"
                   : it->second.knob.empty() ? "-"
                                             : it->second.knob + " = " + format_number(it->second.value));
        each += std::string(each.empty() ? "" : " / ") + (has ? fixed(it->second.success, 2) : "n/a");
      }
      const auto [s, n] = stat_of(g, m, true);
      const auto [ret, n2] = stat_of(g, m, false);
      md << "| " << m << " | " << chosen << " | " << each << " | " << pm(s, 3) << " | " << pm(ret, 1)
         << " |\n";
    }
    md << "\n";
  }
  md << "Run directories: " << runs.size() << " under `" << root << "`; each holds its own results.md, "
     << "config.json and plots.\n";

  out.markdown = output;
  out.csv = (fs::path(output).replace_extension(".csv")).string();
  write_text_file(out.markdown, md.str());
  write_text_file(out.csv, csv);
  gp::Rendered r = gp::render(plot_dir, charts);
  out.images = std::move(r.images);
  if (!r.note.empty()) out.note += (out.note.empty() ? "" : "; ") + r.note;
  return out;
}

}  // namespace qgf_offline
