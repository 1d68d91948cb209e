// safetensors checkpoints (see checkpoint.h): the builder and its atomic save, and the loader, which
// validates the whole file before handing out tensors. Data is copied as raw bytes in both directions, so
// values round-trip bitwise (NaN payloads, -0, subnormals); the format is little-endian, as is every host we
// build for (static_assert below).
#include "nn/checkpoint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>

#include "engine/core/error.h"

namespace nn {

static_assert(std::endian::native == std::endian::little,
              "checkpoint.cpp copies tensor bytes verbatim; safetensors is little-endian");

using engine::DType;
using engine::ErrorKind;
using engine::Shape;
using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

namespace {

constexpr const char* kMetadataKey = "__metadata__";
// safetensors' own loaders refuse headers over 100 MB; a larger length is a corrupt or hostile file.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

const char* st_dtype_name(DType dt) {
  switch (dt) {
    case DType::Bool:
      return "BOOL";
    case DType::I32:
      return "I32";
    case DType::U32:
      return "U32";
    case DType::F32:
      return "F32";
    case DType::F64:
      return "F64";
  }
  return "?";
}

bool st_dtype_from_name(const std::string& s, DType* out) {
  for (DType dt : {DType::Bool, DType::I32, DType::U32, DType::F32, DType::F64})
    if (s == st_dtype_name(dt)) {
      *out = dt;
      return true;
    }
  return false;
}

std::string shape_text(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

std::string aval_text(DType dt, const Shape& s) { return std::string(st_dtype_name(dt)) + shape_text(s); }

[[noreturn]] void io_fail(const std::string& op, const std::string& path, const std::string& problem,
                          const std::source_location& loc, const std::string& hint) {
  engine::raise(ErrorKind::IO, op, "file '" + path + "': " + problem, {}, loc, hint);
}

// ---- atomic write: temp file in the target's directory + fsync + rename (+ fsync of the directory) ----

std::string sys_error() { return std::strerror(errno); }

void write_all(int fd, const char* p, size_t n, const std::string& tmp, const std::string& path,
               const std::source_location& loc) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0)
      io_fail("nn::Checkpoint::save", path, "writing the temporary file '" + tmp + "' failed: " + sys_error(),
              loc,
              "check free space, quotas and file size limits; the previous checkpoint (if any) is untouched");
    p += w;
    n -= size_t(w);
  }
}

void write_file_atomic(const std::string& path, const std::vector<std::string_view>& parts,
                       const std::source_location& loc) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  // Same directory as the target so rename() stays on one file system and is atomic; pid + counter so two
  // savers (threads or processes) never share a temporary file.
  static std::atomic<uint64_t> counter{0};
  const std::string tmp = (dir / ("." + target.filename().string() + ".tmp." + std::to_string(::getpid()) +
                                  "." + std::to_string(counter.fetch_add(1))))
                              .string();
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    io_fail(
        "nn::Checkpoint::save", path,
        "cannot create the temporary file '" + tmp + "' in directory '" + dir.string() + "': " + sys_error(),
        loc, "make sure the directory exists and is writable");
  try {
    for (std::string_view part : parts) write_all(fd, part.data(), part.size(), tmp, path, loc);
    if (::fsync(fd) != 0)
      io_fail("nn::Checkpoint::save", path, "fsync of '" + tmp + "' failed: " + sys_error(), loc,
              "the storage device reported an error; the previous checkpoint (if any) is untouched");
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    const std::string e = sys_error();
    ::unlink(tmp.c_str());
    io_fail("nn::Checkpoint::save", path, "closing '" + tmp + "' failed: " + e, loc,
            "the storage device reported an error; the previous checkpoint (if any) is untouched");
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string e = sys_error();
    ::unlink(tmp.c_str());
    io_fail("nn::Checkpoint::save", path, "renaming '" + tmp + "' over it failed: " + e, loc,
            "the path must not be a directory, and the directory must be writable");
  }
  // Make the rename itself durable. Best effort: some file systems do not support fsync on directories,
  // and the checkpoint is already complete and in place.
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
}

// ---- header validation helpers ----

