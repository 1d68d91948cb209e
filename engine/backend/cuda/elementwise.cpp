// CUDA kernels of the elementwise families (unary, binary, compare, select, convert, stop_gradient): the
// host side. Each primitive maps to one EwOp of elementwise.cu; this file checks the operands, allocates the
// output and launches. Semantics are the CPU kernels' (engine/backend/cpu/elementwise.cpp).
#include <optional>
#include <string>

#include "engine/backend/cuda/elementwise_launch.h"
#include "engine/backend/cuda/fusion_codegen.h"
#include "engine/backend/cuda/kernels.h"
#include "engine/backend/cuda/operands.h"
#include "engine/backend/cuda/runtime.h"
#include "engine/core/device.h"
#include "engine/core/error.h"
#include "ops/registry.h"

namespace engine::backend::cuda {

namespace {

using ops::Prim;
using ops::TensorList;

struct Entry {
  Prim prim;
  EwOp op;
};

constexpr Entry kOps[] = {
    {Prim::neg, EwOp::neg},     {Prim::exp, EwOp::exp},       {Prim::log, EwOp::log},
    {Prim::log1p, EwOp::log1p}, {Prim::expm1, EwOp::expm1},   {Prim::sin, EwOp::sin},
    {Prim::cos, EwOp::cos},     {Prim::tanh, EwOp::tanh},     {Prim::logistic, EwOp::logistic},
    {Prim::sqrt, EwOp::sqrt},   {Prim::rsqrt, EwOp::rsqrt},   {Prim::abs, EwOp::abs},
    {Prim::sign, EwOp::sign},   {Prim::erf, EwOp::erf},       {Prim::floor, EwOp::floor},
    {Prim::add, EwOp::add},     {Prim::sub, EwOp::sub},       {Prim::mul, EwOp::mul},
    {Prim::div, EwOp::div},     {Prim::pow, EwOp::pow},       {Prim::max, EwOp::max},
    {Prim::min, EwOp::min},     {Prim::eq, EwOp::eq},         {Prim::ne, EwOp::ne},
    {Prim::lt, EwOp::lt},       {Prim::le, EwOp::le},         {Prim::gt, EwOp::gt},
    {Prim::ge, EwOp::ge},       {Prim::select, EwOp::select}, {Prim::convert, EwOp::convert},
};

[[noreturn]] void internal(Prim p, const TensorList& in, const std::string& problem) {
  std::vector<AVal> avals;
  for (const Tensor& t : in) avals.push_back(t.aval());
  raise(ErrorKind::Internal, ops::prim_name(p), problem, avals, {});
}

ops::Kernel kernel(Prim p, EwOp op) {
  return [p, op](const TensorList& in, const std::vector<AVal>& oa, const ops::Params&) {
    const char* name = ops::prim_name(p);
    // The shape rules give every operand the output's shape (broadcasts arrive as stride-0 views), which is
    // what the kernels index; a violation would read out of bounds, so it is checked rather than assumed.
    if (in.empty() || in.size() > 3)
      internal(p, in, "CUDA kernel got " + std::to_string(in.size()) + " operands");
    const IndexSpace s = index_space(oa[0].shape, name);
    Operand operands[3];
    for (size_t i = 0; i < in.size(); ++i) {
      if (in[i].shape() != oa[0].shape)
        internal(p, in,
                 "CUDA kernel got an operand of shape " + shape_str(in[i].shape()) + " for an output of " +
                     shape_str(oa[0].shape));
      if (in[i].device() != Device::CUDA) internal(p, in, "CUDA kernel got an operand on the CPU");
      operands[i] = operand(in[i]);
    }
    Tensor out = empty(oa[0].shape, oa[0].dtype);
    if (s.numel == 0) return TensorList{out};
    const DType value = in[p == Prim::select ? 1 : 0].dtype();
    if (!launch_elementwise(op, dt(value), dt(oa[0].dtype), s, operands, out_ptr(out), stream()))
      internal(p, in,
               std::string("CUDA kernel got unsupported dtype ") + dtype_name(value) +
                   " (the shape rule should have rejected it)");
    check_launch(name);
    return TensorList{out};
  };
}

}  // namespace

std::optional<EwOp> fusable_op(Prim p) {
  for (const Entry& e : kOps)
    if (e.prim == p) return e.op;
  return std::nullopt;
}

void register_elementwise_kernels() {
  for (const Entry& e : kOps) ops::def_mut(e.prim).cuda = kernel(e.prim, e.op);
  // Identity: the operand itself, as on the CPU (the primitive is marked kView; the evaluator fixes the weak
  // bit).
  ops::def_mut(Prim::stop_gradient).cuda = [](const TensorList& in, const std::vector<AVal>&,
                                              const ops::Params&) { return TensorList{in[0]}; };
}

}  // namespace engine::backend::cuda
