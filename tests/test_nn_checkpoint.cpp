// nn/checkpoint.h: bitwise round trips over every dtype (NaN payloads, -0, empty tensors), the safetensors
// header as documented (parsed here with nlohmann::json), one hand-made corrupt file per validation rule
// (each error must name the file and the offending field), restore mismatches, atomic saves that fail
// half-way (missing directory, file size limit hit mid-write), and resume determinism of a training loop.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/testing.h"
#include "engine/compile/jit.h"
#include "engine/transforms/transforms.h"
#include "nn/checkpoint.h"
#include "nn/optim.h"
#include "ops/api.h"

namespace {

namespace fs = std::filesystem;
using engine::DType;
using engine::Shape;
using engine::Tensor;

// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() /
            ("qgf_ckpt_" + std::to_string(::getpid()) + "_" + info->test_suite_name() + "_" + info->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::vector<char> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(f), {});
}

void write_bytes(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), std::streamsize(bytes.size()));
}

// A safetensors file from its parts; `len` overrides the header length field.
std::vector<char> make_file(const std::string& header, const std::vector<char>& data,
                            std::optional<uint64_t> len = std::nullopt) {
  const uint64_t n = len.value_or(header.size());
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[size_t(i)] = char((n >> (8 * i)) & 0xff);  // little-endian
  out += header;
  out.append(data.begin(), data.end());
  return std::vector<char>(out.begin(), out.end());
}

// Runs f, which must throw an engine::Error whose message contains every one of `parts`.
template <class F>
void expect_error(F&& f, const std::vector<std::string>& parts, const std::string& what) {
  try {
    f();
    ADD_FAILURE() << what << ": expected an error";
  } catch (const engine::Error& e) {
    const std::string msg = e.what();
    for (const std::string& p : parts)
      EXPECT_NE(msg.find(p), std::string::npos) << what << ": '" << p << "' not in: " << msg;
  }
}

float f32_bits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
double f64_bits(uint64_t b) {
  double d;
  std::memcpy(&d, &b, 8);
  return d;
}

// One tensor of every dtype, with the values that a value-based (rather than byte-based) copy would alter.
std::map<std::string, Tensor> mixed_tree() {
  std::map<std::string, Tensor> t;
  t["a_f32"] =
      Tensor::from_vector<float>({-0.0f, f32_bits(0x7fc01234u), f32_bits(0xffa00001u) /* signalling NaN */,
                                  std::numeric_limits<float>::infinity(), f32_bits(1u) /* subnormal */, 1.5f},
                                 {2, 3});
  t["b_f64"] = Tensor::from_vector<double>({-0.0, f64_bits(0x7ff800000000beefull), -1e300}, {3});
  t["c_i32"] = Tensor::from_vector<int32_t>({std::numeric_limits<int32_t>::min(), -1, 7}, {3, 1});
  t["d_u32"] = Tensor::from_vector<uint32_t>({0xffffffffu, 0u}, {2});
  t["e_bool"] = Tensor::from_vector<bool>({true, false, true}, {3});
  t["f_empty"] = Tensor::from_vector<float>({}, {0, 4});
  t["g_scalar"] = Tensor::from_vector<double>({3.25}, {});
  return t;
}

TEST(NnCheckpoint, RoundTripIsBitwise) {
  TempDir dir;
  const auto tree = mixed_tree();
  const Tensor key = ops::random_fold_in(ops::random_key(42), 7);
  const Tensor step = Tensor::from_vector<int32_t>({123}, {});
  nn::Checkpoint ck;
  ck.add("state", tree)
      .add("rng", key)
      .add("step", step)
      .set_metadata("format", "qgf-test")
      .set_metadata("step", "123");
  const std::string path = dir.file("ck.safetensors");
  ck.save(path);

  const nn::CheckpointReader r = nn::Checkpoint::load(path);
  auto like = mixed_tree();
  for (auto& [k, v] : like)
    v = ops::zeros_like(v);  // fresh values: only structure, dtypes and shapes are used
  const auto back = r.restore("state", like);
  testing_support::expect_tree_bitwise(back, tree, "tree");
  testing_support::expect_tree_bitwise(r.restore("rng", ops::random_key(0)), key, "rng key");
  EXPECT_EQ(r.tensor("rng").dtype(), DType::U32);
  EXPECT_EQ(r.tensor("step").item<int32_t>(), 123);
  EXPECT_EQ(r.metadata("format"), "qgf-test");
  EXPECT_EQ(r.metadata().size(), 2u);
  EXPECT_EQ(r.names().size(), 9u);
  EXPECT_TRUE(r.contains("state/6"));
  EXPECT_FALSE(r.contains("state/7"));

  // Restored tensors own their buffers: two restores are independent.
  const Tensor t1 = r.tensor("state/0"), t2 = r.tensor("state/0");
  EXPECT_NE(t1.raw_data(), t2.raw_data());

  // The builder snapshots contents at add(): later saves of the same builder write the same bytes.
  ck.save(dir.file("again.safetensors"));
  EXPECT_EQ(read_bytes(path), read_bytes(dir.file("again.safetensors")));
}

