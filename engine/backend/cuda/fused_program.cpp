// jit on CUDA: an optimized graph as a list of steps, where runs of elementwise equations over one shape
// become one kernel generated as CUDA source (fusion_codegen.h) and compiled with NVRTC (nvrtc.h), and every
// other equation runs its eager CUDA kernel (cuBLASLt matmuls, reductions, views, ...).
//
// Partition. Equations are visited in order. An elementwise equation whose operands and result all have the
// open group's shape joins it; its value stays in a register. Any other equation that does not read a value
// of the open group runs before the group's kernel (it cannot depend on it), so unrelated work such as the
// broadcast of a bias never splits a group; one that does read such a value closes the group first. A
// group's values leave registers only when a later step or the function's outputs use them. Groups of one
// equation run the eager kernel, which is the same code.
//
// Kernels are cached in memory per spec (FusedKernelSpec::key) and on disk by NVRTC. QGF_CUDA_FUSION=0 turns
// the fused path off (everything runs op by op), e.g. to compare the two.
//
// CUDA graphs (QGF_CUDA_GRAPHS=1; off by default until the replay path has been verified on a GPU). After two
// ordinary runs, the arguments are copied into staged device buffers, one more ordinary run on those buffers
// compiles and plans everything for their layouts, and then one run is captured, on a private stream, into a
// CUDA graph that reads the staged buffers and copies its results into static ones.
// Every later call copies its arguments into the staged buffers, replays the graph with one launch, and
// copies the results out into fresh tensors. The intermediates of the captured run are allocated and freed
// inside the graph (cudaMallocAsync nodes). If capture fails (an operation that cannot be captured), the
// program says why once and keeps running step by step.
#include "engine/backend/cuda/fused_program.h"

#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/backend/cuda/fusion_codegen.h"
#include "engine/backend/cuda/nvrtc.h"
#include "engine/backend/cuda/operands.h"
#include "engine/backend/cuda/runtime.h"
#include "engine/compile/executable.h"
#include "engine/interp/interpreter.h"
#include "ops/registry.h"

namespace engine::backend::cuda {

namespace {

bool fusion_enabled_by_env() {
  const char* v = std::getenv("QGF_CUDA_FUSION");
  return !(v && std::string(v) == "0");
}

bool graphs_enabled_by_env() {
  const char* v = std::getenv("QGF_CUDA_GRAPHS");
  return v && std::string(v) == "1";
}

size_t bytes_of(const Tensor& t) { return size_t(t.numel()) * itemsize(t.dtype()); }

// ---- compiled kernels, shared by all programs ----

struct LoadedKernel {
  cudaLibrary_t library = nullptr;
  cudaKernel_t kernel = nullptr;
};

std::string device_arch() {
  int dev = 0, major = 0, minor = 0;
  check(cudaGetDevice(&dev), "cuda fusion", "cudaGetDevice");
  check(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev), "cuda fusion",
        "compute capability");
  check(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev), "cuda fusion",
        "compute capability");
  return "sm_" + std::to_string(major) + std::to_string(minor);
}

// Compiles (or finds) the kernel of a spec; throws engine::Error when NVRTC or the load fails.
const LoadedKernel* kernel_for(const FusedKernelSpec& spec) {
  static std::mutex mu;
  static std::map<std::string, LoadedKernel> cache;  // kept for the process: a few dozen kernels at most
  static const std::string arch = device_arch();
  std::lock_guard<std::mutex> lock(mu);
  const std::string key = spec.key();
  if (auto it = cache.find(key); it != cache.end()) return &it->second;
  // Named by the spec, so the same kernel has the same source (and disk-cache entry) in every process.
  char name_buf[40];
  std::snprintf(name_buf, sizeof name_buf, "qgf_fused_%016llx", static_cast<unsigned long long>(fnv1a(key)));
  const std::string name = name_buf;
  const CompiledCode code = nvrtc_compile(fused_kernel_source(spec, name), name, arch);
  LoadedKernel k;
  check(cudaLibraryLoadData(&k.library, code.image.data(), nullptr, nullptr, 0, nullptr, nullptr, 0),
        "cuda fusion", "cudaLibraryLoadData (loading a fused kernel)");
  check(cudaLibraryGetKernel(&k.kernel, k.library, name.c_str()), "cuda fusion", "cudaLibraryGetKernel");
  return &cache.emplace(key, k).first->second;
}

