// Checkpoint files and JSONL logs of a run directory (see run_dir.h).
#include "run_dir.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "config.h"
#include "engine/core/error.h"
#include "nn/checkpoint.h"
#include "ops/api.h"

namespace qgf_offline {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {
constexpr char kFormat[] = "qgf_offline/1";
}

std::string RunPaths::checkpoint(int64_t step) const {
  char name[64];
  std::snprintf(name, sizeof name, "/step_%08lld.safetensors", static_cast<long long>(step));
  return checkpoints() + name;
}

std::vector<CheckpointFile> list_checkpoints(const RunPaths& p) {
  std::vector<CheckpointFile> out;
  std::error_code ec;
  if (!fs::is_directory(p.checkpoints(), ec)) return out;
  // "step_<digits>.safetensors" (parsed by hand: std::regex trips GCC 12's -Wmaybe-uninitialized under ASan).
  const std::string prefix = "step_", suffix = ".safetensors";
  for (const auto& e : fs::directory_iterator(p.checkpoints(), ec)) {
    const std::string name = e.path().filename().string();
    if (!e.is_regular_file() || name.size() <= prefix.size() + suffix.size() || name.rfind(prefix, 0) != 0 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    if (digits.empty() || digits.size() > 18 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    out.push_back({std::stoll(digits), e.path().string()});
  }
  std::sort(out.begin(), out.end(),
            [](const CheckpointFile& a, const CheckpointFile& b) { return a.step < b.step; });
  return out;
}

void save_checkpoint(const RunPaths& p, const rl::AgentState& s, int64_t step, const json& arch,
                     int64_t keep) {
  fs::create_directories(p.checkpoints());
  nn::Checkpoint ck;
  ck.add("agent", s).add("step", ops::scalar(double(step), engine::DType::I32));
  ck.set_metadata("format", kFormat)
      .set_metadata("step", std::to_string(step))
      .set_metadata("arch", arch.dump());
  ck.save(p.checkpoint(step));
  std::vector<CheckpointFile> all = list_checkpoints(p);
  for (size_t i = 0; i + size_t(keep) < all.size(); ++i) fs::remove(all[i].path);
}

LoadedCheckpoint load_checkpoint(const std::string& path, const rl::AgentState& like, const json& arch) {
  const std::string hint =
      "delete it to fall back to an earlier checkpoint, or start over in a fresh --results directory";
  std::optional<nn::CheckpointReader> r;
  try {
    r.emplace(nn::Checkpoint::load(path));
  } catch (const engine::Error& e) {
    throw std::runtime_error("checkpoint '" + path + "' cannot be read (corrupt or truncated?): " + e.what() +
                             "\n  hint: " + hint);
  }
  const auto& md = r->metadata();
  if (!md.count("format") || md.at("format") != kFormat || !md.count("arch") || !r->contains("step"))
    throw std::runtime_error("'" + path + "' is a safetensors file but not a qgf_offline checkpoint (no '" +
                             std::string(kFormat) + "' metadata)\n  hint: " + hint);
  const json saved = json::parse(md.at("arch"), nullptr, false);
  if (saved != arch)
    throw std::runtime_error(
        "checkpoint '" + path + "' was trained with " + saved.dump() + ", but this run asks for " +
        arch.dump() +
        "\n  hint: pass the settings the run was trained with (its config.json), or use a fresh "
        "--results directory");
  LoadedCheckpoint out;
  try {
    out.state = r->restore("agent", like);
    out.step = int64_t(r->tensor("step").item<int32_t>());
  } catch (const engine::Error& e) {
    throw std::runtime_error("checkpoint '" + path + "' does not fit this agent: " + e.what() +
                             "\n  hint: " + hint);
  }
  return out;
}

JsonlWriter::JsonlWriter(const std::string& path) : path_(path), out_(path, std::ios::app) {
  if (!out_) throw std::runtime_error("cannot open log '" + path + "' for appending");
}

void JsonlWriter::write(const json& j) {
  out_ << j.dump() << '\n';
  out_.flush();
  if (!out_) throw std::runtime_error("cannot write to log '" + path_ + "' (disk full?)");
}

std::vector<json> read_jsonl(const std::string& path) {
  std::vector<json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    json j = json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.is_object()) out.push_back(std::move(j));
  }
  return out;
}

void filter_jsonl(const std::string& path, const std::function<bool(const json&)>& keep) {
  if (!fs::exists(path)) return;
  std::string text;
  for (const json& j : read_jsonl(path))
    if (keep(j)) text += j.dump() + "\n";
  write_text_file(path, text);
}

}  // namespace qgf_offline
