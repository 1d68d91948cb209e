// Checkpoints in the safetensors format (https://github.com/huggingface/safetensors), readable by its Python
// and Rust loaders:
//   8 bytes   little-endian u64 N, the header length
//   N bytes   JSON header {"__metadata__": {str: str}, "<name>": {"dtype": "F32"|"F64"|"I32"|"U32"|"BOOL",
//             "shape": [...], "data_offsets": [begin, end]}, ...}, padded with spaces to a multiple of 8
//             bytes
//   the data  raw little-endian row-major bytes, offsets relative to the start of the data, tensors packed
//             contiguously in the order the header lists them (the order they were added)
//
// Naming: a tree added as add("policy", tree) stores its leaves, in flatten order (engine::tree_leaves), as
// "policy/0", "policy/1", ...; a single tensor added as add("rng", key) is stored under exactly "rng".
// Restoring a tree needs a `like` tree of the same structure; counts, dtypes and shapes are checked.
// An RNG key (u32[2]) or a step counter is stored like any other tensor.
//
// Saving is atomic: the file is written to a temporary file in the target's directory, fsynced, and renamed
// over the target, so a crash or a failed save never leaves a half-written checkpoint at `path`.
// Loading validates the whole file (header length, JSON, every field, offsets against dtype * shape and
// against the data, no overlaps, no gaps) before any tensor is returned; values round-trip bitwise.
#pragma once
#include <concepts>
#include <cstdint>
#include <map>
#include <source_location>
#include <string>
#include <vector>

#include "engine/core/tensor.h"
#include "engine/transforms/tree.h"

namespace nn {

using engine::Tensor;

class CheckpointReader;

class Checkpoint {
 public:
  // One tensor under exactly `name`. Contents are copied now (a later in-place update, e.g. a donated jit
  // buffer, does not change what is saved). Names must be unique, non-empty and not "__metadata__".
  Checkpoint& add(const std::string& name, const Tensor& t,
                  std::source_location loc = std::source_location::current());
  // A tree's leaves under "<prefix>/<i>", i in flatten order.
  template <engine::TreeLike T>
    requires(!std::same_as<T, Tensor>)
  Checkpoint& add(const std::string& prefix, const T& tree,
                  std::source_location loc = std::source_location::current()) {
    add_leaves(prefix, engine::tree_leaves(tree), loc);
    return *this;
  }
  Checkpoint& set_metadata(const std::string& key, const std::string& value);

  // The header JSON as it will be written (without the padding).
  std::string header_json() const;
  // Writes the file atomically; throws engine::Error (IO) naming the path and the system error on failure.
  void save(const std::string& path, std::source_location loc = std::source_location::current()) const;
  static CheckpointReader load(const std::string& path,
                               std::source_location loc = std::source_location::current());

 private:
  struct Entry {
    std::string name;
    engine::DType dtype;
    engine::Shape shape;
    std::vector<char> bytes;
  };
  void add_leaves(const std::string& prefix, const std::vector<Tensor>& leaves,
                  const std::source_location& loc);
  std::string header_json_for(const std::string& path) const;  // path only names the file in errors
  std::vector<Entry> entries_;                                 // in insertion order = file order
  std::map<std::string, std::string> metadata_;
};

class CheckpointReader {
 public:
  const std::string& path() const { return path_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  std::string metadata(const std::string& key) const;  // throws naming the file and the key if missing
  std::vector<std::string> names() const;              // in data order
  bool contains(const std::string& name) const { return entries_.count(name) != 0; }

  // A fresh tensor (its own buffer) each call.
  Tensor tensor(const std::string& name, std::source_location loc = std::source_location::current()) const;
  // The tensor `name`, checked against like's dtype and shape.
  Tensor restore(const std::string& name, const Tensor& like,
                 std::source_location loc = std::source_location::current()) const;
  // The tree stored under "<prefix>/<i>", rebuilt with like's structure; checks the leaf count and every
  // leaf's dtype and shape (like's values are not used).
  template <engine::TreeLike T>
    requires(!std::same_as<T, Tensor>)
  T restore(const std::string& prefix, const T& like,
            std::source_location loc = std::source_location::current()) const {
    return engine::tree_unflatten(like, restore_leaves(prefix, engine::tree_leaves(like), loc));
  }

 private:
  friend class Checkpoint;
  struct Entry {
    engine::DType dtype;
    engine::Shape shape;
    uint64_t begin = 0, end = 0;  // into data_
  };
  std::vector<Tensor> restore_leaves(const std::string& prefix, const std::vector<Tensor>& like,
                                     const std::source_location& loc) const;
  void check_like(const std::string& name, const Tensor& like, const std::string& what,
                  const std::source_location& loc) const;
  std::string path_;
  std::vector<char> data_;
  std::map<std::string, Entry> entries_;
  std::vector<std::string> order_;
  std::map<std::string, std::string> metadata_;
};

inline CheckpointReader load_checkpoint(const std::string& path,
                                        std::source_location loc = std::source_location::current()) {
  return Checkpoint::load(path, loc);
}

}  // namespace nn
