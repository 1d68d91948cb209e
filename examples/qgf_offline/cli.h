// Command-line parsing (CLI11): the subcommand, and the settings the user gave as a JSON object of config
// keys, so that flags overlay the other layers key by key (config.h). Flags are spelled like the config keys
// with '-' for '_' (--eval-episodes <-> "eval_episodes"); lists are comma-separated (--weights 0,1,2,4).
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace qgf_offline {

struct CliArgs {
  std::string command = "all";  // generate | train | evaluate | all | summarize
  nlohmann::json overrides = nlohmann::json::object();
  std::string config_file;  // --config
  std::string checkpoint;   // --checkpoint (evaluate a specific file)
  std::string output;       // --output (summarize: the Markdown file)
  bool quiet = false;
  bool print_config = false;
  int64_t simulate_interrupt_at = -1;
  std::optional<int> exit_code;  // set for --help: print nothing more, exit with this code
};

// Throws UsageError on bad flags (unknown flag, missing or malformed value).
CliArgs parse_cli(int argc, char** argv);

}  // namespace qgf_offline
