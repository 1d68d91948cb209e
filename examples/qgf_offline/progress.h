// A one-line progress bar on stderr: count, percentage, rate, ETA and a caller-supplied note, redrawn in
// place with '\r' at most ~10 times a second. Disabled (prints nothing) when stderr is not a terminal or the
// user passed --quiet, so logs and pipes stay clean.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace qgf_offline {

// Whether progress bars should draw: stderr is a TTY and not --quiet.
bool progress_wanted(bool quiet);

// Info lines on stderr ("qgf_offline: ..."), silenced by --quiet.
void set_quiet(bool quiet);
void info(const std::string& line);

class Progress {
 public:
  // `start`: items already done before this run (a resumed loop); the rate counts only new items.
  Progress(std::string label, int64_t total, bool enabled, int64_t start = 0);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void update(int64_t done, const std::string& note = "");
  void finish(const std::string& note = "");  // draws the final state and ends the line
  double elapsed_s() const;

 private:
  void draw(int64_t done, const std::string& note, bool force);
  std::string label_;
  int64_t total_, start_, last_done_ = 0;
  bool enabled_, finished_ = false, drawn_ = false;
  std::chrono::steady_clock::time_point t0_, last_draw_;
  size_t last_width_ = 0;
};

std::string format_duration(double seconds);  // "0:07", "3:25", "1:02:09"

}  // namespace qgf_offline
