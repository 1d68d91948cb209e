// rl/data tests: the .npy/.npz readers against numpy-written fixtures (tests/data, made by
// scripts/make_npz_fixtures.py) and against damaged variants built here at runtime (every rejection must name
// the file, the member and the field); Dataset loading in both OGBench layouts; action clipping; and action-
// chunk sampling checked against a brute-force transcription of the official sample_sequence recursion.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zip.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "rl/data/chunks.h"
#include "rl/data/dataset.h"
#include "rl/data/npy.h"
#include "rl/data/npz.h"

namespace {

namespace fs = std::filesystem;
using engine::DType;
using engine::Shape;
using engine::Tensor;

// ---------------------------------------------------------------------------------------------------------
// Helpers: fixture paths, a scratch directory, .npy images and zip archives written byte by byte.

fs::path fixture(const std::string& name) { return fs::path(__FILE__).parent_path() / "data" / name; }

class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = fs::temp_directory_path() /
            ("qgf_test_rl_data_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

std::string read_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}
void write_bytes(const std::string& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), std::streamsize(bytes.size()));
}

template <class T>
std::string raw(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

std::string dict(const std::string& descr, const std::string& shape, bool fortran = false) {
  return "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") + ", 'shape': " + shape +
         ", }";
}

// A .npy image as numpy lays it out: magic, version, little-endian length, the dict padded with spaces to a
// multiple of 64 bytes and ended by a newline, then the data.
std::string npy_image(const std::string& header, const std::string& data, int major = 1) {
  const size_t pre = major == 1 ? 10 : 12;
  std::string head = header;
  head += std::string((64 - (pre + head.size() + 1) % 64) % 64, ' ') + "\n";
  std::string out = "\x93NUMPY";
  out += char(major);
  out += char(0);
  uint32_t len = uint32_t(head.size());
  for (size_t i = 0; i < (major == 1 ? 2u : 4u); ++i) out += char((len >> (8 * i)) & 0xff);
  return out + head + data;
}

std::string f32_npy(const std::vector<float>& v, const std::string& shape) {
  return npy_image(dict("<f4", shape), raw(v));
}

using Members = std::vector<std::pair<std::string, std::string>>;
void write_zip(const std::string& path, const Members& members, bool deflate) {
  int err = 0;
  zip_t* za = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  ASSERT_NE(za, nullptr) << "zip_open failed: " << err;
  for (const auto& [name, bytes] : members) {
    zip_source_t* s = zip_source_buffer(za, bytes.data(), bytes.size(), 0);
    ASSERT_NE(s, nullptr);
    zip_int64_t idx = zip_file_add(za, name.c_str(), s, ZIP_FL_OVERWRITE);
    ASSERT_GE(idx, 0) << zip_strerror(za);
    ASSERT_EQ(zip_set_file_compression(za, zip_uint64_t(idx), deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0), 0);
  }
  ASSERT_EQ(zip_close(za), 0) << zip_strerror(za);
}

// Runs f, which must throw engine::Error whose message contains every fragment.
template <class F>
void expect_error(F&& f, const std::vector<std::string>& fragments) {
  try {
    f();
    ADD_FAILURE() << "expected an error containing '" << fragments.front() << "'";
  } catch (const engine::Error& e) {
    const std::string msg = e.what();
    for (const std::string& frag : fragments) EXPECT_NE(msg.find(frag), std::string::npos) << "missing '" << frag << "' in: " << msg;
    EXPECT_NE(msg.find("hint:"), std::string::npos) << "no hint in: " << msg;
  }
}

// Reads one bad .npy member from a fresh archive and checks the error names the file, the member and the field.
void expect_member_error(const std::string& npy, const std::string& field, const std::string& fragment) {
  TempDir dir;
  const std::string path = dir.file("bad.npz");
  write_zip(path, {{"obs.npy", npy}}, true);
  expect_error([&] { rl::read_npz(path); },
               {"file '" + path + "'", "member 'obs.npy'", "field '" + field + "'", fragment});
  // The same image on its own, in memory and as a .npy file.
  expect_error([&] { rl::read_npy(npy.data(), npy.size(), {"mem", "x"}); }, {"field '" + field + "'", fragment});
  write_bytes(dir.file("bad.npy"), npy);
  expect_error([&] { rl::read_npy_file(dir.file("bad.npy")); }, {"file '" + dir.file("bad.npy") + "'", fragment});
}

template <class T>
void expect_values(const Tensor& t, DType dt, const Shape& shape, const std::vector<T>& want) {
  ASSERT_TRUE(t.defined());
  EXPECT_EQ(t.dtype(), dt);
  EXPECT_EQ(t.shape(), shape);
  EXPECT_TRUE(t.is_concrete() && t.is_contiguous());
  EXPECT_EQ(t.to_vector<T>(), want);
}

