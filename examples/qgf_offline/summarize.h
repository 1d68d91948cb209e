// `qgf_offline summarize`: gathers the finished runs under a directory (each a run directory with
// config.json and results.csv, e.g. from scripts/pointmaze_table.sh) into one report: for every environment
// and task, each method's test success and return as mean ± standard error over the seeds, the settings
// chosen on validation per seed, the budget the runs share, and a bar chart of success per task and method.
#pragma once
#include <string>
#include <vector>

namespace qgf_offline {

struct SummaryOutcome {
  int runs = 0;                     // finished runs found
  std::string markdown, csv;        // the paths written
  std::vector<std::string> images;  // rendered charts (empty without gnuplot)
  std::string note;                 // rendering problems, settings that differ between runs
};

// Writes `output` (Markdown; default <root>/summary.md), the same stem with .csv, and the charts into
// plots/ next to it. Throws UsageError when `root` holds no finished run, std::runtime_error naming the
// file, line and column when a results.csv or config.json is malformed.
SummaryOutcome summarize_runs(const std::string& root, std::string output);

}  // namespace qgf_offline