struct Dims {
  int64_t v[kMaxRank] = {};
};

// 40 inputs x 72 bytes + 48 outputs x 8 bytes + 72 bytes: under 4 KiB of kernel parameters.
constexpr size_t kMaxGroupEqns = 48, kMaxGroupInputs = 40;

}  // namespace

// ---- the partition ----

std::vector<PlannedStep> partition_for_cuda(const Graph& g) {
  std::vector<PlannedStep> steps;
  // Uses of each variable by equations (by index) and by the outputs.
  std::vector<std::vector<int>> users(g.vars.size());
  for (size_t k = 0; k < g.eqns.size(); ++k)
    for (int v : g.eqns[k].inputs) users[size_t(v)].push_back(int(k));
  std::vector<bool> is_output(g.vars.size(), false);
  for (int v : g.outputs) is_output[size_t(v)] = true;

  PlannedStep open;         // the open group (kind Fused while it has members)
  std::set<int> open_vars;  // values computed in the open group
  std::set<int> open_ext;   // values it reads from outside
  Shape open_shape;
  auto close = [&] {
    if (open.eqns.empty()) return;
    std::set<int> members(open.eqns.begin(), open.eqns.end());
    if (open.eqns.size() == 1) {
      open.kind = PlannedStep::Kind::Op;
    } else {
      for (int k : open.eqns)
        for (int v : g.eqns[size_t(k)].outputs) {
          bool outside = is_output[size_t(v)];
          for (int u : users[size_t(v)]) outside = outside || !members.count(u);
          if (outside) open.outputs.push_back(v);
        }
    }
    if (open.kind == PlannedStep::Kind::Fused && open.outputs.empty()) {
      // Nothing leaves the group (dead code, which the passes remove; a graph built by hand may keep it):
      // its equations run one by one, so every equation still has a step.
      for (int k : open.eqns) {
        PlannedStep op;
        op.eqns = {k};
        steps.push_back(std::move(op));
      }
      open = PlannedStep{};
      open_vars.clear();
      return;
    }
    steps.push_back(std::move(open));
    open = PlannedStep{};
    open_vars.clear();
    open_ext.clear();
  };
  for (size_t k = 0; k < g.eqns.size(); ++k) {
    const Equation& eq = g.eqns[k];
    bool reads_open = false;
    for (int v : eq.inputs) reads_open = reads_open || open_vars.count(v);
    bool fusable = fusable_op(eq.prim).has_value() && eq.outputs.size() == 1 && eq.inputs.size() <= 3;
    const Shape out_shape = fusable ? g.vars[size_t(eq.outputs[0])].shape : Shape{};
    fusable = fusable && out_shape.size() <= size_t(kMaxRank);
    for (int v : eq.inputs) fusable = fusable && g.vars[size_t(v)].shape == out_shape;
    // Another shape starts a new group; so does a group at its parameter budget (each input is 72 bytes of
    // kernel parameters and each output 8, limited to 4 KiB on older toolchains).
    if (fusable && !open.eqns.empty()) {
      size_t new_inputs = 0;
      for (int v : eq.inputs) new_inputs += !open_vars.count(v) && !open_ext.count(v);
      if (out_shape != open_shape || open.eqns.size() >= kMaxGroupEqns ||
          open_ext.size() + new_inputs > kMaxGroupInputs)
        close();
    }
    if (fusable) {
      if (open.eqns.empty()) {
        open.kind = PlannedStep::Kind::Fused;
        open_shape = out_shape;
      }
      open.eqns.push_back(int(k));
      for (int v : eq.inputs)
        if (!open_vars.count(v)) open_ext.insert(v);
      open_vars.insert(eq.outputs[0]);
      continue;
    }
    if (reads_open) close();
    PlannedStep op;
    op.kind = PlannedStep::Kind::Op;
    op.eqns = {int(k)};
    steps.push_back(std::move(op));  // before the open group, which it does not read
  }
  close();
  return steps;
}

