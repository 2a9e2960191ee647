// Token shard writing, reading and validation (see shards.h for the format).
//
// The header is encoded and decoded field by field at fixed offsets rather than by copying a
// struct, so the on-disk layout never depends on the compiler's padding. Validation runs in
// an order where each check makes the next one meaningful: magic, then version (a future
// version may change everything after it), then header size, width and vocabulary, then the
// file size (which makes the payload safe to touch), then the checksum, then the ids.
#include "data/shards.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <limits>

#include "core/check.h"
#include "core/hash.h"

namespace tlm {
namespace {

void put32(char* p, uint32_t v) { std::memcpy(p, &v, 4); }
void put64(char* p, uint64_t v) { std::memcpy(p, &v, 8); }
uint32_t get32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint64_t get64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// Parses "<split>_NNNNNN.bin" (exactly six digits); -1 when `name` is not a shard of `split`.
int64_t shard_index(const std::string& name, const std::string& split) {
  const size_t digits = 6;
  if (name.size() != split.size() + 1 + digits + 4 || !name.starts_with(split + "_") || !name.ends_with(".bin"))
    return -1;
  int64_t v = 0;
  for (size_t i = split.size() + 1; i < split.size() + 1 + digits; ++i) {
    if (name[i] < '0' || name[i] > '9') return -1;
    v = v * 10 + (name[i] - '0');
  }
  return v;
}

// Indexes of the shards of `split` present in `dir` (unsorted).
std::vector<int64_t> shard_indexes(const std::string& dir, const std::string& split) {
  std::vector<int64_t> out;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    int64_t i = shard_index(it->path().filename().string(), split);
    if (i >= 0) out.push_back(i);
  }
  if (ec) throw user_error(dir, "cannot list directory: %s", ec.message().c_str());
  return out;
}

}  // namespace

std::string encode_shard_header(const ShardHeader& h) {
  std::string out(kShardHeaderSize, '\0');
  std::memcpy(out.data(), kShardMagic, 8);
  put32(&out[8], h.version);
  put32(&out[12], h.header_size);
  put32(&out[16], h.vocab_size);
  put32(&out[20], h.token_width);
  put64(&out[24], h.tokens);
  put64(&out[32], h.documents);
  put64(&out[40], h.checksum);
  return out;
}

uint32_t token_width_for_vocab(uint64_t vocab_size) { return vocab_size <= 65536 ? 2 : 4; }

std::string shard_file_name(const std::string& split, uint64_t index) {
  return strprintf("%s_%06llu.bin", split.c_str(), static_cast<unsigned long long>(index));
}

// ---------------------------------------------------------------------------------------------
// Writing

ShardWriter::ShardWriter(std::string dir, std::string split, uint64_t vocab_size, uint64_t max_tokens)
    : dir_(std::move(dir)), split_(std::move(split)), max_tokens_(max_tokens) {
  TLM_CHECK(vocab_size >= 1 && vocab_size <= std::numeric_limits<uint32_t>::max(), "vocab size %llu",
            static_cast<unsigned long long>(vocab_size));
  TLM_CHECK(max_tokens >= 1, "a shard must hold at least one token");
  TLM_CHECK(!split_.empty() && split_.find('/') == std::string::npos, "bad split name '%s'", split_.c_str());
  vocab_size_ = static_cast<uint32_t>(vocab_size);
  width_ = token_width_for_vocab(vocab_size);
  make_dirs(dir_);
}

void ShardWriter::append_tokens(std::span<const uint32_t> ids) {
  size_t at = payload_.size();
  payload_.resize(at + ids.size() * width_);
  char* p = payload_.data() + at;
  for (uint32_t id : ids) {
    // An id outside the vocabulary is a bug in whoever produced it (the tokenizer), not input.
    TLM_CHECK(id < vocab_size_, "token id %u >= vocab size %u", id, vocab_size_);
    if (width_ == 2) {
      uint16_t v = static_cast<uint16_t>(id);
      std::memcpy(p, &v, 2);
    } else {
      std::memcpy(p, &id, 4);
    }
    p += width_;
  }
  shard_tokens_ += ids.size();
  total_tokens_ += ids.size();
}

void ShardWriter::add_document(std::span<const uint32_t> ids) {
  TLM_CHECK(!finished_, "add_document after finish");
  if (shard_tokens_ > 0 && shard_tokens_ + ids.size() > max_tokens_) flush();
  // Only a document longer than a whole shard is cut: it fills shards of max_tokens and its
  // tail stays in the buffer for the documents that follow.
  while (ids.size() > max_tokens_ - shard_tokens_) {
    size_t n = max_tokens_ - shard_tokens_;
    append_tokens(ids.first(n));
    ids = ids.subspan(n);
    flush();
  }
  append_tokens(ids);
  ++shard_documents_;
  ++total_documents_;
}

