// qgf_bridge: the Python extension module that lets OGBench's official environments (Python only: they need
// MuJoCo 3) drive qgf_offline's C++ agents. Three entry points:
//  * main(argv, make_env): runs the qgf_offline program in-process (evaluate, train, ...) with `make_env`
//    supplying the episodes of an OGBench task, so evaluation, the validation-chosen sweep, the tables and
//    the plots are exactly the program's own;
//  * Agent(results): a trained run as a policy, sampling action chunks for a batch of observations;
//  * load_dataset(path, env, task): a data set as the trainer reads it, before it clips the actions to
//    +-(1 - 1e-5) (for checks against OGBench's loader).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <string>
#include <vector>

#include "engine/core/error.h"
#include "examples/qgf_offline/app.h"
#include "examples/qgf_offline/config.h"
#include "examples/qgf_offline/env.h"
#include "examples/qgf_offline/ogbench_env.h"
#include "examples/qgf_offline/policy.h"

namespace py = pybind11;
using namespace pybind11::literals;

namespace qgf_bridge {

using engine::Tensor;
using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

Tensor to_tensor(const FloatArray& a) {
  std::vector<int64_t> shape(a.shape(), a.shape() + a.ndim());
  return Tensor::from_vector(std::vector<float>(a.data(), a.data() + a.size()), engine::Shape(shape));
}

py::array_t<float> to_array(const Tensor& t) {
  const std::vector<float> v = t.to_vector<float>();
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
  py::array_t<float> out(shape);
  std::memcpy(out.mutable_data(), v.data(), v.size() * sizeof(float));
  return out;
}

// `what` of a Python environment must be a 1-D array of `n` numbers: returned as floats.
std::vector<float> vector_of(const py::handle& x, size_t n, const std::string& what) {
  const FloatArray a = FloatArray::ensure(x);
  if (!a || a.ndim() != 1 || size_t(a.size()) != n)
    throw std::runtime_error("the Python environment's step() returned " + what + " of shape " +
                             py::str(py::getattr(x, "shape", py::str("?"))).cast<std::string>() +
                             "; expected [" + std::to_string(n) + "]");
  return std::vector<float>(a.data(), a.data() + n);
}

// A batch of episodes stepped in Python: any object with obs_dim, action_dim and max_steps attributes,
// reset(batch, seed) -> obs [B, obs_dim] and step(actions [B, action_dim]) -> (obs, reward [B], done [B],
// success [B]) (examples/ogbench/vec_env.py). It reports the Python environment's own sizes, which
// OgbenchEnv checks against what the program expects.
class PyEnv : public qgf_offline::Env {
 public:
  PyEnv(py::object env, std::string name)
      : env_(std::move(env)),
        name_(std::move(name)),
        obs_dim_(env_.attr("obs_dim").cast<int64_t>()),
        action_dim_(env_.attr("action_dim").cast<int64_t>()),
        max_steps_(env_.attr("max_steps").cast<int>()) {}
  std::string name() const override { return name_; }
  int64_t obs_dim() const override { return obs_dim_; }
  int64_t action_dim() const override { return action_dim_; }
  int max_steps() const override { return max_steps_; }

  Tensor reset(int64_t batch, uint64_t seed) override {
    batch_ = batch;
    return observations(env_.attr("reset")(batch, seed), "reset()");
  }

  qgf_offline::StepResult step(const Tensor& actions) override {
    const py::object r = env_.attr("step")(to_array(actions));
    if (!py::isinstance<py::tuple>(r) || py::len(r) != 4)
      throw std::runtime_error("the Python environment's step() must return (obs, reward, done, success)");
    const py::tuple t = r.cast<py::tuple>();
    qgf_offline::StepResult s;
    s.obs = observations(t[0], "step()");
    const size_t n = size_t(batch_);
    s.reward = vector_of(t[1], n, "reward");
    const std::vector<float> done = vector_of(t[2], n, "done"), success = vector_of(t[3], n, "success");
    s.done.assign(done.begin(), done.end());  // 0/1 flags
    s.success.assign(success.begin(), success.end());
    return s;
  }