// ---------------------------------------------------------------------------------------------------------
// Fixtures written by numpy.

void check_mixed(const std::string& path) {
  SCOPED_TRACE(path);
  rl::NpzFile f = rl::NpzFile::open(path);
  EXPECT_EQ(f.keys(), (std::vector<std::string>{"f4", "f8", "i4", "i8", "b1", "u1", "scalar", "empty", "fortran",
                                                 "fortran3"}));
  auto a = rl::read_npz(path);
  ASSERT_EQ(a.size(), 10u);
  expect_values<float>(a["f4"], DType::F32, {2, 3}, {-1.f, -0.5f, 0.f, 0.5f, 1.f, 1.5f});
  expect_values<double>(a["f8"], DType::F64, {3}, {0.1, -2.5, 1e300});
  expect_values<int32_t>(a["i4"], DType::I32, {2, 2}, {1, -2, 2147483647, -2147483647 - 1});
  expect_values<int32_t>(a["i8"], DType::I32, {4}, {0, -1, 2147483647, -2147483647 - 1});
  expect_values<bool>(a["b1"], DType::Bool, {5}, {true, false, true, true, false});
  expect_values<int32_t>(a["u1"], DType::I32, {3}, {0, 1, 255});
  expect_values<float>(a["scalar"], DType::F32, {}, {3.25f});
  expect_values<float>(a["empty"], DType::F32, {0, 3}, {});
  expect_values<float>(a["fortran"], DType::F32, {2, 3}, {0, 1, 2, 3, 4, 5});
  std::vector<int32_t> iota24(24);
  for (int i = 0; i < 24; ++i) iota24[size_t(i)] = i;
  expect_values<int32_t>(a["fortran3"], DType::I32, {2, 3, 4}, iota24);

  rl::NpyHeader h = f.header("fortran");
  EXPECT_TRUE(h.fortran_order);
  EXPECT_EQ(h.descr, "<f4");
  EXPECT_EQ(h.shape, (Shape{2, 3}));
  rl::NpyOptions narrow;
  narrow.f64_to_f32 = true;
  Tensor f8 = f.read("f8", narrow);
  EXPECT_EQ(f8.dtype(), DType::F32);
  auto v = f8.to_vector<float>();
  EXPECT_EQ(v[0], 0.1f);
  EXPECT_EQ(v[1], -2.5f);
  EXPECT_TRUE(std::isinf(v[2]) && v[2] > 0);  // 1e300 does not fit in f32 (numpy's astype gives inf too)
  auto only = rl::read_npz(path, {"i4", "b1"});
  EXPECT_EQ(only.size(), 2u);
  EXPECT_TRUE(only.count("i4") && only.count("b1"));
}

TEST(Npz, ReadsCompressedFixture) { check_mixed(fixture("mixed_compressed.npz").string()); }
TEST(Npz, ReadsStoredFixture) { check_mixed(fixture("mixed_stored.npz").string()); }

TEST(Npz, ReadsFromMemory) {
  std::string bytes = read_bytes(fixture("mixed_compressed.npz"));
  auto a = rl::read_npz_buffer(bytes.data(), bytes.size(), "mem.npz", {"f4"});
  expect_values<float>(a["f4"], DType::F32, {2, 3}, {-1.f, -0.5f, 0.f, 0.5f, 1.f, 1.5f});
}

// ---------------------------------------------------------------------------------------------------------
// .npy header variants that numpy (or ast.literal_eval) accepts.

TEST(Npy, HeaderVersionsAndSpellings) {
  const std::vector<float> v = {1.5f, -2.f, 3.f, 4.25f};
  for (int major : {1, 2, 3}) {
    std::string img = npy_image(dict("<f4", "(2, 2)"), raw(v), major);
    expect_values<float>(rl::read_npy(img.data(), img.size()), DType::F32, {2, 2}, v);
  }
  // Double quotes, keys in another order, no trailing comma, python-2 long dims, 1-tuples.
  std::string img = npy_image("{\"shape\": (4L,), \"fortran_order\": False, \"descr\": \"<f4\"}", raw(v));
  expect_values<float>(rl::read_npy(img.data(), img.size()), DType::F32, {4}, v);
  // fortran_order True on a 1-D array changes nothing.
  img = npy_image(dict("<f4", "(4,)", true), raw(v));
  expect_values<float>(rl::read_npy(img.data(), img.size()), DType::F32, {4}, v);
  // A zero-size dimension next to a huge one is an empty array, not an overflow.
  img = npy_image(dict("<f4", "(0, 4611686018427387904)"), "");
  EXPECT_EQ(rl::read_npy(img.data(), img.size()).numel(), 0);
}

