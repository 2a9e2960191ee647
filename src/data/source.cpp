// Byte streams and the block reader (see source.h).
#include "data/source.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "core/check.h"
#include "core/progress.h"

namespace tlm {
namespace {

class FileStream : public ByteStream {
 public:
  explicit FileStream(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw user_error(path, "cannot open: %s", std::strerror(errno));
    ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
  }
  ~FileStream() override { ::close(fd_); }
  size_t read(char* buf, size_t n) override {
    for (;;) {
      ssize_t r = ::read(fd_, buf, n);
      if (r >= 0) {
        consumed_ += static_cast<uint64_t>(r);
        return static_cast<size_t>(r);
      }
      if (errno == EINTR) continue;
      if (errno == EISDIR) throw user_error(path_, "is a directory, expected a file");
      throw user_error(path_, "read failed: %s", std::strerror(errno));
    }
  }
  uint64_t consumed() const override { return consumed_; }

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t consumed_ = 0;
};

// Shared shape of the two decompressors: pull compressed bytes from a FileStream on demand.
class CompressedStream : public ByteStream {
 public:
  explicit CompressedStream(const std::string& path) : path_(path), file_(path), in_(1 << 17) {}
  uint64_t consumed() const override { return file_.consumed(); }

 protected:
  bool refill() {
    if (in_pos_ < in_len_) return true;
    in_len_ = file_.read(in_.data(), in_.size());
    in_pos_ = 0;
    return in_len_ > 0;
  }
  std::string path_;
  FileStream file_;
  std::vector<char> in_;
  size_t in_pos_ = 0, in_len_ = 0;
};

class GzipStream : public CompressedStream {
 public:
  explicit GzipStream(const std::string& path) : CompressedStream(path) {
    std::memset(&z_, 0, sizeof z_);
    // 15 + 32: accept gzip or zlib headers; concatenated gzip members are handled in read().
    if (inflateInit2(&z_, 15 + 32) != Z_OK) throw user_error(path, "cannot initialise zlib");
  }
  ~GzipStream() override { inflateEnd(&z_); }
  size_t read(char* buf, size_t n) override {
    if (done_) return 0;
    z_.next_out = reinterpret_cast<Bytef*>(buf);
    z_.avail_out = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    while (z_.avail_out > 0) {
      if (!refill()) {
        if (in_member_) throw user_error(path_, "truncated gzip stream");
        done_ = true;
        break;
      }
      z_.next_in = reinterpret_cast<Bytef*>(in_.data() + in_pos_);
      z_.avail_in = static_cast<uInt>(in_len_ - in_pos_);
      int rc = inflate(&z_, Z_NO_FLUSH);
      in_pos_ = in_len_ - z_.avail_in;
      in_member_ = true;
      if (rc == Z_STREAM_END) {
        in_member_ = false;
        inflateReset(&z_);
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        throw user_error(path_, "corrupt gzip stream: %s", z_.msg ? z_.msg : "inflate failed");
      }
    }
    return n - z_.avail_out;
  }

 private:
  z_stream z_;
  bool done_ = false, in_member_ = false;
};

class ZstdStream : public CompressedStream {
 public:
  explicit ZstdStream(const std::string& path) : CompressedStream(path), d_(ZSTD_createDStream()) {
    if (!d_) throw user_error(path, "cannot initialise zstd");
  }
  ~ZstdStream() override { ZSTD_freeDStream(d_); }
  size_t read(char* buf, size_t n) override {
    ZSTD_outBuffer out{buf, n, 0};
    while (out.pos < out.size) {
      if (!refill()) {
        if (pending_ != 0) throw user_error(path_, "truncated zstd stream");
        break;
      }
      ZSTD_inBuffer in{in_.data(), in_len_, in_pos_};
      pending_ = ZSTD_decompressStream(d_, &out, &in);
      if (ZSTD_isError(pending_)) throw user_error(path_, "corrupt zstd stream: %s", ZSTD_getErrorName(pending_));
      in_pos_ = in.pos;
    }
    return out.pos;
  }

