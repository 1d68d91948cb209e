// Ctrl-C handling: the first SIGINT only sets a flag, which the long loops poll between steps (training
// finishes its step, writes a checkpoint and exits with code 130 and a resume hint); a second SIGINT exits
// at once. The guard restores the previous handler, so the program's entry point can be called repeatedly
// (the tests do).
#pragma once
#include <signal.h>

#include <string>

namespace qgf_offline {

constexpr int kExitInterrupted = 130;  // the shell's convention for "killed by SIGINT"

bool interrupted();
void request_interrupt();  // what the handler does; also used by --simulate-interrupt-at

class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

 private:
  struct sigaction previous_ {};
};

// Thrown by a loop that stopped on a request; main prints the message and exits with kExitInterrupted.
struct Interrupted {
  std::string message;
};

}  // namespace qgf_offline