uint64_t checked_nbytes(const Shape& shape, DType dt, bool* overflow) {
  uint64_t n = engine::itemsize(dt);
  *overflow = false;
  for (int64_t d : shape)
    if (__builtin_mul_overflow(n, uint64_t(d), &n)) *overflow = true;
  return n;
}

// Reads a JSON array of non-negative integers; returns false (with `why`) otherwise.
bool read_uint_array(const json& j, std::vector<uint64_t>* out, std::string* why) {
  if (!j.is_array()) {
    *why = "is " + std::string(j.type_name()) + ", not an array";
    return false;
  }
  for (size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_number_unsigned()) {
      *why = "element " + std::to_string(i) + " is " + j[i].dump() + ", not a non-negative integer";
      return false;
    }
    out->push_back(j[i].get<uint64_t>());
  }
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// Builder

Checkpoint& Checkpoint::add(const std::string& name, const Tensor& t, std::source_location loc) {
  const char* op = "nn::Checkpoint::add";
  if (name.empty() || name == kMetadataKey)
    engine::raise(ErrorKind::Value, op, "invalid tensor name '" + name + "'", {}, loc,
                  "use a non-empty name other than \"__metadata__\"");
  if (!t.defined())
    engine::raise(ErrorKind::Value, op, "tensor '" + name + "' is a null tensor", {}, loc,
                  "save only initialized tensors");
  t.require_concrete("nn::Checkpoint::add");
  for (const Entry& e : entries_)
    if (e.name == name)
      engine::raise(ErrorKind::Value, op, "tensor name '" + name + "' was already added", {}, loc,
                    "give every tensor and tree prefix a unique name");
  Entry e{name, t.dtype(), t.shape(), std::vector<char>(size_t(t.numel()) * engine::itemsize(t.dtype()))};
  if (!e.bytes.empty()) engine::copy_to_contiguous(t, e.bytes.data());
  entries_.push_back(std::move(e));
  return *this;
}

void Checkpoint::add_leaves(const std::string& prefix, const std::vector<Tensor>& leaves,
                            const std::source_location& loc) {
  if (prefix.empty() || prefix == kMetadataKey)
    engine::raise(ErrorKind::Value, "nn::Checkpoint::add", "invalid tree prefix '" + prefix + "'", {}, loc,
                  "use a non-empty prefix other than \"__metadata__\"");
  for (size_t i = 0; i < leaves.size(); ++i) add(prefix + "/" + std::to_string(i), leaves[i], loc);
}

Checkpoint& Checkpoint::set_metadata(const std::string& key, const std::string& value) {
  metadata_[key] = value;
  return *this;
}

std::string Checkpoint::header_json() const { return header_json_for(""); }

std::string Checkpoint::header_json_for(const std::string& path) const {
  // ordered_json keeps insertion order, so the header lists tensors in data order (nlohmann's default json
  // would sort "p/10" before "p/2").
  ordered_json h = ordered_json::object();
  if (!metadata_.empty()) {
    ordered_json m = ordered_json::object();
    for (const auto& [k, v] : metadata_) m[k] = v;
    h[kMetadataKey] = std::move(m);
  }
  uint64_t offset = 0;
  for (const Entry& e : entries_) {
    ordered_json t = ordered_json::object();
    t["dtype"] = st_dtype_name(e.dtype);
    t["shape"] = e.shape;
    t["data_offsets"] = {offset, offset + e.bytes.size()};
    offset += e.bytes.size();
    h[e.name] = std::move(t);
  }
  try {
    return h.dump();
  } catch (const ordered_json::exception& e) {  // nlohmann refuses to write invalid UTF-8
    engine::raise(ErrorKind::Value, "nn::Checkpoint::save",
                  (path.empty() ? std::string() : "file '" + path + "': ") +
                      "a tensor name or metadata string is not valid UTF-8 and cannot be written as JSON (" +
                      e.what() + ")",
                  {}, {}, "use valid UTF-8 for tensor names and metadata");
  }
}

