// Plots through gnuplot: for each figure a .gp script and its .dat files go into <results>/plots, and
// gnuplot (when installed) renders it as PNG and SVG. Without gnuplot the scripts and data stay, with a note
// saying how to render them later (`cd <results>/plots && gnuplot NAME.gp`).
//   learning_curves   flow / Q / V losses against the step (and the success during training, if evaluated)
//   guidance_sweep    test success and return against the guidance weight per method, with standard errors,
//                     the validation-chosen setting circled (GradStep against its step size)
//   bandit_samples    the bandit's reward landscape with the data set's, BC's and QGF's actions
//                     (HOOK(pointmaze): the maze with rollouts, in write_env_plot)
#pragma once
#include <string>
#include <vector>

#include "config.h"
#include "evaluate.h"
#include "rl/data/dataset.h"
#include "run_dir.h"

namespace qgf_offline {

struct PlotOutcome {
  std::vector<std::string> scripts;  // the .gp files written
  std::vector<std::string> images;   // the PNG/SVG files rendered (empty without gnuplot)
  std::string note;                  // why nothing was rendered, or where a gnuplot error was logged
};

// `ds` may be null (then the data panel is left out).
PlotOutcome write_plots(const Config& cfg, const RunPaths& paths, const EvalReport& rep,
                        const rl::Dataset* ds);

}  // namespace qgf_offline