namespace {

// ---- running ----

class CudaProgram final : public DeviceProgram {
 public:
  explicit CudaProgram(const Graph& g) : g_(g), steps_(partition_for_cuda(g)) {
    // The last step that reads each variable, so values are dropped as soon as they are dead.
    last_use_.assign(g.vars.size(), -1);
    for (size_t s = 0; s < steps_.size(); ++s)
      for (int k : steps_[s].eqns)
        for (int v : g.eqns[size_t(k)].inputs) last_use_[size_t(v)] = int(s);
    for (int v : g.outputs) last_use_[size_t(v)] = int(steps_.size());
    for (PlannedStep& st : steps_) {
      fused_.emplace_back();
      if (st.kind == PlannedStep::Kind::Fused) fused_.back().spec = make_spec(st);
    }
  }

  ~CudaProgram() override {
    if (exec_) (void)cudaGraphExecDestroy(exec_);
  }

  std::vector<Tensor> run(const std::vector<Tensor>& args) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (graphs_ && !graph_failed_ && runs_ >= 2) {
      if (std::optional<std::vector<Tensor>> out = replay(args)) return std::move(*out);
    }
    ++runs_;
    return run_steps(args);
  }

 private:
  // Per step: a fused step's spec and its kernels, one per layout of its inputs (2 bits per input).
  struct FusedStep {
    FusedKernelSpec spec;
    std::map<std::string, const LoadedKernel*> kernels;  // by the read modes, one char per input
    bool eager = false;  // its kernel could not be built: the equations run one by one
  };

  std::vector<Tensor> run_steps(const std::vector<Tensor>& args) {
    std::vector<Tensor> env(g_.vars.size());
    for (size_t i = 0; i < args.size(); ++i) env[size_t(g_.inputs[i])] = args[i];
    if (consts_.empty() && !g_.consts.empty()) {  // moved once: they are the same every run
      std::vector<Tensor> moved;
      for (const Tensor& c : g_.const_values) moved.push_back(to_device(c, Device::CUDA));
      consts_ = std::move(moved);
    }
    for (size_t i = 0; i < g_.consts.size(); ++i) env[size_t(g_.consts[i])] = consts_[i];
    for (size_t s = 0; s < steps_.size(); ++s) {
      const PlannedStep& st = steps_[s];
      if (st.kind == PlannedStep::Kind::Fused && !fused_[s].eager) {
        run_fused(st, fused_[s], env);
      } else {
        for (int k : st.eqns) run_eager(g_.eqns[size_t(k)], env);
      }
      for (int k : st.eqns)
        for (int v : g_.eqns[size_t(k)].inputs)
          if (last_use_[size_t(v)] == int(s)) env[size_t(v)] = Tensor();
    }
    std::vector<Tensor> out;
    for (int v : g_.outputs) out.push_back(env[size_t(v)]);
    return out;
  }

  void run_eager(const Equation& eq, std::vector<Tensor>& env) {
    UserLocScope loc(eq.loc, /*force=*/true);
    std::vector<Tensor> ins;
    for (int v : eq.inputs) ins.push_back(env[size_t(v)]);
    std::vector<Tensor> outs = bind(eq.prim, ins, eq.params);
    ins.clear();  // not kept past the equation: values are dropped at their last use
    for (size_t i = 0; i < outs.size(); ++i) env[size_t(eq.outputs[i])] = std::move(outs[i]);
  }

  // ---- CUDA graphs ----