void Checkpoint::save(const std::string& path, std::source_location loc) const {
  std::string header = header_json_for(path);
  // Pad with spaces (valid JSON whitespace) so the data starts 8-byte aligned, as safetensors' writer does.
  header.append((8 - header.size() % 8) % 8, ' ');
  char len[8];
  const uint64_t n = header.size();
  std::memcpy(len, &n, 8);
  std::vector<std::string_view> parts{std::string_view(len, 8), header};
  for (const Entry& e : entries_) parts.emplace_back(e.bytes.data(), e.bytes.size());
  write_file_atomic(path, parts, loc);
}

// ---------------------------------------------------------------------------------------------------------
// Loader

CheckpointReader Checkpoint::load(const std::string& path, std::source_location loc) {
  const std::string op = "nn::Checkpoint::load";
  CheckpointReader r;
  r.path_ = path;

  // Read the whole file (checkpoints here are small compared with memory; one read keeps validation simple).
  std::vector<char> file;
  {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) io_fail(op, path, "cannot open: " + sys_error(), loc, "check the path");
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      io_fail(op, path, "is not a regular file", loc, "pass the path of a .safetensors file");
    }
    file.resize(size_t(st.st_size));
    size_t got = 0;
    while (got < file.size()) {
      const ssize_t k = ::read(fd, file.data() + got, file.size() - got);
      if (k < 0 && errno == EINTR) continue;
      if (k <= 0) {
        const std::string e = k < 0 ? sys_error() : "unexpected end of file";
        ::close(fd);
        io_fail(op, path, "reading failed: " + e, loc, "check the file and the storage device");
      }
      got += size_t(k);
    }
    ::close(fd);
  }
  const std::string corrupt = "the file is truncated or corrupt; restore it from a good copy";

  if (file.size() < 8)
    io_fail(op, path,
            "is " + std::to_string(file.size()) + " bytes, shorter than the 8-byte header length field", loc,
            corrupt);
  uint64_t n = 0;
  std::memcpy(&n, file.data(), 8);
  if (n > file.size() - 8 || n > kMaxHeaderBytes)
    io_fail(op, path,
            "header length " + std::to_string(n) + " goes beyond the file (" + std::to_string(file.size()) +
                " bytes, so at most " + std::to_string(file.size() - 8) + " bytes of header)",
            loc, corrupt);
  const std::string_view header(file.data() + 8, size_t(n));
  const uint64_t data_size = file.size() - 8 - n;

  // Parse, rejecting duplicate top-level names (nlohmann would silently keep the last one).
  std::set<std::string> seen;
  std::string duplicate;
  json h;
  try {
    h = json::parse(header.begin(), header.end(), [&](int depth, json::parse_event_t ev, json& parsed) {
      if (ev == json::parse_event_t::key && depth == 1 && !seen.insert(parsed.get<std::string>()).second &&
          duplicate.empty())
        duplicate = parsed.get<std::string>();
      return true;
    });
  } catch (const json::exception& e) {
    io_fail(op, path, std::string("header is not valid JSON (") + e.what() + ")", loc, corrupt);
  }
  if (!duplicate.empty()) io_fail(op, path, "header names tensor '" + duplicate + "' twice", loc, corrupt);
  if (!h.is_object())
    io_fail(op, path, std::string("header is a JSON ") + h.type_name() + ", not an object", loc, corrupt);

  struct Span {
    uint64_t begin, end;
    std::string name;
  };
  std::vector<Span> spans;
  for (auto it = h.begin(); it != h.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == kMetadataKey) {
      if (!v.is_object())
        io_fail(op, path,
                std::string("field \"__metadata__\" is a JSON ") + v.type_name() + ", not an object", loc,
                corrupt);
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string())
          io_fail(op, path,
                  "field \"__metadata__\"." + m.key() + " is " + m.value().dump() + ", not a string", loc,
                  corrupt);
        r.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + name + "'";
    if (!v.is_object()) io_fail(op, path, where + " is " + v.dump() + ", not an object", loc, corrupt);
    for (auto f = v.begin(); f != v.end(); ++f)
      if (f.key() != "dtype" && f.key() != "shape" && f.key() != "data_offsets")
        io_fail(op, path, where + " has an unknown field \"" + f.key() + "\"", loc,
                "tensor entries hold only dtype, shape and data_offsets");
    for (const char* field : {"dtype", "shape", "data_offsets"})
      if (!v.contains(field)) io_fail(op, path, where + " has no field \"" + field + "\"", loc, corrupt);

    CheckpointReader::Entry e;
    const json& jd = v["dtype"];
    if (!jd.is_string() || !st_dtype_from_name(jd.get<std::string>(), &e.dtype))
      io_fail(op, path,
              where + " field \"dtype\" is " + jd.dump() +
                  ", not one of \"F32\", \"F64\", \"I32\", \"U32\", \"BOOL\"",
              loc, "this library reads only these dtypes");
    std::vector<uint64_t> dims, offs;
    std::string why;
    if (!read_uint_array(v["shape"], &dims, &why))
      io_fail(op, path, where + " field \"shape\" " + why, loc, corrupt);
    for (uint64_t d : dims) {
      if (d > uint64_t(INT64_MAX))
        io_fail(op, path, where + " field \"shape\" has a dimension too large", loc, corrupt);
      e.shape.push_back(int64_t(d));
    }
    if (!read_uint_array(v["data_offsets"], &offs, &why))
      io_fail(op, path, where + " field \"data_offsets\" " + why, loc, corrupt);
    if (offs.size() != 2)
      io_fail(op, path,
              where + " field \"data_offsets\" has " + std::to_string(offs.size()) + " elements, not 2", loc,
              corrupt);
    e.begin = offs[0];
    e.end = offs[1];
    const std::string offs_text = "[" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "]";
    if (e.begin > e.end)
      io_fail(op, path, where + " field \"data_offsets\" " + offs_text + " ends before it begins", loc,
              corrupt);
    bool overflow = false;
    const uint64_t need = checked_nbytes(e.shape, e.dtype, &overflow);
    if (overflow || e.end - e.begin != need)
      io_fail(op, path,
              where + " field \"data_offsets\" " + offs_text + " spans " + std::to_string(e.end - e.begin) +
                  " bytes, but dtype " + st_dtype_name(e.dtype) + " and shape " + shape_text(e.shape) +
                  " need " + (overflow ? std::string("more than 2^64") : std::to_string(need)),
              loc, corrupt);
    if (e.end > data_size)
      io_fail(op, path,
              where + " field \"data_offsets\" " + offs_text + " is out of range: the file holds only " +
                  std::to_string(data_size) + " bytes of data",
              loc, corrupt);
    spans.push_back({e.begin, e.end, name});
    r.entries_.emplace(name, e);
  }

  // safetensors requires the data to be covered exactly: no overlaps, no gaps, nothing after the last tensor.
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t pos = 0;
  std::string prev;
  for (const Span& s : spans) {
    if (s.begin < pos)
      io_fail(op, path,
              "tensor '" + s.name + "' field \"data_offsets\" [" + std::to_string(s.begin) + ", " +
                  std::to_string(s.end) + "] overlaps tensor '" + prev + "' (which ends at " +
                  std::to_string(pos) + ")",
              loc, corrupt);
    if (s.begin > pos)
      io_fail(op, path,
              "tensor '" + s.name + "' field \"data_offsets\" begins at " + std::to_string(s.begin) +
                  ", leaving a gap of " + std::to_string(s.begin - pos) + " bytes after " +
                  (prev.empty() ? std::string("the start of the data") : "tensor '" + prev + "'"),
              loc, corrupt);
    pos = s.end;
    prev = s.name;
    r.order_.push_back(s.name);
  }
  if (pos != data_size)
    io_fail(op, path,
            std::to_string(data_size - pos) +
                " bytes of data after the last tensor are not described by the header",
            loc, corrupt);

  r.data_.assign(file.begin() + std::ptrdiff_t(8 + n), file.end());
  // A BOOL byte other than 0/1 is not a value any writer produces; reading it as bool would be UB.
  for (const auto& [name, e] : r.entries_) {
    if (e.dtype != DType::Bool) continue;
    for (uint64_t i = e.begin; i < e.end; ++i)
      if (uint8_t(r.data_[i]) > 1)
        io_fail(op, path,
                "tensor '" + name + "' (BOOL) holds byte " + std::to_string(uint8_t(r.data_[i])) +
                    " at element " + std::to_string(i - e.begin) + "; BOOL bytes must be 0 or 1",
                loc, corrupt);
  }
  return r;
}

