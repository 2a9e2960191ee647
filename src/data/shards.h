// Token shards: the files training reads. One shard is a 64-byte header and then the tokens of
// whole documents (each ending with the document separator the caller appended), as
// little-endian uint16 (vocab <= 65536) or uint32:
//
//   offset size  field
//        0    8  magic "TLMSHARD"
//        8    4  version (1)
//       12    4  header size (64)
//       16    4  vocab size
//       20    4  token width in bytes (2 or 4)
//       24    8  token count
//       32    8  document count (documents that end in this shard)
//       40    8  checksum: XXH3-64 (tlm::hash64, seed 0) of the token payload bytes
//       48   16  zero
//
// The header size is a multiple of 64 and the payload starts right after it, so an mmapped
// shard's tokens are aligned for direct use as uint16/uint32 arrays (no copy, no parse). The
// format is data and knows nothing about tokenizers; any integer sequence with a vocabulary
// size can be stored. Shards are bounded in size so a loader can map a few at a time and
// distributed ranks can divide them; a document never straddles two shards unless it is
// itself longer than a shard.
#pragma once

#include <bit>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/file.h"

namespace tlm {

// The payload is used in place (spans over the mapping); a big-endian host would need a
// byte-swapping path that nothing we run on needs.
static_assert(std::endian::native == std::endian::little, "token shards are read in place as little-endian");

inline constexpr char kShardMagic[8] = {'T', 'L', 'M', 'S', 'H', 'A', 'R', 'D'};
inline constexpr uint32_t kShardVersion = 1;
inline constexpr uint32_t kShardHeaderSize = 64;
inline constexpr uint64_t kDefaultShardTokens = 100'000'000;  // 200 MB at uint16

struct ShardHeader {
  uint32_t version = kShardVersion;
  uint32_t header_size = kShardHeaderSize;
  uint32_t vocab_size = 0;
  uint32_t token_width = 0;
  uint64_t tokens = 0;
  uint64_t documents = 0;
  uint64_t checksum = 0;
};

// The 64 header bytes, little-endian, padding zeroed.
std::string encode_shard_header(const ShardHeader& h);
// 2 when every id of a vocabulary of this size fits in uint16, else 4.
uint32_t token_width_for_vocab(uint64_t vocab_size);
// "<split>_000042.bin"
std::string shard_file_name(const std::string& split, uint64_t index);

struct ShardInfo {
  std::string path;
  uint64_t tokens = 0;
  uint64_t documents = 0;
};

// Writes the shards of one split. Each shard is held in memory until it is full (at most
// max_tokens * width bytes: 200 MB at the default size and uint16) and then written whole
// through AtomicFile, header first, so a shard on disk is always complete and consistent and
// an interrupted run never leaves a torn one.
class ShardWriter {
 public:
  // Creates `dir` if needed. Shards are named <split>_000000.bin, <split>_000001.bin, ...
  ShardWriter(std::string dir, std::string split, uint64_t vocab_size, uint64_t max_tokens = kDefaultShardTokens);
  ShardWriter(const ShardWriter&) = delete;
  ShardWriter& operator=(const ShardWriter&) = delete;

  // Appends one document (the caller appends the separator). It goes to the current shard if
  // it fits, else starts the next one. A document longer than max_tokens is cut into shards
  // of max_tokens each (the only way a document straddles shards). Ids must be < vocab_size.
  void add_document(std::span<const uint32_t> ids);
  // Writes the last shard (if it holds anything) and returns every shard written, in order.
  // Shards of this split left from an earlier run with higher numbers are removed, so the
  // directory never mixes runs. Nothing may be added afterwards.
  std::vector<ShardInfo> finish();

  uint64_t tokens() const { return total_tokens_; }
  uint64_t documents() const { return total_documents_; }
  uint32_t token_width() const { return width_; }

 private:
  void append_tokens(std::span<const uint32_t> ids);
  void flush();

  std::string dir_, split_;
  uint32_t vocab_size_, width_;
  uint64_t max_tokens_;
  std::string payload_;  // little-endian tokens of the shard being filled
  uint64_t shard_tokens_ = 0, shard_documents_ = 0;
  uint64_t total_tokens_ = 0, total_documents_ = 0;
  std::vector<ShardInfo> written_;
  bool finished_ = false;
};

// Removes <split>_NNNNNN.bin files in `dir` whose index is >= keep (leftovers of an earlier run
// that wrote more shards). Only names of exactly that pattern are touched.
void remove_stale_shards(const std::string& dir, const std::string& split, uint64_t keep);

// How much of a shard to verify when opening it. The header and the file size are always
// checked (that is what makes the mapped spans safe); the checksum reads every byte once.
enum class ShardCheck {
  header,    // header fields and file size only (O(1))
  checksum,  // + XXH3 of the payload (default)
  full,      // + every token id < vocab size
};

// One shard, memory-mapped and validated. Every problem is a UserError naming the file and
// what is wrong: not a shard (magic), unsupported version or header size, bad token width,
// truncated or trailing bytes, checksum mismatch, token id outside the vocabulary.
class ShardFile {
 public:
  ShardFile() = default;
  explicit ShardFile(const std::string& path, ShardCheck check = ShardCheck::checksum);
  // Validates bytes already in memory (tests, fuzzing); `name` is used in errors. The bytes
  // must outlive the ShardFile and be 4-byte aligned.
  static ShardFile from_bytes(std::string_view bytes, const std::string& name, ShardCheck check = ShardCheck::checksum);

  const std::string& path() const { return path_; }
  const ShardHeader& header() const { return header_; }
  uint64_t size() const { return header_.tokens; }
  uint64_t documents() const { return header_.documents; }
  uint32_t vocab_size() const { return header_.vocab_size; }
  uint32_t token_width() const { return header_.token_width; }

  // The tokens in place; the one matching token_width() (the other is a TLM_CHECK failure).
  std::span<const uint16_t> tokens16() const;
  std::span<const uint32_t> tokens32() const;
  uint32_t token(uint64_t i) const;
  // Copies tokens [begin, begin + n) into `out` as uint32, whatever the width.
  void copy(uint64_t begin, uint64_t n, uint32_t* out) const;
  std::vector<uint32_t> to_vector() const;

 private:
  void validate(ShardCheck check);

  std::string path_;
  MappedFile map_;
  std::string_view bytes_;
  ShardHeader header_;
};

// The shards of one split in `dir`, in order (<split>_000000.bin, ...). A gap in the numbering
// is a UserError (a lost file would otherwise silently drop data). Empty if there are none.
std::vector<std::string> list_shards(const std::string& dir, const std::string& split);

}  // namespace tlm