TEST(NnCheckpoint, HeaderIsDocumentedSafetensors) {
  TempDir dir;
  std::vector<Tensor> policy;
  for (int i = 0; i < 12; ++i)
    policy.push_back(ops::full({i % 3 + 1, 2}, double(i), i % 2 ? DType::F64 : DType::F32));
  nn::Checkpoint ck;
  ck.add("policy", policy).add("rng", ops::random_key(1)).set_metadata("k", "v");
  const std::string path = dir.file("h.safetensors");
  ck.save(path);
  const std::vector<char> bytes = read_bytes(path);
  ASSERT_GE(bytes.size(), 8u);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u) << "header padded so the data is 8-byte aligned";
  const std::string header(bytes.data() + 8, size_t(n));
  const auto h = nlohmann::ordered_json::parse(header);
  ASSERT_TRUE(h.is_object());
  EXPECT_EQ(h["__metadata__"], (nlohmann::ordered_json{{"k", "v"}}));

  // Entries in add order, leaves in flatten order ("policy/10" after "policy/9"), packed contiguously.
  std::vector<std::string> names;
  uint64_t pos = 0;
  for (auto it = h.begin(); it != h.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    names.push_back(it.key());
    const auto& e = it.value();
    ASSERT_EQ(e.size(), 3u) << it.key();
    const auto offs = e["data_offsets"].get<std::vector<uint64_t>>();
    ASSERT_EQ(offs.size(), 2u);
    EXPECT_EQ(offs[0], pos) << it.key();
    pos = offs[1];
  }
  std::vector<std::string> want;
  for (int i = 0; i < 12; ++i) want.push_back("policy/" + std::to_string(i));
  want.push_back("rng");
  EXPECT_EQ(names, want);
  EXPECT_EQ(8 + n + pos, bytes.size());
  EXPECT_EQ(h["policy/1"]["dtype"], "F64");
  EXPECT_EQ(h["policy/2"]["dtype"], "F32");
  EXPECT_EQ(h["policy/2"]["shape"], (nlohmann::ordered_json{3, 2}));
  EXPECT_EQ(h["rng"]["dtype"], "U32");
  EXPECT_EQ(h["rng"]["shape"], (nlohmann::ordered_json{2}));
  // The data is the raw little-endian values: policy/4 is f32 [2,2] of 4.0.
  const auto o4 = h["policy/4"]["data_offsets"].get<std::vector<uint64_t>>();
  float v;
  std::memcpy(&v, bytes.data() + 8 + n + o4[0], 4);
  EXPECT_EQ(v, 4.0f);
  EXPECT_EQ(o4[1] - o4[0], 16u);
}

