// .npy parsing: header dict grammar, dtype table, streaming data conversion into engine Tensors.
#include "rl/data/npy.h"

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <vector>

namespace rl {

static_assert(std::endian::native == std::endian::little,
              "the .npy reader copies little-endian data as-is; a big-endian host needs byte swapping");

using engine::ErrorKind;
using engine::Shape;
using engine::Tensor;

namespace {

constexpr char kOp[] = "read_npy";
constexpr char kCorruptHint[] = "the file is incomplete or corrupt: regenerate it (or download it again)";
// numpy itself refuses headers over 10000 bytes by default (max_header_size); we allow more, but a bound keeps
// a corrupt length field from asking for gigabytes.
constexpr uint32_t kMaxHeaderLen = 1u << 20;

struct TypeInfo {
  char kind;
  char size;
  NpyType type;
  size_t itemsize;
};
constexpr TypeInfo kTypes[] = {
    {'f', '4', NpyType::F32, 4}, {'f', '8', NpyType::F64, 8}, {'i', '4', NpyType::I32, 4},
    {'i', '8', NpyType::I64, 8}, {'b', '1', NpyType::Bool, 1}, {'u', '1', NpyType::U8, 1},
};
constexpr char kSupported[] = "'<f4', '<f8', '<i4', '<i8', '|b1', '|u1'";

std::string quote(std::string_view s) { return "'" + std::string(s) + "'"; }

// Recursive-descent parser for the header: a python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
// followed by space padding and a newline. Only what numpy writes (and ast.literal_eval would accept for
// those three keys) is understood: quoted strings without escapes, True/False, tuples of non-negative ints.
class DictParser {
 public:
  DictParser(std::string_view text, const NpySource& src) : s_(text), src_(src) {}

  void parse(NpyHeader* out) {
    bool seen_descr = false, seen_order = false, seen_shape = false;
    skip_ws();
    expect('{', "header", "the header must start with '{'");
    skip_ws();
    while (!peek('}')) {
      std::string key = parse_string("header");
      skip_ws();
      expect(':', key, "expected ':' after the key " + quote(key));
      skip_ws();
      if (key == "descr") {
        if (seen_descr) fail("descr", "appears twice");
        if (peek('[')) fail("descr", "is a list: structured (record) arrays are not supported");
        out->descr = parse_string("descr");
        seen_descr = true;
      } else if (key == "fortran_order") {
        if (seen_order) fail("fortran_order", "appears twice");
        out->fortran_order = parse_bool("fortran_order");
        seen_order = true;
      } else if (key == "shape") {
        if (seen_shape) fail("shape", "appears twice");
        out->shape = parse_shape();
        seen_shape = true;
      } else {
        fail(key, "unexpected key " + quote(key) + " (a .npy header has exactly 'descr', 'fortran_order', 'shape')");
      }
      skip_ws();
      if (!peek('}')) expect(',', "header", "expected ',' or '}' after the value of " + quote(key));
      skip_ws();
    }
    ++pos_;
    skip_ws();
    if (pos_ != s_.size()) fail("header", "unexpected text after the closing '}'");
    if (!seen_descr) fail("descr", "missing from the header");
    if (!seen_order) fail("fortran_order", "missing from the header");
    if (!seen_shape) fail("shape", "missing from the header");
  }

 private:
  [[noreturn]] void fail(std::string_view field, std::string_view problem) {
    raise_data_error(ErrorKind::IO, kOp, src_, field,
                     std::string(problem) + " (at header character " + std::to_string(pos_) + ")",
                     "write the array with numpy.save / numpy.savez; " + std::string(kCorruptHint));
  }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
      ++pos_;
  }
  bool peek(char c) const { return pos_ < s_.size() && s_[pos_] == c; }
  void expect(char c, std::string_view field, const std::string& problem) {
    if (!peek(c)) fail(field, problem);
    ++pos_;
  }
  std::string parse_string(std::string_view field) {
    if (!peek('\'') && !peek('"')) fail(field, "expected a quoted string");
    char q = s_[pos_++];
    size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] != q) {
      if (s_[pos_] == '\\') fail(field, "escape sequences in strings are not supported");
      ++pos_;
    }
    if (pos_ >= s_.size()) fail(field, "unterminated string");
    return std::string(s_.substr(start, pos_++ - start));
  }
  bool parse_bool(std::string_view field) {
    for (bool v : {true, false}) {
      std::string_view word = v ? "True" : "False";
      if (s_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        return v;
      }
    }
    fail(field, "expected True or False");
  }
  int64_t parse_int() {
    if (peek('-')) fail("shape", "has a negative dimension");
    if (pos_ >= s_.size() || s_[pos_] < '0' || s_[pos_] > '9') fail("shape", "expected a dimension (an integer)");
    int64_t v = 0;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      int d = s_[pos_++] - '0';
      if (v > (std::numeric_limits<int64_t>::max() - d) / 10) fail("shape", "has a dimension that overflows int64");
      v = v * 10 + d;
    }
    if (peek('L') || peek('l')) ++pos_;  // python 2 long literal, as old numpy wrote it
    return v;
  }
  Shape parse_shape() {
    expect('(', "shape", "expected a tuple such as (3, 4)");
    Shape shape;
    skip_ws();
    while (!peek(')')) {
      shape.push_back(parse_int());
      skip_ws();
      if (peek(',')) {
        ++pos_;
        skip_ws();
      } else if (!peek(')')) {
        fail("shape", "expected ',' or ')' in the tuple");
      }
    }
    ++pos_;
    if (shape.size() > 64) fail("shape", "has more than 64 dimensions");
    return shape;
  }

  std::string_view s_;
  const NpySource& src_;
  size_t pos_ = 0;
};

