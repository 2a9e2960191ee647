// Implementation of the check vocabulary (see check.h).
#include "core/check.h"

#include <cstdarg>
#include <cstdio>

namespace tlm {

static std::string vformat(const char* fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = std::vsnprintf(nullptr, 0, fmt, ap2);
  va_end(ap2);
  if (n <= 0) return {};
  std::string out(static_cast<size_t>(n), '\0');
  std::vsnprintf(out.data(), out.size() + 1, fmt, ap);
  return out;
}

std::string strprintf(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::string s = vformat(fmt, ap);
  va_end(ap);
  return s;
}

UserError user_error(const std::string& input, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::string s = vformat(fmt, ap);
  va_end(ap);
  return UserError(input, std::move(s));
}

void check_failed(const char* expr, const char* file, int line, const std::string& hint) {
  throw InternalError(strprintf("check failed: %s (%s:%d)%s%s", expr, file, line,
                                hint.empty() ? "" : ": ", hint.c_str()));
}

}  // namespace tlm
