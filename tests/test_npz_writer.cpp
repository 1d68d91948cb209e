// rl::write_npz / rl::npy_bytes: byte-level .npy headers checked against numpy's format rules, round trips
// through rl::read_npz (stored and deflate, every dtype, scalars, empty and strided arrays), atomic
// replacement and clean failure, reproducible bytes, and Dataset loading of a written OGBench-layout file.
// (numpy.load compatibility was checked by hand with python3 + numpy 2.4 when the writer was written; this
// test does not need python.)
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/support/testing.h"
#include "engine/core/error.h"
#include "rl/data/dataset.h"
#include "rl/data/npz.h"
#include "rl/data/npz_writer.h"

namespace {

namespace fs = std::filesystem;
using engine::DType;
using engine::Tensor;

class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = fs::temp_directory_path() /
            ("qgf_test_npz_writer_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string read_bytes(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

template <class T>
void expect_same(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.dtype(), b.dtype());
  ASSERT_EQ(a.shape(), b.shape());
  EXPECT_EQ(a.to_vector<T>(), b.to_vector<T>());
}

TEST(NpyBytes, HeaderFollowsTheNpyV1Layout) {
  Tensor t = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {3, 2});
  const std::string b = rl::npy_bytes(t);
  ASSERT_GE(b.size(), 10u);
  EXPECT_EQ(b.substr(0, 6), "\x93NUMPY");
  EXPECT_EQ(b[6], 1);  // version 1.0
  EXPECT_EQ(b[7], 0);
  const size_t hlen = uint8_t(b[8]) | (size_t(uint8_t(b[9])) << 8);
  // numpy pads the header with spaces and a final newline so that the data starts on a 64-byte boundary.
  EXPECT_EQ((10 + hlen) % 64, 0u);
  const std::string dict = b.substr(10, hlen);
  EXPECT_EQ(dict.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", 0), 0u) << dict;
  EXPECT_EQ(dict.back(), '\n');
  ASSERT_EQ(b.size(), 10 + hlen + 6 * sizeof(float));
  float data[6];
  std::memcpy(data, b.data() + 10 + hlen, sizeof data);
  for (int k = 0; k < 6; ++k) EXPECT_EQ(data[k], float(k + 1));
}

TEST(NpyBytes, ShapeTuplesAndDescriptors) {
  auto dict_of = [](const Tensor& t) {
    const std::string b = rl::npy_bytes(t);
    return b.substr(10, uint8_t(b[8]) | (size_t(uint8_t(b[9])) << 8));
  };
  EXPECT_NE(dict_of(Tensor::scalar(2.5, DType::F64)).find("'descr': '<f8'"), std::string::npos);
  EXPECT_NE(dict_of(Tensor::scalar(2.5, DType::F64)).find("'shape': ()"), std::string::npos);
  EXPECT_NE(dict_of(Tensor::from_vector(std::vector<int32_t>{1, 2, 3})).find("'shape': (3,)"),
            std::string::npos);
  EXPECT_NE(dict_of(Tensor::from_vector(std::vector<int32_t>{1, 2, 3})).find("'<i4'"), std::string::npos);
  EXPECT_NE(dict_of(Tensor::from_vector(std::vector<uint32_t>{7})).find("'<u4'"), std::string::npos);
  EXPECT_NE(dict_of(Tensor::from_vector(std::vector<bool>{true, false})).find("'|b1'"), std::string::npos);
}

TEST(NpzWriter, RoundTripsEveryDtypeStoredAndDeflated) {
  TempDir dir;
  std::map<std::string, Tensor> arrays = {
      {"f32", Tensor::from_vector(std::vector<float>{1.5f, -2.f, 3.25f, 1e-30f, -0.f, 7.f}, {2, 3})},
      {"f64", Tensor::from_vector(std::vector<double>{1.0 / 3.0, -1e300, 2.0}, {3})},
      {"i32", Tensor::from_vector(std::vector<int32_t>{-2147483647 - 1, 0, 5, 2147483647, 9, 10, 11, 12},
                                  {2, 2, 2})},
      {"flags", Tensor::from_vector(std::vector<bool>{true, false, false, true, true})},
      {"scalar", Tensor::scalar(4.0, DType::F32)},
      {"empty", Tensor::from_vector(std::vector<float>{}, {0, 3})},
  };
  for (auto compression : {rl::NpzCompression::Stored, rl::NpzCompression::Deflate}) {
    const std::string path = dir.file(compression == rl::NpzCompression::Stored ? "s.npz" : "d.npz");
    rl::write_npz(path, arrays, {compression});
    auto back = rl::read_npz(path);
    ASSERT_EQ(back.size(), arrays.size());
    expect_same<float>(back.at("f32"), arrays.at("f32"));
    expect_same<double>(back.at("f64"), arrays.at("f64"));
    expect_same<int32_t>(back.at("i32"), arrays.at("i32"));
    expect_same<bool>(back.at("flags"), arrays.at("flags"));
    expect_same<float>(back.at("scalar"), arrays.at("scalar"));
    expect_same<float>(back.at("empty"), arrays.at("empty"));
  }
  // Deflate must actually compress a repetitive array (np.savez_compressed behaviour), stored must not.
  std::map<std::string, Tensor> big = {{"zeros", Tensor::full({1000, 4}, 0.0, DType::F32)}};
  rl::write_npz(dir.file("bs.npz"), big, {rl::NpzCompression::Stored});
  rl::write_npz(dir.file("bd.npz"), big, {rl::NpzCompression::Deflate});
  EXPECT_GT(fs::file_size(dir.file("bs.npz")), 16000u);
  EXPECT_LT(fs::file_size(dir.file("bd.npz")), 2000u);
  expect_same<float>(rl::read_npz(dir.file("bd.npz")).at("zeros"), big.at("zeros"));
}

TEST(NpzWriter, StridedTensorsAreWrittenInRowMajorOrder) {
  TempDir dir;
  // base [2, 3] = 0..5; its transpose [3, 2] as a view with strides (1, 3).
  Tensor base = Tensor::from_vector(std::vector<float>{0, 1, 2, 3, 4, 5}, {2, 3});
  Tensor tr = Tensor::make_concrete(engine::AVal{{3, 2}, DType::F32}, base.storage(), base.offset(), {1, 3});
  rl::write_npz(dir.file("t.npz"), {{"t", tr}});
  Tensor back = rl::read_npz(dir.file("t.npz")).at("t");
  EXPECT_EQ(back.shape(), (engine::Shape{3, 2}));
  EXPECT_EQ(back.to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
}

TEST(NpzWriter, KeepsTheGivenMemberOrderAndGivesReproducibleBytes) {
  TempDir dir;
  std::vector<std::pair<std::string, Tensor>> arrays = {
      {"zeta", Tensor::from_vector(std::vector<float>{1, 2})},
      {"alpha", Tensor::from_vector(std::vector<float>{3})},
  };
  rl::write_npz_ordered(dir.file("a.npz"), arrays);
  rl::write_npz_ordered(dir.file("b.npz"), arrays);
  EXPECT_EQ(read_bytes(dir.file("a.npz")), read_bytes(dir.file("b.npz")));
  rl::NpzFile f = rl::NpzFile::open(dir.file("a.npz"));
  EXPECT_EQ(f.keys(), (std::vector<std::string>{"zeta", "alpha"}));
}

TEST(NpzWriter, ReplacesAtomicallyAndLeavesNoTemporaryFiles) {
  TempDir dir;
  const std::string path = dir.file("x.npz");
  rl::write_npz(path, {{"a", Tensor::from_vector(std::vector<float>{1})}});
  rl::write_npz(path, {{"b", Tensor::from_vector(std::vector<float>{2, 3})}});
  auto back = rl::read_npz(path);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back.at("b").to_vector<float>(), (std::vector<float>{2, 3}));
  // A failing write (bad key, null tensor) must leave the previous file as it was and nothing else behind.
  const std::string before = read_bytes(path);
  testing_support::expect_error_mentioning([&] { rl::write_npz(path, {{"a/b", Tensor::from_vector(std::vector<float>{1})}}); }, "'a/b'");
  testing_support::expect_error_mentioning([&] { rl::write_npz(path, {{"obs", Tensor()}}); }, "obs.npy");
  EXPECT_EQ(read_bytes(path), before);
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST(NpzWriter, ErrorsNameTheFileAndSayWhatToDo) {
  TempDir dir;
  const std::string missing_dir = dir.file("no/such/dir/x.npz");
  testing_support::expect_error_mentioning(
      [&] {
        rl::write_npz(missing_dir, {{"a", Tensor::from_vector(std::vector<float>{1})}});
      },
      "does not exist");
  testing_support::expect_error_mentioning(
      [&] {
        rl::write_npz(missing_dir, {{"a", Tensor::from_vector(std::vector<float>{1})}});
      },
      "x.npz");
  testing_support::expect_error_mentioning(
      [&] {
        rl::write_npz(dir.file("e.npz"), {{"", Tensor::from_vector(std::vector<float>{1})}});
      },
      "key");
  testing_support::expect_error_mentioning(
      [&] {
        rl::write_npz(dir.file("l.npz"), {{"a", Tensor::from_vector(std::vector<float>{1})}},
                      {rl::NpzCompression::Deflate, 12});
      },
      "level");
  testing_support::expect_error_mentioning(
      [&] {
        rl::write_npz(dir.path().string(), {{"a", Tensor::from_vector(std::vector<float>{1})}});
      },
      "is a directory");
}

TEST(NpzWriter, EmptyArchiveIsAValidZip) {
  TempDir dir;
  rl::write_npz(dir.file("empty.npz"), std::map<std::string, Tensor>{});
  EXPECT_EQ(fs::file_size(dir.file("empty.npz")), 22u);  // the bare end-of-central-directory record
  EXPECT_TRUE(rl::read_npz(dir.file("empty.npz")).empty());
}

TEST(NpzWriter, RawOgbenchLayoutLoadsAsADataset) {
  TempDir dir;
  // Two trajectories of 3 states each: rows 2 and 5 are terminal and get dropped by the loader.
  std::vector<float> obs = {0, 0, 1, 0, 2, 0, 10, 10, 11, 10, 12, 10};
  std::vector<float> act = {1, 0, 1, 0, 9, 9, 1, 0, 1, 0, 9, 9};
  std::vector<bool> term = {false, false, true, false, false, true};
  rl::write_npz(dir.file("d.npz"), {{"observations", Tensor::from_vector(obs, {6, 2})},
                                    {"actions", Tensor::from_vector(act, {6, 2})},
                                    {"terminals", Tensor::from_vector(term)}});
  rl::Dataset ds = rl::load_dataset(dir.file("d.npz"));
  ASSERT_EQ(ds.size(), 4);
  EXPECT_EQ(ds.next_observations.to_vector<float>(), (std::vector<float>{1, 0, 2, 0, 11, 10, 12, 10}));
  EXPECT_EQ(ds.terminals.to_vector<float>(), (std::vector<float>{0, 1, 0, 1}));
}

}  // namespace
