// The user-facing transforms: grad, value_and_grad, vjp, jvp, vmap, jacfwd, jacrev, hessian, checkpoint and
// make_jaxpr, over functions whose arguments and results are tensors or parameter trees (tree.h). Each one
// flattens the trees, applies the flat transform (flat.h), and rebuilds the structures, so they compose:
// vmap(grad(f)), grad(grad(f)), jvp(grad(f)), jacfwd(jacrev(f)) all work as written.
#pragma once
#include <optional>
#include <source_location>
#include <tuple>
#include <type_traits>
#include <utility>

#include "engine/interp/interpreter.h"
#include "engine/transforms/flat.h"
#include "engine/transforms/tree.h"
#include "ops/api.h"

namespace engine {

// Which positional arguments grad differentiates: grad(f, argnums<0, 2>).
template <int... I>
struct Argnums {};
template <int... I>
inline constexpr Argnums<I...> argnums{};

namespace detail {

template <class R>
struct LossTraits {
  static constexpr bool has_aux = false;
};
template <class Aux>
struct LossTraits<std::pair<Tensor, Aux>> {  // f returning (loss, aux): aux is carried out, not differentiated
  static constexpr bool has_aux = true;
};

template <class Tup, size_t... K>
void flatten_trees(const Tup& t, std::vector<Tensor>& out, std::index_sequence<K...>) {
  auto one = [&](const auto& x) {
    if constexpr (TreeLike<decltype(x)>) TreeTraits<std::decay_t<decltype(x)>>::flatten(x, out);
  };
  (one(std::get<K>(t)), ...);
}

// Copy of t whose tree arguments take their leaves from `it` (static arguments are copied unchanged).
template <class Tup, size_t... K>
Tup rebuild_trees(const Tup& t, const Tensor*& it, std::index_sequence<K...>) {
  auto one = [&](const auto& x) {
    using X = std::decay_t<decltype(x)>;
    if constexpr (TreeLike<X>) return TreeTraits<X>::unflatten(x, it);
    else return x;
  };
  return Tup{one(std::get<K>(t))...};  // braced init: evaluated left to right
}

template <class Tup, int... I>
auto pick_unflatten(const Tup& t, const std::vector<Tensor>& leaves) {
  const Tensor* it = leaves.data();
  auto one = [&](const auto& x) { return TreeTraits<std::decay_t<decltype(x)>>::unflatten(x, it); };
  if constexpr (sizeof...(I) == 1) {
    return one(std::get<I...>(t));
  } else {
    return std::tuple<std::decay_t<std::tuple_element_t<I, Tup>>...>{one(std::get<I>(t))...};
  }
}

template <class Tup, int... I>
Tup replace_picked(const Tup& t, const std::vector<Tensor>& leaves) {
  Tup r = t;
  const Tensor* it = leaves.data();
  ((std::get<I>(r) = TreeTraits<std::decay_t<std::tuple_element_t<I, Tup>>>::unflatten(std::get<I>(t), it)), ...);
  return r;
}

template <class T>
struct is_tuple : std::false_type {};
template <class... Ts>
struct is_tuple<std::tuple<Ts...>> : std::true_type {};

void check_scalar_loss(const Tensor& loss, const std::source_location& loc);

}  // namespace detail

// value_and_grad(f, argnums<I...>)(args...) -> (f(args...), gradient). The gradient has the structure of the
// differentiated argument (a tuple of them for several argnums). f returns a scalar float tensor, or
// std::pair<Tensor, Aux> to carry auxiliary outputs (returned in the value, not differentiated).
template <class F, int... I>
auto value_and_grad(F f, Argnums<I...>, std::source_location loc = std::source_location::current()) {
  return [f, loc](const auto&... args) {
    using Tup = std::tuple<std::decay_t<decltype(args)>...>;
    static_assert(((I >= 0 && I < int(sizeof...(args))) && ...), "grad: argnums out of range");
    static_assert((TreeLike<std::tuple_element_t<I, Tup>> && ...),
                  "grad: differentiated arguments must be tensors or parameter trees");
    using R = std::decay_t<std::invoke_result_t<F, decltype(args)...>>;
    using LT = detail::LossTraits<R>;
    static_assert(std::is_same_v<R, Tensor> || LT::has_aux,
                  "grad: the function must return a Tensor or std::pair<Tensor, Aux>");
    const Tup tup(args...);
    std::vector<Tensor> leaves;
    ((TreeTraits<std::decay_t<std::tuple_element_t<I, Tup>>>::flatten(std::get<I>(tup), leaves)), ...);
    std::optional<R> traced;
    FlatFn ff = [&](const std::vector<Tensor>& xs) {
      R r = std::apply(f, detail::replace_picked<Tup, I...>(tup, xs));
      std::vector<Tensor> outs;
      if constexpr (LT::has_aux) {
        outs.push_back(r.first);
        TreeTraits<std::decay_t<decltype(r.second)>>::flatten(r.second, outs);
      } else {
        outs.push_back(r);
      }
      detail::check_scalar_loss(outs[0], loc);
      traced.emplace(std::move(r));
      return outs;
    };
    auto [outs, pullback] = vjp_flat(ff, leaves);
    std::vector<Tensor> cts(outs.size());
    cts[0] = ops::ones_like(outs[0]);
    auto grads = detail::pick_unflatten<Tup, I...>(tup, pullback(cts));
    if constexpr (LT::has_aux) {
      using Aux = std::decay_t<decltype(traced->second)>;
      std::vector<Tensor> aux_leaves(outs.begin() + 1, outs.end());
      R value{outs[0], tree_unflatten<Aux>(traced->second, aux_leaves)};
      return std::make_pair(std::move(value), std::move(grads));
    } else {
      return std::make_pair(outs[0], std::move(grads));
    }
  };
}
template <class F>
auto value_and_grad(F f, std::source_location loc = std::source_location::current()) {
  return value_and_grad(std::move(f), argnums<0>, loc);
}

// grad(f, argnums<I...>)(args...) -> gradient (or (gradient, aux) when f returns (loss, aux)).
template <class F, int... I>
auto grad(F f, Argnums<I...> a, std::source_location loc = std::source_location::current()) {
  return [vg = value_and_grad(std::move(f), a, loc)](const auto&... args) {
    auto [value, g] = vg(args...);
    if constexpr (std::is_same_v<std::decay_t<decltype(value)>, Tensor>) {
      return g;
    } else {
      return std::make_pair(std::move(g), std::move(value.second));
    }
  };
}
template <class F>
auto grad(F f, std::source_location loc = std::source_location::current()) {
  return grad(std::move(f), argnums<0>, loc);
}

// vjp(f, args...) -> (f(args...), pullback) with pullback(cotangent shaped like the output) returning the
// input cotangents (the argument's type for one argument, a tuple for several).
template <class F, class... Args>
auto vjp(F f, const Args&... args) {
  static_assert((TreeLike<Args> && ...), "vjp: arguments must be tensors or parameter trees");
  using R = std::decay_t<std::invoke_result_t<F, const Args&...>>;
  static_assert(TreeLike<R>, "vjp: the function must return tensors or a parameter tree");
  using Tup = std::tuple<Args...>;
  Tup tup(args...);
  std::vector<Tensor> leaves;
  detail::flatten_trees(tup, leaves, std::index_sequence_for<Args...>{});
  auto traced = std::make_shared<std::optional<R>>();
  FlatFn ff = [&](const std::vector<Tensor>& xs) {
    const Tensor* it = xs.data();
    R r = std::apply(f, detail::rebuild_trees(tup, it, std::index_sequence_for<Args...>{}));
    traced->emplace(r);
    return tree_leaves(r);
  };
  auto [outs, pb] = vjp_flat(ff, leaves);
  R out = tree_unflatten<R>(**traced, outs);
  auto pullback = [pb, tup, traced](const R& ct) {
    std::vector<Tensor> g = pb(tree_leaves(ct));
    const Tensor* it = g.data();
    Tup r = detail::rebuild_trees(tup, it, std::index_sequence_for<Args...>{});
    if constexpr (sizeof...(Args) == 1) return std::get<0>(r);
    else return r;
  };
  return std::make_pair(std::move(out), std::move(pullback));
}

// jvp(f, primals, tangents) -> (f(primals), J·tangents). For several arguments pass std::tuples.
template <class F, TreeLike P>
auto jvp(F f, const P& primals, const P& tangents) {
  auto call = [&](const P& p) {
    if constexpr (detail::is_tuple<P>::value) return std::apply(f, p);
    else return f(p);
  };
  using R = std::decay_t<decltype(call(primals))>;
  static_assert(TreeLike<R>, "jvp: the function must return tensors or a parameter tree");
  std::optional<R> traced;
  FlatFn ff = [&](const std::vector<Tensor>& xs) {
    R r = call(tree_unflatten(primals, xs));
    traced.emplace(r);
    return tree_leaves(r);
  };
  auto [outs, touts] = jvp_flat(ff, tree_leaves(primals), tree_leaves(tangents));
  return std::make_pair(tree_unflatten<R>(*traced, outs), tree_unflatten<R>(*traced, touts));
}

// vmap(f, in_axes, out_axes)(args...). in_axes has one entry per positional argument (applied to all its
// leaves; std::nullopt = not mapped); empty means 0 for every tensor/tree argument (others are static).
// out_axes has one entry for all output leaves, or one per output leaf.
template <class F>
auto vmap(F f, std::vector<std::optional<int>> in_axes = {}, std::vector<int> out_axes = {0}) {
  return [f, in_axes, out_axes](const auto&... args) {
    using Tup = std::tuple<std::decay_t<decltype(args)>...>;
    using R = std::decay_t<std::invoke_result_t<F, decltype(args)...>>;
    static_assert(TreeLike<R>, "vmap: the function must return tensors or a parameter tree");
    constexpr size_t N = sizeof...(args);
    const Tup tup(args...);
    if (!in_axes.empty() && in_axes.size() != N)
      raise(ErrorKind::Vmap, "vmap", "in_axes has " + std::to_string(in_axes.size()) + " entries for " +
                                         std::to_string(N) + " arguments",
            {}, current_user_loc(), "give one entry per positional argument");
    std::vector<Tensor> leaves;
    std::vector<std::optional<int>> leaf_axes;
    size_t k = 0;
    auto one = [&](const auto& x) {
      using X = std::decay_t<decltype(x)>;
      std::optional<int> ax = in_axes.empty() ? std::optional<int>(0) : in_axes[k];
      if constexpr (TreeLike<X>) {
        size_t before = leaves.size();
        TreeTraits<X>::flatten(x, leaves);
        leaf_axes.resize(leaves.size(), ax);
        (void)before;
      } else if (!in_axes.empty() && ax) {
        raise(ErrorKind::Vmap, "vmap", "argument " + std::to_string(k) + " is not a tensor or tree but is mapped",
              {}, current_user_loc(), "use std::nullopt in in_axes for static arguments");
      }
      ++k;
    };
    std::apply([&](const auto&... x) { (one(x), ...); }, tup);
    std::optional<R> traced;
    FlatFn ff = [&](const std::vector<Tensor>& xs) {
      const Tensor* it = xs.data();
      R r = std::apply(f, detail::rebuild_trees(tup, it, std::make_index_sequence<N>{}));
      traced.emplace(r);
      return tree_leaves(r);
    };
    std::vector<Tensor> outs = vmap_flat(ff, leaves, leaf_axes, out_axes);
    return tree_unflatten<R>(*traced, outs);
  };
}

// Jacobians of a function from one tensor to one tensor: result shape = out.shape + in.shape. Built from
// vmap over jvp (forward) or over the pullback (reverse), with no per-column loop.
template <class F>
auto jacfwd(F f) {
  return [f](const Tensor& x) -> Tensor {
    const int64_t n = x.numel();
    Tensor basis = ops::reshape(ops::eye(n, x.dtype()), [&] {
      Shape s{n};
      s.insert(s.end(), x.shape().begin(), x.shape().end());
      return s;
    }());
    FlatFn col = [&](const std::vector<Tensor>& t) {
      return jvp_flat([&](const std::vector<Tensor>& xs) { return std::vector<Tensor>{f(xs[0])}; }, {x}, {t[0]})
          .second;
    };
    Tensor cols = vmap_flat(col, {basis}, {0}, {-1})[0];  // out.shape + [n]
    Shape s(cols.shape().begin(), cols.shape().end() - 1);
    s.insert(s.end(), x.shape().begin(), x.shape().end());
    return ops::reshape(cols, s);
  };
}

template <class F>
auto jacrev(F f) {
  return [f](const Tensor& x) -> Tensor {
    auto [outs, pb] = vjp_flat([&](const std::vector<Tensor>& xs) { return std::vector<Tensor>{f(xs[0])}; }, {x});
    const Tensor& y = outs[0];
    const int64_t m = y.numel();
    Shape bs{m};
    bs.insert(bs.end(), y.shape().begin(), y.shape().end());
    Tensor basis = ops::reshape(ops::eye(m, y.dtype()), bs);
    Tensor rows = vmap_flat([&](const std::vector<Tensor>& ct) { return pb(ct); }, {basis}, {0}, {0})[0];
    Shape s = y.shape();
    s.insert(s.end(), x.shape().begin(), x.shape().end());
    return ops::reshape(rows, s);
  };
}

template <class F>
auto hessian(F f) {
  return jacfwd(jacrev(std::move(f)));
}

// checkpoint(f): same values and gradients as f, but reverse mode recomputes f's forward pass instead of
// keeping its intermediates (trading compute for memory).
template <class F>
auto checkpoint(F f) {
  return [f](const auto&... args) {
    static_assert((TreeLike<decltype(args)> && ...), "checkpoint: arguments must be tensors or trees");
    using Tup = std::tuple<std::decay_t<decltype(args)>...>;
    using R = std::decay_t<std::invoke_result_t<F, decltype(args)...>>;
    const Tup tup(args...);
    std::vector<Tensor> leaves;
    detail::flatten_trees(tup, leaves, std::index_sequence_for<decltype(args)...>{});
    std::optional<R> traced;
    FlatFn ff = [&](const std::vector<Tensor>& xs) {
      const Tensor* it = xs.data();
      R r = std::apply(f, detail::rebuild_trees(tup, it, std::index_sequence_for<decltype(args)...>{}));
      traced.emplace(r);
      return tree_leaves(r);
    };
    return tree_unflatten<R>(*traced, checkpoint_flat(ff, leaves));
  };
}

// make_jaxpr(f)(args...) -> the Graph of f traced at the arguments' shapes and dtypes; print it with .str().
template <class F>
auto make_jaxpr(F f) {
  return [f](const auto&... args) {
    using Tup = std::tuple<std::decay_t<decltype(args)>...>;
    const Tup tup(args...);
    std::vector<Tensor> leaves;
    detail::flatten_trees(tup, leaves, std::index_sequence_for<decltype(args)...>{});
    FlatFn ff = [&](const std::vector<Tensor>& xs) {
      const Tensor* it = xs.data();
      return tree_leaves(std::apply(f, detail::rebuild_trees(tup, it, std::index_sequence_for<decltype(args)...>{})));
    };
    return make_graph(ff, avals_of(leaves));
  };
}

}  // namespace engine
