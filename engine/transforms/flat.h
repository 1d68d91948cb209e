// Transforms over flat functions (vector of tensors -> vector of tensors). The tree-aware, templated user API
// in transforms.h is built on these.
#pragma once
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "engine/ir/graph.h"

namespace engine {

// Forward mode: returns (f(primals), J·tangents). Tangents of non-float inputs are ignored (may be null);
// output tangents are instantiated (zeros where the output does not depend on the inputs).
std::pair<std::vector<Tensor>, std::vector<Tensor>> jvp_flat(const FlatFn& f, const std::vector<Tensor>& primals,
                                                             const std::vector<Tensor>& tangents);

// Reverse mode: traces f to the IR, replays the forward under the current interpreter keeping only the
// residuals the vjp rules read, and returns the outputs with a pullback. The pullback maps output cotangents
// (null = zero) to input cotangents (zeros for inputs that do not influence the outputs) and may be called
// many times, also under other transforms.
using Pullback = std::function<std::vector<Tensor>(const std::vector<Tensor>& cotangents)>;
std::pair<std::vector<Tensor>, Pullback> vjp_flat(const FlatFn& f, const std::vector<Tensor>& primals);

// Vectorizing map. in_axes[i] is the mapped axis of args[i] (negative counts from the end) or nullopt;
// out_axes[j] places the batch axis of output j (a single entry applies to all outputs).
std::vector<Tensor> vmap_flat(const FlatFn& f, const std::vector<Tensor>& args,
                              const std::vector<std::optional<int>>& in_axes, const std::vector<int>& out_axes);

// Binds f as one `call` primitive whose vjp recomputes f's forward instead of keeping its intermediates.
std::vector<Tensor> checkpoint_flat(const FlatFn& f, const std::vector<Tensor>& args);

}  // namespace engine