TEST(Npy, NarrowsInt64WithRangeCheck) {
  std::string img = npy_image(dict("<i8", "(3,)"), raw(std::vector<int64_t>{5, -7, int64_t(1) << 31}));
  expect_member_error(img, "data", "element 2");
  img = npy_image(dict("<i8", "(2,)"), raw(std::vector<int64_t>{-(int64_t(1) << 31) - 1, 0}));
  expect_member_error(img, "data", "outside the i32 range");
}

// ---------------------------------------------------------------------------------------------------------
// Rejections: each names the file, the member and the field.

TEST(Npy, RejectsBadMagicVersionAndLength) {
  std::string good = f32_npy({1, 2}, "(2,)");
  std::string bad = good;
  bad[1] = 'X';
  expect_member_error(bad, "magic", ".npy magic");
  bad = good;
  bad[6] = 4;
  expect_member_error(bad, "version", "version 4.0");
  bad = good;
  bad[8] = char(0xff);
  bad[9] = char(0x7f);
  expect_member_error(bad, "header_len", "header length");
  expect_member_error(good.substr(0, 7), "magic", "too short");
}

TEST(Npy, RejectsMalformedHeaders) {
  const std::string data = raw(std::vector<float>{1, 2});
  expect_member_error(npy_image("['descr', '<f4']", data), "header", "start with '{'");
  expect_member_error(npy_image("{'descr': '<f4', 'fortran_order': False}", data), "shape", "missing");
  expect_member_error(npy_image("{'fortran_order': False, 'shape': (2,)}", data), "descr", "missing");
  expect_member_error(npy_image("{'descr': '<f4', 'shape': (2,)}", data), "fortran_order", "missing");
  expect_member_error(npy_image(dict("<f4", "(2,)").substr(0, 36), data), "fortran_order", "True or False");
  expect_member_error(npy_image(dict("<f4", "(2,)").substr(0, 30), data), "header", "unterminated string");
  expect_member_error(npy_image("{'descr': '<f4', 'fortran_order': maybe, 'shape': (2,)}", data), "fortran_order",
                      "True or False");
  expect_member_error(npy_image("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", data), "x",
                      "unexpected key");
  expect_member_error(npy_image("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", data),
                      "descr", "twice");
  expect_member_error(npy_image(dict("<f4", "(-2,)"), data), "shape", "negative");
  expect_member_error(npy_image(dict("<f4", "(2 3)"), data), "shape", "expected ','");
  expect_member_error(npy_image(dict("<f4", "[2]"), data), "shape", "tuple");
  expect_member_error(npy_image(dict("<f4", "(99999999999999999999,)"), data), "shape", "overflows");
  expect_member_error(npy_image(dict("<f4", "(4611686018427387904, 4)"), data), "shape", "int64 can count");
  expect_member_error(npy_image(dict("<f8", "(2305843009213693952, 3)"), data), "shape", "too large");
  expect_member_error(npy_image(dict("<f4", "(2,)") + " junk", data), "header", "after the closing");
}

TEST(Npy, RejectsUnsupportedDtypes) {
  const std::string data = raw(std::vector<float>{1, 2});
  expect_member_error(npy_image(dict(">f4", "(2,)"), data), "descr", "big-endian");
  expect_member_error(npy_image(dict(">i8", "(1,)"), data), "descr", "big-endian");
  expect_member_error(npy_image(dict("<f2", "(4,)"), data), "descr", "unsupported dtype '<f2'");
  expect_member_error(npy_image(dict("<U2", "(1,)"), data), "descr", "unsupported dtype");
  expect_member_error(npy_image(dict("|O", "(1,)"), data), "descr", "unsupported dtype");
  expect_member_error(npy_image(dict("=f4", "(2,)"), data), "descr", "byte-order");
  expect_member_error(npy_image("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}", data), "descr",
                      "structured");
}

TEST(Npy, RejectsShapeDataMismatch) {
  const std::string data = raw(std::vector<float>{1, 2, 3, 4, 5, 6});
  expect_member_error(npy_image(dict("<f4", "(2, 4)"), data), "data", "truncated");
  expect_member_error(npy_image(dict("<f4", "(5,)"), data), "shape", "does not match the data");
  expect_member_error(npy_image(dict("<f8", "(4,)"), data), "data", "truncated");
  expect_member_error(npy_image(dict("|b1", "(3,)"), std::string("\x01\x02\x00", 3)), "data", "bool element 1");
}

