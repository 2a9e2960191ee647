// Levelled logging to stderr. Human output only; machine-readable metrics go through
// core/metrics_log.h instead, so log lines can change wording without breaking tools.
#pragma once

namespace tlm {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3, quiet = 4 };

// Initial level comes from TLM_LOG_LEVEL (debug|info|warn|error|quiet), default info.
void set_log_level(LogLevel level);
LogLevel log_level();
bool log_enabled(LogLevel level);

void log_debug(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace tlm
