// The program's entry point as a function, so main.cpp is one line and the tests can run the whole program
// in-process. Exit codes: 0 done, 1 runtime error (data, checkpoint, engine), 2 usage error (flags, config),
// 130 interrupted (Ctrl-C; a checkpoint was written when training).
#pragma once
#include <string>

#include "config.h"

int qgf_offline_main(int argc, char** argv);

namespace qgf_offline {

// The settings of the run in `results` (its config.json over the defaults), as `evaluate --results` sees
// them. Throws UsageError when the directory holds no run.
Config saved_run_config(const std::string& results);

}  // namespace qgf_offline