// ---------------------------------------------------------------------------------------------------------
// Reader

std::string CheckpointReader::metadata(const std::string& key) const {
  auto it = metadata_.find(key);
  if (it == metadata_.end())
    engine::raise(ErrorKind::Value, "nn::CheckpointReader::metadata",
                  "file '" + path_ + "': no metadata key '" + key + "'", {}, {},
                  "check metadata() for the keys this checkpoint has");
  return it->second;
}

std::vector<std::string> CheckpointReader::names() const { return order_; }

Tensor CheckpointReader::tensor(const std::string& name, std::source_location loc) const {
  auto it = entries_.find(name);
  if (it == entries_.end())
    engine::raise(ErrorKind::Value, "nn::CheckpointReader::tensor",
                  "file '" + path_ + "': no tensor named '" + name + "'", {}, loc,
                  "check names() for the tensors this checkpoint has");
  const Entry& e = it->second;
  Tensor t = Tensor::empty(e.shape, e.dtype);
  if (e.end > e.begin) std::memcpy(t.raw_mutable_data(), data_.data() + e.begin, e.end - e.begin);
  return t;
}

void CheckpointReader::check_like(const std::string& name, const Tensor& like, const std::string& what,
                                  const std::source_location& loc) const {
  const char* op = "nn::CheckpointReader::restore";
  auto it = entries_.find(name);
  if (it == entries_.end())
    engine::raise(ErrorKind::Value, op, "file '" + path_ + "': no tensor named '" + name + "' (" + what + ")",
                  {}, loc, "check names() for the tensors this checkpoint has");
  if (!like.defined())
    engine::raise(ErrorKind::Value, op,
                  "file '" + path_ + "': the like value for '" + name + "' is a null tensor", {}, loc,
                  "pass an initialized tree of the expected structure");
  const Entry& e = it->second;
  if (e.dtype != like.dtype() || e.shape != like.shape())
    engine::raise(e.dtype != like.dtype() ? ErrorKind::DType : ErrorKind::Shape, op,
                  "file '" + path_ + "': tensor '" + name + "' is " + aval_text(e.dtype, e.shape) + " but " +
                      what + " expects " + aval_text(like.dtype(), like.shape()) +
                      (e.dtype != like.dtype() ? " (dtype mismatch)" : " (shape mismatch)"),
                  {}, loc, "restore into a tree built with the same configuration as the saved one");
}

