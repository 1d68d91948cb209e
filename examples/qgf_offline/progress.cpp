// Progress bar drawing (see progress.h).
#include "progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace qgf_offline {

namespace {
bool g_quiet = false;
}

bool progress_wanted(bool quiet) { return !quiet && ::isatty(STDERR_FILENO); }

void set_quiet(bool quiet) { g_quiet = quiet; }

void info(const std::string& line) {
  if (!g_quiet) std::fprintf(stderr, "%s\n", line.c_str());
}

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const long t = std::lround(s);
  char buf[32];
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%ld:%02ld", t / 60, t % 60);
  return buf;
}

Progress::Progress(std::string label, int64_t total, bool enabled, int64_t start)
    : label_(std::move(label)),
      total_(std::max<int64_t>(total, 1)),
      start_(start),
      last_done_(start),
      enabled_(enabled),
      t0_(std::chrono::steady_clock::now()),
      last_draw_(t0_ - std::chrono::seconds(1)) {}

Progress::~Progress() {
  if (enabled_ && drawn_ && !finished_) std::fputc('\n', stderr);  // leave the terminal on a fresh line
}

double Progress::elapsed_s() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
}

void Progress::update(int64_t done, const std::string& note) { draw(done, note, false); }

void Progress::finish(const std::string& note) {
  if (finished_) return;
  draw(std::max(last_done_, start_), note, true);
  if (enabled_ && drawn_) std::fputc('\n', stderr);
  finished_ = true;
}

void Progress::draw(int64_t done, const std::string& note, bool force) {
  last_done_ = done;
  if (!enabled_ || finished_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double t = std::chrono::duration<double>(now - t0_).count();
  const double rate = t > 0 ? double(done - start_) / t : 0;
  const double frac = std::clamp(double(done) / double(total_), 0.0, 1.0);
  constexpr int kWidth = 24;
  const int fill = int(frac * kWidth);
  std::string bar(size_t(fill), '#');
  bar.append(size_t(kWidth - fill), '.');
  char rate_s[32];
  if (rate >= 100)
    std::snprintf(rate_s, sizeof rate_s, "%.0f/s", rate);
  else
    std::snprintf(rate_s, sizeof rate_s, "%.2f/s", rate);
  const std::string eta = done >= total_
                              ? "done in " + format_duration(t)
                              : "ETA " + (rate > 0 ? format_duration(double(total_ - done) / rate) : "?");
  char head[160];
  std::snprintf(head, sizeof head, "%-9s [%s] %lld/%lld %3.0f%% %s %s", label_.c_str(), bar.c_str(),
                static_cast<long long>(done), static_cast<long long>(total_), 100 * frac, rate_s,
                eta.c_str());
  std::string line = head;
  if (!note.empty()) line += " | " + note;
  winsize ws{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20 && line.size() >= ws.ws_col)
    line.resize(ws.ws_col - 1);  // a wrapped line cannot be redrawn in place
  const size_t width = line.size();
  if (width < last_width_) line.append(last_width_ - width, ' ');  // erase the tail of a longer previous line
  last_width_ = width;
  std::fprintf(stderr, "\r%s", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

}  // namespace qgf_offline
