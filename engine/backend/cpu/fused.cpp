// The block interpreter behind fused elementwise kernels (see fused.h).
#include "engine/backend/cpu/fused.h"

#include <algorithm>
#include <climits>
#include <cstring>

#include "ops/registry.h"

namespace engine::backend::cpu {

namespace {

// Scratch registers sit kSlotStride uint64s apart. Not a power of two on purpose: slots exactly 4 KiB apart
// make loads from one register and stores to another alias in the store buffer (4K aliasing), which made
// fused kernels several times slower.
constexpr int64_t kSlotStride = kFuseBlock + 24;

using Reg = FusedProgram::Reg;
using RegKind = FusedProgram::RegKind;
using Read = FusedProgram::Reg::Read;

bool all_strides_zero(const Tensor& t) {
  for (int i = 0; i < t.ndim(); ++i)
    if (t.shape()[i] != 1 && t.strides()[i] != 0) return false;
  return true;
}

// dst[0..n) = src[0], src[s], src[2s], ... for elements of isz bytes.
void copy_strided(char* dst, const char* src, int64_t s, int64_t n, size_t isz) {
  if (s == 1) {
    std::memcpy(dst, src, size_t(n) * isz);
    return;
  }
  if (s == 0 && isz == 4) {
    uint32_t v;
    std::memcpy(&v, src, 4);
    uint32_t* d = reinterpret_cast<uint32_t*>(dst);
    std::fill(d, d + n, v);
    return;
  }
  switch (isz) {
    case 1:
      for (int64_t i = 0; i < n; ++i) dst[i] = src[i * s];
      break;
    case 4:
      for (int64_t i = 0; i < n; ++i) std::memcpy(dst + 4 * i, src + 4 * i * s, 4);
      break;
    default:
      for (int64_t i = 0; i < n; ++i) std::memcpy(dst + isz * size_t(i), src + isz * size_t(i * s), isz);
  }
}

}  // namespace

int FusedProgram::add_input(const Tensor& bound) {
  inputs.push_back(bound);
  Reg r;
  r.kind = RegKind::Input;
  r.dtype = bound.dtype();
  r.input = static_cast<int>(inputs.size()) - 1;
  regs.push_back(r);
  return static_cast<int>(regs.size()) - 1;
}

int FusedProgram::add_instr(ops::Prim p, const std::vector<int>& args, DType out_dtype) {
  Instr in;
  in.prim = p;
  in.nargs = static_cast<int>(args.size());
  for (int k = 0; k < in.nargs; ++k) in.args[k] = args[k];
  // The operand dtype: select's value operands, otherwise the first operand's.
  const DType operand = regs[args[p == ops::Prim::select ? 1 : 0]].dtype;
  in.fn = elementwise_run_fn(p, operand, out_dtype);
  if (!in.fn)
    raise(ErrorKind::Internal, ops::prim_name(p), "no fused CPU kernel for this dtype", {}, {},
          "this is an engine bug: the lowering should have left the op unfused");
  Reg r;
  r.kind = RegKind::Block;
  r.dtype = out_dtype;
  regs.push_back(r);
  in.dst = static_cast<int>(regs.size()) - 1;
  instrs.push_back(in);
  return in.dst;
}

void FusedProgram::finalize() {
  const std::vector<int64_t> dense_strides = contiguous_strides(shape);
  gathers.assign(inputs.size(), Layout<2>{});
  auto scalar_like = [&](int r) {
    return regs[r].kind == RegKind::Scalar ||
           (regs[r].kind == RegKind::Input && regs[r].read == Read::Broadcast);
  };
  for (Reg& r : regs) {
    if (r.kind != RegKind::Input) continue;
    const Tensor& t = inputs[r.input];
    if (t.numel() == 1 || all_strides_zero(t)) {
      r.read = Read::Broadcast;
    } else if (t.numel() == numel && dense(t)) {
      r.read = Read::Dense;
    } else {
      r.read = Read::Gather;
      const std::span<const int64_t> st[2] = {dense_strides, t.strides()};
      gathers[r.input] = collapse<2>(shape, st);
    }
  }
  for (const Instr& in : instrs) {
    bool all_scalar = true;
    for (int k = 0; k < in.nargs; ++k) all_scalar = all_scalar && scalar_like(in.args[k]);
    if (all_scalar) regs[in.dst].kind = RegKind::Scalar;
  }
  // Scratch slots by liveness over the block instructions (outputs live to the end of the block).
  std::vector<int> last(regs.size(), -1);
  for (size_t i = 0; i < instrs.size(); ++i)
    for (int k = 0; k < instrs[i].nargs; ++k) last[instrs[i].args[k]] = static_cast<int>(i);
  for (const Output& o : outputs) last[o.reg] = INT_MAX;
  std::vector<int> free_slots, live;
  auto take = [&](int r) {
    if (free_slots.empty()) {
      regs[r].slot = num_slots++;
    } else {
      regs[r].slot = free_slots.back();
      free_slots.pop_back();
    }
    live.push_back(r);
  };
  for (size_t r = 0; r < regs.size(); ++r)
    if (regs[r].kind == RegKind::Input && regs[r].read == Read::Gather) take(static_cast<int>(r));
  cost = 0;
  for (size_t i = 0; i < instrs.size(); ++i) {
    if (regs[instrs[i].dst].kind == RegKind::Scalar) continue;
    for (size_t k = 0; k < live.size();) {
      if (last[live[k]] < static_cast<int>(i)) {
        free_slots.push_back(regs[live[k]].slot);
        live[k] = live.back();
        live.pop_back();
      } else {
        ++k;
      }
    }
    take(instrs[i].dst);
    cost += elementwise_cost(instrs[i].prim);
  }
  cost = std::max<int64_t>(1, cost + static_cast<int64_t>(outputs.size()));
  for (Output& o : outputs) {
    o.once = o.dst.numel() != numel;
    o.strided = !o.once && !dense(o.dst);
    if (o.strided) {
      const std::span<const int64_t> st[2] = {dense_strides, o.dst.strides()};
      o.scatter = collapse<2>(shape, st);
    }
    if (o.once && !(o.dst.numel() == 1 && scalar_like(o.reg)))
      raise(
          ErrorKind::Internal, "fused",
          "an output of " + std::to_string(o.dst.numel()) + " elements in a program over " + shape_str(shape),
          {}, {}, "this is an engine bug in the lowering");
  }
  output_of_reg.assign(regs.size(), -1);
  for (size_t o = outputs.size(); o-- > 0;) output_of_reg[outputs[o].reg] = static_cast<int>(o);
  direct.assign(outputs.size(), 0);
  scalar_values.assign(regs.size(), 0);
  input_ptrs.assign(inputs.size(), nullptr);
  output_ptrs.assign(outputs.size(), nullptr);
}

std::string FusedProgram::str() const {
  if (instrs.empty()) return "copy " + shape_str(shape);
  std::string s = "fused " + shape_str(shape) + " {";
  for (size_t i = 0; i < instrs.size(); ++i) {
    if (i) s += ' ';
    if (regs[instrs[i].dst].kind == RegKind::Scalar) s += '^';  // computed once, not per element
    s += ops::prim_name(instrs[i].prim);
  }
  return s + "}";
}

namespace {

// The address and stride of register r within the block starting at element blk.
inline const void* reg_ptr(const FusedProgram& p, int r, int64_t blk, uint64_t* scratch, int64_t* stride) {
  const Reg& g = p.regs[r];
  switch (g.kind) {
    case RegKind::Scalar:
      *stride = 0;
      return &p.scalar_values[r];
    case RegKind::Block: {
      *stride = 1;
      const int o = p.output_of_reg[r];
      if (o >= 0 && p.direct[o]) return p.output_ptrs[o] + blk * int64_t(itemsize(g.dtype));
      return scratch + g.slot * kSlotStride;
    }
    case RegKind::Input:
      break;
  }
  switch (g.read) {
    case Read::Dense:
      *stride = 1;
      return p.input_ptrs[g.input] + blk * int64_t(itemsize(g.dtype));
    case Read::Broadcast:
      *stride = 0;
      return p.input_ptrs[g.input];
    case Read::Gather:
      break;
  }
  *stride = 1;
  return scratch + g.slot * kSlotStride;
}

void run_block(const FusedProgram& p, int64_t blk, int64_t n, uint64_t* scratch) {
  for (const Reg& g : p.regs) {
    if (g.kind != RegKind::Input || g.read != Read::Gather) continue;
    const size_t isz = itemsize(g.dtype);
    char* dst = reinterpret_cast<char*>(scratch + g.slot * kSlotStride);
    const char* src = p.input_ptrs[g.input];
    const Layout<2>& L = p.gathers[g.input];
    for_each_run(L, blk, blk + n, [&](const int64_t* off, int64_t len) {
      copy_strided(dst + size_t(off[0] - blk) * isz, src + off[1] * int64_t(isz), L.inner(1), len, isz);
    });
  }
  const void* args[3];
  int64_t strides[3];
  for (const FusedProgram::Instr& in : p.instrs) {
    const Reg& d = p.regs[in.dst];
    if (d.kind == RegKind::Scalar) continue;
    for (int k = 0; k < in.nargs; ++k) args[k] = reg_ptr(p, in.args[k], blk, scratch, &strides[k]);
    int64_t unused;
    in.fn(args, strides, const_cast<void*>(reg_ptr(p, in.dst, blk, scratch, &unused)), n);
  }
  for (size_t o = 0; o < p.outputs.size(); ++o) {
    if (p.outputs[o].once || p.direct[o]) continue;
    const int r = p.outputs[o].reg;
    const size_t isz = itemsize(p.regs[r].dtype);
    int64_t s = 0;
    const char* src = static_cast<const char*>(reg_ptr(p, r, blk, scratch, &s));
    if (p.outputs[o].strided) {
      const Layout<2>& L = p.outputs[o].scatter;
      for_each_run(L, blk, blk + n, [&](const int64_t* off, int64_t len) {
        const char* from = src + (s == 0 ? 0 : size_t(off[0] - blk) * isz);
        char* to = p.output_ptrs[o] + off[1] * int64_t(isz);
        for (int64_t i = 0; i < len; ++i)
          std::memcpy(to + i * L.inner(1) * int64_t(isz), from + (s == 0 ? 0 : size_t(i) * isz), isz);
      });
      continue;
    }
    char* dst = p.output_ptrs[o] + size_t(blk) * isz;
    if (s == 1) {
      std::memcpy(dst, src, size_t(n) * isz);
    } else {
      for (int64_t i = 0; i < n; ++i) std::memcpy(dst + size_t(i) * isz, src, isz);
    }
  }
}

}  // namespace

void run_fused(const FusedProgram& p) {
  for (size_t i = 0; i < p.inputs.size(); ++i)
    p.input_ptrs[i] = static_cast<const char*>(p.inputs[i].raw_data());
  for (size_t o = 0; o < p.outputs.size(); ++o)
    p.output_ptrs[o] = static_cast<char*>(p.outputs[o].dst.raw_mutable_data());
  // An output is written straight from its instruction unless its buffer overlaps an operand's (an output
  // that took an input's slot in place): then it goes through a register and is copied at the end of each
  // block, after every read of that block's input.
  for (size_t o = 0; o < p.outputs.size(); ++o) {
    const Storage& os = *p.outputs[o].dst.storage();
    const char *ob = static_cast<const char*>(os.data), *oe = ob + os.bytes;
    bool overlap = p.regs[p.outputs[o].reg].kind != RegKind::Block ||
                   p.output_of_reg[p.outputs[o].reg] != int(o) || p.outputs[o].strided;
    for (size_t i = 0; i < p.inputs.size() && !overlap; ++i) {
      const Storage& is = *p.inputs[i].storage();
      const char *ib = static_cast<const char*>(is.data), *ie = ib + is.bytes;
      overlap = ib < oe && ob < ie;
    }
    p.direct[o] = !overlap;
  }
  // Scalar registers once, in program order (they read only scalars).
  const void* args[3];
  int64_t strides[3];
  for (const FusedProgram::Instr& in : p.instrs) {
    if (p.regs[in.dst].kind != RegKind::Scalar) continue;
    for (int k = 0; k < in.nargs; ++k) args[k] = reg_ptr(p, in.args[k], 0, nullptr, &strides[k]);
    in.fn(args, strides, &p.scalar_values[in.dst], 1);
  }
  for (size_t o = 0; o < p.outputs.size(); ++o) {
    if (!p.outputs[o].once) continue;
    const int r = p.outputs[o].reg;
    int64_t s = 0;
    std::memcpy(p.output_ptrs[o], reg_ptr(p, r, 0, nullptr, &s), itemsize(p.regs[r].dtype));
  }
  if (p.numel == 0) return;
  parallel_for(
      p.numel, p.cost,
      [&](int64_t b, int64_t e) {
        // Per-thread registers, grown on first use and kept (the pool's threads persist between runs).
        thread_local std::vector<uint64_t> t_scratch;
        const size_t need = size_t(std::max(p.num_slots, 1)) * size_t(kSlotStride);
        if (t_scratch.size() < need) t_scratch.resize(need);
        for (int64_t blk = b; blk < e; blk += kFuseBlock)
          run_block(p, blk, std::min(kFuseBlock, e - blk), t_scratch.data());
      },
      kFuseBlock);
}

}  // namespace engine::backend::cpu
