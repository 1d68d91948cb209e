// The interpreter stack, bind, the user-location scope, and the root Eval interpreter that runs kernels.
#include "engine/interp/interpreter.h"

#include <atomic>

#include "ops/registry.h"

namespace engine {

namespace {
std::atomic<uint64_t> g_next_id{1};
thread_local uint64_t t_dispatches = 0;

class EvalInterpreter final : public Interpreter {
 public:
  EvalInterpreter() : Interpreter(nullptr) {}
  const char* kind() const override { return "eval"; }
  std::vector<Tensor> process(ops::Prim prim, const std::vector<Tensor>& inputs,
                              const ops::Params& params) override {
    const ops::PrimDef& d = ops::def(prim);
    ++t_dispatches;
    std::vector<AVal> in_avals;
    in_avals.reserve(inputs.size());
    Device device = Device::CPU;
    for (const Tensor& t : inputs) {
      if (!t.defined())
        throw Error(ErrorKind::Internal, std::string("[") + d.name + "] null operand reached the evaluator");
      owned(t, prim);  // a tracer here has escaped its transform: this throws
      in_avals.push_back(t.aval());
      if (t.device() != Device::CPU) device = t.device();
    }
    if (!d.shape)
      raise(ErrorKind::Unsupported, d.name, "has no shape rule registered", in_avals, current_user_loc());
    std::vector<AVal> out_avals = d.shape(in_avals, params);
    if (device == Device::CPU && default_device() != Device::CPU) device = default_device();
    if (device != Device::CPU) [[unlikely]]
      return run_on_device(d, device, inputs, in_avals, out_avals, params);
    if (!d.cpu)
      raise(ErrorKind::Unsupported, d.name, "has no CPU kernel: " + d.why_absent(ops::Rule::CpuKernel),
            in_avals, current_user_loc());
    return keep_weak_bits(d.cpu(inputs, out_avals, params), out_avals);
  }

 private:
  // An op with an operand on a device, or any op while the default device is not the CPU, runs there. Host
  // operands follow it when they are scalars or when the device is the default; otherwise mixing is an error,
  // since a silent copy of a large host tensor at every call is a performance trap.
  std::vector<Tensor> run_on_device(const ops::PrimDef& d, Device device, const std::vector<Tensor>& inputs,
                                    const std::vector<AVal>& in_avals, const std::vector<AVal>& out_avals,
                                    const ops::Params& params) {
    const ops::Kernel& kernel = device == Device::CUDA ? d.cuda : d.cpu;
    if (!kernel)
      raise(ErrorKind::Unsupported, d.name,
            std::string("has no ") + device_name(device) + " kernel: " + d.why_absent(ops::Rule::CudaKernel),
            in_avals, current_user_loc());
    std::vector<Tensor> moved(inputs);
    for (Tensor& t : moved) {
      if (t.device() == device) continue;
      if (t.device() == Device::CPU && (t.numel() <= 1 || default_device() == device)) {
        t = to_device(t, device);
        continue;
      }
      std::string where;
      for (const Tensor& u : inputs) where += (where.empty() ? "" : ", ") + std::string(device_name(u.device()));
      raise(ErrorKind::Value, d.name, "operands live on different devices (" + where + ")", in_avals,
            current_user_loc(),
            "move them with engine::to_device(t, Device::CUDA), or make the device the default "
            "(engine::DeviceScope) so host operands follow it");
    }
    return keep_weak_bits(kernel(moved, out_avals, params), out_avals);
  }

  static std::vector<Tensor> keep_weak_bits(std::vector<Tensor> outs, const std::vector<AVal>& out_avals) {
    // Kernels compute in the output dtype; keep the weak bit the shape rule decided.
    for (size_t i = 0; i < outs.size(); ++i)
      if (outs[i].weak() != out_avals[i].weak) {
        if (outs[i].impl_ptr().use_count() == 1) {
          outs[i].impl()->aval.weak = out_avals[i].weak;
        } else {  // shared with an input (identity kernels): re-wrap as a view
          outs[i] = Tensor::make_concrete(out_avals[i], outs[i].storage(), outs[i].offset(), outs[i].strides());
        }
      }
    return outs;
  }
};

thread_local Interpreter* t_current = nullptr;
thread_local std::source_location t_user_loc;
thread_local bool t_user_loc_set = false;
}  // namespace

Interpreter::Interpreter(Interpreter* parent)
    : parent_(parent), id_(g_next_id.fetch_add(1)), depth_(parent ? parent->depth() + 1 : 0) {}

Tracer* Interpreter::owned(const Tensor& t, ops::Prim prim) const {
  Tracer* tr = t.tracer();
  if (!tr) return nullptr;
  if (tr->owner == id_) return tr;
  for (const Interpreter* p = parent_; p; p = p->parent_)
    if (p->id_ == tr->owner) return nullptr;
  raise(ErrorKind::EscapedTracer, ops::prim_name(prim),
        "got a traced value whose transform has already finished (it was created at " +
            (format_location(t.loc()).empty() ? std::string("an unknown place") : format_location(t.loc())) + ")",
        {{t.aval()}}, current_user_loc(),
        "do not store values from inside grad/vmap/jit in outer variables; return them from the function "
        "instead");
}

Interpreter* eval_interpreter() {
  static EvalInterpreter* e = new EvalInterpreter();  // leaked: used during static destruction too
  return e;
}

uint64_t eval_dispatch_count() { return t_dispatches; }

Interpreter* current_interpreter() { return t_current ? t_current : eval_interpreter(); }

InterpreterScope::InterpreterScope(Interpreter* interp) : saved_(t_current) { t_current = interp; }
InterpreterScope::~InterpreterScope() { t_current = saved_; }

std::vector<Tensor> bind(ops::Prim prim, const std::vector<Tensor>& inputs, const ops::Params& params) {
  return current_interpreter()->process(prim, inputs, params);
}

Tensor bind1(ops::Prim prim, const std::vector<Tensor>& inputs, const ops::Params& params) {
  auto outs = bind(prim, inputs, params);
  if (outs.size() != 1)
    throw Error(ErrorKind::Internal, std::string("[") + ops::prim_name(prim) + "] expected one output");
  return std::move(outs[0]);
}

const std::source_location& current_user_loc() {
  static const std::source_location none{};
  return t_user_loc_set ? t_user_loc : none;
}

UserLocScope::UserLocScope(const std::source_location& loc, bool force)
    : set_(force || !t_user_loc_set), saved_(t_user_loc), saved_has_(t_user_loc_set) {
  if (set_) {
    t_user_loc = loc;
    t_user_loc_set = true;
  }
}

UserLocScope::~UserLocScope() {
  if (set_) {
    t_user_loc = saved_;
    t_user_loc_set = saved_has_;
  }
}

}  // namespace engine
