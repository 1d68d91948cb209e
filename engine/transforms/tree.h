// Parameter trees: nested, named containers of tensors that the transforms flatten to a list of leaves and
// rebuild afterwards, so grad returns the same structure it was given. Supported: Tensor, Tree (a dynamic
// nested dict/list), std::vector, std::array, std::pair, std::tuple, std::map<std::string, T>, and user
// structs that expose their tensor fields with `auto tree_fields() { return std::tie(a, b); }` plus a const
// overload. Anything else passed to a transform is a static argument: passed through, never traced.
#pragma once
#include <array>
#include <concepts>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "engine/core/tensor.h"

namespace engine {

class Tree {
 public:
  enum class Kind : uint8_t { None, Leaf, List, Dict };
  Tree() = default;
  Tree(Tensor t) : kind_(Kind::Leaf), leaf_(std::move(t)) {}  // NOLINT: implicit on purpose
  static Tree list(std::vector<Tree> items = {});
  static Tree dict(std::map<std::string, Tree> items = {});

  Kind kind() const { return kind_; }
  bool is_leaf() const { return kind_ == Kind::Leaf; }
  const Tensor& tensor() const;                      // a leaf's tensor
  Tree& operator[](const std::string& key);          // makes this a dict if it was empty
  const Tree& at(const std::string& key) const;      // throws naming the missing key
  const Tree& at(size_t i) const;
  void push_back(Tree t);                            // makes this a list if it was empty
  size_t size() const;                               // children of a list or dict
  std::vector<std::string> keys() const;             // sorted, as flattening visits them

  std::vector<Tensor> leaves() const;
  // Same structure, each leaf replaced by fn(leaf).
  template <class Fn>
  Tree map(Fn&& fn) const;
  std::string structure() const;  // e.g. {"b": *, "w": *}

  void flatten_into(std::vector<Tensor>& out) const;
  Tree rebuild(const Tensor*& it) const;  // same structure, leaves from it

