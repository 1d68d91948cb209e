// jit(f, options): a callable that traces f once per input signature, runs the IR passes, compiles the graph
// and caches the executable. Called under another transform (grad, vmap, jvp), it binds the compiled graph
// as a `call` primitive, so the transform applies to the graph and the result still runs compiled.
#pragma once
#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>
#include <span>
#include <tuple>
#include <typeinfo>

#include "engine/compile/jit_cache.h"
#include "engine/interp/interpreter.h"
#include "engine/transforms/transforms.h"

namespace engine {

namespace detail {

template <class X>
uint64_t static_arg_hash(const X& x) {
  if constexpr (TreeLike<X>) {
    uint64_t h = typeid(X).hash_code();
    if constexpr (std::is_same_v<X, Tensor>) {
      return h;
    } else if constexpr (std::is_same_v<X, Tree>) {
      h ^= std::hash<std::string>{}(x.structure()) * 31;
    } else {  // the leaf count (containers' sizes shape the tree); a reused per-thread vector: no allocation
      thread_local std::vector<Tensor> t_leaves;
      TreeTraits<X>::flatten(x, t_leaves);
      h ^= t_leaves.size() * 0x9e3779b97f4a7c15ull;
      t_leaves.clear();
    }
    return h;
  } else if constexpr (requires { x.jit_hash(); }) {
    return typeid(X).hash_code() ^ static_cast<uint64_t>(x.jit_hash());
  } else if constexpr (requires { std::hash<X>{}(x); }) {
    return typeid(X).hash_code() ^ (std::hash<X>{}(x)*0x100000001b3ull);
  } else {
    static_assert(
        sizeof(X) == 0,
        "jit: a static (non-tensor) argument must be hashable: give it std::hash or a jit_hash() method");
    return 0;
  }
}

template <class Tup, size_t... K>
uint64_t tuple_static_hash(const Tup& t, std::index_sequence<K...>) {
  uint64_t h = 0xcbf29ce484222325ull;
  ((h = (h ^ static_arg_hash(std::get<K>(t))) * 0x100000001b3ull), ...);
  return h;
}

void warn_captured_constants(JitCache& cache, const Graph& g);

// Per-thread vectors for a jitted call's leaves and results, cleared (capacity kept) when the call ends so
// they hold no references between calls. A call made while another is in flight on the thread (a jitted
// function called while tracing a jitted function) gets vectors of its own.
class JitScratch {
 public:
  JitScratch();
  ~JitScratch();
  JitScratch(const JitScratch&) = delete;
  JitScratch& operator=(const JitScratch&) = delete;
  std::vector<Tensor>& leaves() { return *leaves_; }
  std::vector<Tensor>& outs() { return *outs_; }

 private:
  std::vector<Tensor>*leaves_, *outs_;
  std::vector<Tensor> own_leaves_, own_outs_;
};

// Which flattened leaves belong to the donated positional arguments.
template <class... Args>
std::vector<bool> donated_leaves(const std::vector<int>& argnums, const Args&... args) {
  std::vector<bool> mask;
  int pos = 0;
  auto one = [&](const auto& x) {
    if constexpr (TreeLike<std::decay_t<decltype(x)>>) {
      std::vector<Tensor> ls;
      TreeTraits<std::decay_t<decltype(x)>>::flatten(x, ls);
      const bool d = std::find(argnums.begin(), argnums.end(), pos) != argnums.end();
      mask.insert(mask.end(), ls.size(), d);
    }
    ++pos;
  };
  (one(args), ...);
  return mask;
}
bool has_traced_constants(const Graph& g);

}  // namespace detail

template <class F>
class Jitted {
 public:
  Jitted(F f, JitOptions opt) : f_(std::move(f)), cache_(std::make_shared<JitCache>(std::move(opt))) {}

