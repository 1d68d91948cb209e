// PointMaze on MuJoCo: the generated MJCF, model loading and caching, the point-mass step, single-task
// episodes, the evaluation batch and the single-task relabelling.
#include "rl/envs/pointmaze.h"

#include <mujoco/mujoco.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <utility>

#include "engine/core/error.h"

namespace rl {

using engine::ErrorKind;
using engine::Tensor;

namespace {

[[noreturn]] void fail(ErrorKind kind, std::string_view op, const std::string& problem,
                       const std::string& hint) {
  engine::raise(kind, op, problem, {}, {}, hint);
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// Compiles `xml` through MuJoCo's virtual file system (2.2 has no load-from-string call). The mutex: the XML
// loader keeps global state in MuJoCo 2.x (mj_freeLastXML), so loads must not overlap.
std::shared_ptr<const mjModel> compile(const std::string& xml, const std::string& label) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const mjModel>> cache;  // MJCF text -> model
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(xml);
  if (it != cache.end()) return it->second;

  auto vfs = std::make_unique<mjVFS>();  // ~2 MB: keep it off the stack
  mj_defaultVFS(vfs.get());
  const char* fname = "pointmaze.xml";
  if (mj_makeEmptyFileVFS(vfs.get(), fname, int(xml.size())) != 0)
    fail(ErrorKind::Internal, "PointMassSim", "cannot create the in-memory model file", "report this bug");
  const int idx = mj_findFileVFS(vfs.get(), fname);
  std::memcpy(vfs->filedata[idx], xml.data(), xml.size());
  char err[1024] = {0};
  mjModel* m = mj_loadXML(fname, vfs.get(), err, sizeof err);
  mj_deleteVFS(vfs.get());
  if (!m)
    fail(ErrorKind::Value, "PointMassSim", "MuJoCo rejected the model of maze '" + label + "': " + err,
         "the layout produced an invalid MJCF (see rl::pointmaze_mjcf); check the layout");
  std::shared_ptr<const mjModel> sp(m, [](const mjModel* p) { mj_deleteModel(const_cast<mjModel*>(p)); });
  cache.emplace(xml, sp);
  return sp;
}

void check_action_values(std::string_view op, double ax, double ay, const std::string& where) {
  if (!std::isfinite(ax) || !std::isfinite(ay))
    fail(ErrorKind::Value, op, "action" + where + " is (" + num(ax) + ", " + num(ay) + "), not finite",
         "the policy produced NaN or inf: check its inputs and parameters (actions must be 2 finite numbers "
         "in "
         "[-1, 1])");
}

}  // namespace

std::string pointmaze_mjcf(const MazeLayout& layout) {
  // The body, defaults, options and actuators are those of OGBench's point.xml; the walls and floor are what
  // maze.py's update_tree adds. Visual-only parts (textures, lights, materials, the target marker) are
  // omitted.
  const double u = MazeLayout::kUnit;
  const double half_h = MazeLayout::kWallHeight / 2 * u;
  std::string s;
  s += "<mujoco model=\"pointmaze-" + layout.name() + "\">\n";
  s += "  <compiler inertiafromgeom=\"true\" angle=\"degree\"/>\n";
  s += "  <option timestep=\"" + num(kPointMazeTimestep) + "\" integrator=\"RK4\"/>\n";
  s += "  <default>\n";
  s += "    <joint limited=\"false\" armature=\"0\" damping=\"0\"/>\n";
  s += "    <geom condim=\"3\" conaffinity=\"0\" margin=\"0\" friction=\"1 0.5 0.5\" density=\"100\"/>\n";
  s += "  </default>\n";
  s += "  <worldbody>\n";
  // Floor: OGBench centres and sizes it from the grid (size only matters for rendering: planes are infinite).
  const double cx = 2.0 * (layout.cols() - 3), cy = 2.0 * (layout.rows() - 3);
  s += "    <geom name=\"floor\" type=\"plane\" pos=\"" + num(cx) + " " + num(cy) + " 0\" size=\"" +
       num(2.0 * layout.cols()) + " " + num(2.0 * layout.rows()) +
       " 0.2\" conaffinity=\"1\" condim=\"3\"/>\n";
  s += "    <body name=\"torso\" pos=\"0 0 0\">\n";
  s += "      <geom name=\"pointbody\" type=\"sphere\" size=\"0.7\" pos=\"0 0 0.7\"/>\n";
  s += "      <joint name=\"ballx\" type=\"slide\" axis=\"1 0 0\" pos=\"0 0 0\"/>\n";
  s += "      <joint name=\"bally\" type=\"slide\" axis=\"0 1 0\" pos=\"0 0 0\"/>\n";
  s += "    </body>\n";
  for (int i = 0; i < layout.rows(); ++i)
    for (int j = 0; j < layout.cols(); ++j) {
      if (!layout.is_wall({i, j})) continue;
      const Vec2 c = layout.cell_center({i, j});
      s += "    <geom name=\"block_" + std::to_string(i) + "_" + std::to_string(j) +
           "\" type=\"box\" pos=\"" + num(c.x) + " " + num(c.y) + " " + num(half_h) + "\" size=\"" +
           num(u / 2) + " " + num(u / 2) + " " + num(half_h) + "\" contype=\"1\" conaffinity=\"1\"/>\n";
    }
  s += "  </worldbody>\n";
  s += "  <actuator>\n";
  s += "    <motor joint=\"ballx\" ctrlrange=\"-1 1\" ctrllimited=\"true\"/>\n";
  s += "    <motor joint=\"bally\" ctrlrange=\"-1 1\" ctrllimited=\"true\"/>\n";
  s += "  </actuator>\n";
  s += "</mujoco>\n";
  return s;
}

// ---------------------------------------------------------------------------------------------------------
// PointMassSim

PointMassSim::PointMassSim(const MazeLayout& layout)
    : layout_(&layout), model_(compile(pointmaze_mjcf(layout), layout.name())) {
  data_ = mj_makeData(model_.get());
  if (!data_)
    fail(ErrorKind::Internal, "PointMassSim", "mj_makeData failed for maze '" + layout.name() + "'",
         "out of memory?");
  if (model_->nq != 2 || model_->nv != 2)
    fail(ErrorKind::Internal, "PointMassSim",
         "the model has nq=" + std::to_string(model_->nq) + ", expected 2",
         "report this bug (pointmaze_mjcf changed?)");
  mj_forward(model_.get(), data_);
}

PointMassSim::~PointMassSim() {
  if (data_) mj_deleteData(data_);
}

PointMassSim::PointMassSim(PointMassSim&& o) noexcept
    : layout_(o.layout_), model_(std::move(o.model_)), data_(std::exchange(o.data_, nullptr)) {}

PointMassSim& PointMassSim::operator=(PointMassSim&& o) noexcept {
  if (this != &o) {
    if (data_) mj_deleteData(data_);
    layout_ = o.layout_;
    model_ = std::move(o.model_);
    data_ = std::exchange(o.data_, nullptr);
  }
  return *this;
}

void PointMassSim::set_state(Vec2 xy, Vec2 velocity) {
  data_->qpos[0] = xy.x;
  data_->qpos[1] = xy.y;
  data_->qvel[0] = velocity.x;
  data_->qvel[1] = velocity.y;
  mj_forward(model_.get(), data_);  // what gymnasium's set_state does after writing the state
}

void PointMassSim::step(double ax, double ay) {
  data_->qpos[0] += kPointMazeActionScale * ax;
  data_->qpos[1] += kPointMazeActionScale * ay;
  data_->qvel[0] = 0.0;
  data_->qvel[1] = 0.0;
  const int bad_before = data_->warning[mjWARN_BADQACC].number;
  for (int k = 0; k < kPointMazeFrameSkip; ++k) mj_step(model_.get(), data_);
  // MuJoCo resets the state by itself on a numerical blow-up and only counts a warning; a silent reset would
  // teleport the point back to the origin, so treat it as an error.
  if (data_->warning[mjWARN_BADQACC].number != bad_before || !std::isfinite(data_->qpos[0]) ||
      !std::isfinite(data_->qpos[1]))
    fail(ErrorKind::Value, "PointMassSim::step",
         "the simulation became unstable after action (" + num(ax) + ", " + num(ay) + ")",
         "actions must be finite and of moderate size (the environment clips them to [-1, 1] by default)");
}

Vec2 PointMassSim::xy() const { return {data_->qpos[0], data_->qpos[1]}; }
Vec2 PointMassSim::velocity() const { return {data_->qvel[0], data_->qvel[1]}; }

// ---------------------------------------------------------------------------------------------------------
// PointMaze

PointMaze::PointMaze(std::string_view maze, PointMazeOptions options)
    : PointMaze(MazeLayout::get(maze), options) {}

PointMaze::PointMaze(const MazeLayout& layout, PointMazeOptions options) : sim_(layout), options_(options) {
  const MazeTask& t = layout.task(options.task_id);  // validates the id
  task_id_ = options.task_id == 0 ? 1 : options.task_id;
  goal_ = layout.cell_center(t.goal);
  if (options.max_episode_steps < 1)
    fail(ErrorKind::Value, "PointMaze",
         "max_episode_steps = " + std::to_string(options.max_episode_steps) + " is not positive",
         "use OGBench's 1000 (kPointMazeMaxEpisodeSteps) or another positive limit");
}

std::array<double, 2> PointMaze::reset(uint64_t seed) {
  Rng rng(seed);
  return reset(rng);
}

std::array<double, 2> PointMaze::reset(Rng& rng) {
  const MazeTask& t = layout().task(task_id_);
  const Vec2 c = layout().cell_center(t.start);
  const double noise = MazeLayout::kCellNoise * MazeLayout::kUnit / 4;
  const double x = c.x + rng.uniform(-noise, noise);
  const double y = c.y + rng.uniform(-noise, noise);
  const auto v = rng.normal2();
  sim_.set_state({x, y}, {0.1 * v[0], 0.1 * v[1]});
  goal_ = layout().cell_center(t.goal);
  elapsed_ = 0;
  started_ = true;
  done_ = false;
  return {x, y};
}

bool PointMaze::is_success() const {
  const Vec2 p = sim_.xy();
  const double dx = p.x - goal_.x, dy = p.y - goal_.y;
  // sqrt of the sum of squares, as np.linalg.norm computes it (std::hypot can differ in the last bit).
  return std::sqrt(dx * dx + dy * dy) <= MazeLayout::kGoalTolerance;
}

PointMazeStep PointMaze::step(std::span<const double> action) {
  if (action.size() != size_t(kPointMazeActionDim))
    fail(ErrorKind::Shape, "PointMaze::step",
         "got an action of " + std::to_string(action.size()) + " numbers, expected 2",
         "pass the (x, y) action as two numbers in [-1, 1]");
  return step(action[0], action[1]);
}

PointMazeStep PointMaze::step(std::span<const float> action) {
  if (action.size() != size_t(kPointMazeActionDim))
    fail(ErrorKind::Shape, "PointMaze::step",
         "got an action of " + std::to_string(action.size()) + " numbers, expected 2",
         "pass the (x, y) action as two numbers in [-1, 1]");
  return step(double(action[0]), double(action[1]));
}

PointMazeStep PointMaze::step(double ax, double ay) {
  if (!started_) fail(ErrorKind::Value, "PointMaze::step", "called before reset", "call reset(seed) first");
  if (done_)
    fail(ErrorKind::Value, "PointMaze::step",
         "the episode is over (terminated or truncated after " + std::to_string(elapsed_) + " steps)",
         "call reset to start a new episode");
  check_action_values("PointMaze::step", ax, ay, "");
  if (options_.clip_actions) {
    ax = std::clamp(ax, -1.0, 1.0);
    ay = std::clamp(ay, -1.0, 1.0);
  }
  PointMazeStep r;
  r.success = is_success();  // success_timing='pre'
  sim_.step(ax, ay);
  ++elapsed_;
  const Vec2 p = sim_.xy();
  r.obs = {p.x, p.y};
  r.reward = r.success ? 0.0 : -1.0;
  r.terminated = r.success;
  r.truncated = elapsed_ >= options_.max_episode_steps;
  done_ = r.terminated || r.truncated;
  return r;
}

// ---------------------------------------------------------------------------------------------------------
// PointMazeBatch

PointMazeBatch::PointMazeBatch(std::string_view maze, int num_envs, PointMazeOptions options) {
  if (num_envs < 1)
    fail(ErrorKind::Value, "PointMazeBatch", "num_envs = " + std::to_string(num_envs) + " is not positive",
         "evaluate at least one episode");
  const MazeLayout& layout = MazeLayout::get(maze);
  envs_.reserve(size_t(num_envs));
  for (int k = 0; k < num_envs; ++k) envs_.emplace_back(layout, options);
  done_.assign(size_t(num_envs), 0);
  final_success_.assign(size_t(num_envs), 0);
}

Tensor PointMazeBatch::reset(uint64_t seed) {
  const int n = size();
  last_obs_ = Tensor::empty({n, 2}, engine::DType::F32);
  float* o = last_obs_.mutable_data<float>();
  for (int k = 0; k < n; ++k) {
    Rng rng = Rng::stream(seed, uint64_t(k));
    const auto ob = envs_[size_t(k)].reset(rng);
    o[2 * k] = float(ob[0]);
    o[2 * k + 1] = float(ob[1]);
  }
  done_.assign(size_t(n), 0);
  final_success_.assign(size_t(n), 0);
  started_ = true;
  return last_obs_;
}

PointMazeBatchStep PointMazeBatch::step(const Tensor& actions) {
  const int n = size();
  if (!started_)
    fail(ErrorKind::Value, "PointMazeBatch::step", "called before reset", "call reset(seed) first");
  if (!actions.defined() || !actions.is_concrete())
    fail(ErrorKind::Value, "PointMazeBatch::step", "actions are not a concrete tensor",
         "pass host values (not a tracer) of shape [num_envs, 2]");
  if (actions.ndim() != 2 || actions.dim(0) != n || actions.dim(1) != 2 ||
      (actions.dtype() != engine::DType::F32 && actions.dtype() != engine::DType::F64))
    fail(ErrorKind::Shape, "PointMazeBatch::step",
         "actions are " + actions.aval().str() + ", expected f32[" + std::to_string(n) + ",2] (or f64)",
         "pass one (x, y) action row per env, as f32 or f64");
  std::vector<double> a(size_t(2 * n));
  if (actions.dtype() == engine::DType::F32) {
    std::vector<float> f = actions.to_vector<float>();
    std::copy(f.begin(), f.end(), a.begin());
  } else {
    a = actions.to_vector<double>();
  }
  for (int k = 0; k < n; ++k)
    if (!done_[size_t(k)])
      check_action_values("PointMazeBatch::step", a[size_t(2 * k)], a[size_t(2 * k + 1)],
                          " row " + std::to_string(k));

  PointMazeBatchStep out;
  Tensor obs = Tensor::empty({n, 2}, engine::DType::F32);
  std::memcpy(obs.mutable_data<float>(), last_obs_.data<float>(), sizeof(float) * size_t(2 * n));
  std::vector<float> rewards(size_t(n), 0.f);
  out.terminated.assign(size_t(n), 0);
  out.truncated.assign(size_t(n), 0);
  out.success.assign(size_t(n), 0);
  float* o = obs.mutable_data<float>();
  for (int k = 0; k < n; ++k) {
    if (done_[size_t(k)]) continue;
    const PointMazeStep r = envs_[size_t(k)].step(a[size_t(2 * k)], a[size_t(2 * k + 1)]);
    o[2 * k] = float(r.obs[0]);
    o[2 * k + 1] = float(r.obs[1]);
    rewards[size_t(k)] = float(r.reward);
    out.terminated[size_t(k)] = r.terminated;
    out.truncated[size_t(k)] = r.truncated;
    out.success[size_t(k)] = r.success;
    if (r.terminated || r.truncated) {
      done_[size_t(k)] = 1;
      final_success_[size_t(k)] = r.success;
    }
  }
  last_obs_ = obs;
  out.obs = obs;
  out.rewards = Tensor::from_vector(rewards, {n});
  return out;
}

bool PointMazeBatch::all_done() const {
  return std::all_of(done_.begin(), done_.end(), [](uint8_t d) { return d != 0; });
}

double PointMazeBatch::success_rate() const {
  double s = 0;
  for (uint8_t v : final_success_) s += v;
  return s / double(final_success_.size());
}

PointMaze& PointMazeBatch::env(int k) {
  if (k < 0 || k >= size())
    fail(ErrorKind::Value, "PointMazeBatch::env", "index " + std::to_string(k) + " is out of range",
         "use 0.." + std::to_string(size() - 1));
  return envs_[size_t(k)];
}

// ---------------------------------------------------------------------------------------------------------
// Relabelling

Dataset relabel_pointmaze_singletask(const Dataset& ds, const MazeLayout& layout, int task_id) {
  validate_dataset(ds);
  if (ds.obs_dim() != kPointMazeObsDim)
    fail(ErrorKind::Shape, "relabel_pointmaze_singletask",
         "data set '" + ds.source + "' has observations of width " + std::to_string(ds.obs_dim()) +
             ", expected 2 (x, y)",
         "relabel a point-maze navigate data set (observations = qpos)");
  const Vec2 g = layout.cell_center(layout.task(task_id).goal);
  const int64_t n = ds.size();
  const std::vector<float> obs = ds.observations.to_vector<float>();
  std::vector<float> rewards(static_cast<size_t>(n)), masks(static_cast<size_t>(n));
  for (int64_t t = 0; t < n; ++t) {
    const double dx = double(obs[size_t(2 * t)]) - g.x, dy = double(obs[size_t(2 * t + 1)]) - g.y;
    const bool success = std::sqrt(dx * dx + dy * dy) <= MazeLayout::kGoalTolerance;
    rewards[size_t(t)] = success ? 0.f : -1.f;
    masks[size_t(t)] = success ? 0.f : 1.f;
  }
  Dataset out = ds;
  out.rewards = Tensor::from_vector(rewards, {n});
  out.masks = Tensor::from_vector(masks, {n});
  out.has_rewards = true;
  return out;
}

}  // namespace rl