  void give_up_graphs(const std::string& why) {
    graph_failed_ = true;
    staged_.clear();
    results_.clear();
    if (exec_) (void)cudaGraphExecDestroy(exec_);
    exec_ = nullptr;
    std::fprintf(stderr, "qgf: note: a jitted function runs without CUDA-graph replay: %s\n", why.c_str());
  }

  // Copies this call's arguments into the staged buffers (on the current stream).
  void stage(const std::vector<Tensor>& args) {
    for (size_t i = 0; i < args.size(); ++i) {
      if (bytes_of(args[i]) == 0) continue;
      const Tensor a = args[i].device() == Device::CUDA ? args[i] : to_device(args[i], Device::CUDA);
      check(cudaMemcpyAsync(const_cast<void*>(staged_[i].device_data()), a.device_data(), bytes_of(a),
                            cudaMemcpyDeviceToDevice, stream()),
            "cuda graph", "cudaMemcpyAsync (argument)");
    }
  }

  // Captures one run that reads the staged buffers and writes the static results; false (after a note)
  // when the run cannot be captured.
  bool capture(const std::vector<Tensor>& args) {
    std::string failure;
    cudaStream_t cap = nullptr;
    try {
      staged_.clear();
      results_.clear();
      for (const Tensor& a : args) {
        staged_.push_back(empty(a.shape(), a.dtype()));
        staged_.back().impl()->aval.weak = a.weak();
      }
      for (int v : g_.outputs) results_.push_back(empty(g_.vars[size_t(v)].shape, g_.vars[size_t(v)].dtype));
      stage(args);
      // One ordinary run on exactly these buffers first: kernels for their layouts are compiled and loaded,
      // and matmuls planned for their alignment, before the capture (neither is a stream operation).
      (void)run_steps(staged_);
      check(cudaStreamSynchronize(stream()), "cuda graph", "cudaStreamSynchronize before capture");
      // A private stream: other threads keep using the shared one, and their work stays out of the graph.
      check(cudaStreamCreateWithFlags(&cap, cudaStreamNonBlocking), "cuda graph", "cudaStreamCreate");
    } catch (const std::exception& e) {
      failure = e.what();
    }
    cudaGraph_t graph = nullptr;
    if (failure.empty()) {
      StreamOverride on(cap);
      if (cudaStreamBeginCapture(cap, cudaStreamCaptureModeThreadLocal) != cudaSuccess) {
        failure = "cudaStreamBeginCapture failed";
      } else {
        try {
          std::vector<Tensor> outs = run_steps(staged_);
          for (size_t k = 0; k < outs.size() && failure.empty(); ++k) {
            if (outs[k].device() != Device::CUDA || !outs[k].is_contiguous())
              failure = "output " + std::to_string(k) + " is not a dense device tensor";
            else if (bytes_of(outs[k]) > 0)
              check(cudaMemcpyAsync(const_cast<void*>(results_[k].device_data()), outs[k].device_data(),
                                    bytes_of(outs[k]), cudaMemcpyDeviceToDevice, cap),
                    "cuda graph", "cudaMemcpyAsync (result)");
          }
        } catch (const std::exception& e) {  // everything allocated in the capture is freed by now
          failure = e.what();
        }
        const cudaError_t end = cudaStreamEndCapture(cap, &graph);
        if (failure.empty() && end != cudaSuccess)
          failure = std::string("cudaStreamEndCapture: ") + cudaGetErrorString(end);
      }
    }
    if (failure.empty()) {
      const cudaError_t inst = cudaGraphInstantiate(&exec_, graph, 0);
      if (inst != cudaSuccess) failure = std::string("cudaGraphInstantiate: ") + cudaGetErrorString(inst);
    }
    if (graph) (void)cudaGraphDestroy(graph);
    if (cap) (void)cudaStreamDestroy(cap);
    (void)cudaGetLastError();  // a failed capture leaves its error behind; it must not reach the next launch
    if (!failure.empty()) {
      give_up_graphs(failure);
      return false;
    }
    return true;
  }

