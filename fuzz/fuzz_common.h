// Plumbing shared by the libFuzzer targets. The readers take file paths, so each input is
// written to an in-memory file (memfd, opened again through /proc/self/fd/N: no disk, nothing
// left behind). The rule every target enforces: a UserError is the expected answer to bad
// input; any other exception, a failed invariant (FUZZ_CHECK), a crash or a sanitizer report
// is a bug, and abort() makes libFuzzer keep the input as a reproducer.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

#include "core/check.h"
#include "core/log.h"
#include "core/threads.h"

#define FUZZ_CHECK(cond)                                                                   \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      std::fprintf(stderr, "fuzz: invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)

namespace tlm::fuzz {

// Quiet logs, one thread: the same input always takes the same path.
inline void setup() {
  set_log_level(LogLevel::quiet);
  set_num_threads(1);
}

}  // namespace tlm::fuzz

// Every target starts the same way. Each fuzz executable includes this header from its one
// source file, so this is the only definition in it.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tlm::fuzz::setup();
  return 0;
}

namespace tlm::fuzz {

class MemFile {
 public:
  MemFile() {
    fd_ = ::memfd_create("tlm-fuzz", MFD_CLOEXEC);
    if (fd_ < 0) {
      std::perror("fuzz: memfd_create");
      std::abort();
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemFile() { ::close(fd_); }
  // Replaces the file's contents; returns its path.
  const std::string& write(std::string_view data) {
    if (::ftruncate(fd_, 0) != 0) std::abort();
    for (size_t done = 0; done < data.size();) {
      ssize_t n = ::pwrite(fd_, data.data() + done, data.size() - done, static_cast<off_t>(done));
      if (n <= 0) std::abort();
      done += static_cast<size_t>(n);
    }
    return path_;
  }

 private:
  int fd_ = -1;
  std::string path_;
};

template <typename Fn>
void expect_only_user_errors(Fn&& fn) {
  try {
    fn();
  } catch (const UserError&) {
    // bad input, reported as it should be
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz: unexpected exception (not a UserError): %s\n", e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "fuzz: unexpected exception of unknown type\n");
    std::abort();
  }
}

inline std::string_view as_view(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace tlm::fuzz
