// .npy encoding and .npz archiving on libzip, with the temp-file + fsync + rename dance for atomic writes.
#include "rl/data/npz_writer.h"

#include <fcntl.h>
#include <unistd.h>
#include <zip.h>

#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "rl/data/npy.h"

namespace rl {

using engine::DType;
using engine::ErrorKind;
using engine::Tensor;

namespace fs = std::filesystem;

static_assert(std::endian::native == std::endian::little,
              "the .npy writer stores host bytes as little-endian");

namespace {

constexpr char kOp[] = "write_npz";

const char* descr_of(DType dt) {
  switch (dt) {
    case DType::F32:
      return "<f4";
    case DType::F64:
      return "<f8";
    case DType::I32:
      return "<i4";
    case DType::U32:
      return "<u4";
    case DType::Bool:
      return "|b1";
  }
  return nullptr;
}

// numpy's repr of a shape tuple: "()", "(5,)", "(5, 2)".
std::string shape_tuple(const engine::Shape& s) {
  std::string out = "(";
  for (size_t k = 0; k < s.size(); ++k) out += (k ? ", " : "") + std::to_string(s[k]);
  if (s.size() == 1) out += ",";
  return out + ")";
}

void append_le(std::string& out, uint64_t v, int bytes) {
  for (int k = 0; k < bytes; ++k) out.push_back(char((v >> (8 * k)) & 0xff));
}

std::string temp_name(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  return path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
}

// Makes the finished temporary file durable, then moves it over `path` (rename is atomic within a directory).
void publish(const std::string& tmp, const std::string& path) {
  const NpySource src{path, ""};
  int fd = ::open(tmp.c_str(), O_RDONLY);
  if (fd < 0 || ::fsync(fd) != 0) {
    const std::string why = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    std::error_code ec;
    fs::remove(tmp, ec);
    raise_data_error(ErrorKind::IO, kOp, src, "file", "cannot flush the temporary file '" + tmp + "': " + why,
                     "check free disk space and permissions of the directory");
  }
  ::close(fd);
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    std::error_code ec2;
    fs::remove(tmp, ec2);
    raise_data_error(ErrorKind::IO, kOp, src, "file",
                     "cannot rename the temporary file into place: " + ec.message(),
                     "check that the path is not a directory and that the directory is writable");
  }
  // Best effort: persist the directory entry too (a crash right after the rename could otherwise lose it).
  const fs::path dir = fs::path(path).has_parent_path() ? fs::path(path).parent_path() : fs::path(".");
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
}

void check_directory(const std::string& path) {
  const fs::path p(path);
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    raise_data_error(ErrorKind::IO, kOp, {path, ""}, "file",
                     "the directory '" + dir.string() + "' does not exist",
                     "create it first (std::filesystem::create_directories) or fix the path");
  if (fs::is_directory(p, ec))
    raise_data_error(ErrorKind::IO, kOp, {path, ""}, "file", "is a directory",
                     "pass a file name ending in .npz");
}

// An archive with no members: libzip deletes an empty archive instead of writing one, but numpy writes (and
// reads) the bare end-of-central-directory record, so write that.
void write_empty_archive(const std::string& path) {
  const std::string tmp = temp_name(path);
  std::string eocd = "PK\x05\x06";
  eocd.append(18, '\0');
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || ::write(fd, eocd.data(), eocd.size()) != ssize_t(eocd.size())) {
    const std::string why = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    std::error_code ec;
    fs::remove(tmp, ec);
    raise_data_error(ErrorKind::IO, kOp, {path, ""}, "file", "cannot write: " + why,
                     "check the path, free disk space and permissions");
  }
  ::close(fd);
  publish(tmp, path);
}

std::string encode_npy(const Tensor& t, const NpySource& src) {
  if (!t.defined() || !t.is_concrete())
    raise_data_error(ErrorKind::Value, kOp, src, "value", "is not a concrete tensor",
                     "pass host arrays (not tracers or null tensors)");
  const char* descr = descr_of(t.dtype());
  if (!descr)
    raise_data_error(ErrorKind::DType, kOp, src, "descr", "has a dtype the .npy writer does not know",
                     "convert it to f32, f64, i32, u32 or bool");
  std::string dict = std::string("{'descr': '") + descr +
                     "', 'fortran_order': False, 'shape': " + shape_tuple(t.shape()) + ", }";
  // Pad with spaces and end with '\n' so that the data starts on a 64-byte boundary, as numpy does.
  const size_t item = t.dtype() == DType::Bool ? 1 : (t.dtype() == DType::F64 ? 8 : 4);
  size_t prefix = 10;  // magic (6) + version (2) + 2-byte header length
  int major = 1;
  size_t total = prefix + dict.size() + 1;
  size_t padded = (total + 63) / 64 * 64;
  if (padded - prefix > 0xffff) {  // header too long for a 16-bit length: format 2.0 (4-byte length)
    major = 2;
    prefix = 12;
    total = prefix + dict.size() + 1;
    padded = (total + 63) / 64 * 64;
  }
  dict.append(padded - total, ' ');
  dict.push_back('\n');
  std::string out;
  out.reserve(padded + size_t(t.numel()) * item);
  out += "\x93NUMPY";
  out.push_back(char(major));
  out.push_back(0);
  append_le(out, dict.size(), major == 1 ? 2 : 4);
  out += dict;
  const size_t data_bytes = size_t(t.numel()) * item;
  const size_t at = out.size();
  out.resize(at + data_bytes);
  if (data_bytes) engine::copy_to_contiguous(t, out.data() + at);
  if (t.dtype() == DType::Bool)  // numpy bools are exactly 0 or 1
    for (size_t k = at; k < out.size(); ++k) out[k] = out[k] ? 1 : 0;
  return out;
}

}  // namespace

