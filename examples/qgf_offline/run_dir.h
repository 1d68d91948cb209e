// The results directory of one run and what lives in it:
//   config.json                   the effective settings
//   dataset.npz                   the offline data set (unless --data points elsewhere)
//   checkpoints/step_<N>.safetensors   agent state + step (the newest `keep_checkpoints` are kept)
//   losses.jsonl, evals.jsonl     training losses every log_every steps; evaluations (during training and
//   final) results.md, results.csv, sweep.csv, results.json   the results table and the full guidance sweep
//   plots/                        gnuplot scripts, their data files, and the PNG/SVG they render
// Checkpoints are nn::Checkpoint safetensors files with metadata naming the format, step and architecture, so
// a mismatched or corrupt file is refused with a message saying what to do.
#pragma once
#include <cstdint>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "rl/agent.h"

namespace qgf_offline {

struct RunPaths {
  std::string dir;
  std::string data;  // the data set file
  std::string config() const { return dir + "/config.json"; }
  std::string checkpoints() const { return dir + "/checkpoints"; }
  std::string losses() const { return dir + "/losses.jsonl"; }
  std::string evals() const { return dir + "/evals.jsonl"; }
  std::string plots() const { return dir + "/plots"; }
  std::string checkpoint(int64_t step) const;
};

struct CheckpointFile {
  int64_t step;
  std::string path;
};
// Checkpoint files in the run's checkpoints/ directory, oldest first (by the step in the name).
std::vector<CheckpointFile> list_checkpoints(const RunPaths& p);

void save_checkpoint(const RunPaths& p, const rl::AgentState& s, int64_t step, const nlohmann::json& arch,
                     int64_t keep);

struct LoadedCheckpoint {
  rl::AgentState state;
  int64_t step = 0;
};
// Restores into `like`'s structure; checks the file's architecture against `arch`. Errors
// (std::runtime_error) name the file and say what to do: corrupt, not one of ours, or trained with other
// network settings.
LoadedCheckpoint load_checkpoint(const std::string& path, const rl::AgentState& like,
                                 const nlohmann::json& arch);

// Appends one JSON object per line, flushed at once (a killed run loses at most the line being written).
class JsonlWriter {
 public:
  explicit JsonlWriter(const std::string& path);
  void write(const nlohmann::json& j);

 private:
  std::string path_;
  std::ofstream out_;
};

std::vector<nlohmann::json> read_jsonl(const std::string& path);  // skips blank and malformed lines
// Rewrites the file with only the lines `keep` accepts (and drops malformed ones). No file: nothing to do.
void filter_jsonl(const std::string& path, const std::function<bool(const nlohmann::json&)>& keep);

}  // namespace qgf_offline
