// Unit tests for the token shard format (data/shards.h): header byte layout, round trips at
// both token widths, document boundaries under a shard limit (and the one allowed exception, a
// document longer than a shard), stale-shard cleanup, and every validation error as one
// UserError naming the file with the expected wording.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "core/check.h"
#include "core/hash.h"
#include "data/shards.h"
#include "fixtures.h"

namespace tlm {
namespace {

using testing::slurp;
using testing::TempDir;
using testing::write_file;

std::vector<std::string> dir_entries(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// A well-formed shard's bytes, built by hand (independently of ShardWriter).
std::string shard_bytes(uint32_t vocab, uint32_t width, const std::vector<uint32_t>& ids, uint64_t docs = 1) {
  std::string payload;
  for (uint32_t id : ids) payload.append(reinterpret_cast<const char*>(&id), width);  // little-endian host
  ShardHeader h;
  h.vocab_size = vocab;
  h.token_width = width;
  h.tokens = ids.size();
  h.documents = docs;
  h.checksum = hash64(payload);
  return encode_shard_header(h) + payload;
}

// The message of the UserError that opening `bytes` as a shard file throws ("" if none).
std::string open_error(const TempDir& dir, const std::string& bytes, ShardCheck check = ShardCheck::checksum) {
  std::string path = dir / "train_000003.bin";
  write_file(path, bytes);
  try {
    ShardFile f(path, check);
  } catch (const UserError& e) {
    EXPECT_EQ(e.input(), path);
    return e.problem();
  }
  return "";
}

void set32(std::string& b, size_t at, uint32_t v) { std::memcpy(&b[at], &v, 4); }
void set64(std::string& b, size_t at, uint64_t v) { std::memcpy(&b[at], &v, 8); }

TEST(Shards, HeaderLayoutIsLittleEndianAtFixedOffsets) {
  ShardHeader h;
  h.vocab_size = 0x01020304;
  h.token_width = 4;
  h.tokens = 0x1112131415161718ULL;
  h.documents = 0x2122232425262728ULL;
  h.checksum = 0x3132333435363738ULL;
  std::string b = encode_shard_header(h);
  ASSERT_EQ(b.size(), 64u);
  EXPECT_EQ(b.substr(0, 8), "TLMSHARD");
  const unsigned char* u = reinterpret_cast<const unsigned char*>(b.data());
  EXPECT_EQ(u[8], 1);  // version
  EXPECT_EQ(u[9] | u[10] | u[11], 0);
  EXPECT_EQ(u[12], 64);  // header size
  EXPECT_EQ(u[16], 0x04);
  EXPECT_EQ(u[19], 0x01);
  EXPECT_EQ(u[20], 4);
  EXPECT_EQ(u[24], 0x18);
  EXPECT_EQ(u[31], 0x11);
  EXPECT_EQ(u[32], 0x28);
  EXPECT_EQ(u[40], 0x38);
  EXPECT_EQ(u[47], 0x31);
  for (size_t i = 48; i < 64; ++i) EXPECT_EQ(u[i], 0) << i;
}

TEST(Shards, TokenWidthFollowsVocabSize) {
  EXPECT_EQ(token_width_for_vocab(1), 2u);
  EXPECT_EQ(token_width_for_vocab(50257), 2u);
  EXPECT_EQ(token_width_for_vocab(65536), 2u);  // ids 0..65535 fit in uint16
  EXPECT_EQ(token_width_for_vocab(65537), 4u);
  EXPECT_EQ(shard_file_name("val", 42), "val_000042.bin");
}

void round_trip(uint32_t vocab, uint32_t expect_width) {
  TempDir dir;
  std::mt19937 rng(7);
  std::vector<std::vector<uint32_t>> docs;
  std::vector<uint32_t> all;
  for (int d = 0; d < 50; ++d) {
    std::vector<uint32_t> doc(1 + rng() % 20);
    for (auto& t : doc) t = rng() % vocab;
    doc.back() = vocab - 1;  // the largest id must survive the width
    docs.push_back(doc);
    all.insert(all.end(), doc.begin(), doc.end());
  }
  ShardWriter w(dir.path(), "train", vocab);
  for (const auto& d : docs) w.add_document(d);
  EXPECT_EQ(w.token_width(), expect_width);
  auto shards = w.finish();
  ASSERT_EQ(shards.size(), 1u);
  EXPECT_EQ(shards[0].path, dir / "train_000000.bin");
  EXPECT_EQ(shards[0].tokens, all.size());
  EXPECT_EQ(shards[0].documents, docs.size());
  EXPECT_EQ(std::filesystem::file_size(shards[0].path), 64 + all.size() * expect_width);
  EXPECT_EQ(slurp(shards[0].path), shard_bytes(vocab, expect_width, all, docs.size()));  // byte-exact format

  ShardFile f(shards[0].path, ShardCheck::full);
  EXPECT_EQ(f.vocab_size(), vocab);
  EXPECT_EQ(f.token_width(), expect_width);
  EXPECT_EQ(f.size(), all.size());
  EXPECT_EQ(f.documents(), docs.size());
  EXPECT_EQ(f.to_vector(), all);
  if (expect_width == 2) {
    auto s = f.tokens16();
    EXPECT_TRUE(std::equal(s.begin(), s.end(), all.begin(), all.end()));
    EXPECT_THROW(f.tokens32(), InternalError);
  } else {
    auto s = f.tokens32();
    EXPECT_TRUE(std::equal(s.begin(), s.end(), all.begin(), all.end()));
    EXPECT_THROW(f.tokens16(), InternalError);
  }
  std::vector<uint32_t> part(7);
  f.copy(10, 7, part.data());
  EXPECT_EQ(part, std::vector<uint32_t>(all.begin() + 10, all.begin() + 17));
  EXPECT_EQ(f.token(all.size() - 1), all.back());
  EXPECT_THROW(f.copy(all.size() - 3, 4, part.data()), InternalError);
  EXPECT_THROW(f.token(all.size()), InternalError);
}

TEST(Shards, RoundTripUint16) { round_trip(50000, 2); }
TEST(Shards, RoundTripUint16FullRange) { round_trip(65536, 2); }
TEST(Shards, RoundTripUint32) { round_trip(100000, 4); }

TEST(Shards, DocumentsNeverStraddleShards) {
  TempDir dir;
  const uint32_t eos = 0, vocab = 100;
  const uint64_t limit = 50;
  std::mt19937 rng(1);
  std::vector<uint32_t> all;
  ShardWriter w(dir.path(), "val", vocab, limit);
  for (int d = 0; d < 300; ++d) {
    std::vector<uint32_t> doc(rng() % 20);
    for (auto& t : doc) t = 1 + rng() % (vocab - 1);
    doc.push_back(eos);
    all.insert(all.end(), doc.begin(), doc.end());
    w.add_document(doc);
  }
  auto shards = w.finish();
  ASSERT_GT(shards.size(), 10u);
  std::vector<uint32_t> joined;
  uint64_t docs = 0;
  for (size_t i = 0; i < shards.size(); ++i) {
    EXPECT_EQ(shards[i].path, dir / shard_file_name("val", i));
    ShardFile f(shards[i].path, ShardCheck::full);
    auto ids = f.to_vector();
    EXPECT_LE(ids.size(), limit);
    ASSERT_FALSE(ids.empty());
    EXPECT_EQ(ids.back(), eos) << "shard " << i << " ends inside a document";
    EXPECT_EQ(f.documents(), uint64_t(std::count(ids.begin(), ids.end(), eos)));
    // A shard is closed only when the next document does not fit.
    if (i + 1 < shards.size()) {
      ShardFile next(shards[i + 1].path);
      auto n = next.to_vector();
      size_t first_doc = std::find(n.begin(), n.end(), eos) - n.begin() + 1;
      EXPECT_GT(ids.size() + first_doc, limit);
    }
    docs += f.documents();
    joined.insert(joined.end(), ids.begin(), ids.end());
  }
  EXPECT_EQ(joined, all);
  EXPECT_EQ(docs, 300u);
  EXPECT_EQ(w.documents(), 300u);
  EXPECT_EQ(w.tokens(), all.size());
  EXPECT_EQ(list_shards(dir.path(), "val").size(), shards.size());
}

TEST(Shards, DocumentLongerThanAShardIsCutIntoFullShards) {
  TempDir dir;
  ShardWriter w(dir.path(), "train", 1000, 10);
  std::vector<uint32_t> small = {1, 2, 0}, big(25), tail = {7, 0};
  for (size_t i = 0; i < big.size(); ++i) big[i] = 100 + i;
  big.back() = 0;
  w.add_document(small);
  w.add_document(big);
  w.add_document(tail);
  auto shards = w.finish();
  ASSERT_EQ(shards.size(), 4u);
  // [small] | big[0..10) | big[10..20) | big[20..25) + tail
  EXPECT_EQ(shards[0].tokens, 3u);
  EXPECT_EQ(shards[1].tokens, 10u);
  EXPECT_EQ(shards[2].tokens, 10u);
  EXPECT_EQ(shards[3].tokens, 7u);
  EXPECT_EQ(shards[0].documents, 1u);
  EXPECT_EQ(shards[1].documents, 0u);  // documents count where they end
  EXPECT_EQ(shards[2].documents, 0u);
  EXPECT_EQ(shards[3].documents, 2u);
  std::vector<uint32_t> joined, expect = small;
  expect.insert(expect.end(), big.begin(), big.end());
  expect.insert(expect.end(), tail.begin(), tail.end());
  for (const auto& s : shards) {
    auto v = ShardFile(s.path).to_vector();
    joined.insert(joined.end(), v.begin(), v.end());
  }
  EXPECT_EQ(joined, expect);
}

TEST(Shards, EmptySplitWritesNothingAndNoTempFilesRemain) {
  TempDir dir;
  ShardWriter w(dir / "out", "test", 300);
  EXPECT_TRUE(w.finish().empty());
  EXPECT_TRUE(dir_entries(dir / "out").empty());
  ShardWriter w2(dir / "out", "test", 300, 4);
  for (int i = 0; i < 5; ++i) w2.add_document(std::vector<uint32_t>{1, 2, 3});
  EXPECT_EQ(w2.finish().size(), 5u);
  for (const auto& name : dir_entries(dir / "out")) EXPECT_EQ(name.find(".tmp."), std::string::npos) << name;
}

TEST(Shards, RerunRemovesStaleShardsOfTheSameSplitOnly) {
  TempDir dir;
  {
    ShardWriter w(dir.path(), "train", 300, 3);
    for (int i = 0; i < 4; ++i) w.add_document(std::vector<uint32_t>{1, 2, 3});
    EXPECT_EQ(w.finish().size(), 4u);
  }
  write_file(dir / "val_000007.bin", "other split");
  write_file(dir / "train_notes.bin", "not a shard name");
  write_file(dir / "train_0000001.bin", "seven digits");
  {
    ShardWriter w(dir.path(), "train", 300);
    w.add_document(std::vector<uint32_t>{4, 5});
    EXPECT_EQ(w.finish().size(), 1u);
  }
  EXPECT_EQ(dir_entries(dir.path()), (std::vector<std::string>{"train_000000.bin", "train_0000001.bin",
                                                               "train_notes.bin", "val_000007.bin"}));
  EXPECT_EQ(ShardFile(dir / "train_000000.bin").to_vector(), (std::vector<uint32_t>{4, 5}));
}

TEST(Shards, ListShardsIsOrderedAndRefusesGaps) {
  TempDir dir;
  EXPECT_TRUE(list_shards(dir.path(), "train").empty());
  for (int i : {2, 0, 1}) write_file(dir / shard_file_name("train", i), "x");
  auto l = list_shards(dir.path(), "train");
  ASSERT_EQ(l.size(), 3u);
  EXPECT_EQ(l[2], dir / "train_000002.bin");
  std::filesystem::remove(dir / "train_000001.bin");
  try {
    list_shards(dir.path(), "train");
    FAIL() << "expected a UserError";
  } catch (const UserError& e) {
    EXPECT_EQ(e.problem(), "shard train_000001.bin is missing (found train_000002.bin)");
  }
  EXPECT_THROW(list_shards(dir / "nope", "train"), UserError);
}

TEST(Shards, ValidShardOpens) {
  TempDir dir;
  EXPECT_EQ(open_error(dir, shard_bytes(500, 2, {1, 2, 3, 499}), ShardCheck::full), "");
  EXPECT_EQ(open_error(dir, shard_bytes(500, 4, {1, 2, 3, 499}), ShardCheck::full), "");
  EXPECT_EQ(open_error(dir, shard_bytes(500, 2, {})), "");  // a header-only shard is valid
}

TEST(Shards, HeaderOnlyShardHasNoTokens) {
  for (uint32_t width : {2u, 4u}) {
    std::string b = shard_bytes(width == 2 ? 500 : 70000, width, {}, 0);
    ShardFile f = ShardFile::from_bytes(b, "empty", ShardCheck::full);
    EXPECT_EQ(f.size(), 0u);
    EXPECT_TRUE(f.to_vector().empty());
    f.copy(0, 0, nullptr);
  }
}

TEST(Shards, WrongMagic) {
  TempDir dir;
  std::string b = shard_bytes(500, 2, {1, 2, 3});
  b[0] = 'X';
  EXPECT_EQ(open_error(dir, b), "not a token shard (no TLMSHARD magic at the start; 70 bytes)");
  EXPECT_EQ(open_error(dir, ""), "not a token shard (no TLMSHARD magic at the start; 0 bytes)");
  EXPECT_EQ(open_error(dir, "TLMSH"), "not a token shard (no TLMSHARD magic at the start; 5 bytes)");
}

TEST(Shards, UnsupportedVersion) {
  TempDir dir;
  std::string b = shard_bytes(500, 2, {1, 2, 3});
  set32(b, 8, 2);
  EXPECT_EQ(open_error(dir, b), "unsupported shard version 2 (this build reads version 1; re-run 'tweetlm tokenize')");
  set32(b, 8, 0);
  EXPECT_EQ(open_error(dir, b), "unsupported shard version 0 (this build reads version 1; re-run 'tweetlm tokenize')");
}

TEST(Shards, BadHeaderSize) {
  TempDir dir;
  std::string b = shard_bytes(500, 2, {1, 2, 3});
  set32(b, 12, 128);
  EXPECT_EQ(open_error(dir, b), "bad header size 128 (version 1 shards have a 64-byte header)");
}

TEST(Shards, BadTokenWidthAndVocab) {
  TempDir dir;
  std::string b = shard_bytes(500, 2, {1, 2, 3});
  set32(b, 20, 3);
  EXPECT_EQ(open_error(dir, b), "bad token width 3 (must be 2 or 4 bytes)");
  set32(b, 20, 2);
  set32(b, 16, 70000);
  EXPECT_EQ(open_error(dir, b), "corrupt header: vocab size 70000 does not fit token width 2");
  set32(b, 16, 0);
  EXPECT_EQ(open_error(dir, b), "corrupt header: vocab size 0");
}

TEST(Shards, NonZeroPadding) {
  TempDir dir;
  std::string b = shard_bytes(500, 2, {1, 2, 3});
  b[60] = 1;
  EXPECT_EQ(open_error(dir, b), "corrupt header: padding byte 60 is not zero");
}

TEST(Shards, TruncatedFile) {
  TempDir dir;
  std::vector<uint32_t> ids(1000, 7);
  std::string b = shard_bytes(500, 2, ids);  // 64 + 2000 bytes
  EXPECT_EQ(open_error(dir, b.substr(0, 1500)), "truncated: header says 1000 tokens (2064 bytes), file has 1500 bytes");
  EXPECT_EQ(open_error(dir, b.substr(0, 2063)), "truncated: header says 1000 tokens (2064 bytes), file has 2063 bytes");
  EXPECT_EQ(open_error(dir, b.substr(0, 40)), "truncated: 40 bytes, shorter than the 64-byte header");
  EXPECT_EQ(open_error(dir, b.substr(0, 10)), "truncated: 10 bytes, shorter than the shard header");
  // A corrupt count so large that count * width overflows 64 bits is still "truncated".
  set64(b, 24, ~0ULL);
  EXPECT_EQ(open_error(dir, b),
            "truncated: header says 18446744073709551615 tokens (more than 2^64 bytes), file has 2064 bytes");
}

TEST(Shards, TrailingBytes) {
  TempDir dir;
  std::string b = shard_bytes(500, 4, {1, 2, 3}) + "xy";
  EXPECT_EQ(open_error(dir, b), "2 trailing bytes: header says 3 tokens (76 bytes), file has 78 bytes");
}

TEST(Shards, FlippedPayloadByteFailsTheChecksum) {
  TempDir dir;
  std::string b = shard_bytes(500, 2, {1, 2, 3, 4});
  uint64_t good = hash64(std::string_view(b).substr(64));
  b[66] ^= 0x01;  // token 1: 2 -> 3, still inside the vocabulary
  uint64_t bad = hash64(std::string_view(b).substr(64));
  EXPECT_EQ(open_error(dir, b), strprintf("checksum mismatch: header says %016llx, tokens hash to %016llx (file is corrupt)",
                                          (unsigned long long)good, (unsigned long long)bad));
  EXPECT_EQ(open_error(dir, b, ShardCheck::header), "");  // the cheap check trusts the payload
}

TEST(Shards, TokenOutsideTheVocabulary) {
  TempDir dir;
  std::string b = shard_bytes(500, 2, {1, 2, 500, 4});  // checksum is right, id 500 is not
  EXPECT_EQ(open_error(dir, b), "");                    // only the full scan looks at ids
  EXPECT_EQ(open_error(dir, b, ShardCheck::full), "token 2 is id 500, outside the vocabulary (vocab size 500)");
  b = shard_bytes(70000, 4, {69999, 70000});
  EXPECT_EQ(open_error(dir, b, ShardCheck::full), "token 1 is id 70000, outside the vocabulary (vocab size 70000)");
}

TEST(Shards, ErrorMessageNamesTheFile) {
  TempDir dir;
  std::string path = dir / "train_000003.bin";
  write_file(path, shard_bytes(500, 2, std::vector<uint32_t>(1000, 1)).substr(0, 1500));
  try {
    ShardFile f(path);
    FAIL() << "expected a UserError";
  } catch (const UserError& e) {
    EXPECT_EQ(std::string(e.what()), path + ": truncated: header says 1000 tokens (2064 bytes), file has 1500 bytes");
  }
  EXPECT_THROW(ShardFile(dir / "missing.bin"), UserError);
  EXPECT_THROW(ShardFile(dir.path()), UserError);  // a directory
}

TEST(Shards, FromBytesValidatesTheSameWay) {
  std::string b = shard_bytes(500, 2, {5, 6, 7});
  ShardFile f = ShardFile::from_bytes(b, "mem", ShardCheck::full);
  EXPECT_EQ(f.to_vector(), (std::vector<uint32_t>{5, 6, 7}));
  b[68] ^= 0x40;
  EXPECT_THROW(ShardFile::from_bytes(b, "mem"), UserError);
}

}  // namespace
}  // namespace tlm