TEST(Npz, RejectsMissingMembers) {
  TempDir dir;
  const std::string path = dir.file("two.npz");
  write_zip(path, {{"observations.npy", f32_npy({1, 2}, "(2,)")}, {"notes.npy", f32_npy({3}, "(1,)")}}, false);
  expect_error([&] { rl::read_npz(path, {"actions"}); },
               {"file '" + path + "'", "member 'actions.npy'", "field 'key'", "'observations', 'notes'"});
  rl::NpzFile f = rl::NpzFile::open(path);
  EXPECT_TRUE(f.contains("notes"));
  EXPECT_FALSE(f.contains("actions"));
  // The data set loader reports the missing member the same way.
  expect_error([&] { rl::load_dataset(path); }, {"file '" + path + "'", "member 'actions.npy'", "field 'key'"});
}

TEST(Npz, RejectsCorruptArchives) {
  TempDir dir;
  const std::string src = read_bytes(fixture("mixed_compressed.npz"));
  // Not there, not a zip, cut short.
  expect_error([&] { rl::read_npz(dir.file("absent.npz")); }, {"file '" + dir.file("absent.npz") + "'", "field 'file'"});
  write_bytes(dir.file("text.npz"), "this is not a zip archive, just some text of some length\n");
  expect_error([&] { rl::read_npz(dir.file("text.npz")); }, {"text.npz", "field 'zip'", "zip archive"});
  write_bytes(dir.file("cut.npz"), src.substr(0, src.size() / 2));
  expect_error([&] { rl::read_npz(dir.file("cut.npz")); }, {"cut.npz", "field 'zip'"});
  write_bytes(dir.file("empty.npz"), "");
  expect_error([&] { rl::read_npz(dir.file("empty.npz")); }, {"empty.npz"});

  // A flipped byte inside a stored member's data is caught by the CRC when the member's end is read.
  const std::string stored = read_bytes(fixture("mixed_stored.npz"));
  size_t at = stored.find("i4.npy");  // first hit: the local header
  ASSERT_NE(at, std::string::npos);
  const size_t extra_len = uint8_t(stored[at - 2]) | (uint8_t(stored[at - 1]) << 8);
  const size_t data_start = at + 6 + extra_len;
  std::string flipped = stored;
  flipped[data_start + 128 + 5] ^= 0x40;  // inside the i4 values (the .npy header is 128 bytes here)
  write_bytes(dir.file("crc.npz"), flipped);
  EXPECT_NO_THROW(rl::read_npz(dir.file("crc.npz"), {"f4"}));  // other members stay readable
  expect_error([&] { rl::read_npz(dir.file("crc.npz"), {"i4"}); }, {"crc.npz", "member 'i4.npy'", "field 'zip'"});

  // A flipped byte inside a deflate stream: an inflate or CRC error, even when the damage first shows up as
  // a nonsensical .npy header (the reader then drains the member so the CRC names the real cause).
  at = src.find("f8.npy");
  ASSERT_NE(at, std::string::npos);
  const size_t c_extra = uint8_t(src[at - 2]) | (uint8_t(src[at - 1]) << 8);
  for (size_t off : {0, 10, 30, 40, 60, 80}) {
    flipped = src;
    flipped[at + 6 + c_extra + off] ^= 0x5a;
    write_bytes(dir.file("deflate.npz"), flipped);
    expect_error([&] { rl::read_npz(dir.file("deflate.npz"), {"f8"}); },
                 {"deflate.npz", "member 'f8.npy'", "field 'zip'"});
  }
}

// Robustness sweep (a small deterministic fuzz): every prefix of a stored archive fails cleanly, and every
// single-byte flip of a compressed one either reads or throws engine::Error; nothing else may escape.
TEST(Npz, TruncationAndByteFlipSweep) {
  const std::string stored = read_bytes(fixture("mixed_stored.npz"));
  for (size_t n = 0; n < stored.size(); n += 7)
    EXPECT_THROW(rl::read_npz_buffer(stored.data(), n, "cut.npz"), engine::Error) << "prefix " << n;
  const std::string comp = read_bytes(fixture("mixed_compressed.npz"));
  int errors = 0;
  for (size_t i = 0; i < comp.size(); ++i) {
    std::string b = comp;
    b[i] ^= 0xff;
    try {
      rl::read_npz_buffer(b.data(), b.size(), "flip.npz");
    } catch (const engine::Error& e) {
      ++errors;
      EXPECT_NE(std::string(e.what()).find("flip.npz"), std::string::npos) << e.what();
    }
  }
  EXPECT_GT(errors, int(comp.size() / 2));  // most bytes matter; flips in timestamps and the like do not
}