 private:
  ZSTD_DStream* d_;
  size_t pending_ = 0;
};

}  // namespace

Compression sniff_compression(std::string_view h) {
  if (h.size() >= 2 && uint8_t(h[0]) == 0x1f && uint8_t(h[1]) == 0x8b) return Compression::gzip;
  if (h.size() >= 4 && uint8_t(h[0]) == 0x28 && uint8_t(h[1]) == 0xb5 && uint8_t(h[2]) == 0x2f &&
      uint8_t(h[3]) == 0xfd)
    return Compression::zstd;
  return Compression::none;
}

const char* compression_name(Compression c) {
  return c == Compression::gzip ? "gzip" : c == Compression::zstd ? "zstd" : "none";
}

std::unique_ptr<ByteStream> open_stream(const std::string& path) {
  char head[4] = {};
  size_t got;
  {
    FileStream probe(path);
    got = probe.read(head, sizeof head);
  }
  switch (sniff_compression({head, got})) {
    case Compression::gzip: return std::make_unique<GzipStream>(path);
    case Compression::zstd: return std::make_unique<ZstdStream>(path);
    case Compression::none: break;
  }
  return std::make_unique<FileStream>(path);
}

std::string read_all(const std::string& path, size_t padding) {
  auto s = open_stream(path);
  std::string out;
  size_t len = 0;
  out.resize(1 << 16);
  for (;;) {
    if (out.size() - len < (1 << 16)) out.resize(out.size() * 2);
    size_t r = s->read(out.data() + len, out.size() - len);
    if (r == 0) break;
    len += r;
  }
  out.resize(len + padding, '\0');
  out.resize(len);  // the padding stays allocated and zeroed: capacity >= len + padding
  return out;
}

size_t line_boundary(std::string_view buf) {
  size_t p = buf.rfind('\n');
  return p == std::string_view::npos ? 0 : p + 1;
}

BlockReader::BlockReader(std::unique_ptr<ByteStream> stream, std::string path, BoundaryFn boundary,
                         size_t block_size, size_t max_record)
    : stream_(std::move(stream)), path_(std::move(path)), boundary_(std::move(boundary)),
      buf_(std::min<size_t>(block_size, 64 << 10) + 64, false), block_size_(block_size), max_record_(max_record) {}

void BlockReader::grow(size_t capacity) {
  AlignedBuffer<char> bigger(capacity + 64, false);
  std::memcpy(bigger.data(), buf_.data(), end_);
  buf_ = std::move(bigger);
}

bool BlockReader::next(std::string_view& block) {
  lines_before_ += lines_in_current_;
  lines_in_current_ = 0;
  if (cut_ > 0) {  // carry the tail after the last cut to the front
    std::memmove(buf_.data(), buf_.data() + cut_, end_ - cut_);
    end_ -= cut_;
    cut_ = 0;
  }
  for (;;) {
    size_t capacity = buf_.size() - 64;
    if (!eof_ && end_ < block_size_) {
      // Fill a block. The buffer starts small and doubles up to the block size, so a folder of
      // small files does not pay for 8 MB buffers.
      if (end_ == capacity) {
        grow(std::min(capacity * 2, block_size_));
        capacity = buf_.size() - 64;
      }
      size_t r = stream_->read(buf_.data() + end_, std::min(block_size_, capacity) - end_);
      if (r == 0) eof_ = true;
      end_ += r;
      continue;
    }
    if (eof_) {
      if (end_ == 0) return false;
      cut_ = end_;
      break;
    }
    if (size_t b = boundary_({buf_.data(), end_}); b > 0) {
      cut_ = b;
      break;
    }
    if (end_ == capacity) {  // no boundary in a whole buffer: grow it, up to the record limit
      if (capacity >= max_record_)
        throw user_error(path_, "a record longer than %s (no record separator found)",
                         format_quantity(double(max_record_), ProgressUnit::bytes).c_str());
      grow(std::min(capacity * 2, max_record_));
      capacity = buf_.size() - 64;
    }
    size_t r = stream_->read(buf_.data() + end_, capacity - end_);
    if (r == 0) eof_ = true;
    end_ += r;
  }
  // simdjson reads up to 64 bytes past a record: after the cut they are the next block's bytes
  // (or zeros at the end), always inside the allocation.
  std::memset(buf_.data() + end_, 0, 64);
  block = {buf_.data(), cut_};
  lines_in_current_ = static_cast<uint64_t>(std::count(block.begin(), block.end(), '\n'));
  return true;
}

}  // namespace tlm
