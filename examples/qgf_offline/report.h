// The results table: printed to the terminal and written to the run directory as results.md (headline
// table + the full sweep), results.csv (headline), sweep.csv (every method x setting x split) and
// results.json (the same, machine-readable).
#pragma once
#include <string>

#include "config.h"
#include "evaluate.h"

namespace qgf_offline {

// The headline table as aligned plain text (what the terminal shows).
std::string results_table_text(const Config& cfg, const EvalReport& rep);

// Writes results.md, results.csv, sweep.csv and results.json into `dir`.
void write_reports(const Config& cfg, const EvalReport& rep, const std::string& dir);

}  // namespace qgf_offline
