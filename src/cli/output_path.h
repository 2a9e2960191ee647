// Output paths checked before the work: a command that would fail to write its result after
// minutes (an -o that is a directory, or a file standing where a folder of the path must be)
// fails at once instead, with one line naming the path.
#pragma once

#include <filesystem>
#include <string>

#include "core/check.h"

namespace tlm::cli {

// A file can be written at `path`: it is not a directory (UserError "`path`: is a directory
// (`what`)"), and the nearest existing folder above it is a folder. An existing file is fine
// (the commands replace it atomically).
inline void check_output_file(const std::string& path, const char* what) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw user_error(path, "is a directory (%s)", what);
  for (fs::path p = fs::path(path).lexically_normal().parent_path(); !p.empty(); p = p.parent_path()) {
    if (fs::exists(p, ec)) {
      if (!fs::is_directory(p, ec)) throw user_error(p.string(), "is not a directory (in the path of %s)", path.c_str());
      return;
    }
    if (p == p.parent_path()) return;
  }
}

}  // namespace tlm::cli
