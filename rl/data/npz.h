// Reader for NumPy .npz archives (np.savez: stored members, np.savez_compressed: deflate), the format OGBench
// ships its data sets in: a zip of `<key>.npy` members. Built on libzip; each member is streamed through the
// .npy reader (rl/data/npy.h) straight into its Tensor, so a large member is never held twice.
// Errors name the file, the member and the field (or 'zip' for archive-level damage) and say what to do.
// Only the stored and deflate methods are read (what numpy writes); that also bounds the memory a corrupt
// size field can request (a deflate member inflates at most ~1032x).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "rl/data/npy.h"

namespace rl {

// An open archive. Not thread-safe (libzip handles are not): use one NpzFile per thread.
class NpzFile {
 public:
  static NpzFile open(const std::string& path);
  // An archive image in memory (copied, so the caller's buffer may go away). `name` stands in for the file
  // name in error messages.
  static NpzFile from_buffer(const void* data, size_t size, const std::string& name = "<buffer>");

  NpzFile(NpzFile&&) noexcept;
  NpzFile& operator=(NpzFile&&) noexcept;
  ~NpzFile();

  const std::string& name() const;
  // Member names with the ".npy" suffix removed, in archive order (numpy's NpzFile.files).
  const std::vector<std::string>& keys() const;
  bool contains(const std::string& key) const;
  // Reads one member; a key the archive lacks is an error listing the keys it has.
  engine::Tensor read(const std::string& key, const NpyOptions& opts = {});
  // Reads only a member's header (dtype, shape), e.g. to validate before reading a large array.
  NpyHeader header(const std::string& key);

 private:
  struct Impl;
  explicit NpzFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Reads the named members (all of them when `keys` is empty) into a key -> Tensor map.
std::map<std::string, engine::Tensor> read_npz(const std::string& path, const std::vector<std::string>& keys = {},
                                               const NpyOptions& opts = {});
std::map<std::string, engine::Tensor> read_npz_buffer(const void* data, size_t size,
                                                      const std::string& name = "<buffer>",
                                                      const std::vector<std::string>& keys = {},
                                                      const NpyOptions& opts = {});

}  // namespace rl
