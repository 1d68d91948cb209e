// Offline RL data sets in transition form, loaded from OGBench-style .npz files.
//
// Two file layouts are understood:
//  * raw OGBench (no 'next_observations' member): one row per visited state, 'terminals' = 1 on the LAST row
//    of each trajectory. That last row has no successor, so, exactly as ogbench.utils.load_dataset does, it
//    is dropped, next_observations[t] = observations[t + 1] within the trajectory, and terminals moves to the
//    new last row. A trajectory of length L gives L - 1 transitions. The file's last row must be terminal.
//  * transitions ('next_observations' present): every row is used as it is.
// 'rewards' and 'masks' are optional in both; missing rewards become zeros (has_rewards = false: relabel them
// before TD learning), missing masks become 1 - terminals (as the official QGF/FQL loaders do, which treats
// every trajectory end as absorbing). Per-row members are dropped with the same rows in the raw layout.
// Everything is stored as row-major F32 so samplers can read it directly.
#pragma once
#include <map>
#include <string>

#include "engine/core/tensor.h"

namespace rl {

struct Dataset {
  engine::Tensor observations;       // f32 [N, obs_dim]
  engine::Tensor actions;            // f32 [N, action_dim]
  engine::Tensor rewards;            // f32 [N]
  engine::Tensor masks;              // f32 [N]: 0 where the next state is absorbing (no bootstrap), else 1
  engine::Tensor terminals;          // f32 [N]: 1 on the last transition of each trajectory
  engine::Tensor next_observations;  // f32 [N, obs_dim]
  bool has_rewards = false;          // false: the source had no rewards and `rewards` is all zeros
  std::string source;                // the file (or label) it came from, for messages

  int64_t size() const { return observations.defined() ? observations.dim(0) : 0; }
  int64_t obs_dim() const { return observations.dim(1); }
  int64_t action_dim() const { return actions.dim(1); }
};

// Builds a Dataset from named arrays (the keys of an OGBench npz; see the layouts above). Converts numeric
// dtypes to F32, and checks ranks, lengths and values (terminals 0/1, masks in [0, 1], finite floats).
// `source` names the origin in error messages.
Dataset make_dataset(const std::map<std::string, engine::Tensor>& arrays, const std::string& source);

// Which npz members hold the rewards and masks. The defaults are optional (see above); other names (e.g.
// "rewards_task2" of a file that stores every single task's relabelling) are required, and a file without
// them is an error that lists the file's members and ends with `hint`.
struct DatasetMembers {
  std::string rewards = "rewards", masks = "masks";
  std::string hint;
};

// Reads the members a Dataset needs (other members such as qpos/qvel are not read) and calls make_dataset.
Dataset load_dataset(const std::string& npz_path, const DatasetMembers& members = {});

// Throws a clear error (naming `ds.source` and the field) if shapes, dtypes or lengths disagree.
void validate_dataset(const Dataset& ds);

// Dataset action clipping: actions to [-(1 - eps), 1 - eps] (QGF.md: eps = 1e-5), so that a flow or a tanh
// head never has to produce exactly +-1. Returns a new Tensor / Dataset; the input is unchanged.
engine::Tensor clip_actions(const engine::Tensor& actions, double eps = 1e-5);
Dataset clip_dataset_actions(const Dataset& ds, double eps = 1e-5);

}  // namespace rl
