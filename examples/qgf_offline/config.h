// The program's settings: one struct, built in layers (lowest first)
//   global defaults < the environment's defaults < <results>/config.json (a run being resumed or evaluated)
//   < --config FILE < command-line flags,
// each layer a JSON object of the keys below (unknown keys and wrong types are errors naming the key). The
// effective settings are written back to <results>/config.json.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace qgf_offline {

// A problem with the user's flags or config: reported without a stack of engine details, exit code 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Config {
  // what to run
  std::string env = "pointmaze-medium";  // the main job's default (issue 5)
  int task = 1;                          // pointmaze task id (1..5); the bandit has one task
  uint64_t seed = 0;
  std::string results;  // run directory; default runs/<env>-<name or timestamp>
  std::string name;     // names the default run directory
  std::string data;     // data set (.npz); default <results>/dataset.npz
  int64_t data_size = 10000;
  // training
  int64_t steps = 2000;
  int64_t batch = 256;
  std::vector<int64_t> hidden = {64, 64};
  double lr = 3e-4;
  int64_t horizon = 1;  // action chunk length H
  double discount = 0.99;
  double expectile = 0.9;
  double polyak = 0.005;
  int flow_steps = 10;         // Euler steps of the sampler
  int threads = 0;             // CPU threads (OpenMP); 0: the OpenMP default. Results do not depend on it.
  std::string device = "cpu";  // where training and the samplers run: "cpu" or "cuda"
  int64_t log_every = 50;
  int64_t checkpoint_every = 500;
  int64_t keep_checkpoints = 3;
  int64_t eval_every = 0;       // 0: no evaluation during training
  double monitor_weight = 1.0;  // QGF weight of the evaluations during training
  // evaluation
  int64_t eval_episodes = 100;  // reported (test) episodes per method and weight
  int64_t val_episodes = 100;   // validation episodes (own seeds) that choose the weight
  std::vector<double> weights = {0, 0.5, 1, 2, 4, 8};
  int64_t best_of_n = 8;
  std::vector<double> gradstep_alphas = {0.01, 0.03, 0.1, 0.3};
  int gradstep_steps = 3;
  std::vector<std::string> methods = {"BC", "QGF", "BoN", "QGF+BoN", "QGF-Jacobian", "QFQL", "GradStep"};
  bool plots = true;
};

nlohmann::json config_to_json(const Config& c);
// Every key of `j` must be a Config key with the right type; `where` names the source in errors.
Config config_from_json(const nlohmann::json& j, const std::string& where);
// Overlays `top` on `base` key by key (both JSON objects), checking that every key of `top` is known.
void merge_config(nlohmann::json& base, const nlohmann::json& top, const std::string& where);
// Range and consistency checks; throws UsageError naming the key and the accepted values.
void validate_config(const Config& c);
nlohmann::json default_config_json();
std::vector<std::string> known_methods();

// Reads a JSON object from a file (UsageError when missing or not valid JSON).
nlohmann::json read_json_file(const std::string& path, const std::string& what);
void write_text_file(const std::string& path, const std::string& text);  // atomic (temp + rename)

// The settings that fix the network shapes: a checkpoint must match them to be restored.
nlohmann::json architecture_json(const Config& c, int64_t obs_dim, int64_t action_dim);

std::string default_results_dir(const std::string& env, const std::string& name);
std::string format_number(double v);  // shortest readable form: 0.5, 2, 0.001, 1e-05

}  // namespace qgf_offline