void resolve_dtype(NpyHeader* h, const NpySource& src) {
  const std::string& d = h->descr;
  const TypeInfo* info = nullptr;
  if (d.size() == 3)
    for (const TypeInfo& t : kTypes)
      if (d[1] == t.kind && d[2] == t.size) info = &t;
  if (!info)
    raise_data_error(ErrorKind::IO, kOp, src, "descr", "unsupported dtype " + quote(d),
                     std::string("convert the array in numpy to one of ") + kSupported + " (e.g. arr.astype('<f4'))");
  char order = d[0];
  if (info->itemsize > 1 && order == '>')
    raise_data_error(ErrorKind::IO, kOp, src, "descr", "big-endian dtype " + quote(d) + " is not supported",
                     "convert in numpy with arr.astype(arr.dtype.newbyteorder('<')) and save again");
  bool order_ok = info->itemsize > 1 ? order == '<' : (order == '|' || order == '<' || order == '>' || order == '=');
  if (!order_ok)
    raise_data_error(ErrorKind::IO, kOp, src, "descr",
                     "dtype " + quote(d) + " has byte-order mark " + quote(std::string(1, order)) +
                         " (expected '<' for multi-byte types)",
                     std::string("save the array with an explicit little-endian dtype: one of ") + kSupported);
  h->type = info->type;
  h->itemsize = info->itemsize;
}

void compute_sizes(NpyHeader* h, const NpySource& src) {
  uint64_t n = 1;
  bool empty = false;
  for (int64_t d : h->shape) empty |= d == 0;
  if (!empty) {
    for (int64_t d : h->shape) {
      if (uint64_t(d) > uint64_t(std::numeric_limits<int64_t>::max()) / n)
        raise_data_error(ErrorKind::IO, kOp, src, "shape",
                         "shape " + engine::shape_str(h->shape) + " has more elements than int64 can count",
                         kCorruptHint);
      n *= uint64_t(d);
    }
  } else {
    n = 0;
  }
  if (n > std::numeric_limits<uint64_t>::max() / h->itemsize || n * h->itemsize > SIZE_MAX)
    raise_data_error(ErrorKind::IO, kOp, src, "shape", "shape " + engine::shape_str(h->shape) + " is too large",
                     kCorruptHint);
  h->data_bytes = n * h->itemsize;
}

// Reads exactly n bytes or reports truncation (the source's declared size was wrong).
void read_exact(ByteReader& in, void* dst, size_t n, const NpySource& src, std::string_view field) {
  size_t got = 0;
  while (got < n) {
    size_t r = in.read(static_cast<char*>(dst) + got, n - got);
    if (r == 0)
      raise_data_error(ErrorKind::IO, kOp, src, field,
                       "truncated: expected " + std::to_string(n) + " more bytes, got " + std::to_string(got),
                       kCorruptHint);
    got += r;
  }
}

uint32_t le_u32(const unsigned char* p) { return p[0] | (p[1] << 8) | (p[2] << 16) | (uint32_t(p[3]) << 24); }