void ShardWriter::flush() {
  if (shard_tokens_ == 0) return;
  ShardHeader h;
  h.vocab_size = vocab_size_;
  h.token_width = width_;
  h.tokens = shard_tokens_;
  h.documents = shard_documents_;
  h.checksum = hash64(payload_.data(), payload_.size());
  std::string path = (std::filesystem::path(dir_) / shard_file_name(split_, written_.size())).string();
  AtomicFile f(path);
  f.write(encode_shard_header(h));
  f.write(payload_);
  f.commit();
  written_.push_back({path, shard_tokens_, shard_documents_});
  payload_.clear();
  shard_tokens_ = shard_documents_ = 0;
}

std::vector<ShardInfo> ShardWriter::finish() {
  TLM_CHECK(!finished_, "finish called twice");
  flush();
  finished_ = true;
  std::string().swap(payload_);
  remove_stale_shards(dir_, split_, written_.size());
  return written_;
}

void remove_stale_shards(const std::string& dir, const std::string& split, uint64_t keep) {
  if (!is_directory(dir)) return;
  for (int64_t i : shard_indexes(dir, split)) {
    if (static_cast<uint64_t>(i) < keep) continue;
    std::string path = (std::filesystem::path(dir) / shard_file_name(split, static_cast<uint64_t>(i))).string();
    std::error_code ec;
    std::filesystem::remove(path, ec);
    if (ec) throw user_error(path, "cannot remove stale shard: %s", ec.message().c_str());
  }
}

