// Action-chunk gathering (episode truncation, padding, discounted sums) and the seeded index sampler.
#include "rl/data/chunks.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "rl/data/npy.h"

namespace rl {

using engine::ErrorKind;
using engine::Tensor;

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

void check_config(const ChunkConfig& cfg, const std::string& source) {
  if (cfg.horizon < 1)
    raise_data_error(ErrorKind::Value, "sample_chunks", {source, ""}, "horizon",
                     "is " + std::to_string(cfg.horizon) + ", must be >= 1", "use H = 1 for one-step transitions");
  if (!(cfg.discount >= 0.0 && cfg.discount <= 1.0))
    raise_data_error(ErrorKind::Value, "sample_chunks", {source, ""}, "discount",
                     "is " + std::to_string(cfg.discount) + ", must lie in [0, 1]", "pass gamma such as 0.99");
}

}  // namespace

int64_t num_chunk_starts(const Dataset& ds, int64_t horizon) {
  validate_dataset(ds);
  if (horizon < 1 || ds.size() < horizon)
    raise_data_error(ErrorKind::Value, "sample_chunks", {ds.source, ""}, "horizon",
                     "H = " + std::to_string(horizon) + " needs at least H rows and H >= 1; the data set has " +
                         std::to_string(ds.size()),
                     "use a smaller horizon or a larger data set");
  return ds.size() - horizon + 1;
}

std::vector<int64_t> sample_indices(uint64_t seed, uint64_t step, int64_t batch, int64_t n) {
  if (batch < 0 || n < 1)
    engine::raise(ErrorKind::Value, "sample_indices",
                  "batch = " + std::to_string(batch) + ", n = " + std::to_string(n) + ": need batch >= 0 and n >= 1",
                  {}, {}, "sample from a non-empty range");
  std::mt19937_64 gen(splitmix64(seed ^ splitmix64(step)));
  // Largest multiple of n representable: draws at or above it would bias the low residues.
  const uint64_t un = uint64_t(n);
  const uint64_t limit = std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % un;
  std::vector<int64_t> out(static_cast<size_t>(batch));
  for (int64_t& v : out) {
    uint64_t x;
    do x = gen();
    while (x >= limit);
    v = int64_t(x % un);
  }
  return out;
}

Batch gather_chunks(const Dataset& ds, std::span<const int64_t> starts, const ChunkConfig& cfg) {
  check_config(cfg, ds.source);
  const int64_t H = cfg.horizon, n_starts = num_chunk_starts(ds, H);
  const int64_t B = int64_t(starts.size()), od = ds.obs_dim(), ad = ds.action_dim();
  if (ds.size() > std::numeric_limits<int32_t>::max())
    raise_data_error(ErrorKind::Value, "sample_chunks", {ds.source, ""}, "observations",
                     "has more rows than i32 indices can address", "split the data set");
  // Host pointers: the loaders produce contiguous tensors, but a hand-made Dataset may hold views.
  const Tensor obs_t = ds.observations.contiguous(), act_t = ds.actions.contiguous(),
               rew_t = ds.rewards.contiguous(), mask_t = ds.masks.contiguous(), term_t = ds.terminals.contiguous(),
               next_t = ds.next_observations.contiguous();
  const float *obs = obs_t.data<float>(), *act = act_t.data<float>(), *rew = rew_t.data<float>(),
              *msk = mask_t.data<float>(), *term = term_t.data<float>(), *nxt = next_t.data<float>();

  Tensor o = Tensor::empty({B, od}, engine::DType::F32), a = Tensor::empty({B, H * ad}, engine::DType::F32),
         r = Tensor::empty({B}, engine::DType::F32), m = Tensor::empty({B}, engine::DType::F32),
         v = Tensor::empty({B, H}, engine::DType::F32), h_t = Tensor::empty({B}, engine::DType::I32),
         no = Tensor::empty({B, od}, engine::DType::F32), idx = Tensor::empty({B}, engine::DType::I32);
  float *po = o.mutable_data<float>(), *pa = a.mutable_data<float>(), *pr = r.mutable_data<float>(),
        *pm = m.mutable_data<float>(), *pv = v.mutable_data<float>(), *pno = no.mutable_data<float>();
  int32_t *ph = h_t.mutable_data<int32_t>(), *pidx = idx.mutable_data<int32_t>();

  for (int64_t b = 0; b < B; ++b) {
    const int64_t i = starts[size_t(b)];
    if (i < 0 || i >= n_starts)
      raise_data_error(ErrorKind::Value, "gather_chunks", {ds.source, ""}, "starts",
                       "start row " + std::to_string(i) + " (batch entry " + std::to_string(b) + ") is outside [0, " +
                           std::to_string(n_starts - 1) + "] for H = " + std::to_string(H),
                       "draw starts from [0, N - H] (num_chunk_starts)");
    int64_t h = H;
    for (int64_t k = 0; k < H; ++k)
      if (term[i + k] != 0.f) {
        h = k + 1;
        break;
      }
    double ret = 0.0, disc = 1.0;
    float mask = 1.f;
    for (int64_t k = 0; k < h; ++k) {
      ret += disc * double(rew[i + k]);
      disc *= cfg.discount;
      mask = std::min(mask, msk[i + k]);
    }
    for (int64_t k = 0; k < H; ++k) {
      const int64_t row = (k < h || cfg.padding == ChunkPadding::NextRows) ? i + k : i + h - 1;
      std::copy_n(act + row * ad, ad, pa + (b * H + k) * ad);
      pv[b * H + k] = k < h ? 1.f : 0.f;
    }
    std::copy_n(obs + i * od, od, po + b * od);
    std::copy_n(nxt + (i + h - 1) * od, od, pno + b * od);
    pr[b] = float(ret);
    pm[b] = mask;
    ph[b] = int32_t(h);
    pidx[b] = int32_t(i);
  }
  return Batch{o, a, r, m, v, h_t, no, idx};
}

Batch sample_chunks(const Dataset& ds, const ChunkConfig& cfg, int64_t batch, uint64_t seed, uint64_t step) {
  check_config(cfg, ds.source);
  std::vector<int64_t> starts = sample_indices(seed, step, batch, num_chunk_starts(ds, cfg.horizon));
  return gather_chunks(ds, starts, cfg);
}

}  // namespace rl
