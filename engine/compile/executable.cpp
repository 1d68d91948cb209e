// Lowering and running compiled graphs.
#include "engine/compile/executable.h"

#include "engine/compile/passes.h"
#include "engine/compile/program.h"
#include "engine/interp/interpreter.h"

namespace engine {

Executable::~Executable() = default;

const Program& Executable::program() const {
  std::call_once(lowered_, [&] { program_ = lower(graph, donated); });
  return *program_;
}

std::string Executable::program_str() const { return program().str(graph); }

void Executable::run(std::span<const Tensor> args, std::span<Tensor> results) const {
  for (const Tensor& a : args)
    if (a.device() != Device::CPU) return run_on_device(a.device(), args, results);
  program().run(args, results);
}

namespace {
DeviceCompiler g_device_compilers[2] = {};
}  // namespace

void register_device_compiler(Device d, DeviceCompiler compiler) { g_device_compilers[size_t(d)] = compiler; }

// Device inputs: the device's compiled program when its backend provides one, else the optimized graph op by
// op on the device's eager kernels. Either way the device is the default, so the graph's host constants
// follow the inputs there.
void Executable::run_on_device(Device d, std::span<const Tensor> args, std::span<Tensor> results) const {
  InterpreterScope scope(eval_interpreter());
  DeviceScope on(d);
  std::call_once(device_lowered_, [&] {
    if (DeviceCompiler c = g_device_compilers[size_t(d)]) device_program_ = c(graph);
  });
  std::vector<Tensor> in(args.begin(), args.end());
  std::vector<Tensor> outs = device_program_ ? device_program_->run(in) : eval_graph(graph, in);
  for (size_t i = 0; i < outs.size(); ++i) results[i] = std::move(outs[i]);
}

std::vector<Tensor> Executable::run(const std::vector<Tensor>& args) const {
  std::vector<Tensor> results(graph.outputs.size());
  run(std::span<const Tensor>(args), std::span<Tensor>(results));
  return results;
}

std::shared_ptr<Executable> compile(const Graph& g, CompileOptions options) {
  auto exe = std::make_shared<Executable>();
  exe->graph = passes::run_passes(g);
  if (options.remat_elementwise) exe->graph = passes::remat_elementwise(exe->graph);
  exe->donated = std::move(options.donated);
  return exe;
}

std::shared_ptr<Executable> compiled_of(const Graph& g) {
  std::lock_guard<std::mutex> lock(g.cache->mu);
  if (!g.cache->compiled) g.cache->compiled = compile(g);
  return g.cache->compiled;
}

}  // namespace engine
