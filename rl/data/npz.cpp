// .npz reading on libzip: opening (file or memory), member listing, size sanity checks, and streaming each
// member through the .npy reader.
#include "rl/data/npz.h"

#include <zip.h>

#include <filesystem>
#include <unordered_map>

namespace rl {

using engine::ErrorKind;
using engine::Tensor;

namespace {

constexpr char kOp[] = "read_npz";
constexpr char kCorruptHint[] =
    "the archive is damaged or incomplete: regenerate it with numpy.savez / numpy.savez_compressed (or download "
    "it again)";
// Deflate's best case is about 1032:1; anything claiming more is a corrupt (or hostile) size field.
constexpr uint64_t kMaxDeflateRatio = 1032;

std::string zip_code_str(int code) {
  zip_error_t e;
  zip_error_init_with_code(&e, code);
  std::string s = zip_error_strerror(&e);
  zip_error_fini(&e);
  return s;
}

[[noreturn]] void raise_open_error(const std::string& file, int code) {
  NpySource src{file, ""};
  std::string what = zip_code_str(code);
  if (code == ZIP_ER_NOENT || code == ZIP_ER_OPEN || code == ZIP_ER_READ)
    raise_data_error(ErrorKind::IO, kOp, src, "file", "cannot open: " + what, "check the path and its permissions");
  if (code == ZIP_ER_NOZIP)
    raise_data_error(ErrorKind::IO, kOp, src, "zip", "cannot be read as a zip archive (libzip: " + what + ")",
                     "the file is not an .npz, or it is damaged or incomplete: regenerate it with numpy.savez / "
                     "numpy.savez_compressed (or download it again)");
  raise_data_error(ErrorKind::IO, kOp, src, "zip", "cannot open the archive: " + what, kCorruptHint);
}

// One member opened for streaming; checks libzip's read errors (inflate failures, CRC mismatches at the end).
class MemberReader final : public ByteReader {
 public:
  MemberReader(zip_t* za, zip_uint64_t index, uint64_t size, const NpySource& src) : left_(size), src_(src) {
    zf_ = zip_fopen_index(za, index, 0);
    if (!zf_)
      raise_data_error(ErrorKind::IO, kOp, src, "zip", std::string("cannot open the member: ") + zip_strerror(za),
                       kCorruptHint);
  }
  ~MemberReader() override { zip_fclose(zf_); }
  MemberReader(const MemberReader&) = delete;
  MemberReader& operator=(const MemberReader&) = delete;

  size_t read(void* dst, size_t n) override {
    size_t got = 0;
    while (got < n) {
      zip_int64_t r = zip_fread(zf_, static_cast<char*>(dst) + got, n - got);
      if (r < 0)
        raise_data_error(ErrorKind::IO, kOp, src_, "zip",
                         std::string("cannot decompress the member: ") + zip_file_strerror(zf_), kCorruptHint);
      if (r == 0) break;
      got += size_t(r);
    }
    left_ -= std::min<uint64_t>(left_, got);
    return got;
  }
  uint64_t remaining() const override { return left_; }
  // Reads to the end of the member: raises libzip's error (CRC mismatch, bad deflate data) if it is damaged.
  void drain() {
    char buf[4096];
    while (read(buf, sizeof buf) > 0) {
    }
  }

 private:
  zip_file_t* zf_ = nullptr;
  uint64_t left_;
  const NpySource& src_;
};

}  // namespace

struct NpzFile::Impl {
  std::string name;
  zip_t* za = nullptr;
  std::vector<unsigned char> buffer;  // the archive image for from_buffer (libzip reads it in place)
  uint64_t archive_bytes = 0;
  std::vector<std::string> keys;
  std::unordered_map<std::string, zip_uint64_t> index;

  ~Impl() {
    if (za) zip_discard(za);  // read-only: discard, never write back
  }

  void list() {
    zip_int64_t n = zip_get_num_entries(za, 0);
    for (zip_int64_t i = 0; i < n; ++i) {
      const char* raw = zip_get_name(za, zip_uint64_t(i), 0);
      if (!raw)
        raise_data_error(ErrorKind::IO, kOp, {name, ""}, "zip",
                         "cannot read the name of member " + std::to_string(i) + ": " + zip_strerror(za), kCorruptHint);
      std::string member = raw;
      if (!member.empty() && member.back() == '/') continue;  // a directory entry holds no array
      std::string key = member;
      if (key.size() > 4 && key.compare(key.size() - 4, 4, ".npy") == 0) key.resize(key.size() - 4);
      if (!index.emplace(key, zip_uint64_t(i)).second)
        raise_data_error(ErrorKind::IO, kOp, {name, member}, "name", "the archive holds two members for key '" + key + "'",
                         "rewrite the archive with one member per key (numpy.savez does)");
      keys.push_back(key);
    }
  }