Tensor CheckpointReader::restore(const std::string& name, const Tensor& like,
                                 std::source_location loc) const {
  check_like(name, like, "the like tensor", loc);
  return tensor(name, loc);
}

std::vector<Tensor> CheckpointReader::restore_leaves(const std::string& prefix,
                                                     const std::vector<Tensor>& like,
                                                     const std::source_location& loc) const {
  // Count "<prefix>/<digits>" entries: a tree saved with more or fewer leaves than `like` has must not be
  // restored partially.
  size_t stored = 0;
  const std::string head = prefix + "/";
  for (const auto& [name, e] : entries_) {
    if (name.size() <= head.size() || name.compare(0, head.size(), head) != 0) continue;
    const std::string tail = name.substr(head.size());
    if (std::all_of(tail.begin(), tail.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) ++stored;
  }
  if (stored != like.size())
    engine::raise(ErrorKind::Value, "nn::CheckpointReader::restore",
                  "file '" + path_ + "': tree '" + prefix + "' has " + std::to_string(stored) +
                      " leaves in the checkpoint but the tree passed to restore has " +
                      std::to_string(like.size()),
                  {}, loc, "restore into a tree built with the same configuration as the saved one");
  std::vector<Tensor> out(like.size());
  for (size_t i = 0; i < like.size(); ++i) {
    const std::string name = head + std::to_string(i);
    check_like(name, like[i], "leaf " + std::to_string(i) + " of the like tree", loc);
    out[i] = tensor(name, loc);
  }
  return out;
}

}  // namespace nn
