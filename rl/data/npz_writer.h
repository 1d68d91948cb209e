// Writer for NumPy .npz archives (what np.savez / np.savez_compressed produce): a zip of `<key>.npy` members
// in .npy format 1.0 (2.0 only for a header too long for 1.0), stored or deflate-compressed, built with
// libzip. The inverse of rl/data/npz.h: files written here load with rl::read_npz / rl::load_dataset and with
// numpy.load.
//
// The file is written atomically: the archive is built under a temporary name in the destination directory,
// flushed to disk, then renamed over `path`, so a reader never sees a half-written file and a failure leaves
// any previous file untouched. Members get a fixed timestamp (1980-01-01, the zip epoch), so equal inputs
// give byte-identical files. Element types: F32 '<f4', F64 '<f8', I32 '<i4', U32 '<u4', Bool '|b1'
// (rl::read_npy reads all but '<u4').
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/tensor.h"

namespace rl {

enum class NpzCompression {
  Stored,   // np.savez
  Deflate,  // np.savez_compressed
};

struct NpzWriteOptions {
  NpzCompression compression = NpzCompression::Deflate;
  int level = 0;  // deflate level 1..9; 0 = zlib's default (6), what numpy uses
};

// The .npy image (magic, header, row-major little-endian data) of a concrete tensor.
std::string npy_bytes(const engine::Tensor& t, const std::string& name_for_errors = "<array>");

// Writes `arrays` as members "<key>.npy" (keys in map order). Keys must be non-empty, without '/' or '\\',
// tensors concrete. Errors name the file and the member and say what to do.
void write_npz(const std::string& path, const std::map<std::string, engine::Tensor>& arrays,
               const NpzWriteOptions& options = {});
// The same with the member order given (numpy preserves keyword order; some readers list members in order).
// A separate name, so that a braced list at a call site picks the map overload without ambiguity.
void write_npz_ordered(const std::string& path,
                       const std::vector<std::pair<std::string, engine::Tensor>>& arrays,
                       const NpzWriteOptions& options = {});

}  // namespace rl