  // Locates a member and checks its sizes before anything is allocated for it.
  std::pair<zip_uint64_t, uint64_t> locate(const std::string& key, NpySource* src) {
    auto it = index.find(key);
    if (it == index.end()) {
      std::string have;
      for (const std::string& k : keys) have += (have.empty() ? "'" : ", '") + k + "'";
      raise_data_error(ErrorKind::IO, kOp, {name, key + ".npy"}, "key",
                       "missing from the archive (it has " + (have.empty() ? std::string("no members") : have) + ")",
                       "save the array under this key (np.savez(path, " + key + "=...)) or pick another file");
    }
    const char* member = zip_get_name(za, it->second, 0);
    *src = {name, member ? member : key + ".npy"};
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(za, it->second, 0, &st) != 0)
      raise_data_error(ErrorKind::IO, kOp, *src, "zip", std::string("cannot stat the member: ") + zip_strerror(za),
                       kCorruptHint);
    const zip_uint64_t need = ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD;
    if ((st.valid & need) != need)
      raise_data_error(ErrorKind::IO, kOp, *src, "zip", "the member's sizes are unknown", kCorruptHint);
    if (st.comp_method != ZIP_CM_STORE && st.comp_method != ZIP_CM_DEFLATE)
      raise_data_error(ErrorKind::IO, kOp, *src, "zip",
                       "compression method " + std::to_string(st.comp_method) + " is not supported (stored and deflate are)",
                       "save with numpy.savez or numpy.savez_compressed");
    bool bad = st.comp_size > archive_bytes ||
               (st.comp_method == ZIP_CM_STORE && st.size != st.comp_size) ||
               (st.comp_method == ZIP_CM_DEFLATE && st.size / kMaxDeflateRatio > st.comp_size + 1024);
    if (bad)
      raise_data_error(ErrorKind::IO, kOp, *src, "zip",
                       "implausible sizes: " + std::to_string(st.size) + " bytes from " + std::to_string(st.comp_size) +
                           " compressed in a " + std::to_string(archive_bytes) + "-byte archive",
                       kCorruptHint);
    return {it->second, st.size};
  }
};

NpzFile::NpzFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NpzFile::NpzFile(NpzFile&&) noexcept = default;
NpzFile& NpzFile::operator=(NpzFile&&) noexcept = default;
NpzFile::~NpzFile() = default;

NpzFile NpzFile::open(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->name = path;
  int code = 0;
  // ZIP_CHECKCONS cross-checks the central directory against the local headers: cheap, and it turns many
  // kinds of damage into an error at open instead of garbage later.
  impl->za = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code);
  if (!impl->za) raise_open_error(path, code);
  std::error_code ec;
  impl->archive_bytes = std::filesystem::file_size(path, ec);
  if (ec) impl->archive_bytes = 0;
  impl->list();
  return NpzFile(std::move(impl));
}

NpzFile NpzFile::from_buffer(const void* data, size_t size, const std::string& name) {
  // libzip reads a zero-length source as an empty archive; a zero-byte .npz is a failed write, not that.
  if (size == 0) raise_open_error(name, ZIP_ER_NOZIP);
  auto impl = std::make_unique<Impl>();
  impl->name = name;
  impl->buffer.assign(static_cast<const unsigned char*>(data), static_cast<const unsigned char*>(data) + size);
  impl->archive_bytes = size;
  zip_error_t err;
  zip_error_init(&err);
  zip_source_t* zs = zip_source_buffer_create(impl->buffer.data(), impl->buffer.size(), 0, &err);
  if (!zs) {
    int code = zip_error_code_zip(&err);
    zip_error_fini(&err);
    raise_open_error(name, code);
  }
  impl->za = zip_open_from_source(zs, ZIP_RDONLY | ZIP_CHECKCONS, &err);
  if (!impl->za) {
    zip_source_free(zs);  // not taken over on failure
    int code = zip_error_code_zip(&err);
    zip_error_fini(&err);
    raise_open_error(name, code);
  }
  zip_error_fini(&err);
  impl->list();
  return NpzFile(std::move(impl));
}

const std::string& NpzFile::name() const { return impl_->name; }
const std::vector<std::string>& NpzFile::keys() const { return impl_->keys; }
bool NpzFile::contains(const std::string& key) const { return impl_->index.count(key) != 0; }

Tensor NpzFile::read(const std::string& key, const NpyOptions& opts) {
  NpySource src;
  auto [idx, size] = impl_->locate(key, &src);
  MemberReader in(impl_->za, idx, size, src);
  try {
    NpyHeader h = read_npy_header(in, src);
    return read_npy_data(in, h, src, opts);
  } catch (const engine::Error&) {
    // A damaged member often first shows up as a nonsensical .npy header; its CRC names the real cause.
    in.drain();
    throw;
  }
}

NpyHeader NpzFile::header(const std::string& key) {
  NpySource src;
  auto [idx, size] = impl_->locate(key, &src);
  MemberReader in(impl_->za, idx, size, src);
  try {
    return read_npy_header(in, src);
  } catch (const engine::Error&) {
    in.drain();  // as in read(): prefer the CRC's diagnosis of a damaged member
    throw;
  }
}

namespace {
std::map<std::string, Tensor> read_all(NpzFile& f, const std::vector<std::string>& keys, const NpyOptions& opts) {
  std::map<std::string, Tensor> out;
  for (const std::string& k : keys.empty() ? f.keys() : keys) out[k] = f.read(k, opts);
  return out;
}
}  // namespace

std::map<std::string, Tensor> read_npz(const std::string& path, const std::vector<std::string>& keys,
                                       const NpyOptions& opts) {
  NpzFile f = NpzFile::open(path);
  return read_all(f, keys, opts);
}

std::map<std::string, Tensor> read_npz_buffer(const void* data, size_t size, const std::string& name,
                                              const std::vector<std::string>& keys, const NpyOptions& opts) {
  NpzFile f = NpzFile::from_buffer(data, size, name);
  return read_all(f, keys, opts);
}

}  // namespace rl