  template <class... Args>
  auto operator()(const Args&... args) const {
    using R = std::decay_t<std::invoke_result_t<const F&, const Args&...>>;
    static_assert(TreeLike<R>, "jit: the function must return tensors or a parameter tree");
    if (jit_disabled()) return R(f_(args...));
    // The hit path allocates nothing: arguments are held by reference, leaves and results go through
    // per-thread scratch vectors (a local pair when a jitted function is called while tracing another), and
    // the cache is searched by comparing the leaves' avals in place.
    detail::JitScratch scratch;
    std::vector<Tensor>& leaves = scratch.leaves();
    const std::tuple<const Args&...> tup(args...);
    detail::flatten_trees(tup, leaves, std::index_sequence_for<Args...>{});
    const uint64_t shash =
        detail::tuple_static_hash(tup, std::index_sequence_for<Args...>{}) ^ cache_->options().static_hash;
    std::shared_ptr<JitEntry> entry = cache_->lookup(leaves, shash, jit_config_bits());
    if (!entry)
      entry =
          compile_entry<R>(std::tuple<Args...>(args...), JitKey{avals_of(leaves), shash, jit_config_bits()},
                           detail::donated_leaves(cache_->options().donate_argnums, args...));
    last_ = entry;
    const R& like = **std::static_pointer_cast<std::optional<R>>(entry->out_structure);
    std::vector<Tensor>& outs = scratch.outs();
    outs.resize(entry->exe->graph.outputs.size());
    if (current_interpreter() == eval_interpreter()) {
      entry->exe->run(std::span<const Tensor>(leaves), std::span<Tensor>(outs));
    } else {
      ops::Params p;
      p.set("graph", std::shared_ptr<const Graph>(entry->exe, &entry->exe->graph)).set("remat", false);
      outs = bind(ops::Prim::call, leaves, p);
    }
    const Tensor* it = outs.data();
    return R(TreeTraits<R>::unflatten(like, it));
  }

  // The optimized IR for these arguments (compiling them if needed).
  template <class... Args>
  std::string ir(const Args&... args) const {
    (void)(*this)(args...);
    return last_ ? last_->exe->graph.str() : std::string();
  }

  // The lowered program for these arguments: its steps (kernels), fusion groups and arena.
  template <class... Args>
  std::string program(const Args&... args) const {
    (void)(*this)(args...);
    return last_ ? last_->exe->program_str() : std::string();
  }
  // The executable for these arguments (compiling it if needed), for structural tests.
  template <class... Args>
  std::shared_ptr<Executable> executable(const Args&... args) const {
    (void)(*this)(args...);
    return last_ ? last_->exe : nullptr;
  }

  JitStats stats() const { return cache_->stats(); }
  size_t cache_size() const { return cache_->size(); }
  std::string last_warning() const { return cache_->last_warning(); }
  // Why calling with these arguments would miss the cache ("" on a hit).
  template <class... Args>
  std::string explain(const Args&... args) const {
    const std::tuple<Args...> tup(args...);
    std::vector<Tensor> leaves;
    detail::flatten_trees(tup, leaves, std::index_sequence_for<Args...>{});
    JitKey key{
        avals_of(leaves),
        detail::tuple_static_hash(tup, std::index_sequence_for<Args...>{}) ^ cache_->options().static_hash,
        jit_config_bits()};
    return cache_->explain_miss(key);
  }

 private:
  template <class R, class Tup>
  std::shared_ptr<JitEntry> compile_entry(const Tup& tup, const JitKey& key,
                                          std::vector<bool> donated) const {
    std::string why = cache_->explain_miss(key);
    auto t0 = std::chrono::steady_clock::now();
    auto traced = std::make_shared<std::optional<R>>();
    FlatFn ff = [&](const std::vector<Tensor>& xs) {
      const Tensor* it = xs.data();
      R r =
          std::apply(f_, detail::rebuild_trees(tup, it, std::make_index_sequence<std::tuple_size_v<Tup>>{}));
      traced->emplace(r);
      return tree_leaves(r);
    };
    Graph g = make_graph(ff, key.avals);
    detail::warn_captured_constants(*cache_, g);
    auto entry = std::make_shared<JitEntry>();
    entry->key = key;
    entry->exe = compile(g, CompileOptions{std::move(donated), cache_->options().remat_elementwise});
    entry->out_structure = traced;
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    // A graph that captured values of an enclosing transform is valid only for this call: not cached.
    if (!detail::has_traced_constants(g)) cache_->insert(entry, why, ms);
    return entry;
  }

  F f_;
  std::shared_ptr<JitCache> cache_;
  mutable std::shared_ptr<JitEntry> last_;
};

template <class F>
Jitted<F> jit(F f, JitOptions opt = {}) {
  return Jitted<F>(std::move(f), std::move(opt));
}

}  // namespace engine