// ---------------------------------------------------------------------------------------------------------
// Dataset.

TEST(Dataset, LoadsRawOgbenchLayout) {
  rl::Dataset ds = rl::load_dataset(fixture("toy_raw.npz").string());
  // Trajectories of 5 and 4 states give 4 + 3 transitions: each trajectory's last row has no successor.
  ASSERT_EQ(ds.size(), 7);
  EXPECT_EQ(ds.obs_dim(), 3);
  EXPECT_EQ(ds.action_dim(), 2);
  EXPECT_FALSE(ds.has_rewards);
  auto obs_row = [](int r) { return std::vector<float>{float(r), 10.f + r, 100.f + r}; };
  auto act_row = [](int r) { return std::vector<float>{r / 4.f - 1.f, 1.f - r / 8.f}; };
  std::vector<float> obs, next, act;
  for (int r : {0, 1, 2, 3, 5, 6, 7}) {
    for (float x : obs_row(r)) obs.push_back(x);
    for (float x : obs_row(r + 1)) next.push_back(x);
    for (float x : act_row(r)) act.push_back(x);
  }
  EXPECT_EQ(ds.observations.to_vector<float>(), obs);
  EXPECT_EQ(ds.next_observations.to_vector<float>(), next);
  EXPECT_EQ(ds.actions.to_vector<float>(), act);
  EXPECT_EQ(ds.terminals.to_vector<float>(), (std::vector<float>{0, 0, 0, 1, 0, 0, 1}));
  EXPECT_EQ(ds.masks.to_vector<float>(), (std::vector<float>{1, 1, 1, 0, 1, 1, 0}));
  EXPECT_EQ(ds.rewards.to_vector<float>(), std::vector<float>(7, 0.f));
}

TEST(Dataset, LoadsTransitionLayout) {
  rl::Dataset ds = rl::load_dataset(fixture("toy_transitions.npz").string());
  ASSERT_EQ(ds.size(), 11);
  EXPECT_TRUE(ds.has_rewards);
  std::vector<float> obs, next, act, rew;
  for (int r = 0; r < 11; ++r) {
    obs.insert(obs.end(), {float(r), -float(r)});
    next.insert(next.end(), {r + 0.5f, -r - 0.5f});
    act.insert(act.end(), {float(r) / 10, float(2 * r) / 10, float(3 * r) / 10});
    rew.push_back(r + 1.f);
  }
  EXPECT_EQ(ds.observations.to_vector<float>(), obs);
  EXPECT_EQ(ds.next_observations.to_vector<float>(), next);
  EXPECT_EQ(ds.actions.to_vector<float>(), act);
  EXPECT_EQ(ds.rewards.to_vector<float>(), rew);
  EXPECT_EQ(ds.masks.to_vector<float>(), (std::vector<float>{1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 0}));
  EXPECT_EQ(ds.terminals.to_vector<float>(), (std::vector<float>{0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}));
}

std::map<std::string, Tensor> toy_arrays() {
  return {{"observations", Tensor::from_vector<float>({0, 1, 2, 3, 4, 5}, {3, 2})},
          {"actions", Tensor::from_vector<float>({0.5f, -0.5f, 0.25f}, {3, 1})},
          {"terminals", Tensor::from_vector<bool>({false, false, true})},
          {"next_observations", Tensor::from_vector<float>({2, 3, 4, 5, 6, 7}, {3, 2})}};
}