std::vector<std::string> list_shards(const std::string& dir, const std::string& split) {
  if (!is_directory(dir)) throw user_error(dir, "no such directory");
  std::vector<int64_t> idx = shard_indexes(dir, split);
  std::sort(idx.begin(), idx.end());
  std::vector<std::string> out;
  for (size_t k = 0; k < idx.size(); ++k) {
    if (idx[k] != static_cast<int64_t>(k))
      throw user_error(dir, "shard %s is missing (found %s)", shard_file_name(split, k).c_str(),
                       shard_file_name(split, static_cast<uint64_t>(idx[k])).c_str());
    out.push_back((std::filesystem::path(dir) / shard_file_name(split, k)).string());
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reading

ShardFile::ShardFile(const std::string& path, ShardCheck check) : path_(path), map_(path) {
  bytes_ = map_.view();
  validate(check);
}

ShardFile ShardFile::from_bytes(std::string_view bytes, const std::string& name, ShardCheck check) {
  ShardFile f;
  f.path_ = name;
  f.bytes_ = bytes;
  f.validate(check);
  return f;
}

void ShardFile::validate(ShardCheck check) {
  const std::string& name = path_;
  const size_t n = bytes_.size();
  const char* p = bytes_.data();
  if (n < sizeof(kShardMagic) || std::memcmp(p, kShardMagic, sizeof(kShardMagic)) != 0)
    throw user_error(name, "not a token shard (no TLMSHARD magic at the start; %zu bytes)", n);
  // The version comes first: a future version may lay out everything after it differently.
  if (n < 12) throw user_error(name, "truncated: %zu bytes, shorter than the shard header", n);
  header_.version = get32(p + 8);
  if (header_.version != kShardVersion)
    throw user_error(name, "unsupported shard version %u (this build reads version %u; re-run 'tweetlm tokenize')",
                     header_.version, kShardVersion);
  if (n < 16) throw user_error(name, "truncated: %zu bytes, shorter than the shard header", n);
  header_.header_size = get32(p + 12);
  if (header_.header_size != kShardHeaderSize)
    throw user_error(name, "bad header size %u (version %u shards have a %u-byte header)", header_.header_size,
                     kShardVersion, kShardHeaderSize);
  if (n < kShardHeaderSize)
    throw user_error(name, "truncated: %zu bytes, shorter than the %u-byte header", n, kShardHeaderSize);
  header_.vocab_size = get32(p + 16);
  header_.token_width = get32(p + 20);
  header_.tokens = get64(p + 24);
  header_.documents = get64(p + 32);
  header_.checksum = get64(p + 40);
  for (size_t i = 48; i < kShardHeaderSize; ++i)
    if (p[i] != 0) throw user_error(name, "corrupt header: padding byte %zu is not zero", i);
  const uint32_t w = header_.token_width;
  if (w != 2 && w != 4) throw user_error(name, "bad token width %u (must be 2 or 4 bytes)", w);
  if (header_.vocab_size == 0) throw user_error(name, "corrupt header: vocab size 0");
  if (w == 2 && header_.vocab_size > 65536)
    throw user_error(name, "corrupt header: vocab size %u does not fit token width 2", header_.vocab_size);

  // Compare in 128 bits: a corrupt count must not wrap around into a plausible size.
  const unsigned __int128 expect = static_cast<unsigned __int128>(header_.tokens) * w + kShardHeaderSize;
  const auto ull = [](unsigned __int128 v) {
    return v > std::numeric_limits<unsigned long long>::max() ? std::string("more than 2^64")
                                                              : std::to_string(static_cast<unsigned long long>(v));
  };
  if (expect > n)
    throw user_error(name, "truncated: header says %llu tokens (%s bytes), file has %zu bytes",
                     static_cast<unsigned long long>(header_.tokens), ull(expect).c_str(), n);
  if (expect < n)
    throw user_error(name, "%llu trailing bytes: header says %llu tokens (%s bytes), file has %zu bytes",
                     static_cast<unsigned long long>(n - static_cast<size_t>(expect)),
                     static_cast<unsigned long long>(header_.tokens), ull(expect).c_str(), n);
  // In place use needs aligned tokens; a mapping is page-aligned, in-memory bytes must be too.
  TLM_CHECK(reinterpret_cast<uintptr_t>(p) % 4 == 0, "shard bytes of %s are not 4-byte aligned", name.c_str());

  if (check == ShardCheck::header) return;
  uint64_t sum = hash64(p + kShardHeaderSize, n - kShardHeaderSize);
  if (sum != header_.checksum)
    throw user_error(name, "checksum mismatch: header says %016llx, tokens hash to %016llx (file is corrupt)",
                     static_cast<unsigned long long>(header_.checksum), static_cast<unsigned long long>(sum));

  if (check != ShardCheck::full) return;
  auto scan = [&](auto span) {
    for (size_t i = 0; i < span.size(); ++i)
      if (span[i] >= header_.vocab_size)
        throw user_error(name, "token %zu is id %u, outside the vocabulary (vocab size %u)", i,
                         static_cast<unsigned>(span[i]), header_.vocab_size);
  };
  if (w == 2) scan(tokens16());
  else scan(tokens32());
}

std::span<const uint16_t> ShardFile::tokens16() const {
  TLM_CHECK(header_.token_width == 2, "%s has %u-byte tokens, not 2", path_.c_str(), header_.token_width);
  return {reinterpret_cast<const uint16_t*>(bytes_.data() + kShardHeaderSize), static_cast<size_t>(header_.tokens)};
}

std::span<const uint32_t> ShardFile::tokens32() const {
  TLM_CHECK(header_.token_width == 4, "%s has %u-byte tokens, not 4", path_.c_str(), header_.token_width);
  return {reinterpret_cast<const uint32_t*>(bytes_.data() + kShardHeaderSize), static_cast<size_t>(header_.tokens)};
}

uint32_t ShardFile::token(uint64_t i) const {
  TLM_CHECK(i < header_.tokens, "token %llu of %s, which has %llu", static_cast<unsigned long long>(i), path_.c_str(),
            static_cast<unsigned long long>(header_.tokens));
  return header_.token_width == 2 ? tokens16()[i] : tokens32()[i];
}

void ShardFile::copy(uint64_t begin, uint64_t n, uint32_t* out) const {
  TLM_CHECK(begin <= header_.tokens && n <= header_.tokens - begin, "range [%llu, +%llu) outside %s (%llu tokens)",
            static_cast<unsigned long long>(begin), static_cast<unsigned long long>(n), path_.c_str(),
            static_cast<unsigned long long>(header_.tokens));
  if (n == 0) return;  // `out` may be null then (an empty vector's data()), which memcpy must not see
  if (header_.token_width == 4) {
    std::memcpy(out, tokens32().data() + begin, n * 4);
  } else {
    const uint16_t* src = tokens16().data() + begin;
    for (uint64_t i = 0; i < n; ++i) out[i] = src[i];
  }
}

std::vector<uint32_t> ShardFile::to_vector() const {
  std::vector<uint32_t> out(header_.tokens);
  copy(0, header_.tokens, out.data());
  return out;
}

}  // namespace tlm
