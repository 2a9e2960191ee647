// Errors and checks: the one check vocabulary of tweetlm.
//
// Two kinds of failure exist and they are reported differently:
//  - UserError: the user gave us something wrong (a bad file, a bad flag, a bad request).
//    The CLI prints it as one line "tweetlm: error: <input>: <what is wrong>" and exits 2.
//  - InternalError (from TLM_CHECK): an invariant of ours broke. It carries the expression,
//    file and line, and a hint, because the reader is a developer.
#pragma once

#include <stdexcept>
#include <string>

namespace tlm {

// printf-style formatting into a std::string (GCC 12 has no <format>; the attribute lets the
// compiler check every format string).
std::string strprintf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

class UserError : public std::runtime_error {
 public:
  UserError(std::string input, std::string what)
      : std::runtime_error(input.empty() ? what : input + ": " + what),
        input_(std::move(input)), what_(std::move(what)) {}
  const std::string& input() const { return input_; }
  const std::string& problem() const { return what_; }

 private:
  std::string input_, what_;
};

class InternalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Builds a UserError with a printf-style description: `throw user_error(path, "line %d: ...", n)`.
UserError user_error(const std::string& input, const char* fmt, ...)
    __attribute__((format(printf, 2, 3)));

[[noreturn]] void check_failed(const char* expr, const char* file, int line, const std::string& hint);

}  // namespace tlm

// TLM_CHECK(cond, fmt, ...): throws InternalError naming the expression, file and line, with a
// printf-formatted hint for whoever reads it.
#define TLM_CHECK(cond, ...)                                                   \
  do {                                                                         \
    if (!(cond)) [[unlikely]]                                                  \
      ::tlm::check_failed(#cond, __FILE__, __LINE__, ::tlm::strprintf(__VA_ARGS__)); \
  } while (0)
