// Reader for NumPy's .npy format (versions 1.0, 2.0, 3.0): the magic, the python-dict header ('descr',
// 'fortran_order', 'shape') and the raw little-endian data, turned into a row-major concrete engine Tensor.
// Supported element types and what they become:
//   '<f4' -> F32        '<f8' -> F64 (or F32 with NpyOptions::f64_to_f32)
//   '<i4' -> I32        '<i8' -> I32 (every value range-checked; the engine has no 64-bit integers)
//   '|b1' -> Bool (bytes must be 0 or 1)   '|u1' -> I32 (lossless: the engine has no 8-bit type, and a u1
//                                                   column is not always 0/1, e.g. pixels)
// fortran_order True is accepted and transposed into row-major order (numpy writes it for F-contiguous
// arrays, and refusing would make np.asfortranarray data unloadable for no good reason).
// Rejected with an error naming the file, the member and the field: bad magic or version, malformed header,
// big-endian or unknown dtypes, truncated data or bytes left over after it (the header's shape disagrees with
// the data).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/core/tensor.h"

namespace rl {

// Where the bytes came from, for error messages: "file 'x.npz', member 'observations.npy'". Either part may be
// empty (an in-memory buffer, a plain .npy file).
struct NpySource {
  std::string file;
  std::string member;
};

// Throws engine::Error(kind) as "[op] file 'f', member 'm', field 'x': problem; hint: what to do". Shared by
// the npy, npz and dataset readers so every data error reads the same way.
[[noreturn]] void raise_data_error(engine::ErrorKind kind, std::string_view op, const NpySource& src,
                                   std::string_view field, std::string_view problem, std::string_view hint);

struct NpyOptions {
  bool f64_to_f32 = false;  // '<f8' -> F32 (round to nearest; out-of-range values become +-inf, as astype)
};

// The on-disk element types this reader understands.
enum class NpyType { F32, F64, I32, I64, Bool, U8 };

struct NpyHeader {
  int major = 0;
  int minor = 0;
  std::string descr;           // as written, e.g. "<f4"
  NpyType type = NpyType::F32;
  size_t itemsize = 0;         // bytes per element on disk
  bool fortran_order = false;
  engine::Shape shape;
  size_t header_bytes = 0;     // magic + version + length field + dict: the data starts here
  uint64_t data_bytes = 0;     // numel(shape) * itemsize (overflow-checked)
};

// A pull source of bytes. remaining() is how many bytes the source says are left (a zip member's declared
// size, a buffer's length); the reader checks it against the header before allocating, so a corrupt header
// cannot request an absurd allocation, and it still checks every read's actual count.
class ByteReader {
 public:
  virtual ~ByteReader() = default;
  // Copies up to n bytes into dst; returns the count (< n only at the end). Throws on a read error.
  virtual size_t read(void* dst, size_t n) = 0;
  virtual uint64_t remaining() const = 0;
};

// Reads the magic, version and header dict; leaves `in` at the first data byte.
NpyHeader read_npy_header(ByteReader& in, const NpySource& src);
// Reads the data that follows the header, converts it and checks that nothing follows it.
engine::Tensor read_npy_data(ByteReader& in, const NpyHeader& header, const NpySource& src,
                             const NpyOptions& opts = {});

// A whole .npy image in memory.
engine::Tensor read_npy(const void* data, size_t size, const NpySource& src = {}, const NpyOptions& opts = {});
// A .npy file on disk.
engine::Tensor read_npy_file(const std::string& path, const NpyOptions& opts = {});

// Parses only the header dict text (between the length field and the data), for tests and tools.
// Throws like read_npy_header.
void parse_npy_dict(std::string_view text, const NpySource& src, NpyHeader* out);

}  // namespace rl
