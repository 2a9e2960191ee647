// Progress line implementation (see progress.h).
#include "core/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "core/check.h"
#include "core/log.h"

namespace tlm {

std::string format_quantity(double v, ProgressUnit unit) {
  if (unit == ProgressUnit::bytes) {
    if (v >= 1e9) return strprintf("%.2f GB", v / 1e9);
    if (v >= 1e6) return strprintf("%.1f MB", v / 1e6);
    if (v >= 1e3) return strprintf("%.1f kB", v / 1e3);
    return strprintf("%.0f B", v);
  }
  if (v >= 1e9) return strprintf("%.2fG", v / 1e9);
  if (v >= 1e6) return strprintf("%.2fM", v / 1e6);
  if (v >= 1e4) return strprintf("%.1fk", v / 1e3);
  return strprintf("%.0f", v);
}

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  long t = std::lround(s);
  if (t < 60) return strprintf("%lds", t);
  if (t < 3600) return strprintf("%ldm%02lds", t / 60, t % 60);
  return strprintf("%ldh%02ldm", t / 3600, (t % 3600) / 60);
}

std::string format_progress(const std::string& label, double done, double total, double elapsed_s,
                            ProgressUnit unit, const std::string& extra) {
  double rate = elapsed_s > 0 ? done / elapsed_s : 0.0;
  std::string s = label + "  " + format_quantity(done, unit);
  if (total > 0) s += strprintf(" / %s (%.0f%%)", format_quantity(total, unit).c_str(),
                                100.0 * std::min(done / total, 1.0));
  s += "  " + format_quantity(rate, unit) + "/s";
  if (total > 0 && rate > 0 && done < total) s += "  ETA " + format_duration((total - done) / rate);
  else s += "  " + format_duration(elapsed_s);
  if (!extra.empty()) s += "  " + extra;
  return s;
}

Progress::Progress(std::string label, double total, ProgressUnit unit, double plain_interval_s)
    : label_(std::move(label)), total_(total), interval_s_(plain_interval_s), unit_(unit),
      tty_(isatty(STDERR_FILENO)), enabled_(log_enabled(LogLevel::info)),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

Progress::~Progress() {
  if (!finished_ && tty_ && enabled_) std::fputc('\n', stderr);
}

double Progress::elapsed_s() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::update(double done, const std::string& extra) {
  done_ = done;
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  double since = std::chrono::duration<double>(now - last_draw_).count();
  if (since < (tty_ ? 0.1 : interval_s_)) return;
  last_draw_ = now;
  draw(false, extra);
}

void Progress::finish(const std::string& extra) {
  if (finished_) return;
  finished_ = true;
  if (enabled_) draw(true, extra);
}

void Progress::draw(bool final_line, const std::string& extra) {
  std::string line = format_progress(label_, done_, total_, elapsed_s(), unit_, extra);
  if (tty_) std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), final_line ? "\n" : "");
  else std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

}  // namespace tlm
