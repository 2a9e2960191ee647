// File utilities (see file.h). Every system-call failure is turned into a UserError naming the
// path, because in practice these are the user's paths (a missing input, a full disk).
#include "core/file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "core/check.h"

namespace tlm {

MappedFile::MappedFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw user_error(path, "cannot open: %s", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    throw user_error(path, "cannot stat: %s", std::strerror(e));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw user_error(path, "is a directory, expected a file");
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {
    data_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (data_ == MAP_FAILED) {
      int e = errno;
      data_ = nullptr;
      ::close(fd);
      throw user_error(path, "cannot map: %s", std::strerror(e));
    }
    ::madvise(data_, size_, MADV_SEQUENTIAL);
  }
  ::close(fd);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(data_, size_);
}

MappedFile::MappedFile(MappedFile&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
  std::swap(data_, o.data_);
  std::swap(size_, o.size_);
  return *this;
}

std::string path_join(const std::string& dir, const std::string& name) {
  return (std::filesystem::path(dir) / name).string();
}

std::string read_file(const std::string& path) {
  MappedFile m(path);
  return std::string(m.view());
}

std::vector<std::string> read_lines(const std::string& path) {
  MappedFile m(path);
  const std::string_view all = m.view();
  std::vector<std::string> out;
  for (size_t pos = 0; pos < all.size();) {
    size_t nl = all.find('\n', pos);
    if (nl == std::string_view::npos) nl = all.size();
    std::string_view line = all.substr(pos, nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.emplace_back(line);
    pos = nl + 1;
  }
  return out;
}

bool path_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void make_dirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) throw user_error(path, "cannot create directory: %s", ec.message().c_str());
}

void fsync_dir(const std::string& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // some filesystems do not allow it; the rename is still atomic
  ::fsync(fd);
  ::close(fd);
}

static std::string parent_dir(const std::string& path) {
  auto p = std::filesystem::path(path).parent_path().string();
  return p.empty() ? "." : p;
}

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  tmp_ = path_ + ".tmp." + std::to_string(::getpid());
  file_ = std::fopen(tmp_.c_str(), "wb");
  if (!file_) throw user_error(path_, "cannot write: %s", std::strerror(errno));
}

AtomicFile::~AtomicFile() {
  if (file_) {
    std::fclose(file_);
    ::unlink(tmp_.c_str());
  }
}

void AtomicFile::write(std::string_view data) {
  TLM_CHECK(file_, "write after commit");
  if (!data.empty() && std::fwrite(data.data(), 1, data.size(), file_) != data.size())
    throw user_error(path_, "write failed: %s", std::strerror(errno));
}

void AtomicFile::commit() {
  TLM_CHECK(file_, "commit called twice");
  std::FILE* f = std::exchange(file_, nullptr);
  bool ok = std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
  int e = errno;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) {
    ::unlink(tmp_.c_str());
    throw user_error(path_, "write failed: %s", std::strerror(e));
  }
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
    e = errno;
    ::unlink(tmp_.c_str());
    throw user_error(path_, "cannot rename into place: %s", std::strerror(e));
  }
  fsync_dir(parent_dir(path_));
}

void atomic_write_file(const std::string& path, std::string_view data) {
  AtomicFile f(path);
  f.write(data);
  f.commit();
}

}  // namespace tlm