TEST(NnCheckpoint, EveryCorruptionIsRejectedNamingFileAndField) {
  TempDir dir;
  const std::vector<char> d8(8, 0);  // data for one f32[2]
  struct Case {
    std::string name;
    std::vector<char> file;
    std::vector<std::string> must_mention;
  };
  const std::string ok_entry = R"("x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]})";
  const std::vector<Case> cases = {
      {"short", {'\x01', '\x02', '\x03'}, {"shorter than the 8-byte header length"}},
      {"len_beyond", make_file("{" + ok_entry + "}", d8, 1000), {"header length 1000 goes beyond the file"}},
      {"len_huge", make_file("{}", {}, ~0ull), {"header length", "goes beyond the file"}},
      {"bad_json", make_file(R"({"x": {"dtype": "F32", )", {}), {"header is not valid JSON"}},
      {"not_object", make_file("[1, 2]", {}), {"header is a JSON array"}},
      {"entry_not_object", make_file(R"({"x": 3})", {}), {"tensor 'x'", "not an object"}},
      {"unknown_dtype",
       make_file(R"({"x": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]}})", {0, 0, 0, 0}),
       {"tensor 'x'", "field \"dtype\"", "\"F16\""}},
      {"missing_shape",
       make_file(R"({"x": {"dtype": "F32", "data_offsets": [0, 8]}})", d8),
       {"tensor 'x'", "no field \"shape\""}},
      {"unknown_field",
       make_file(R"({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8], "y": 1}})", d8),
       {"tensor 'x'", "unknown field \"y\""}},
      {"negative_dim",
       make_file(R"({"x": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})", d8),
       {"tensor 'x'", "field \"shape\"", "not a non-negative integer"}},
      {"shape_not_array",
       make_file(R"({"x": {"dtype": "F32", "shape": 2, "data_offsets": [0, 8]}})", d8),
       {"tensor 'x'", "field \"shape\"", "not an array"}},
      {"offsets_count",
       make_file(R"({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0]}})", d8),
       {"tensor 'x'", "field \"data_offsets\"", "not 2"}},
      {"offsets_reversed",
       make_file(R"({"x": {"dtype": "F32", "shape": [0], "data_offsets": [8, 0]}})", d8),
       {"tensor 'x'", "field \"data_offsets\"", "ends before it begins"}},
      {"size_mismatch",
       make_file(R"({"x": {"dtype": "F64", "shape": [2], "data_offsets": [0, 8]}})", d8),
       {"tensor 'x'", "field \"data_offsets\" [0, 8] spans 8 bytes, but dtype F64 and shape [2] need 16"}},
      {"shape_overflow",
       make_file(R"({"x": {"dtype": "F64", "shape": [4294967296, 4294967296], "data_offsets": [0, 8]}})", d8),
       {"tensor 'x'", "field \"data_offsets\"", "more than 2^64"}},
      {"out_of_range",
       make_file(R"({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", d8),
       {"tensor 'x'", "field \"data_offsets\" [0, 16] is out of range", "only 8 bytes of data"}},
      {"truncated_data",
       make_file("{" + ok_entry + "}", {0, 0, 0}),
       {"tensor 'x'", "field \"data_offsets\" [0, 8] is out of range"}},
      {"overlap",
       make_file(R"({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                     "y": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
                 d8),
       {"tensor 'y'", "field \"data_offsets\"", "overlaps tensor 'x'"}},
      {"gap",
       make_file(R"({"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                     "y": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}})",
                 std::vector<char>(12, 0)),
       {"tensor 'y'", "field \"data_offsets\" begins at 8", "gap of 4 bytes"}},
      {"trailing",
       make_file("{" + ok_entry + "}", std::vector<char>(12, 0)),
       {"4 bytes of data after the last tensor"}},
      {"duplicate", make_file("{" + ok_entry + ", " + ok_entry + "}", d8), {"names tensor 'x' twice"}},
      {"metadata_not_string",
       make_file(R"({"__metadata__": {"step": 3}})", {}),
       {"field \"__metadata__\".step"}},
      {"metadata_not_object",
       make_file(R"({"__metadata__": []})", {}),
       {"field \"__metadata__\"", "not an object"}},
      {"bool_byte",
       make_file(R"({"b": {"dtype": "BOOL", "shape": [2], "data_offsets": [0, 2]}})", {1, 2}),
       {"tensor 'b' (BOOL) holds byte 2"}},
  };
  for (const Case& c : cases) {
    const std::string path = dir.file(c.name + ".safetensors");
    write_bytes(path, c.file);
    std::vector<std::string> parts = c.must_mention;
    parts.push_back("file '" + path + "'");
    expect_error([&] { nn::Checkpoint::load(path); }, parts, c.name);
  }
  expect_error([&] { nn::Checkpoint::load(dir.file("missing.safetensors")); },
               {"file '" + dir.file("missing.safetensors") + "'", "cannot open"}, "missing file");
  expect_error([&] { nn::Checkpoint::load(dir.path().string()); }, {"is not a regular file"}, "directory");

  // A valid hand-made file (with trailing-space padding and an empty tensor) loads.
  const std::string good = dir.file("good.safetensors");
  std::vector<char> data(8);
  const float two[2] = {1.0f, -2.0f};
  std::memcpy(data.data(), two, 8);
  write_bytes(
      good, make_file(R"({"e": {"dtype": "I32", "shape": [0], "data_offsets": [8, 8]}, )" + ok_entry + "}   ",
                      data));
  const nn::CheckpointReader r = nn::Checkpoint::load(good);
  EXPECT_EQ(r.tensor("x").to_vector<float>(), (std::vector<float>{1.0f, -2.0f}));
  EXPECT_EQ(r.tensor("e").shape(), (Shape{0}));
}

