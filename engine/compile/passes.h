// IR passes run by jit before lowering: inlining of non-remat calls, algebraic simplification, common-
// subexpression elimination and dead-code elimination. Each takes a graph and returns an equivalent one;
// run_passes applies them to a fixed point.
#pragma once
#include "engine/ir/graph.h"

namespace engine::passes {

Graph inline_calls(const Graph& g);  // splices `call` sub-graphs whose remat flag is false
Graph simplify(const Graph& g);      // identities: x*1, x+0, identity reshapes/converts/transposes, -(-x)
Graph cse(const Graph& g);           // one equation per (primitive, operands, params)
Graph dce(const Graph& g);           // drops equations whose outputs are never used
Graph run_passes(const Graph& g);
// Recomputes cheap elementwise values next to distant consumers instead of storing them (remat.cpp; jit's
// remat_elementwise option). Runs after run_passes: CSE would merge the copies back.
Graph remat_elementwise(const Graph& g);

}  // namespace engine::passes