// Element-wise conversion from the on-disk type to the tensor type, in bounded chunks so a large member never
// needs a second full-size buffer. `first` is the flat index of in[0], for error messages.
template <class From, class To>
void convert_chunk(const From* in, To* out, size_t n, uint64_t first, const NpySource& src) {
  for (size_t i = 0; i < n; ++i) {
    if constexpr (std::is_same_v<From, int64_t>) {
      if (in[i] < std::numeric_limits<int32_t>::min() || in[i] > std::numeric_limits<int32_t>::max())
        raise_data_error(ErrorKind::IO, kOp, src, "data",
                         "element " + std::to_string(first + i) + " (in file order) is " + std::to_string(in[i]) +
                             ", outside the i32 range the '<i8' data is narrowed to",
                         "the engine has no 64-bit integers: store the column as '<f8' or rescale it in numpy");
    } else if constexpr (std::is_same_v<To, bool>) {
      if (in[i] > 1)
        raise_data_error(ErrorKind::IO, kOp, src, "data",
                         "bool element " + std::to_string(first + i) + " is byte " + std::to_string(int(in[i])) +
                             " (a numpy bool is 0 or 1)",
                         kCorruptHint);
    }
    out[i] = static_cast<To>(in[i]);
  }
}

template <class From, class To>
void read_converted(ByteReader& in, To* out, uint64_t count, const NpySource& src) {
  constexpr size_t kChunk = 1 << 14;
  std::vector<From> buf(std::min<uint64_t>(count, kChunk));
  for (uint64_t done = 0; done < count;) {
    size_t n = size_t(std::min<uint64_t>(count - done, kChunk));
    read_exact(in, buf.data(), n * sizeof(From), src, "data");
    convert_chunk(buf.data(), out + done, n, done, src);
    done += n;
  }
}

class MemReader final : public ByteReader {
 public:
  MemReader(const void* data, size_t size) : p_(static_cast<const unsigned char*>(data)), n_(size) {}
  size_t read(void* dst, size_t n) override {
    size_t k = std::min(n, n_ - pos_);
    if (k) std::memcpy(dst, p_ + pos_, k);
    pos_ += k;
    return k;
  }
  uint64_t remaining() const override { return n_ - pos_; }

 private:
  const unsigned char* p_;
  size_t n_, pos_ = 0;
};

class FileReader final : public ByteReader {
 public:
  FileReader(const std::string& path, const NpySource& src) : src_(src) {
    f_ = std::fopen(path.c_str(), "rb");
    if (!f_)
      raise_data_error(ErrorKind::IO, kOp, src, "file", std::string("cannot open: ") + std::strerror(errno),
                       "check the path and its permissions");
    std::error_code ec;
    left_ = std::filesystem::file_size(path, ec);
    if (ec) left_ = 0;
  }
  ~FileReader() override { std::fclose(f_); }
  size_t read(void* dst, size_t n) override {
    size_t k = std::fread(dst, 1, n, f_);
    if (k < n && std::ferror(f_))
      raise_data_error(ErrorKind::IO, kOp, src_, "file", "read error", "check the disk and the file");
    left_ -= std::min<uint64_t>(left_, k);
    return k;
  }
  uint64_t remaining() const override { return left_; }

 private:
  std::FILE* f_ = nullptr;
  uint64_t left_ = 0;
  const NpySource& src_;
};

}  // namespace

void raise_data_error(ErrorKind kind, std::string_view op, const NpySource& src, std::string_view field,
                      std::string_view problem, std::string_view hint) {
  std::string where;
  if (!src.file.empty()) where += "file " + quote(src.file);
  if (!src.member.empty()) where += (where.empty() ? "" : ", ") + std::string("member ") + quote(src.member);
  if (where.empty()) where = "in-memory data";
  if (!field.empty()) where += ", field " + quote(field);
  engine::raise(kind, op, where + ": " + std::string(problem), {}, {}, hint);
}

void parse_npy_dict(std::string_view text, const NpySource& src, NpyHeader* out) {
  DictParser(text, src).parse(out);
  resolve_dtype(out, src);
  compute_sizes(out, src);
}

NpyHeader read_npy_header(ByteReader& in, const NpySource& src) {
  NpyHeader h;
  unsigned char pre[8];
  if (in.remaining() < 10)
    raise_data_error(ErrorKind::IO, kOp, src, "magic",
                     "only " + std::to_string(in.remaining()) + " bytes: too short for a .npy header", kCorruptHint);
  read_exact(in, pre, 8, src, "magic");
  if (std::memcmp(pre, "\x93NUMPY", 6) != 0)
    raise_data_error(ErrorKind::IO, kOp, src, "magic", "does not start with the .npy magic \\x93NUMPY",
                     "this is not a .npy array (or it is damaged): write it with numpy.save / numpy.savez");
  h.major = pre[6];
  h.minor = pre[7];
  if (!((h.major == 1 || h.major == 2 || h.major == 3) && h.minor == 0))
    raise_data_error(ErrorKind::IO, kOp, src, "version",
                     "format version " + std::to_string(h.major) + "." + std::to_string(h.minor) +
                         " is not supported (1.0, 2.0, 3.0 are)",
                     "save the array with numpy's default format (numpy.save)");
  uint32_t len;
  unsigned char lb[4] = {0, 0, 0, 0};
  if (h.major == 1) {
    read_exact(in, lb, 2, src, "header_len");
    len = lb[0] | (lb[1] << 8);
    h.header_bytes = 10 + len;
  } else {
    read_exact(in, lb, 4, src, "header_len");
    len = le_u32(lb);
    h.header_bytes = 12 + size_t(len);
  }
  if (len > kMaxHeaderLen || len > in.remaining())
    raise_data_error(ErrorKind::IO, kOp, src, "header_len",
                     "header length " + std::to_string(len) + " exceeds the " + std::to_string(in.remaining()) +
                         " bytes that remain" + (len > kMaxHeaderLen ? " (or the 1 MiB limit)" : ""),
                     kCorruptHint);
  std::string text(len, '\0');
  read_exact(in, text.data(), len, src, "header");
  parse_npy_dict(text, src, &h);
  return h;
}