TEST(Dataset, RejectsInconsistentArrays) {
  auto bad = [](const std::string& key, Tensor t, const std::string& field, const std::string& frag) {
    auto a = toy_arrays();
    if (t.defined()) a[key] = t;
    else a.erase(key);
    expect_error([&] { rl::make_dataset(a, "toy.npz"); },
                 {"file 'toy.npz'", "member '" + key + "'", "field '" + field + "'", frag});
  };
  EXPECT_EQ(rl::make_dataset(toy_arrays(), "toy.npz").size(), 3);
  bad("actions", Tensor(), "key", "missing");
  bad("actions", Tensor::from_vector<float>({1, 2}, {2, 1}), "shape", "has 2 rows");
  bad("terminals", Tensor::from_vector<float>({0, 0, 1, 0}), "shape", "has 4 rows");
  bad("observations", Tensor::from_vector<float>({0, 1, 2}), "shape", "rank 2");
  bad("observations", Tensor::from_vector<int32_t>({0, 1, 2, 3, 4, 5}, {3, 2}), "descr", "float");
  bad("observations", Tensor::from_vector<float>({0, NAN, 2, 3, 4, 5}, {3, 2}), "data", "row 0");
  bad("observations", Tensor::from_vector<float>({}, {0, 2}), "shape", "no rows");
  bad("terminals", Tensor::from_vector<float>({0, 2, 1}), "data", "row 1");
  bad("masks", Tensor::from_vector<float>({1, 1.5f, 1}), "data", "row 1");
  bad("rewards", Tensor::from_vector<double>({1, 1e300, 1}), "data", "element 1");
  bad("next_observations", Tensor::from_vector<float>({1, 2, 3}, {3, 1}), "shape", "columns");
  // Raw layout (no next_observations): the last row must end a trajectory.
  auto a = toy_arrays();
  a.erase("next_observations");
  a["terminals"] = Tensor::from_vector<int32_t>({0, 1, 0});
  expect_error([&] { rl::make_dataset(a, "raw.npz"); }, {"file 'raw.npz'", "member 'terminals'", "last row"});
  a["terminals"] = Tensor::from_vector<int32_t>({1, 1, 1});
  expect_error([&] { rl::make_dataset(a, "raw.npz"); }, {"member 'terminals'", "no transitions"});
  // validate_dataset catches a hand-edited Dataset.
  rl::Dataset ds = rl::make_dataset(toy_arrays(), "toy.npz");
  ds.rewards = Tensor::from_vector<float>({1, 2});
  expect_error([&] { rl::validate_dataset(ds); }, {"file 'toy.npz'", "member 'rewards'", "has 2 rows"});
}

TEST(Dataset, ClipsActions) {
  const float lim = float(1.0 - 1e-5);
  Tensor a = Tensor::from_vector<float>({-1.f, -0.99999f, 0.3f, 1.f, 2.f, -7.f}, {3, 2});
  Tensor c = rl::clip_actions(a);
  EXPECT_EQ(c.to_vector<float>(), (std::vector<float>{-lim, std::max(-lim, -0.99999f), 0.3f, lim, lim, -lim}));
  EXPECT_EQ(c.shape(), (Shape{3, 2}));
  EXPECT_EQ(a.to_vector<float>()[3], 1.f);  // the input is unchanged
  Tensor d = rl::clip_actions(Tensor::from_vector<double>({1.5, -0.25}), 0.1);
  EXPECT_EQ(d.to_vector<double>(), (std::vector<double>{0.9, -0.25}));
  expect_error([] { rl::clip_actions(Tensor::from_vector<int32_t>({1})); }, {"clip_actions", "float"});
  expect_error([] { rl::clip_actions(Tensor::from_vector<float>({1}), 1.5); }, {"clip_actions", "eps"});
  rl::Dataset ds = rl::clip_dataset_actions(rl::load_dataset(fixture("toy_raw.npz").string()));
  auto v = ds.actions.to_vector<float>();
  EXPECT_EQ(v[0], -lim);  // row 0 was exactly [-1, 1]
  EXPECT_EQ(v[1], lim);
  EXPECT_EQ(v[2], -0.75f);
}

// ---------------------------------------------------------------------------------------------------------
// Action chunks.

// The official sample_sequence recursion (utils/datasets.py in zhouzypaul/qgf), transcribed for one start
// row, with our padding choice applied to the actions of invalid steps.
struct Reference {
  std::vector<float> obs, chunk, valid, next;
  double reward = 0;
  float mask = 1;
  int horizon = 0;
};
Reference reference_chunk(const rl::Dataset& ds, int64_t i, int64_t H, double gamma, rl::ChunkPadding pad) {
  auto obs = ds.observations.to_vector<float>(), act = ds.actions.to_vector<float>(),
       rew = ds.rewards.to_vector<float>(), msk = ds.masks.to_vector<float>(), term = ds.terminals.to_vector<float>(),
       nxt = ds.next_observations.to_vector<float>();
  const size_t od = size_t(ds.obs_dim()), ad = size_t(ds.action_dim());
  Reference r;
  double reward = 0;
  float mask = 1, terminal = 0, valid = 1;
  std::vector<float> next(od), last_action(ad);
  for (int64_t k = 0; k < H; ++k) {
    const size_t row = size_t(i + k);
    if (k == 0) {
      reward = rew[row];
      mask = msk[row];
      terminal = term[row];
    } else {
      valid = 1.f - terminal;
      reward += rew[row] * std::pow(gamma, double(k)) * valid;
      mask = std::min(mask, msk[row]) * valid + mask * (1 - valid);
      terminal = std::max(terminal, term[row]);
    }
    for (size_t j = 0; j < od; ++j) next[j] = nxt[row * od + j] * valid + next[j] * (1 - valid);
    if (valid == 1.f) std::copy_n(act.begin() + long(row * ad), ad, last_action.begin());
    for (size_t j = 0; j < ad; ++j)
      r.chunk.push_back(pad == rl::ChunkPadding::NextRows ? act[row * ad + j] : last_action[j]);
    r.valid.push_back(valid);
    r.horizon += int(valid);
  }
  r.obs.assign(obs.begin() + long(size_t(i) * od), obs.begin() + long(size_t(i + 1) * od));
  r.next = next;
  r.reward = reward;
  r.mask = mask;
  return r;
}