  // Nothing (and the caller runs step by step) when graphs cannot serve this call.
  std::optional<std::vector<Tensor>> replay(const std::vector<Tensor>& args) {
    for (const Tensor& a : args)
      if (a.device() == Device::CUDA && !a.is_contiguous()) return std::nullopt;  // rare: views as arguments
    if (!exec_ && !capture(args)) return std::nullopt;
    cudaStream_t st = stream();
    stage(args);
    if (const cudaError_t e = cudaGraphLaunch(exec_, st); e != cudaSuccess) {
      (void)cudaGetLastError();
      give_up_graphs(std::string("cudaGraphLaunch: ") + cudaGetErrorString(e));
      return std::nullopt;
    }
    std::vector<Tensor> out;
    for (size_t k = 0; k < results_.size(); ++k) {
      Tensor t = empty(results_[k].shape(), results_[k].dtype());
      t.impl()->aval.weak = g_.vars[size_t(g_.outputs[k])].weak;
      if (bytes_of(t) > 0)
        check(cudaMemcpyAsync(const_cast<void*>(t.device_data()), results_[k].device_data(), bytes_of(t),
                              cudaMemcpyDeviceToDevice, st),
              "cuda graph", "cudaMemcpyAsync (result)");
      out.push_back(std::move(t));
    }
    return out;
  }

  // ---- fused steps ----

  // Registers: the group's outside operands (in first-use order), then one per equation.
  FusedKernelSpec make_spec(PlannedStep& st) {
    FusedKernelSpec spec;
    std::map<int, int> reg;  // variable -> register
    std::set<int> defined;
    for (int k : st.eqns) defined.insert(g_.eqns[size_t(k)].outputs[0]);
    spec.rank = int(g_.vars[size_t(g_.eqns[size_t(st.eqns[0])].outputs[0])].shape.size());
    for (int k : st.eqns)
      for (int v : g_.eqns[size_t(k)].inputs)
        if (!reg.count(v) && !defined.count(v)) {
          reg[v] = int(spec.inputs.size());
          st.inputs.push_back(v);
          spec.inputs.push_back({dt(g_.vars[size_t(v)].dtype), FusedKernelSpec::Input::Read::Contiguous});
        }
    for (int k : st.eqns) {
      const Equation& eq = g_.eqns[size_t(k)];
      FusedKernelSpec::Instr in;
      in.op = *fusable_op(eq.prim);
      in.nargs = int(eq.inputs.size());  // at most 3: the partition checks it
      for (int a = 0; a < in.nargs; ++a) in.args[a] = reg.at(eq.inputs[size_t(a)]);
      in.value = dt(g_.vars[size_t(eq.inputs[in.op == EwOp::select ? 1 : 0])].dtype);
      in.out = dt(g_.vars[size_t(eq.outputs[0])].dtype);
      reg[eq.outputs[0]] = int(spec.inputs.size() + spec.instrs.size());
      spec.instrs.push_back(in);
    }
    for (int v : st.outputs) spec.outputs.push_back({reg.at(v)});
    return spec;
  }

