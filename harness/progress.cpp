#include "harness/progress.h"

#include <unistd.h>

#include <algorithm>

namespace eeb {

static std::string fmt_duration(double s) {
  if (!(s >= 0) || s > 1e7) return "--:--";
  long t = static_cast<long>(s + 0.5);
  char buf[32];
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%02ld:%02ld", t / 60, t % 60);
  return buf;
}

Progress::Progress(long total, std::string label, FILE* out)
    : total_(std::max(0L, total)), label_(std::move(label)), out_(out),
      tty_(out != nullptr && isatty(fileno(out)) != 0), start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

void Progress::advance(long n, const std::string& status) {
  done_ += n;
  status_ = status;
  draw(false);
}

void Progress::finish() { draw(true); }

void Progress::draw(bool final) {
  if (!out_) return;  // quiet
  auto now = std::chrono::steady_clock::now();
  double el = std::chrono::duration<double>(now - start_).count();
  double rate = el > 0 ? done_ / el : 0;
  double eta = rate > 0 ? (total_ - done_) / rate : -1;
  int pct = total_ > 0 ? static_cast<int>(100.0 * done_ / total_) : 100;
  if (tty_) {
    if (!final && std::chrono::duration<double>(now - last_draw_).count() < 0.1) return;
    last_draw_ = now;
    const int width = 30;
    int fill = total_ > 0 ? static_cast<int>(width * done_ / total_) : width;
    std::string bar(fill, '#');
    bar.resize(width, '.');
    std::fprintf(out_, "\r%s [%s] %ld/%ld %5.1f/s ETA %s %s\033[K", label_.c_str(), bar.c_str(),
                 done_, total_, rate, fmt_duration(eta).c_str(), status_.c_str());
    if (final) std::fprintf(out_, "\n");
  } else {
    // Plain lines at every 10% and at the end.
    if (!final && pct / 10 == last_percent_ / 10) return;
    if (final && pct == last_percent_) return;  // already printed
    last_percent_ = pct;
    std::fprintf(out_, "%s: %ld/%ld (%d%%) %.1f/s elapsed %s ETA %s %s\n", label_.c_str(), done_,
                 total_, pct, rate, fmt_duration(el).c_str(), fmt_duration(eta).c_str(),
                 status_.c_str());
  }
  std::fflush(out_);
}

}  // namespace eeb