TEST(NnCheckpoint, RestoreChecksCountDtypeAndShape) {
  TempDir dir;
  const std::string path = dir.file("r.safetensors");
  std::vector<Tensor> tree{ops::zeros({2, 3}), ops::zeros({3}, DType::F64)};
  nn::Checkpoint().add("p", tree).add("key", ops::random_key(3)).save(path);
  const nn::CheckpointReader r = nn::Checkpoint::load(path);
  const std::string f = "file '" + path + "'";

  std::vector<Tensor> more = tree;
  more.push_back(ops::zeros({1}));
  expect_error([&] { r.restore("p", more); }, {f, "tree 'p' has 2 leaves in the checkpoint", "has 3"},
               "count");
  expect_error([&] { r.restore("q", tree); }, {f, "tree 'q' has 0 leaves"}, "missing prefix");
  std::vector<Tensor> bad_dtype{ops::zeros({2, 3}, DType::F64), tree[1]};
  expect_error([&] { r.restore("p", bad_dtype); },
               {f, "tensor 'p/0' is F32[2,3]", "expects F64[2,3]", "dtype mismatch"}, "dtype");
  std::vector<Tensor> bad_shape{tree[0], ops::zeros({4}, DType::F64)};
  expect_error([&] { r.restore("p", bad_shape); },
               {f, "tensor 'p/1' is F64[3]", "expects F64[4]", "shape mismatch"}, "shape");
  expect_error([&] { r.restore("key", ops::zeros({2})); }, {f, "tensor 'key' is U32[2]", "expects F32[2]"},
               "single tensor");
  expect_error([&] { r.tensor("nope"); }, {f, "no tensor named 'nope'"}, "missing tensor");
  expect_error([&] { (void)r.metadata("nope"); }, {f, "no metadata key 'nope'"}, "missing metadata");

  // Builder misuse.
  nn::Checkpoint ck;
  ck.add("a", ops::zeros({1}));
  expect_error([&] { ck.add("a", ops::zeros({1})); }, {"'a' was already added"}, "duplicate");
  expect_error([&] { ck.add("__metadata__", ops::zeros({1})); }, {"invalid tensor name"}, "reserved");
  expect_error([&] { ck.add("", std::vector<Tensor>{ops::zeros({1})}); }, {"invalid tree prefix"},
               "empty prefix");
  ck.set_metadata("bad", std::string("\xff\xfe"));
  expect_error([&] { ck.save(dir.file("utf8.safetensors")); },
               {"file '" + dir.file("utf8.safetensors") + "'", "not valid UTF-8", "use valid UTF-8"},
               "bad utf-8");
  EXPECT_FALSE(fs::exists(dir.file("utf8.safetensors")));
}

TEST(NnCheckpoint, FailedSavesLeavePreviousFileIntact) {
  TempDir dir;
  const std::string path = dir.file("ck.safetensors");
  nn::Checkpoint small;
  small.add("w", ops::full({4}, 1.0));
  small.save(path);
  const std::vector<char> before = read_bytes(path);
  ASSERT_FALSE(before.empty());

  nn::Checkpoint big;
  big.add("w", ops::full({1 << 18}, 2.0));  // 1 MiB of data

  // 1. The target's directory does not exist: nothing is created anywhere.
  const std::string missing = dir.file("no/such/dir/ck.safetensors");
  expect_error([&] { big.save(missing); }, {"file '" + missing + "'", "cannot create the temporary file"},
               "missing directory");
  EXPECT_FALSE(fs::exists(dir.file("no")));

  // 2. The write fails half-way (the file size limit is hit; this works even as root, unlike permissions):
  // the error names the file, the old checkpoint is untouched and no temporary file is left behind.
  {
    struct sigaction ign {
    }, old{};
    ign.sa_handler = SIG_IGN;
    ASSERT_EQ(::sigaction(SIGXFSZ, &ign, &old), 0);
    rlimit saved{};
    ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
    rlimit lim = saved;
    lim.rlim_cur = 64 * 1024;
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &lim), 0);
    std::string msg;
    try {
      big.save(path);
    } catch (const engine::Error& e) {
      msg = e.what();
    }
    ::setrlimit(RLIMIT_FSIZE, &saved);
    ::sigaction(SIGXFSZ, &old, nullptr);
    EXPECT_NE(msg.find("file '" + path + "'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("writing the temporary file"), std::string::npos) << msg;
  }
  EXPECT_EQ(read_bytes(path), before);
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) {
    ++files;
    EXPECT_EQ(e.path().filename(), "ck.safetensors") << "left behind: " << e.path();
  }
  EXPECT_EQ(files, 1u);
  EXPECT_EQ(nn::Checkpoint::load(path).tensor("w").to_vector<float>(), (std::vector<float>(4, 1.0f)));

  // 3. An unwritable directory (meaningful only without root's permission override).
  if (::geteuid() != 0) {
    fs::permissions(dir.path(), fs::perms::owner_read | fs::perms::owner_exec);
    expect_error([&] { big.save(path); }, {"file '" + path + "'"}, "read-only directory");
    fs::permissions(dir.path(), fs::perms::owner_all);
    EXPECT_EQ(read_bytes(path), before);
  }

  // 4. Saving onto a directory fails at the rename and removes the temporary file.
  fs::create_directories(dir.file("adir/sub"));
  expect_error([&] { small.save(dir.file("adir")); }, {"file '" + dir.file("adir") + "'", "renaming"},
               "onto a dir");

  // A successful save replaces the file.
  big.save(path);
  EXPECT_EQ(nn::Checkpoint::load(path).tensor("w").numel(), 1 << 18);
  for (const auto& e : fs::directory_iterator(dir.path()))
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
}

