// A progress line for anything that runs longer than a few seconds: done/total, rate and ETA.
// On a terminal it redraws one line (at most 10 times a second); when stderr is a file or a
// pipe (CI logs) it prints a plain line every `plain_interval_s` seconds instead, so logs stay
// readable. Respects the log level: quiet/error/warn levels hide it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace tlm {

// How `done`/`total` are shown: bytes scale to kB/MB/GB, counts to k/M.
enum class ProgressUnit { count, bytes };

// Pure formatting, separated out so it can be tested: "label  12.0/100.0 MB  34.5 MB/s  ETA 3s".
std::string format_progress(const std::string& label, double done, double total, double elapsed_s,
                            ProgressUnit unit, const std::string& extra = "");
std::string format_duration(double seconds);
std::string format_quantity(double value, ProgressUnit unit);

class Progress {
 public:
  Progress(std::string label, double total, ProgressUnit unit = ProgressUnit::count,
           double plain_interval_s = 10.0);
  ~Progress();
  // Cheap to call often: it only prints when the redraw interval has passed.
  void update(double done, const std::string& extra = "");
  void finish(const std::string& extra = "");
  double elapsed_s() const;

 private:
  void draw(bool final_line, const std::string& extra);
  std::string label_;
  double total_, done_ = 0, interval_s_;
  ProgressUnit unit_;
  bool tty_, enabled_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace tlm
