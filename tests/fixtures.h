// Helpers shared by the data-layer tests: fixture paths, scratch directories, whole-file I/O,
// runtime gzip/zstd compression of fixtures (no compressed binaries are committed), and
// collecting a reader's batches into one.
#pragma once

#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/check.h"
#include "data/reader.h"

namespace tlm::testing {

inline std::string data_path(const std::string& name) { return std::string(TLM_TEST_DATA) + "/" + name; }

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/tlm-test-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

inline void write_file(const std::string& path, const std::string& data) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream f(path, std::ios::binary);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!f) throw std::runtime_error("cannot write " + path);
}

inline std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t nl = s.find('\n', pos);
    if (nl == std::string::npos) nl = s.size();
    out.push_back(s.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

// gzip format (zlib windowBits 15 + 16), as `gzip` writes it.
inline std::string gzip_bytes(const std::string& data, int level = 6) {
  z_stream z{};
  if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("deflateInit2 failed");
  std::string out(deflateBound(&z, data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&z, Z_FINISH);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate failed");
  out.resize(z.total_out);
  return out;
}

inline std::string zstd_bytes(const std::string& data, int level = 3) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), level);
  if (ZSTD_isError(n)) throw std::runtime_error("ZSTD_compress failed");
  out.resize(n);
  return out;
}

// Writes `src` gzip-compressed through zlib's file API, the way most tools produce .gz files.
inline void gzip_file(const std::string& src, const std::string& dst) {
  std::string data = slurp(src);
  std::filesystem::create_directories(std::filesystem::path(dst).parent_path());
  gzFile f = gzopen(dst.c_str(), "wb9");
  if (!f) throw std::runtime_error("gzopen failed: " + dst);
  if (!data.empty() && gzwrite(f, data.data(), static_cast<unsigned>(data.size())) != static_cast<int>(data.size()))
    throw std::runtime_error("gzwrite failed: " + dst);
  gzclose(f);
}

inline void zstd_file(const std::string& src, const std::string& dst) { write_file(dst, zstd_bytes(slurp(src))); }

// Everything a reader hands out, concatenated in order; `batches` counts sink calls.
struct Collected {
  RecordBatch all;
  size_t batches = 0;
  uint64_t bytes = 0;
};

template <typename ReadFn>
Collected collect(ReadFn&& read) {
  Collected c;
  read([&](RecordBatch& b) {
    ++c.batches;
    c.bytes += b.bytes;
    c.all.append(std::move(b));
  });
  return c;
}

// The UserError `fn` throws, as "input: problem" ("" when none).
template <typename Fn>
std::string user_error_of(Fn fn) {
  try {
    fn();
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

}  // namespace tlm::testing