// ---- resume determinism: a linear regression trained with Adam on random batches ----

struct Linear {
  Tensor w, b;
  auto tree_fields() { return std::tie(w, b); }
  auto tree_fields() const { return std::tie(w, b); }
};

struct TrainState {
  Linear params;
  nn::AdamState<Linear> opt;
  Tensor key;  // u32[2], split every step
  auto tree_fields() { return std::tie(params, opt, key); }
  auto tree_fields() const { return std::tie(params, opt, key); }
};

const nn::AdamConfig kCfg{0.05, 0.9, 0.999, 1e-8, 0.0, 1.0};

TrainState init_state(uint64_t seed) {
  const Tensor k = ops::random_key(seed);
  Linear p{ops::random_normal(ops::random_fold_in(k, 1), {4, 2}), ops::zeros({2})};
  return TrainState{p, nn::adam_init(p), ops::random_fold_in(k, 2)};
}

// One step: split the key, draw a batch from y = x W* + b* + noise, take an Adam step on the MSE.
TrainState train_step(const TrainState& s) {
  const Tensor ks = ops::random_split(s.key);
  const Tensor next = ops::reshape(ops::slice_axis(ks, 0, 0, 1), {2});
  const Tensor sub = ops::reshape(ops::slice_axis(ks, 0, 1, 2), {2});
  const Tensor x = ops::random_normal(ops::random_fold_in(sub, 0), {16, 4});
  const Tensor w_true = ops::reshape(ops::arange(8, DType::F32), {4, 2}) * 0.25 - 1.0;
  const Tensor y =
      ops::matmul(x, w_true) + 0.5 + 0.01 * ops::random_normal(ops::random_fold_in(sub, 1), {16, 2});
  const Linear g =
      engine::grad([&](const Linear& p) { return ops::mse(ops::matmul(x, p.w) + p.b, y); })(s.params);
  auto [p, o] = nn::adam_update(s.params, g, s.opt, kCfg);
  return TrainState{p, o, next};
}

TEST(NnCheckpoint, ResumeIsBitwiseDeterministic) {
  TempDir dir;
  const std::string path = dir.file("train.safetensors");

  auto step_a = engine::jit(train_step);
  TrainState a = init_state(5);
  const Linear start = a.params;
  for (int i = 0; i < 20; ++i) a = step_a(a);

  auto step_b = engine::jit(train_step);
  TrainState b = init_state(5);
  for (int i = 0; i < 10; ++i) b = step_b(b);
  {
    nn::Checkpoint ck;
    ck.add("params", b.params)
        .add("opt", b.opt)
        .add("rng", b.key)
        .add("step", Tensor::from_vector<int32_t>({10}, {}));
    ck.set_metadata("note", "resume test");
    ck.save(path);
  }
  // "A new process": fresh variables from another seed, a fresh jit cache, everything restored from the file.
  TrainState c = init_state(99);
  {
    const nn::CheckpointReader r = nn::Checkpoint::load(path);
    c.params = r.restore("params", c.params);
    c.opt = r.restore("opt", c.opt);
    c.key = r.restore("rng", c.key);
    const int32_t step = r.tensor("step").item<int32_t>();
    EXPECT_EQ(step, 10);
    EXPECT_EQ(c.opt.count.item<int32_t>(), 10);
    auto step_c = engine::jit(train_step);
    for (int i = step; i < 20; ++i) c = step_c(c);
  }
  testing_support::expect_tree_bitwise(c, a, "resumed vs uninterrupted");
  // Sanity: the run trained (the fit moved towards W*: w[0,0] goes from its init towards -1).
  EXPECT_NE(testing_support::raw_bytes(a.params.w), testing_support::raw_bytes(start.w));
  EXPECT_EQ(a.opt.count.item<int32_t>(), 20);
}

}  // namespace
