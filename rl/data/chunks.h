// Seeded batches of H-step action chunks for chunked BC and n-step (chunked) TD learning (QGF.md).
//
// For a start row i (uniform over 0 .. N - H, as the official sample_sequence draws it) and horizon H:
//   h            = steps up to and including the first episode end in rows i .. i+H-1 (H if none)
//   valid[k]     = 1 for k < h, else 0 (steps after the episode end belong to the next trajectory)
//   action chunk = actions[i .. i+H) flattened to [H * act_dim]; invalid steps are padded (ChunkPadding)
//   reward       = sum_{k<h} gamma^k r[i+k]            (truncated at the episode end)
//   mask         = min_{k<h} masks[i+k]                (= masks[i+h-1] when masks = 1 - terminals; the min is
//                                                       what the official code computes, and stops bootstrapping
//                                                       if any step of the chunk reached an absorbing state)
//   next obs     = next_observations[i+h-1]           (the state after the last valid step)
// The caller bootstraps with  target = reward + gamma^H * mask * V(next obs)  and weights the loss by
// valid[:, H-1], which is what the official QGF critic does (a truncated chunk gets weight 0); `horizons` (= h)
// is returned too, for a caller that prefers gamma^h bootstrapping of truncated chunks.
//
// Padding: the official code does NOT pad; it takes actions[i+k] as stored, i.e. the first actions of the next
// trajectory (ChunkPadding::NextRows reproduces that). The default, RepeatLastValid, repeats the last valid
// action instead, so a BC policy is never trained to append another episode's actions to a chunk.
//
// RNG: start rows come from std::mt19937_64 on the host (indices are host data; no device round trip),
// seeded from (seed, step) through splitmix64, and mapped to [0, n) by rejection sampling rather than
// std::uniform_int_distribution (whose algorithm the standard leaves to the library). A batch therefore
// depends only on (seed, step, batch size, data set), on any platform, and resuming at step s needs no saved
// generator state.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "rl/data/dataset.h"

namespace rl {

enum class ChunkPadding {
  RepeatLastValid,  // steps after the episode end repeat the last valid action (default)
  NextRows,         // steps after the episode end take the next rows' actions (the official code)
};

struct ChunkConfig {
  int64_t horizon = 5;     // H (QGF: 5); H = 1 gives plain one-step transitions
  double discount = 0.99;  // gamma
  ChunkPadding padding = ChunkPadding::RepeatLastValid;
};

struct Batch {
  engine::Tensor observations;       // f32 [B, obs_dim]: observations[i]
  engine::Tensor action_chunks;      // f32 [B, H * act_dim]
  engine::Tensor rewards;            // f32 [B]: discounted reward sums, truncated at episode ends
  engine::Tensor masks;              // f32 [B]: bootstrap masks (gamma^H is the caller's)
  engine::Tensor valid;              // f32 [B, H]: 1 for steps up to and including the episode end
  engine::Tensor horizons;           // i32 [B]: h, the number of valid steps (1 .. H)
  engine::Tensor next_observations;  // f32 [B, obs_dim]: the state after the last valid step
  engine::Tensor indices;            // i32 [B]: the start rows
};

// How many start rows a chunk of `horizon` steps can have: N - H + 1 (an error if the data set is shorter).
int64_t num_chunk_starts(const Dataset& ds, int64_t horizon);

// `batch` uniform draws from [0, n), determined by (seed, step) alone.
std::vector<int64_t> sample_indices(uint64_t seed, uint64_t step, int64_t batch, int64_t n);

// Chunks at given start rows (each in [0, N - H]).
Batch gather_chunks(const Dataset& ds, std::span<const int64_t> starts, const ChunkConfig& cfg);

// A seeded uniform batch: gather_chunks(ds, sample_indices(seed, step, batch, num_chunk_starts(...)), cfg).
Batch sample_chunks(const Dataset& ds, const ChunkConfig& cfg, int64_t batch, uint64_t seed, uint64_t step);

}  // namespace rl
