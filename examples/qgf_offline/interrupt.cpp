// SIGINT flag and handler installation (see interrupt.h).
#include "interrupt.h"

#include <unistd.h>

#include <csignal>

namespace qgf_offline {

namespace {

volatile std::sig_atomic_t g_requests = 0;

extern "C" void on_sigint(int) {
  if (g_requests > 0) _exit(kExitInterrupted);  // second Ctrl-C: the user wants out now
  g_requests = 1;
  static const char msg[] =
      "\nqgf_offline: interrupt received: finishing the current step (Ctrl-C again to abort at once)\n";
  ssize_t ignored = ::write(STDERR_FILENO, msg, sizeof msg - 1);
  (void)ignored;
}

}  // namespace

bool interrupted() { return g_requests > 0; }
void request_interrupt() { g_requests = 1; }

InterruptGuard::InterruptGuard() {
  g_requests = 0;
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &previous_);
}

InterruptGuard::~InterruptGuard() {
  sigaction(SIGINT, &previous_, nullptr);
  g_requests = 0;
}

}  // namespace qgf_offline