 private:
  Tensor observations(const py::handle& x, const char* call) const {
    const FloatArray a = FloatArray::ensure(x);
    if (!a || a.ndim() != 2 || a.shape(0) != batch_ || a.shape(1) != obs_dim_)
      throw std::runtime_error(
          std::string("the Python environment's ") + call + " returned observations of shape " +
          py::str(py::getattr(x, "shape", py::str("?"))).cast<std::string>() + "; expected [" +
          std::to_string(batch_) + ", " + std::to_string(obs_dim_) + "] for " + name_);
    return to_tensor(a);
  }
  py::object env_;
  std::string name_;
  int64_t obs_dim_, action_dim_;
  int max_steps_;
  int64_t batch_ = 0;
};

// Installs make_env as the program's episode backend for one call of main().
class FactoryScope {
 public:
  explicit FactoryScope(py::object make_env) {
    if (make_env.is_none()) return;
    qgf_offline::set_external_env_factory(
        [make_env](const qgf_offline::OgbenchSpec& spec, int task) -> std::unique_ptr<qgf_offline::Env> {
          return std::make_unique<PyEnv>(make_env(spec.name, task), spec.name);
        });
  }
  ~FactoryScope() { qgf_offline::set_external_env_factory({}); }
  FactoryScope(const FactoryScope&) = delete;
  FactoryScope& operator=(const FactoryScope&) = delete;
};

int run_main(const std::vector<std::string>& args, py::object make_env) {
  FactoryScope scope(std::move(make_env));
  std::vector<std::string> argv_s = {"qgf_offline"};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  py::module_::import("sys").attr("stdout").attr("flush")();
  return qgf_offline_main(int(argv_s.size()), argv.data());
}

py::dict load_dataset(const std::string& path, const std::string& env, int task) {
  qgf_offline::Config cfg;
  cfg.env = env;
  cfg.task = task;
  const std::unique_ptr<qgf_offline::Env> e = qgf_offline::make_env(cfg);  // checks the name and the task
  const rl::Dataset ds = e->prepare_dataset(rl::load_dataset(path, e->dataset_members()));
  return py::dict("observations"_a = to_array(ds.observations), "actions"_a = to_array(ds.actions),
                  "rewards"_a = to_array(ds.rewards), "masks"_a = to_array(ds.masks),
                  "terminals"_a = to_array(ds.terminals),
                  "next_observations"_a = to_array(ds.next_observations));
}

}  // namespace qgf_bridge

PYBIND11_MODULE(qgf_bridge, m) {
  using namespace qgf_bridge;
  using qgf_offline::Policy;
  m.doc() = "qgf_offline's C++ agents for OGBench's official environments (docs/ogbench.md)";
  py::register_exception<qgf_offline::UsageError>(m, "UsageError", PyExc_ValueError);

  m.def(
      "main", &run_main, "args"_a, "make_env"_a = py::none(),
      "Runs `qgf_offline ARGS...` in this process; make_env(env_name, task) returns the batched environment\n"
      "for OGBench tasks (vec_env.OgbenchVecEnv). Returns the exit code (0 done, 1 error, 2 usage, 130 "
      "Ctrl-C).");

  py::class_<Policy>(m, "Agent",
                     "A trained qgf_offline run: sample(obs, method, value, seed) -> chunks [B, H, A]")
      .def(py::init<const std::string&, const std::string&, const std::string&>(), "results"_a,
           "checkpoint"_a = "", "device"_a = "")
      .def(
          "sample",
          [](Policy& p, const FloatArray& obs, const std::string& method, double value, uint64_t seed) {
            const Tensor o = to_tensor(obs);
            Tensor chunks;
            {
              py::gil_scoped_release release;  // the sampler runs in C++ (and OpenMP) only
              chunks = p.sample(o, method, value, seed);
            }
            return to_array(chunks);
          },
          "obs"_a, "method"_a = "QGF", "value"_a = 0.0, "seed"_a = 0,
          "Action chunks [B, horizon, action_dim] for observations [B, obs_dim]; value is the guidance "
          "weight\n"
          "(GradStep: its step size); the noise depends only on seed.")
      .def_property_readonly("env", [](const Policy& p) { return p.config().env; })
      .def_property_readonly("task", [](const Policy& p) { return p.config().task; })
      .def_property_readonly("horizon", [](const Policy& p) { return p.config().horizon; })
      .def_property_readonly("methods", [](const Policy& p) { return p.config().methods; })
      .def_property_readonly("obs_dim", &Policy::obs_dim)
      .def_property_readonly("action_dim", &Policy::action_dim)
      .def_property_readonly("checkpoint_step", &Policy::checkpoint_step);

  m.def("load_dataset", &load_dataset, "path"_a, "env"_a, "task"_a,
        "The data set at `path` as qgf_offline reads it for (env, task), before clipping the actions: a dict "
        "of\n"
        "float32 arrays.");
  m.def(
      "ogbench_specs",
      [] {
        py::list out;
        for (const qgf_offline::OgbenchSpec& s : qgf_offline::ogbench_specs())
          out.append(py::dict("name"_a = s.name, "obs_dim"_a = s.obs_dim, "action_dim"_a = s.action_dim,
                              "max_steps"_a = s.max_steps, "default_task"_a = s.default_task));
        return out;
      },
      "The OGBench tasks the program knows, with the dimensions and episode limits it expects.");
}
