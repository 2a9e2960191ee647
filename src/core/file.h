// Files: a read-only memory map, whole-file reads, and atomic writes.
//
// Atomic write protocol (used for every output tweetlm produces): write to a temporary file in
// the same directory, fsync it, rename it over the target, fsync the directory. A reader sees
// either the old file or the complete new one, never a torn one, even across a power loss.
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>
#include <string_view>

namespace tlm {

class MappedFile {
 public:
  MappedFile() = default;
  // Throws UserError naming `path` if it cannot be opened or mapped. Empty files map to size 0.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(MappedFile&& o) noexcept;
  MappedFile& operator=(MappedFile&& o) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const char* data() const { return static_cast<const char*>(data_); }
  size_t size() const { return size_; }
  std::string_view view() const { return {data(), size_}; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

// dir / name, as std::filesystem joins them.
std::string path_join(const std::string& dir, const std::string& name);
std::string read_file(const std::string& path);
// The lines of a text file, without their "\n" (or "\r\n"); a last line without a newline
// counts, an empty file has none. UserError naming the path when it cannot be read.
std::vector<std::string> read_lines(const std::string& path);
bool path_exists(const std::string& path);
bool is_directory(const std::string& path);
// Creates a directory and its parents; UserError if that fails.
void make_dirs(const std::string& path);
void fsync_dir(const std::string& dir);

// Streams data to `path` atomically. Without commit() (an exception, an early return) the
// temporary file is removed and the previous `path`, if any, is untouched.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(std::string_view data);
  void commit();
  const std::string& path() const { return path_; }

 private:
  std::string path_, tmp_;
  std::FILE* file_ = nullptr;
};

void atomic_write_file(const std::string& path, std::string_view data);

}  // namespace tlm
