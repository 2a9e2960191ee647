// Reading input files as byte streams, with gzip and zstd decompressed transparently (detected
// by magic bytes, not by file name), and a block reader that hands out runs of complete records
// so parsing can be parallel and memory stays bounded whatever the file size.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/buffer.h"

namespace tlm {

class ByteStream {
 public:
  virtual ~ByteStream() = default;
  // Reads up to n decompressed bytes; returns 0 at end of stream. Throws UserError on a
  // corrupt or truncated compressed stream.
  virtual size_t read(char* buf, size_t n) = 0;
  // Bytes of the underlying file consumed so far (compressed bytes for .gz/.zst): progress.
  virtual uint64_t consumed() const = 0;
};

enum class Compression { none, gzip, zstd };
Compression sniff_compression(std::string_view head);
const char* compression_name(Compression c);

// Opens `path` (UserError if unreadable), choosing the decompressor from the first bytes.
std::unique_ptr<ByteStream> open_stream(const std::string& path);

// Reads a whole (decompressed) file; with `padding` extra zero bytes readable after the end
// (simdjson needs 64). Used for whole-document formats such as Twitter archives.
std::string read_all(const std::string& path, size_t padding = 0);

// Returns where the last complete record in `buf` ends (one past its terminator), or 0 when
// no complete record is there yet. `at_eof` says no more bytes will follow.
using BoundaryFn = std::function<size_t(std::string_view buf)>;

// Hands out blocks that end at record boundaries: fill a buffer, cut at the last boundary,
// carry the rest over. A record longer than `max_record` bytes is a UserError.
class BlockReader {
 public:
  BlockReader(std::unique_ptr<ByteStream> stream, std::string path, BoundaryFn boundary,
              size_t block_size = 8u << 20, size_t max_record = 256u << 20);
  // Next block of complete records (the last block holds whatever is left, possibly without a
  // final terminator). The view stays valid, with 64 readable padding bytes after it, until the
  // next call. Returns false at the end.
  bool next(std::string_view& block);
  uint64_t consumed() const { return stream_->consumed(); }
  // Number of '\n' bytes in all blocks handed out before the current one: line numbering.
  uint64_t lines_before() const { return lines_before_; }

 private:
  void grow(size_t capacity);
  std::unique_ptr<ByteStream> stream_;
  std::string path_;
  BoundaryFn boundary_;
  AlignedBuffer<char> buf_;
  size_t block_size_, max_record_, end_ = 0, cut_ = 0;
  bool eof_ = false;
  uint64_t lines_before_ = 0, lines_in_current_ = 0;
};

// Boundaries for line formats: after the last '\n'.
size_t line_boundary(std::string_view buf);

}  // namespace tlm