template <class T>
std::vector<T> row_of(const Tensor& t, int64_t b) {
  auto v = t.to_vector<T>();
  const size_t w = t.ndim() == 2 ? size_t(t.dim(1)) : 1;
  return std::vector<T>(v.begin() + long(size_t(b) * w), v.begin() + long(size_t(b + 1) * w));
}

TEST(Chunks, MatchesOfficialRecursionAtEveryStart) {
  rl::Dataset ds = rl::load_dataset(fixture("toy_transitions.npz").string());
  for (auto pad : {rl::ChunkPadding::RepeatLastValid, rl::ChunkPadding::NextRows})
    for (int64_t H : {1, 2, 3, 4, 6, 11}) {
      const double gamma = 0.9;
      rl::ChunkConfig cfg{H, gamma, pad};
      std::vector<int64_t> starts;
      for (int64_t i = 0; i + H <= ds.size(); ++i) starts.push_back(i);
      ASSERT_EQ(int64_t(starts.size()), rl::num_chunk_starts(ds, H));
      rl::Batch b = rl::gather_chunks(ds, starts, cfg);
      ASSERT_EQ(b.action_chunks.shape(), (Shape{int64_t(starts.size()), H * 3}));
      ASSERT_EQ(b.valid.shape(), (Shape{int64_t(starts.size()), H}));
      for (size_t s = 0; s < starts.size(); ++s) {
        SCOPED_TRACE("H=" + std::to_string(H) + " start=" + std::to_string(starts[s]) + " pad=" + std::to_string(int(pad)));
        Reference ref = reference_chunk(ds, starts[s], H, gamma, pad);
        const int64_t bi = int64_t(s);
        EXPECT_EQ(row_of<float>(b.observations, bi), ref.obs);
        EXPECT_EQ(row_of<float>(b.action_chunks, bi), ref.chunk);
        EXPECT_EQ(row_of<float>(b.valid, bi), ref.valid);
        EXPECT_EQ(row_of<float>(b.next_observations, bi), ref.next);
        EXPECT_NEAR(b.rewards.to_vector<float>()[s], ref.reward, 1e-5 * std::abs(ref.reward));
        EXPECT_EQ(b.masks.to_vector<float>()[s], ref.mask);
        EXPECT_EQ(b.horizons.to_vector<int32_t>()[s], ref.horizon);
        EXPECT_EQ(b.indices.to_vector<int32_t>()[s], int32_t(starts[s]));
      }
    }
}

TEST(Chunks, HandComputedExamples) {
  rl::Dataset ds = rl::load_dataset(fixture("toy_transitions.npz").string());
  const double g = 0.5;
  // Start 4, H = 3: rows 4, 5 (5 ends episode 1), row 6 is the next episode.
  rl::Batch b = rl::gather_chunks(ds, std::vector<int64_t>{4, 1}, {3, g, rl::ChunkPadding::RepeatLastValid});
  EXPECT_EQ(row_of<float>(b.valid, 0), (std::vector<float>{1, 1, 0}));
  EXPECT_EQ(b.horizons.to_vector<int32_t>(), (std::vector<int32_t>{2, 3}));
  EXPECT_FLOAT_EQ(b.rewards.to_vector<float>()[0], float(5 + g * 6));
  EXPECT_EQ(b.masks.to_vector<float>()[0], 1.f);
  EXPECT_EQ(row_of<float>(b.next_observations, 0), (std::vector<float>{5.5f, -5.5f}));
  EXPECT_EQ(row_of<float>(b.action_chunks, 0),
            (std::vector<float>{0.4f, 0.8f, 1.2f, 0.5f, 1.f, 1.5f, 0.5f, 1.f, 1.5f}));
  // Start 1, H = 3: rows 1..3, row 2 has mask 0 (a success), so no bootstrap.
  EXPECT_FLOAT_EQ(b.rewards.to_vector<float>()[1], float(2 + g * 3 + g * g * 4));
  EXPECT_EQ(b.masks.to_vector<float>()[1], 0.f);
  EXPECT_EQ(row_of<float>(b.next_observations, 1), (std::vector<float>{3.5f, -3.5f}));
  // The official padding takes the next episode's first action.
  b = rl::gather_chunks(ds, std::vector<int64_t>{4}, {3, g, rl::ChunkPadding::NextRows});
  EXPECT_EQ(row_of<float>(b.action_chunks, 0),
            (std::vector<float>{0.4f, 0.8f, 1.2f, 0.5f, 1.f, 1.5f, 0.6f, 1.2f, 1.8f}));
}

