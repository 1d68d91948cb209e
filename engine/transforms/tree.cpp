// Tree: a dynamic nested container of tensors.
#include "engine/transforms/tree.h"

#include "engine/core/error.h"

namespace engine {

Tree Tree::list(std::vector<Tree> items) {
  Tree t;
  t.kind_ = Kind::List;
  t.list_ = std::move(items);
  return t;
}

Tree Tree::dict(std::map<std::string, Tree> items) {
  Tree t;
  t.kind_ = Kind::Dict;
  t.dict_ = std::move(items);
  return t;
}

const Tensor& Tree::tensor() const {
  if (kind_ != Kind::Leaf)
    throw Error(ErrorKind::Value, "[tree] tensor() called on a " + std::string(kind_ == Kind::None ? "empty node" : "container") +
                                      " " + structure() + "; index into it first");
  return leaf_;
}

Tree& Tree::operator[](const std::string& key) {
  if (kind_ == Kind::None) kind_ = Kind::Dict;
  if (kind_ != Kind::Dict) throw Error(ErrorKind::Value, "[tree] key '" + key + "' used on a non-dict node " + structure());
  return dict_[key];
}

const Tree& Tree::at(const std::string& key) const {
  auto it = dict_.find(key);
  if (kind_ != Kind::Dict || it == dict_.end())
    throw Error(ErrorKind::Value, "[tree] no key '" + key + "' in " + structure());
  return it->second;
}

const Tree& Tree::at(size_t i) const {
  if (kind_ != Kind::List || i >= list_.size())
    throw Error(ErrorKind::Value, "[tree] no element " + std::to_string(i) + " in " + structure());
  return list_[i];
}

void Tree::push_back(Tree t) {
  if (kind_ == Kind::None) kind_ = Kind::List;
  if (kind_ != Kind::List) throw Error(ErrorKind::Value, "[tree] push_back on a non-list node " + structure());
  list_.push_back(std::move(t));
}

size_t Tree::size() const { return kind_ == Kind::List ? list_.size() : kind_ == Kind::Dict ? dict_.size() : 0; }

std::vector<std::string> Tree::keys() const {
  std::vector<std::string> k;
  for (const auto& [key, v] : dict_) k.push_back(key);
  return k;
}

std::vector<Tensor> Tree::leaves() const {
  std::vector<Tensor> out;
  flatten_into(out);
  return out;
}

void Tree::flatten_into(std::vector<Tensor>& out) const {
  switch (kind_) {
    case Kind::None: return;
    case Kind::Leaf: out.push_back(leaf_); return;
    case Kind::List:
      for (const auto& c : list_) c.flatten_into(out);
      return;
    case Kind::Dict:
      for (const auto& [k, c] : dict_) c.flatten_into(out);
      return;
  }
}

Tree Tree::rebuild(const Tensor*& it) const {
  Tree t;
  t.kind_ = kind_;
  switch (kind_) {
    case Kind::None: break;
    case Kind::Leaf: t.leaf_ = *it++; break;
    case Kind::List:
      for (const auto& c : list_) t.list_.push_back(c.rebuild(it));
      break;
    case Kind::Dict:
      for (const auto& [k, c] : dict_) t.dict_.emplace(k, c.rebuild(it));
      break;
  }
  return t;
}

std::string Tree::structure() const {
  switch (kind_) {
    case Kind::None: return "None";
    case Kind::Leaf: return "*";
    case Kind::List: {
      std::string s = "[";
      for (size_t i = 0; i < list_.size(); ++i) s += (i ? ", " : "") + list_[i].structure();
      return s + "]";
    }
    case Kind::Dict: {
      std::string s = "{";
      bool first = true;
      for (const auto& [k, c] : dict_) {
        s += (first ? "\"" : ", \"") + k + "\": " + c.structure();
        first = false;
      }
      return s + "}";
    }
  }
  return "?";
}

}  // namespace engine
