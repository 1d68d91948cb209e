// Results tables in text, Markdown, CSV and JSON (see report.h).
#include "report.h"

#include <cstdio>
#include <sstream>

namespace qgf_offline {

using nlohmann::json;

namespace {

std::string pm(double mean, double se) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f ± %.3f", mean, se);
  return buf;
}

std::string setting(const MethodResult& m) {
  if (m.info.knob.empty()) return "-";
  return m.info.knob + " = " + format_number(m.headline().value);
}

std::string caption(const Config& cfg, const EvalReport& rep) {
  std::ostringstream s;
  s << "Success rate and return on " << cfg.eval_episodes << " test episodes per method (mean ± standard "
    << "error over episodes),\nfrom the checkpoint at step " << rep.checkpoint_step
    << ". Each method's setting "
    << "(guidance weight w, or GradStep's step size alpha)\nwas chosen on " << cfg.val_episodes
    << " validation episodes with their own seeds. Best-of-N draws N = " << cfg.best_of_n << " samples.";
  return s.str();
}

// Pads to `w` display columns (the ± sign is one column but two bytes).
std::string pad(const std::string& x, size_t w) {
  size_t cols = 0;
  for (unsigned char c : x) cols += (c & 0xC0) != 0x80;
  return cols >= w ? x : x + std::string(w - cols, ' ');
}

std::string csv_row(const std::vector<std::string>& cells) {
  std::string s;
  for (size_t i = 0; i < cells.size(); ++i) s += (i ? "," : "") + cells[i];
  return s + "\n";
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace

std::string results_table_text(const Config& cfg, const EvalReport& rep) {
  std::ostringstream s;
  s << "Results on " << cfg.env << " (" << cfg.results << ")\n" << caption(cfg, rep) << "\n\n";
  const std::vector<size_t> w = {14, 14, 17, 22, 12};
  s << "  " << pad("Method", w[0]) << pad("Setting", w[1]) << pad("Success", w[2]) << pad("Return", w[3])
    << "Val. success\n";
  s << "  " << std::string(w[0] + w[1] + w[2] + w[3] + w[4], '-') << "\n";
  for (const MethodResult& m : rep.methods) {
    const SweepPoint& p = m.headline();
    char val[32];
    std::snprintf(val, sizeof val, "%.3f", p.val.success_mean);
    s << "  " << pad(m.info.name, w[0]) << pad(setting(m), w[1])
      << pad(pm(p.test.success_mean, p.test.success_se), w[2])
      << pad(pm(p.test.return_mean, p.test.return_se), w[3]) << val << "\n";
  }
  return s.str();
}

void write_reports(const Config& cfg, const EvalReport& rep, const std::string& dir) {
  // Markdown: headline, then the sweep.
  std::ostringstream md;
  md << "# Results: " << cfg.env << "\n\n" << caption(cfg, rep) << "\n\n";
  md << "| Method | Setting | Success | Return | Validation success |\n|---|---|---|---|---|\n";
  for (const MethodResult& m : rep.methods) {
    const SweepPoint& p = m.headline();
    md << "| " << m.info.name << " | " << setting(m) << " | " << pm(p.test.success_mean, p.test.success_se)
       << " | " << pm(p.test.return_mean, p.test.return_se) << " | "
       << pm(p.val.success_mean, p.val.success_se) << " |\n";
  }
  md << "\n## Full sweep\n\nEvery setting on the test and the validation episodes; * marks the setting "
        "chosen on "
        "validation.\n\n| Method | Setting | Test success | Test return | Validation success | Validation "
        "return |\n"
        "|---|---|---|---|---|---|\n";
  for (const MethodResult& m : rep.methods)
    for (size_t i = 0; i < m.points.size(); ++i) {
      const SweepPoint& p = m.points[i];
      md << "| " << m.info.name << " | "
         << (m.info.knob.empty() ? "-" : m.info.knob + " = " + format_number(p.value))
         << (i == m.chosen ? " *" : "") << " | " << pm(p.test.success_mean, p.test.success_se) << " | "
         << pm(p.test.return_mean, p.test.return_se) << " | " << pm(p.val.success_mean, p.val.success_se)
         << " | " << pm(p.val.return_mean, p.val.return_se) << " |\n";
    }
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.1f", rep.seconds);
  md << "\nSettings: `config.json`. Plots: `plots/`. Evaluation time " << secs << " s.\n";
  write_text_file(dir + "/results.md", md.str());

  std::string csv = csv_row({"method", "knob", "value", "episodes", "success_mean", "success_se",
                             "return_mean", "return_se", "val_episodes", "val_success_mean", "val_success_se",
                             "val_return_mean", "val_return_se", "checkpoint_step"});
  std::string sweep = csv_row({"method", "knob", "value", "split", "episodes", "success_mean", "success_se",
                               "return_mean", "return_se", "chosen"});
  json js = json{{"env", cfg.env}, {"checkpoint_step", rep.checkpoint_step}, {"methods", json::array()}};
  for (const MethodResult& m : rep.methods) {
    const SweepPoint& p = m.headline();
    csv += csv_row({m.info.name, m.info.knob, num(p.value), std::to_string(p.test.episodes),
                    num(p.test.success_mean), num(p.test.success_se), num(p.test.return_mean),
                    num(p.test.return_se), std::to_string(p.val.episodes), num(p.val.success_mean),
                    num(p.val.success_se), num(p.val.return_mean), num(p.val.return_se),
                    std::to_string(rep.checkpoint_step)});
    json jm{{"method", m.info.name}, {"knob", m.info.knob}, {"chosen", p.value}, {"sweep", json::array()}};
    for (size_t i = 0; i < m.points.size(); ++i) {
      const SweepPoint& q = m.points[i];
      for (const auto& [split, st] :
           {std::pair<const char*, const EvalStats&>{"test", q.test}, {"validation", q.val}})
        sweep += csv_row({m.info.name, m.info.knob, num(q.value), split, std::to_string(st.episodes),
                          num(st.success_mean), num(st.success_se), num(st.return_mean), num(st.return_se),
                          i == m.chosen ? "1" : "0"});
      jm["sweep"].push_back(
          json{{"value", q.value}, {"test", stats_json(q.test)}, {"validation", stats_json(q.val)}});
    }
    jm["test"] = stats_json(p.test);
    jm["validation"] = stats_json(p.val);
    js["methods"].push_back(jm);
  }
  write_text_file(dir + "/results.csv", csv);
  write_text_file(dir + "/sweep.csv", sweep);
  write_text_file(dir + "/results.json", js.dump(2) + "\n");
}

}  // namespace qgf_offline