std::string npy_bytes(const Tensor& t, const std::string& name_for_errors) {
  return encode_npy(t, NpySource{"", name_for_errors});
}

void write_npz_ordered(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& arrays,
                       const NpzWriteOptions& options) {
  if (options.level < 0 || options.level > 9)
    raise_data_error(ErrorKind::Value, kOp, {path, ""}, "level", "is " + std::to_string(options.level),
                     "use 1..9, or 0 for zlib's default");
  // Encode everything first: bad input must fail before anything touches the file system.
  std::vector<std::pair<std::string, std::string>> members;  // member name -> .npy image
  members.reserve(arrays.size());
  for (const auto& [key, t] : arrays) {
    if (key.empty() || key.find_first_of("/\\") != std::string::npos || key.find('\0') != std::string::npos)
      raise_data_error(ErrorKind::Value, kOp, {path, key}, "key", "is not a valid member name",
                       "use a non-empty key without '/', '\\\\' or NUL (numpy loads it as np.load(f)[key])");
    for (const auto& m : members)
      if (m.first == key + ".npy")
        raise_data_error(ErrorKind::Value, kOp, {path, key}, "key", "appears twice",
                         "give every array its own key");
    members.emplace_back(key + ".npy", encode_npy(t, NpySource{path, key + ".npy"}));
  }
  check_directory(path);
  if (members.empty()) {
    write_empty_archive(path);
    return;
  }

  const std::string tmp = temp_name(path);
  int err = 0;
  zip_t* za = zip_open(tmp.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  if (!za) {
    zip_error_t ze;
    zip_error_init_with_code(&ze, err);
    const std::string why = zip_error_strerror(&ze);
    zip_error_fini(&ze);
    raise_data_error(ErrorKind::IO, kOp, {path, ""}, "file", "cannot create '" + tmp + "': " + why,
                     "check that the directory is writable");
  }
  auto abandon = [&](const std::string& member, const std::string& problem) {
    zip_discard(za);
    std::error_code ec;
    fs::remove(tmp, ec);
    raise_data_error(ErrorKind::IO, kOp, {path, member}, "zip", problem,
                     "check free disk space and permissions of the directory");
  };
  for (const auto& [name, bytes] : members) {
    // The buffers stay alive (in `members`) until zip_close has read them.
    zip_source_t* zs = zip_source_buffer(za, bytes.data(), bytes.size(), 0);
    if (!zs) abandon(name, std::string("cannot add the member: ") + zip_strerror(za));
    const zip_int64_t idx = zip_file_add(za, name.c_str(), zs, ZIP_FL_ENC_UTF_8);
    if (idx < 0) {
      zip_source_free(zs);
      abandon(name, std::string("cannot add the member: ") + zip_strerror(za));
    }
    const zip_int32_t method = options.compression == NpzCompression::Deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE;
    if (zip_set_file_compression(za, zip_uint64_t(idx), method, zip_uint32_t(options.level)) != 0)
      abandon(name, std::string("cannot set the compression: ") + zip_strerror(za));
    // DOS date 1980-01-01 00:00:00: ((1980 - 1980) << 9) | (1 << 5) | 1.
    if (zip_file_set_dostime(za, zip_uint64_t(idx), 0, (1 << 5) | 1, 0) != 0)
      abandon(name, std::string("cannot set the timestamp: ") + zip_strerror(za));
  }
  if (zip_close(za) != 0) abandon("", std::string("cannot write the archive: ") + zip_strerror(za));
  publish(tmp, path);
}

void write_npz(const std::string& path, const std::map<std::string, Tensor>& arrays,
               const NpzWriteOptions& options) {
  write_npz_ordered(path, std::vector<std::pair<std::string, Tensor>>(arrays.begin(), arrays.end()), options);
}

}  // namespace rl