Tensor read_npy_data(ByteReader& in, const NpyHeader& h, const NpySource& src, const NpyOptions& opts) {
  uint64_t left = in.remaining();
  std::string what = "shape " + engine::shape_str(h.shape) + " of " + quote(h.descr) + " needs " +
                     std::to_string(h.data_bytes) + " data bytes";
  if (left < h.data_bytes)
    raise_data_error(ErrorKind::IO, kOp, src, "data", "truncated: " + what + ", only " + std::to_string(left) + " remain",
                     kCorruptHint);
  if (left > h.data_bytes)
    raise_data_error(ErrorKind::IO, kOp, src, "shape",
                     "does not match the data: " + what + ", but " + std::to_string(left) + " bytes follow the header",
                     "the header's shape disagrees with the stored data; " + std::string(kCorruptHint));

  engine::DType dt = engine::DType::F32;
  switch (h.type) {
    case NpyType::F32: dt = engine::DType::F32; break;
    case NpyType::F64: dt = opts.f64_to_f32 ? engine::DType::F32 : engine::DType::F64; break;
    case NpyType::I32:
    case NpyType::I64:
    case NpyType::U8: dt = engine::DType::I32; break;
    case NpyType::Bool: dt = engine::DType::Bool; break;
  }
  // A Fortran-ordered array is the row-major array of the reversed shape; read it as that, then view it with
  // column-major strides and copy to row-major.
  bool transpose = h.fortran_order && h.shape.size() > 1;
  Shape storage_shape = h.shape;
  if (transpose) storage_shape.assign(h.shape.rbegin(), h.shape.rend());
  Tensor out = Tensor::empty(storage_shape, dt);
  uint64_t count = h.data_bytes / h.itemsize;
  void* dst = out.raw_mutable_data();
  switch (h.type) {
    case NpyType::F32:
    case NpyType::I32: read_exact(in, dst, size_t(h.data_bytes), src, "data"); break;
    case NpyType::F64:
      if (opts.f64_to_f32) read_converted<double>(in, static_cast<float*>(dst), count, src);
      else read_exact(in, dst, size_t(h.data_bytes), src, "data");
      break;
    case NpyType::I64: read_converted<int64_t>(in, static_cast<int32_t*>(dst), count, src); break;
    case NpyType::U8: read_converted<uint8_t>(in, static_cast<int32_t*>(dst), count, src); break;
    case NpyType::Bool: read_converted<uint8_t>(in, static_cast<bool*>(dst), count, src); break;
  }
  // The declared size matched, but a zip member's CRC is only checked when its end is read, and a lying
  // source could still have more: one more read settles both.
  char extra;
  if (in.read(&extra, 1) != 0)
    raise_data_error(ErrorKind::IO, kOp, src, "shape", "does not match the data: bytes follow the " + what,
                     "the header's shape disagrees with the stored data; " + std::string(kCorruptHint));
  if (!transpose) return out;
  std::vector<int64_t> strides(h.shape.size());
  int64_t s = 1;
  for (size_t i = 0; i < h.shape.size(); ++i) {
    strides[i] = s;
    s *= std::max<int64_t>(h.shape[i], 1);
  }
  return Tensor::make_concrete(engine::AVal{h.shape, dt, false}, out.storage(), 0, strides).contiguous();
}

Tensor read_npy(const void* data, size_t size, const NpySource& src, const NpyOptions& opts) {
  MemReader in(data, size);
  NpyHeader h = read_npy_header(in, src);
  return read_npy_data(in, h, src, opts);
}

Tensor read_npy_file(const std::string& path, const NpyOptions& opts) {
  NpySource src{path, ""};
  FileReader in(path, src);
  NpyHeader h = read_npy_header(in, src);
  return read_npy_data(in, h, src, opts);
}

}  // namespace rl