 private:
  Kind kind_ = Kind::None;
  Tensor leaf_;
  std::vector<Tree> list_;
  std::map<std::string, Tree> dict_;
};

template <class Fn>
Tree Tree::map(Fn&& fn) const {
  std::vector<Tensor> ls = leaves();
  for (auto& l : ls) l = fn(l);
  const Tensor* it = ls.data();
  return rebuild(it);
}

// ---- TreeTraits: flatten / unflatten by type ----
template <class T>
struct TreeTraits {
  static constexpr bool is_tree = false;
};

template <class T>
concept TreeLike = TreeTraits<std::decay_t<T>>::is_tree;

template <>
struct TreeTraits<Tensor> {
  static constexpr bool is_tree = true;
  static void flatten(const Tensor& t, std::vector<Tensor>& out) { out.push_back(t); }
  static Tensor unflatten(const Tensor&, const Tensor*& it) { return *it++; }
};

template <>
struct TreeTraits<Tree> {
  static constexpr bool is_tree = true;
  static void flatten(const Tree& t, std::vector<Tensor>& out) { t.flatten_into(out); }
  static Tree unflatten(const Tree& like, const Tensor*& it) { return like.rebuild(it); }
};

template <TreeLike T>
struct TreeTraits<std::vector<T>> {
  static constexpr bool is_tree = true;
  static void flatten(const std::vector<T>& v, std::vector<Tensor>& out) {
    for (const auto& x : v) TreeTraits<T>::flatten(x, out);
  }
  static std::vector<T> unflatten(const std::vector<T>& like, const Tensor*& it) {
    std::vector<T> r;
    r.reserve(like.size());
    for (const auto& x : like) r.push_back(TreeTraits<T>::unflatten(x, it));
    return r;
  }
};

template <TreeLike T, size_t N>
struct TreeTraits<std::array<T, N>> {
  static constexpr bool is_tree = true;
  static void flatten(const std::array<T, N>& v, std::vector<Tensor>& out) {
    for (const auto& x : v) TreeTraits<T>::flatten(x, out);
  }
  static std::array<T, N> unflatten(const std::array<T, N>& like, const Tensor*& it) {
    std::array<T, N> r = like;
    for (size_t i = 0; i < N; ++i) r[i] = TreeTraits<T>::unflatten(like[i], it);
    return r;
  }
};

template <TreeLike T>
struct TreeTraits<std::map<std::string, T>> {
  static constexpr bool is_tree = true;
  static void flatten(const std::map<std::string, T>& m, std::vector<Tensor>& out) {
    for (const auto& [k, x] : m) TreeTraits<T>::flatten(x, out);
  }
  static std::map<std::string, T> unflatten(const std::map<std::string, T>& like, const Tensor*& it) {
    std::map<std::string, T> r;
    for (const auto& [k, x] : like) r.emplace(k, TreeTraits<T>::unflatten(x, it));
    return r;
  }
};

template <TreeLike... Ts>
struct TreeTraits<std::tuple<Ts...>> {
  static constexpr bool is_tree = true;
  static void flatten(const std::tuple<Ts...>& t, std::vector<Tensor>& out) {
    std::apply([&](const auto&... x) { (TreeTraits<std::decay_t<decltype(x)>>::flatten(x, out), ...); }, t);
  }
  static std::tuple<Ts...> unflatten(const std::tuple<Ts...>& like, const Tensor*& it) {
    return std::apply(
        [&](const auto&... x) { return std::tuple<Ts...>{TreeTraits<std::decay_t<decltype(x)>>::unflatten(x, it)...}; },
        like);
  }
};

template <TreeLike A, TreeLike B>
struct TreeTraits<std::pair<A, B>> {
  static constexpr bool is_tree = true;
  static void flatten(const std::pair<A, B>& p, std::vector<Tensor>& out) {
    TreeTraits<A>::flatten(p.first, out);
    TreeTraits<B>::flatten(p.second, out);
  }
  static std::pair<A, B> unflatten(const std::pair<A, B>& like, const Tensor*& it) {
    A a = TreeTraits<A>::unflatten(like.first, it);
    B b = TreeTraits<B>::unflatten(like.second, it);
    return {std::move(a), std::move(b)};
  }
};

// User structs: `auto tree_fields() { return std::tie(w, b); }` and `auto tree_fields() const {...}`.
template <class T>
  requires requires(T& t, const T& c) {
    t.tree_fields();
    c.tree_fields();
  }
struct TreeTraits<T> {
  static constexpr bool is_tree = true;
  static void flatten(const T& v, std::vector<Tensor>& out) {
    std::apply([&](const auto&... x) { (TreeTraits<std::decay_t<decltype(x)>>::flatten(x, out), ...); },
               v.tree_fields());
  }
  static T unflatten(const T& like, const Tensor*& it) {
    T r = like;
    std::apply(
        [&](auto&... x) { ((x = TreeTraits<std::decay_t<decltype(x)>>::unflatten(x, it)), ...); },
        r.tree_fields());
    return r;
  }
};

template <TreeLike T>
std::vector<Tensor> tree_leaves(const T& t) {
  std::vector<Tensor> out;
  TreeTraits<std::decay_t<T>>::flatten(t, out);
  return out;
}

template <TreeLike T>
T tree_unflatten(const T& like, const std::vector<Tensor>& leaves) {
  const Tensor* it = leaves.data();
  return TreeTraits<T>::unflatten(like, it);
}

// Same structure as t with every leaf mapped by fn.
template <TreeLike T, class Fn>
T tree_map(const T& t, Fn&& fn) {
  std::vector<Tensor> ls = tree_leaves(t);
  for (auto& l : ls) l = fn(l);
  return tree_unflatten(t, ls);
}

// Same structure as t with every leaf on device d (to_device: leaves already there are shared, not copied).
template <TreeLike T>
T tree_to_device(const T& t, Device d) {
  return tree_map(t, [d](const Tensor& x) { return to_device(x, d); });
}

}  // namespace engine
