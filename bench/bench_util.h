// Small helpers every benchmark program shares: a monotonic clock, the CPU model for the JSON
// results, shell quoting for running peers, and a scratch directory in RAM (/dev/shm when it
// exists) so the disk never times a CPU benchmark.
#pragma once

#include <stdio.h>
#include <stdlib.h>

#include <chrono>
#include <fstream>
#include <string>

#include "core/check.h"
#include "core/file.h"

namespace tlm::bench {

inline double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

inline std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.starts_with("model name")) {
      size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
    }
  return "unknown";
}

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs `cmd` through the shell and returns its exit status (-1 if it could not start); its
// standard output goes to *out.
inline int run_capture(const std::string& cmd, std::string* out) {
  out->clear();
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out->append(buf, n);
  return ::pclose(p);
}

// A fresh directory named <prefix>XXXXXX under /dev/shm (or `fallback_parent`).
inline std::string make_temp_dir(const std::string& fallback_parent, const std::string& prefix) {
  std::string parent = is_directory("/dev/shm") ? "/dev/shm" : fallback_parent;
  std::string tmpl = parent + "/" + prefix + "XXXXXX";
  if (!::mkdtemp(tmpl.data())) throw user_error(parent, "cannot create a temporary directory");
  return tmpl;
}

}  // namespace tlm::bench