TEST(Chunks, SeededBatchesAreDeterministic) {
  rl::Dataset ds = rl::load_dataset(fixture("toy_transitions.npz").string());
  rl::ChunkConfig cfg{4, 0.99, rl::ChunkPadding::RepeatLastValid};
  rl::Batch a = rl::sample_chunks(ds, cfg, 64, 7, 3), b = rl::sample_chunks(ds, cfg, 64, 7, 3);
  EXPECT_EQ(a.indices.to_vector<int32_t>(), b.indices.to_vector<int32_t>());
  EXPECT_EQ(a.action_chunks.to_vector<float>(), b.action_chunks.to_vector<float>());
  EXPECT_EQ(a.rewards.to_vector<float>(), b.rewards.to_vector<float>());
  EXPECT_NE(a.indices.to_vector<int32_t>(), rl::sample_chunks(ds, cfg, 64, 7, 4).indices.to_vector<int32_t>());
  EXPECT_NE(a.indices.to_vector<int32_t>(), rl::sample_chunks(ds, cfg, 64, 8, 3).indices.to_vector<int32_t>());
  // A batch equals gather_chunks at its own indices, and a smaller batch is a prefix of a larger one.
  auto idx = rl::sample_indices(7, 3, 64, rl::num_chunk_starts(ds, 4));
  auto ai = a.indices.to_vector<int32_t>();
  for (size_t i = 0; i < idx.size(); ++i) EXPECT_EQ(ai[i], idx[i]);
  auto head = rl::sample_indices(7, 3, 10, rl::num_chunk_starts(ds, 4));
  EXPECT_TRUE(std::equal(head.begin(), head.end(), idx.begin()));
  // Known answers from an independent Python transcription of mt19937_64 + splitmix64 + rejection: they pin
  // the generator, the seeding and the range reduction (a change would silently alter resumed runs).
  EXPECT_EQ(rl::sample_indices(0, 0, 8, 1000), (std::vector<int64_t>{78, 513, 256, 582, 141, 195, 32, 474}));
  EXPECT_EQ(rl::sample_indices(123, 45, 6, 7), (std::vector<int64_t>{5, 1, 1, 1, 4, 3}));
  // Uniform over [0, N - H]: every start appears, with counts near the mean (chi-square, 7 dof).
  auto many = rl::sample_indices(1, 0, 80000, 8);
  std::vector<int> counts(8, 0);
  for (int64_t i : many) {
    ASSERT_GE(i, 0);
    ASSERT_LT(i, 8);
    ++counts[size_t(i)];
  }
  double chi2 = 0;
  for (int c : counts) chi2 += (c - 10000.0) * (c - 10000.0) / 10000.0;
  EXPECT_LT(chi2, 24.3);  // p = 0.001 for 7 degrees of freedom
}

TEST(Chunks, RejectsBadArguments) {
  rl::Dataset ds = rl::load_dataset(fixture("toy_transitions.npz").string());
  const std::string src = fixture("toy_transitions.npz").string();
  expect_error([&] { rl::sample_chunks(ds, {12, 0.99, {}}, 4, 0, 0); }, {"file '" + src + "'", "field 'horizon'"});
  expect_error([&] { rl::sample_chunks(ds, {0, 0.99, {}}, 4, 0, 0); }, {"field 'horizon'", ">= 1"});
  expect_error([&] { rl::sample_chunks(ds, {2, 1.5, {}}, 4, 0, 0); }, {"field 'discount'"});
  expect_error([&] { rl::gather_chunks(ds, std::vector<int64_t>{0, 10}, {2, 0.99, {}}); },
               {"field 'starts'", "start row 10", "[0, 9]"});
  expect_error([&] { rl::gather_chunks(ds, std::vector<int64_t>{-1}, {2, 0.99, {}}); }, {"field 'starts'"});
  rl::Batch empty = rl::sample_chunks(ds, {2, 0.99, {}}, 0, 0, 0);
  EXPECT_EQ(empty.action_chunks.shape(), (Shape{0, 6}));
}

}  // namespace
