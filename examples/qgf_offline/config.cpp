// Config <-> JSON with strict key and type checks, layering, validation and the run-directory name.
#include "config.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "env.h"

namespace qgf_offline {

using nlohmann::json;

namespace {

// The keys, in the order config.json lists them. Flags use the same names with '-' for '_'.
// clang-format off
#define QGF_CONFIG_FIELDS(X)                                                                             \
  X(env) X(task) X(seed) X(results) X(name) X(data) X(data_size)                                         \
  X(steps) X(batch) X(hidden) X(lr) X(horizon) X(discount) X(expectile) X(polyak) X(flow_steps)         \
  X(threads) X(device) X(log_every) X(checkpoint_every) X(keep_checkpoints) X(eval_every) X(monitor_weight)        \
  X(eval_episodes) X(val_episodes) X(weights) X(best_of_n) X(gradstep_alphas) X(gradstep_steps)          \
  X(methods) X(plots)
// clang-format on

template <class T>
struct JsonType;
template <>
struct JsonType<std::string> {
  static bool is(const json& v) { return v.is_string(); }
  static std::string name() { return "a string"; }
};
template <>
struct JsonType<bool> {
  static bool is(const json& v) { return v.is_boolean(); }
  static std::string name() { return "true or false"; }
};
template <>
struct JsonType<int> {
  static bool is(const json& v) { return v.is_number_integer(); }
  static std::string name() { return "an integer"; }
};
template <>
struct JsonType<int64_t> : JsonType<int> {};
template <>
struct JsonType<uint64_t> {
  static bool is(const json& v) { return v.is_number_unsigned(); }
  static std::string name() { return "a non-negative integer"; }
};
template <>
struct JsonType<double> {
  static bool is(const json& v) { return v.is_number(); }
  static std::string name() { return "a number"; }
};
template <class U>
struct JsonType<std::vector<U>> {
  static bool is(const json& v) {
    return v.is_array() && std::all_of(v.begin(), v.end(), [](const json& e) { return JsonType<U>::is(e); });
  }
  static std::string name() { return "a list of values, each " + JsonType<U>::name(); }
};

template <class T>
void read_field(const json& v, T& out, const char* key, const std::string& where) {
  if (!JsonType<T>::is(v))
    throw UsageError(where + ": '" + key + "' must be " + JsonType<T>::name() + ", got " + v.dump());
  out = v.get<T>();
}

std::vector<std::string> config_keys() {
  std::vector<std::string> keys;
#define QGF_KEY(f) keys.push_back(#f);
  QGF_CONFIG_FIELDS(QGF_KEY)
#undef QGF_KEY
  return keys;
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

void check_known(const json& j, const std::string& where) {
  if (!j.is_object()) throw UsageError(where + ": expected a JSON object of settings, got " + j.dump());
  const std::vector<std::string> keys = config_keys();
  for (const auto& [k, v] : j.items())
    if (std::find(keys.begin(), keys.end(), k) == keys.end())
      throw UsageError(where + ": unknown setting '" + k + "'; known settings: " + join(keys, ", "));
}

void require(bool ok, const std::string& key, const std::string& what) {
  if (!ok) throw UsageError("setting '" + key + "' " + what);
}

}  // namespace

std::vector<std::string> known_methods() {
  return {"BC", "QGF", "BoN", "QGF+BoN", "QGF-Jacobian", "QFQL", "GradStep"};
}

json config_to_json(const Config& c) {
  json j = json::object();
#define QGF_TO(f) j[#f] = c.f;
  QGF_CONFIG_FIELDS(QGF_TO)
#undef QGF_TO
  return j;
}

Config config_from_json(const json& j, const std::string& where) {
  check_known(j, where);
  Config c;
#define QGF_FROM(f) \
  if (j.contains(#f)) read_field(j.at(#f), c.f, #f, where);
  QGF_CONFIG_FIELDS(QGF_FROM)
#undef QGF_FROM
  return c;
}

json default_config_json() { return config_to_json(Config{}); }

void merge_config(json& base, const json& top, const std::string& where) {
  check_known(top, where);
  (void)config_from_json(top, where);  // type-check the layer on its own, so errors name its source
  for (const auto& [k, v] : top.items()) base[k] = v;
}

void validate_config(const Config& c) {
  require_env(c.env);
  require(c.task >= 1 && c.task <= 5, "task", "must be 1..5 (got " + std::to_string(c.task) + ")");
  require(c.steps >= 1, "steps", "must be at least 1");
  require(c.batch >= 1, "batch", "must be at least 1");
  require(
      !c.hidden.empty() && std::all_of(c.hidden.begin(), c.hidden.end(), [](int64_t h) { return h >= 1; }),
      "hidden", "must list at least one positive layer width, e.g. 64,64");
  require(c.lr > 0 && std::isfinite(c.lr), "lr", "must be a positive number");
  require(c.horizon >= 1, "horizon", "must be at least 1");
  require(c.discount > 0 && c.discount <= 1, "discount", "must be in (0, 1]");
  require(c.expectile > 0 && c.expectile < 1, "expectile", "must be in (0, 1)");
  require(c.polyak > 0 && c.polyak <= 1, "polyak", "must be in (0, 1]");
  require(c.flow_steps >= 1, "flow_steps", "must be at least 1");
  require(c.threads >= 0, "threads", "must be 0 (the OpenMP default) or positive");
  require(c.device == "cpu" || c.device == "cuda", "device", "must be cpu or cuda");
  require(c.data_size >= 1, "data_size", "must be at least 1");
  require(c.log_every >= 1, "log_every", "must be at least 1");
  require(c.checkpoint_every >= 1, "checkpoint_every", "must be at least 1");
  require(c.keep_checkpoints >= 1, "keep_checkpoints", "must be at least 1");
  require(c.eval_every >= 0, "eval_every", "must be 0 (off) or positive");
  require(std::isfinite(c.monitor_weight), "monitor_weight", "must be finite");
  require(c.eval_episodes >= 2, "eval_episodes", "must be at least 2 (a standard error needs two episodes)");
  require(c.val_episodes >= 2, "val_episodes", "must be at least 2");
  require(!c.weights.empty() && std::all_of(c.weights.begin(), c.weights.end(),
                                            [](double w) { return std::isfinite(w) && w >= 0; }),
          "weights", "must list at least one finite, non-negative guidance weight, e.g. 0,1,2,4");
  require(c.best_of_n >= 1, "best_of_n", "must be at least 1");
  require(!c.gradstep_alphas.empty() && std::all_of(c.gradstep_alphas.begin(), c.gradstep_alphas.end(),
                                                    [](double a) { return std::isfinite(a) && a > 0; }),
          "gradstep_alphas", "must list at least one positive step size");
  require(c.gradstep_steps >= 1, "gradstep_steps", "must be at least 1");
  const std::vector<std::string> known = known_methods();
  require(!c.methods.empty(), "methods", "must name at least one method of: " + join(known, ", "));
  for (size_t i = 0; i < c.methods.size(); ++i) {
    require(std::find(known.begin(), known.end(), c.methods[i]) != known.end(), "methods",
            "names an unknown method '" + c.methods[i] + "'; known: " + join(known, ", "));
    require(std::find(c.methods.begin(), c.methods.begin() + long(i), c.methods[i]) ==
                c.methods.begin() + long(i),
            "methods", "lists '" + c.methods[i] + "' twice");
  }
  if (c.env == "bandit") {
    require(c.horizon == 1, "horizon", "must be 1 for the bandit (its episodes have one step)");
    require(c.task == 1, "task", "must be 1 for the bandit (it has one task)");
  }
}

json read_json_file(const std::string& path, const std::string& what) {
  std::ifstream in(path);
  if (!in) throw UsageError(what + " '" + path + "' cannot be opened (missing or unreadable)");
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, /*allow_exceptions=*/false, /*ignore_comments=*/true);
  if (j.is_discarded())
    throw UsageError(what + " '" + path + "' is not valid JSON (check it with `python3 -m json.tool " + path +
                     "`)");
  return j;
}

void write_text_file(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) throw std::runtime_error("cannot write '" + tmp + "' (disk full or no permission?)");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw std::runtime_error("cannot rename '" + tmp + "' to '" + path + "': " + ec.message());
}

json architecture_json(const Config& c, int64_t obs_dim, int64_t action_dim) {
  return json{{"env", c.env},
              {"obs_dim", obs_dim},
              {"action_dim", action_dim},
              {"horizon", c.horizon},
              {"hidden", c.hidden}};
}

std::string default_results_dir(const std::string& env, const std::string& name) {
  std::string tag = name;
  if (tag.empty()) {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    localtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
    tag = buf;
  }
  return "runs/" + env + "-" + tag;
}

std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace qgf_offline
