// Dataset assembly from npz arrays: dtype conversion, the raw-OGBench row dropping, validation, clipping.
#include "rl/data/dataset.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "rl/data/npz.h"

namespace rl {

using engine::DType;
using engine::ErrorKind;
using engine::Tensor;

namespace {

constexpr char kOp[] = "load_dataset";

[[noreturn]] void fail(const std::string& source, const std::string& key, std::string_view field,
                       const std::string& problem, std::string_view hint) {
  raise_data_error(ErrorKind::Value, kOp, {source, key}, field, problem, hint);
}

// A member's values as floats (row-major), after checking its rank and dtype family.
struct Column {
  std::vector<float> v;
  int64_t rows = 0;
  int64_t width = 1;  // product of the trailing dims (1 for rank-1 members)
};

Column column(const std::map<std::string, Tensor>& arrays, const std::string& key, int rank, bool float_only,
              const std::string& source) {
  const Tensor& t = arrays.at(key);
  if (!t.defined() || !t.is_concrete())
    fail(source, key, "value", "is not a concrete tensor", "pass host arrays");
  if (t.ndim() != rank)
    fail(source, key, "shape",
         "has shape " + engine::shape_str(t.shape()) + ", expected rank " + std::to_string(rank) +
             (rank == 2 ? " [N, dim]" : " [N]"),
         rank == 2 ? "store it as a 2-D array (reshape a 1-D feature to [N, 1]); image observations are not "
                     "supported"
                   : "store one value per row (a 1-D array)");
  if (float_only && !engine::is_float(t.dtype()))
    fail(source, key, "descr",
         std::string("has dtype ") + engine::dtype_name(t.dtype()) + ", expected a float type",
         "store it as '<f4' (arr.astype(np.float32))");
  Column c;
  c.rows = t.dim(0);
  c.width = rank == 2 ? t.dim(1) : 1;
  c.v.resize(size_t(t.numel()));
  engine::visit_dtype(t.dtype(), [&]<class T>() {
    if constexpr (std::is_same_v<T, float>) {
      c.v = t.to_vector<float>();
    } else {
      std::vector<T> raw = t.to_vector<T>();
      for (size_t i = 0; i < raw.size(); ++i) c.v[i] = static_cast<float>(raw[i]);
    }
  });
  for (size_t i = 0; i < c.v.size(); ++i)
    if (!std::isfinite(c.v[i]))
      fail(source, key, "data",
           "element " + std::to_string(i) + " (row " +
               std::to_string(int64_t(i) / std::max<int64_t>(c.width, 1)) + ") is " + std::to_string(c.v[i]) +
               " after conversion to f32",
           "clean the data set: every value must be finite (and fit in f32)");
  return c;
}

void check_rows(const Column& c, int64_t n, const std::string& key, const std::string& source) {
  if (c.rows != n)
    fail(source, key, "shape",
         "has " + std::to_string(c.rows) + " rows but 'observations' has " + std::to_string(n),
         "every per-step member must have one row per observation row");
}

std::vector<float> take_rows(const std::vector<float>& v, int64_t width, const std::vector<int64_t>& rows,
                             int64_t offset = 0) {
  std::vector<float> out;
  out.reserve(rows.size() * size_t(width));
  for (int64_t r : rows) {
    const float* p = v.data() + (r + offset) * width;
    out.insert(out.end(), p, p + width);
  }
  return out;
}

}  // namespace

Dataset make_dataset(const std::map<std::string, Tensor>& arrays, const std::string& source) {
  for (const char* need : {"observations", "actions", "terminals"})
    if (!arrays.count(need))
      fail(source, need, "key", "is missing",
           "an OGBench data set has 'observations', 'actions' and 'terminals'");
  Column obs = column(arrays, "observations", 2, true, source);
  Column act = column(arrays, "actions", 2, true, source);
  Column term = column(arrays, "terminals", 1, false, source);
  const int64_t n = obs.rows;
  if (n == 0) fail(source, "observations", "shape", "has no rows", "the data set is empty: regenerate it");
  check_rows(act, n, "actions", source);
  check_rows(term, n, "terminals", source);
  for (int64_t i = 0; i < n; ++i)
    if (term.v[size_t(i)] != 0.f && term.v[size_t(i)] != 1.f)
      fail(source, "terminals", "data",
           "row " + std::to_string(i) + " is " + std::to_string(term.v[size_t(i)]),
           "terminals must be 0 or 1 (1 on the last step of each trajectory)");

  bool has_next = arrays.count("next_observations") != 0;
  bool has_rewards = arrays.count("rewards") != 0;
  bool has_masks = arrays.count("masks") != 0;
  Column next, rew, mask;
  if (has_next) {
    next = column(arrays, "next_observations", 2, true, source);
    check_rows(next, n, "next_observations", source);
    if (next.width != obs.width)
      fail(source, "next_observations", "shape",
           "has " + std::to_string(next.width) + " columns but 'observations' has " +
               std::to_string(obs.width),
           "next_observations must have the observations' shape");
  }
  if (has_rewards) {
    rew = column(arrays, "rewards", 1, false, source);
    check_rows(rew, n, "rewards", source);
  }
  if (has_masks) {
    mask = column(arrays, "masks", 1, false, source);
    check_rows(mask, n, "masks", source);
    for (int64_t i = 0; i < n; ++i)
      if (!(mask.v[size_t(i)] >= 0.f && mask.v[size_t(i)] <= 1.f))
        fail(source, "masks", "data", "row " + std::to_string(i) + " is " + std::to_string(mask.v[size_t(i)]),
             "masks must lie in [0, 1] (0: no bootstrap from the next state)");
  }

  // Rows kept and their successors. The raw layout drops each trajectory's last row (it has no successor).
  std::vector<int64_t> rows;
  std::vector<float> terminals;
  if (has_next) {
    rows.resize(size_t(n));
    for (int64_t i = 0; i < n; ++i) rows[size_t(i)] = i;
    terminals = term.v;
  } else {
    if (term.v[size_t(n - 1)] != 1.f)
      fail(source, "terminals", "data",
           "the last row is not terminal, so the last trajectory's final state has no successor",
           "the file may be truncated: end the last trajectory with terminals = 1, or store "
           "next_observations");
    for (int64_t i = 0; i < n; ++i)
      if (term.v[size_t(i)] == 0.f) {
        rows.push_back(i);
        terminals.push_back(term.v[size_t(i + 1)]);
      }
    if (rows.empty())
      fail(source, "terminals", "data", "every trajectory has a single row, so there are no transitions",
           "store trajectories of at least two states");
    next.v = take_rows(obs.v, obs.width, rows, 1);
  }
  const int64_t m = int64_t(rows.size());

  Dataset ds;
  ds.source = source;
  ds.has_rewards = has_rewards;
  ds.observations =
      Tensor::from_vector(has_next ? std::move(obs.v) : take_rows(obs.v, obs.width, rows), {m, obs.width});
  ds.actions =
      Tensor::from_vector(has_next ? std::move(act.v) : take_rows(act.v, act.width, rows), {m, act.width});
  ds.next_observations = Tensor::from_vector(next.v, {m, obs.width});
  ds.terminals = Tensor::from_vector(terminals, {m});
  ds.rewards = has_rewards ? Tensor::from_vector(take_rows(rew.v, 1, rows), {m})
                           : Tensor::from_vector(std::vector<float>(size_t(m), 0.f), {m});
  if (has_masks) {
    ds.masks = Tensor::from_vector(take_rows(mask.v, 1, rows), {m});
  } else {
    std::vector<float> mk(static_cast<size_t>(m));
    for (int64_t i = 0; i < m; ++i) mk[size_t(i)] = 1.f - terminals[size_t(i)];
    ds.masks = Tensor::from_vector(mk, {m});
  }
  validate_dataset(ds);
  return ds;
}

Dataset load_dataset(const std::string& npz_path, const DatasetMembers& members) {
  NpzFile f = NpzFile::open(npz_path);
  std::map<std::string, Tensor> arrays;
  // A missing required key raises NpzFile::read's error, which lists the keys the file has.
  for (const char* key : {"observations", "actions", "terminals"}) arrays[key] = f.read(key);
  if (f.contains("next_observations")) arrays["next_observations"] = f.read("next_observations");
  // The default members are optional; any other name was asked for on purpose and must be there.
  auto read_member = [&](const std::string& member, const std::string& field) {
    if (f.contains(member)) {
      arrays[field] = f.read(member);
    } else if (member != field) {
      std::string have;
      for (const std::string& k : f.keys()) have += (have.empty() ? "'" : ", '") + k + "'";
      raise_data_error(ErrorKind::IO, kOp, {npz_path, member + ".npy"}, "key",
                       "missing from the archive, which should hold the " + field + " as '" + member +
                           "' (it has " + have + ")",
                       members.hint.empty() ? "pick the data set written for this task" : members.hint);
    }
  };
  read_member(members.rewards, "rewards");
  read_member(members.masks, "masks");
  return make_dataset(arrays, npz_path);
}

void validate_dataset(const Dataset& ds) {
  const std::string& s = ds.source;
  struct Field {
    const char* name;
    const Tensor* t;
    int rank;
  };
  const Field fields[] = {
      {"observations", &ds.observations, 2}, {"actions", &ds.actions, 2},
      {"rewards", &ds.rewards, 1},           {"masks", &ds.masks, 1},
      {"terminals", &ds.terminals, 1},       {"next_observations", &ds.next_observations, 2}};
  for (const Field& f : fields) {
    if (!f.t->defined() || !f.t->is_concrete())
      fail(s, f.name, "value", "is not set (or not concrete)",
           "load the data set with rl::load_dataset / make_dataset");
    if (f.t->dtype() != DType::F32 || f.t->ndim() != f.rank)
      fail(s, f.name, "shape", "is " + f.t->aval().str() + ", expected f32 of rank " + std::to_string(f.rank),
           "build the data set with rl::make_dataset, which converts and checks the arrays");
  }
  const int64_t n = ds.observations.dim(0);
  if (n == 0) fail(s, "observations", "shape", "has no rows", "the data set is empty");
  for (const Field& f : fields)
    if (f.t->dim(0) != n)
      fail(s, f.name, "shape",
           "has " + std::to_string(f.t->dim(0)) + " rows but 'observations' has " + std::to_string(n),
           "every field must have one row per transition");
  if (ds.next_observations.dim(1) != ds.observations.dim(1))
    fail(s, "next_observations", "shape",
         "is " + ds.next_observations.aval().str() + " but 'observations' is " + ds.observations.aval().str(),
         "next_observations must have the observations' shape");
}

Tensor clip_actions(const Tensor& actions, double eps) {
  if (!(eps >= 0.0 && eps < 1.0))
    engine::raise(ErrorKind::Value, "clip_actions", "eps = " + std::to_string(eps) + " is outside [0, 1)", {},
                  {}, "pass a small margin such as 1e-5");
  if (!actions.defined() || !engine::is_float(actions.dtype()))
    engine::raise(ErrorKind::DType, "clip_actions", "needs a float tensor",
                  actions.defined() ? std::vector<engine::AVal>{actions.aval()} : std::vector<engine::AVal>{},
                  {}, "convert the actions to f32 first");
  Tensor out = actions.contiguous();
  Tensor copy = Tensor::empty(out.shape(), out.dtype());  // never write into the caller's storage
  const double hi = 1.0 - eps;
  engine::visit_dtype(out.dtype(), [&]<class T>() {
    if constexpr (std::is_floating_point_v<T>) {
      const T* src = out.data<T>();
      T* dst = copy.mutable_data<T>();
      const T lim = static_cast<T>(hi);
      for (int64_t i = 0; i < out.numel(); ++i) dst[i] = std::clamp(src[i], -lim, lim);
    }
  });
  return copy;
}

Dataset clip_dataset_actions(const Dataset& ds, double eps) {
  Dataset out = ds;
  out.actions = clip_actions(ds.actions, eps);
  return out;
}

}  // namespace rl