  // The read modes depend on the operands' layouts, known only now: one kernel per combination. A kernel
  // that cannot be built (NVRTC missing an architecture, say) turns the step eager, after a note.
  void run_fused(const PlannedStep& st, FusedStep& fs, std::vector<Tensor>& env) {
    const Shape& shape = g_.vars[size_t(st.outputs[0])].shape;
    const IndexSpace space = index_space(shape, "cuda fusion");
    std::vector<Tensor> in(st.inputs.size());
    std::vector<Dims> strides(st.inputs.size());
    std::string modes(st.inputs.size(), char(0));
    for (size_t i = 0; i < st.inputs.size(); ++i) {
      in[i] = env[size_t(st.inputs[i])];
      if (in[i].device() != Device::CUDA) in[i] = to_device(in[i], Device::CUDA);
      const Operand o = operand(in[i]);
      bool scalar = true;
      for (int d = 0; d < space.rank; ++d) {
        strides[i].v[d] = o.strides[d];
        scalar = scalar && (o.strides[d] == 0 || space.shape[d] == 1);
      }
      modes[i] = char(o.contiguous ? FusedKernelSpec::Input::Read::Contiguous
                      : scalar     ? FusedKernelSpec::Input::Read::Scalar
                                   : FusedKernelSpec::Input::Read::Strided);
    }
    const LoadedKernel* kernel = nullptr;
    if (space.numel > 0) {
      auto it = fs.kernels.find(modes);
      if (it == fs.kernels.end()) {
        FusedKernelSpec spec = fs.spec;
        for (size_t i = 0; i < modes.size(); ++i)
          spec.inputs[i].read = FusedKernelSpec::Input::Read(modes[i]);
        try {
          it = fs.kernels.emplace(modes, kernel_for(spec)).first;
        } catch (const std::exception& e) {
          std::fprintf(stderr,
                       "qgf: note: a fused CUDA kernel could not be built; its ops run one by one: %s\n",
                       e.what());
          fs.eager = true;
          for (int k : st.eqns) run_eager(g_.eqns[size_t(k)], env);
          return;
        }
      }
      kernel = it->second;
    }
    std::vector<Tensor> out;
    for (int v : st.outputs) {
      Tensor t = empty(shape, g_.vars[size_t(v)].dtype);
      t.impl()->aval.weak = g_.vars[size_t(v)].weak;
      out.push_back(t);
    }
    if (kernel) {
      int64_t numel = space.numel;
      Dims dims;
      for (int d = 0; d < space.rank; ++d) dims.v[d] = space.shape[d];
      std::vector<const void*> ptrs;
      for (const Tensor& t : in) ptrs.push_back(t.device_data());
      for (const Tensor& t : out) ptrs.push_back(t.device_data());
      std::vector<void*> params = {&numel, &dims};
      for (size_t i = 0; i < in.size(); ++i) {
        params.push_back(&ptrs[i]);
        params.push_back(&strides[i]);
      }
      for (size_t i = 0; i < out.size(); ++i) params.push_back(&ptrs[in.size() + i]);
      check(cudaLaunchKernel(reinterpret_cast<const void*>(kernel->kernel), dim3(grid_for(numel)),
                             dim3(kThreads), params.data(), 0, stream()),
            "cuda fusion", "cudaLaunchKernel (a fused kernel)");
    }
    for (size_t i = 0; i < st.outputs.size(); ++i) env[size_t(st.outputs[i])] = std::move(out[i]);
  }

  const Graph& g_;  // owned by the executable, which owns this program
  std::vector<PlannedStep> steps_;
  std::vector<FusedStep> fused_;  // per step (used by Fused steps)
  std::vector<int> last_use_;
  std::vector<Tensor> consts_;
  std::mutex mu_;
  // CUDA graphs
  bool graphs_ = graphs_enabled_by_env();
  bool graph_failed_ = false;
  int runs_ = 0;
  cudaGraphExec_t exec_ = nullptr;
  std::vector<Tensor> staged_, results_;  // the captured run's arguments and results
};

std::unique_ptr<DeviceProgram> compile_for_cuda(const Graph& g) {
  if (!fusion_enabled_by_env()) return nullptr;
  if (!nvrtc_available()) {
    static std::once_flag note;
    std::call_once(note, [] {
      std::fprintf(stderr, "qgf: note: jit on CUDA runs op by op (no fused kernels): %s\n",
                   nvrtc_unavailable_reason().c_str());
    });
    return nullptr;
  }
  return std::make_unique<CudaProgram>(g);
}

}  // namespace

void register_fused_programs() { register_device_compiler(Device::CUDA, compile_for_cuda); }

}  // namespace engine::backend::cuda
