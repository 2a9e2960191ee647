// Logging implementation: one mutex so lines from OpenMP threads never interleave.
#include "core/log.h"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace tlm {
namespace {

LogLevel initial_level() {
  const char* env = std::getenv("TLM_LOG_LEVEL");
  if (!env) return LogLevel::info;
  if (!std::strcmp(env, "debug")) return LogLevel::debug;
  if (!std::strcmp(env, "warn")) return LogLevel::warn;
  if (!std::strcmp(env, "error")) return LogLevel::error;
  if (!std::strcmp(env, "quiet")) return LogLevel::quiet;
  return LogLevel::info;
}

LogLevel g_level = initial_level();
std::mutex g_mutex;

void vlog(LogLevel level, const char* prefix, const char* fmt, va_list ap) {
  if (!log_enabled(level)) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  std::fputs(prefix, stderr);
  std::vfprintf(stderr, fmt, ap);
  std::fputc('\n', stderr);
}

}  // namespace

void set_log_level(LogLevel level) { g_level = level; }
LogLevel log_level() { return g_level; }
bool log_enabled(LogLevel level) { return level >= g_level && level != LogLevel::quiet; }

#define TLM_DEFINE_LOG(name, level, prefix) \
  void name(const char* fmt, ...) {         \
    va_list ap;                             \
    va_start(ap, fmt);                      \
    vlog(level, prefix, fmt, ap);           \
    va_end(ap);                             \
  }
TLM_DEFINE_LOG(log_debug, LogLevel::debug, "tweetlm: debug: ")
TLM_DEFINE_LOG(log_info, LogLevel::info, "")
TLM_DEFINE_LOG(log_warn, LogLevel::warn, "tweetlm: warning: ")
TLM_DEFINE_LOG(log_error, LogLevel::error, "tweetlm: error: ")
#undef TLM_DEFINE_LOG

}  // namespace tlm
