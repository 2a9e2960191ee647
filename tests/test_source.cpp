// Unit tests for data/source: compression sniffing, gzip/zstd streams (compressed at runtime
// from the fixtures; truncated and corrupt streams must be UserErrors), read_all, and the
// BlockReader (tiny blocks over long inputs: nothing split, lost or duplicated; growth up to
// max_record; line counting; the zeroed padding after the last block).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>

#include "core/check.h"
#include "data/reader.h"
#include "data/source.h"
#include "fixtures.h"

namespace tlm {
namespace {

using testing::data_path;
using testing::slurp;
using testing::TempDir;
using testing::write_file;

// An in-memory stream that hands out at most `chunk` bytes per read, like a pipe would.
class StringStream : public ByteStream {
 public:
  StringStream(std::string data, size_t chunk) : data_(std::move(data)), chunk_(chunk) {}
  size_t read(char* buf, size_t n) override {
    size_t k = std::min({n, chunk_, data_.size() - pos_});
    std::copy_n(data_.data() + pos_, k, buf);
    pos_ += k;
    return k;
  }
  uint64_t consumed() const override { return pos_; }

 private:
  std::string data_;
  size_t chunk_, pos_ = 0;
};

std::string read_stream(ByteStream& s, size_t chunk) {
  std::string out, buf(chunk, '\0');
  while (size_t r = s.read(buf.data(), chunk)) out.append(buf.data(), r);
  return out;
}

// Lines of 1..300 bytes (many longer than a 64-byte block), some CRLF, deterministic.
std::string varied_lines(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s;
  for (int i = 0; i < n; ++i) {
    size_t len = 1 + rng() % (i % 10 == 0 ? 300 : 60);
    s += '#';
    s += std::to_string(i);
    s += ' ';
    for (size_t k = 0; k < len; ++k) s.push_back(static_cast<char>('a' + rng() % 26));
    s += (i % 3 == 0) ? "\r\n" : "\n";
  }
  return s;
}

TEST(SniffCompression, MagicBytes) {
  EXPECT_EQ(sniff_compression("\x1f\x8b\x08\x00"), Compression::gzip);
  EXPECT_EQ(sniff_compression(std::string("\x28\xb5\x2f\xfd", 4)), Compression::zstd);
  EXPECT_EQ(sniff_compression("{\"text\""), Compression::none);
  EXPECT_EQ(sniff_compression("\x1f"), Compression::none);
  EXPECT_EQ(sniff_compression(""), Compression::none);
  EXPECT_EQ(sniff_compression(std::string("\x28\xb5\x2f", 3)), Compression::none);
  EXPECT_STREQ(compression_name(Compression::gzip), "gzip");
  EXPECT_STREQ(compression_name(Compression::zstd), "zstd");
  EXPECT_STREQ(compression_name(Compression::none), "none");
}

TEST(OpenStream, MissingFileIsUserError) {
  try {
    open_stream("/nonexistent/tlm/tweets.jsonl");
    FAIL() << "expected a UserError";
  } catch (const UserError& e) {
    EXPECT_EQ(e.input(), "/nonexistent/tlm/tweets.jsonl");
  }
}

TEST(OpenStream, DirectoryIsUserError) {
  EXPECT_THROW(read_all(data_path("archive")), UserError);
}

// Every fixture reads back identically through gzip and zstd, whatever the read size, and the
// choice is made from the magic bytes, not the file name.
TEST(OpenStream, CompressedFixturesDecompressIdentically) {
  TempDir tmp;
  for (const char* name : {"v1.jsonl", "v2.jsonl", "v2_page.json", "tweets.csv", "tweets.txt", "fortunes", "tweets.js"}) {
    std::string plain = slurp(data_path(name));
    write_file(tmp / "gz_named.txt", testing::gzip_bytes(plain));
    write_file(tmp / "zst_named.gz", testing::zstd_bytes(plain));
    testing::gzip_file(data_path(name), tmp / "via_gzwrite");
    for (const char* copy : {"gz_named.txt", "zst_named.gz", "via_gzwrite"}) {
      for (size_t chunk : {1, 7, 64, 4096}) {
        auto s = open_stream(tmp / copy);
        ASSERT_EQ(read_stream(*s, chunk), plain) << name << " as " << copy << " read by " << chunk;
        EXPECT_EQ(s->consumed(), slurp(tmp / copy).size()) << "consumed() counts compressed bytes";
      }
      EXPECT_EQ(read_all(tmp / copy), plain) << name << " as " << copy;
      EXPECT_EQ(read_head(tmp / copy, 100), plain.substr(0, 100)) << name << " as " << copy;
    }
  }
}

TEST(OpenStream, LargeStreamsInSmallReads) {
  TempDir tmp;
  std::string plain = varied_lines(20000, 3);  // several zlib / zstd internal buffers
  ASSERT_GT(plain.size(), 512u << 10);
  write_file(tmp / "big.gz", testing::gzip_bytes(plain, 1));
  write_file(tmp / "big.zst", testing::zstd_bytes(plain, 19));
  for (const char* copy : {"big.gz", "big.zst"})
    for (size_t chunk : {61, 65536, 1 << 20}) {
      auto s = open_stream(tmp / copy);
      EXPECT_EQ(read_stream(*s, chunk), plain) << copy << " read by " << chunk;
    }
}

TEST(OpenStream, ConcatenatedMembersAndFrames) {
  TempDir tmp;
  write_file(tmp / "two.gz", testing::gzip_bytes("first member\n") + testing::gzip_bytes("second member\n"));
  write_file(tmp / "two.zst", testing::zstd_bytes("first frame\n") + testing::zstd_bytes("second frame\n"));
  EXPECT_EQ(read_all(tmp / "two.gz"), "first member\nsecond member\n");
  EXPECT_EQ(read_all(tmp / "two.zst"), "first frame\nsecond frame\n");
}

TEST(OpenStream, EmptyFiles) {
  TempDir tmp;
  write_file(tmp / "empty", "");
  write_file(tmp / "empty.gz", testing::gzip_bytes(""));
  write_file(tmp / "empty.zst", testing::zstd_bytes(""));
  for (const char* name : {"empty", "empty.gz", "empty.zst"}) EXPECT_EQ(read_all(tmp / name), "") << name;
}

void expect_user_error_containing(const std::function<void()>& fn, const std::string& path, const std::string& word) {
  try {
    fn();
    ADD_FAILURE() << path << ": expected a UserError mentioning '" << word << "'";
  } catch (const UserError& e) {
    EXPECT_EQ(e.input(), path);
    EXPECT_NE(std::string(e.what()).find(word), std::string::npos) << e.what();
  }
}

// A download cut short must be a clear error, not a crash and not silently fewer tweets.
TEST(OpenStream, TruncatedStreamsAreUserErrors) {
  TempDir tmp;
  std::string plain = varied_lines(3000, 5);
  std::string gz = testing::gzip_bytes(plain), zst = testing::zstd_bytes(plain);
  for (size_t cut : {size_t(2), size_t(5), gz.size() / 2, gz.size() - 1}) {
    std::string path = tmp / ("cut" + std::to_string(cut) + ".gz");
    write_file(path, gz.substr(0, cut));
    expect_user_error_containing([&] { read_all(path); }, path, "truncated gzip");
    expect_user_error_containing([&] { read_text_lines(path, [](RecordBatch&) {}); }, path, "truncated gzip");
  }
  for (size_t cut : {size_t(4), size_t(9), zst.size() / 2, zst.size() - 1}) {
    std::string path = tmp / ("cut" + std::to_string(cut) + ".zst");
    write_file(path, zst.substr(0, cut));
    expect_user_error_containing([&] { read_all(path); }, path, "zstd");
    expect_user_error_containing([&] { read_text_lines(path, [](RecordBatch&) {}); }, path, "zstd");
  }
}

TEST(OpenStream, CorruptGzipIsUserError) {
  TempDir tmp;
  std::string gz = testing::gzip_bytes(varied_lines(2000, 9));
  for (size_t i = gz.size() / 2; i < gz.size() / 2 + 16; ++i) gz[i] = static_cast<char>(gz[i] ^ 0x5A);
  write_file(tmp / "bad.gz", gz);
  expect_user_error_containing([&] { read_all(tmp / "bad.gz"); }, tmp / "bad.gz", "gzip");
  // A damaged CRC alone is caught too: the data would be silently wrong otherwise.
  std::string good = testing::gzip_bytes("hello\n");
  good[good.size() - 8] = static_cast<char>(good[good.size() - 8] ^ 1);
  write_file(tmp / "crc.gz", good);
  expect_user_error_containing([&] { read_all(tmp / "crc.gz"); }, tmp / "crc.gz", "gzip");
}

TEST(ReadAll, PaddingIsZeroedCapacity) {
  std::string s = read_all(data_path("v2_page.json"), 64);
  EXPECT_EQ(s, slurp(data_path("v2_page.json")));
  ASSERT_GE(s.capacity(), s.size() + 64);
  for (size_t i = 0; i < 64; ++i) EXPECT_EQ(s.data()[s.size() + i], '\0');
}

TEST(LineBoundary, AfterLastNewline) {
  EXPECT_EQ(line_boundary(""), 0u);
  EXPECT_EQ(line_boundary("no newline"), 0u);
  EXPECT_EQ(line_boundary("a\nb"), 2u);
  EXPECT_EQ(line_boundary("a\nb\r\n"), 5u);
}

struct Block {
  std::string text;
  uint64_t lines_before;
};

std::vector<Block> all_blocks(BlockReader& r) {
  std::vector<Block> out;
  std::string_view b;
  while (r.next(b)) out.push_back({std::string(b), r.lines_before()});
  return out;
}

// Tiny blocks over a long input: concatenated blocks give back the input, every block but the
// last ends a line, and lines_before() numbers lines across blocks.
TEST(BlockReader, TinyBlocksSplitNothing) {
  std::string data = varied_lines(2000, 11) + "final line without newline";
  for (size_t chunk : {1, 13, 64, 1000}) {
    BlockReader r(std::make_unique<StringStream>(data, chunk), "mem", line_boundary, 64);
    auto blocks = all_blocks(r);
    ASSERT_GT(blocks.size(), 100u);
    std::string joined;
    uint64_t newlines = 0;
    for (size_t i = 0; i < blocks.size(); ++i) {
      ASSERT_FALSE(blocks[i].text.empty());
      if (i + 1 < blocks.size()) {
        ASSERT_EQ(blocks[i].text.back(), '\n') << "block " << i << " splits a line";
      }
      ASSERT_EQ(blocks[i].lines_before, newlines) << "block " << i;
      newlines += std::count(blocks[i].text.begin(), blocks[i].text.end(), '\n');
      joined += blocks[i].text;
    }
    EXPECT_EQ(joined, data) << "read by " << chunk;
    EXPECT_EQ(r.consumed(), data.size());
  }
}

// The same over real files, plain and compressed, opened the way the readers open them.
TEST(BlockReader, TinyBlocksOverFiles) {
  TempDir tmp;
  std::string data = varied_lines(3000, 17);
  write_file(tmp / "plain.txt", data);
  write_file(tmp / "data.gz", testing::gzip_bytes(data));
  write_file(tmp / "data.zst", testing::zstd_bytes(data));
  for (const char* name : {"plain.txt", "data.gz", "data.zst"}) {
    BlockReader r(open_stream(tmp / name), tmp / name, line_boundary, 64);
    auto blocks = all_blocks(r);
    std::string joined;
    for (size_t i = 0; i < blocks.size(); ++i) {
      if (i + 1 < blocks.size()) {
        ASSERT_EQ(blocks[i].text.back(), '\n') << name << " block " << i;
      }
      joined += blocks[i].text;
    }
    EXPECT_EQ(joined, data) << name;
    EXPECT_EQ(r.consumed(), slurp(tmp / name).size()) << name;
  }
}

TEST(BlockReader, BlocksHoldManyLinesWhenTheyFit) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data += "line " + std::to_string(i) + "\n";
  BlockReader r(std::make_unique<StringStream>(data, 1 << 20), "mem", line_boundary, 256);
  auto blocks = all_blocks(r);
  for (const auto& b : blocks) EXPECT_LE(b.text.size(), 256u);
  EXPECT_LE(blocks.size(), data.size() / 200 + 1);  // blocks are filled, not one line each
}

TEST(BlockReader, GrowsForLongRecordsUpToTheLimit) {
  std::string long_line(1000, 'x');
  std::string data = "short\n" + long_line + "\nafter\n";
  BlockReader r(std::make_unique<StringStream>(data, 100), "mem", line_boundary, 64, 4096);
  auto blocks = all_blocks(r);
  std::string joined;
  for (const auto& b : blocks) joined += b.text;
  EXPECT_EQ(joined, data);
  bool whole = false;
  for (const auto& b : blocks) whole |= b.text.find(long_line + "\n") != std::string::npos;
  EXPECT_TRUE(whole) << "the long line must arrive in one block";
}

TEST(BlockReader, RecordOverMaxRecordIsUserError) {
  std::string data = "ok\n" + std::string(5000, 'y') + "\nok\n";
  BlockReader r(std::make_unique<StringStream>(data, 512), "huge.txt", line_boundary, 64, 1024);
  std::string_view b;
  try {
    while (r.next(b)) {
    }
    FAIL() << "expected a UserError";
  } catch (const UserError& e) {
    EXPECT_EQ(e.input(), "huge.txt");
    EXPECT_NE(std::string(e.what()).find("record longer than"), std::string::npos) << e.what();
  }
}

// A long final record with no separator is not an error: end of file ends it.
TEST(BlockReader, UnterminatedLastRecordWithinLimit) {
  std::string data = "a\n" + std::string(600, 'z');
  BlockReader r(std::make_unique<StringStream>(data, 50), "mem", line_boundary, 64, 1024);
  auto blocks = all_blocks(r);
  ASSERT_FALSE(blocks.empty());
  EXPECT_EQ(blocks.back().text, std::string(600, 'z'));
}

TEST(BlockReader, EmptyInputAndZeroPaddingAtEnd) {
  BlockReader empty(std::make_unique<StringStream>("", 10), "mem", line_boundary, 64);
  std::string_view b;
  EXPECT_FALSE(empty.next(b));
  BlockReader r(std::make_unique<StringStream>("x\ny\nz", 10), "mem", line_boundary, 64);
  std::string_view last;
  while (r.next(b)) last = b;
  EXPECT_EQ(last, "x\ny\nz");
  for (size_t i = 0; i < 64; ++i) EXPECT_EQ(last.data()[last.size() + i], '\0') << i;
}

TEST(BlockReader, FortuneBoundaryKeepsEntriesWhole) {
  std::string data;
  std::vector<std::string> entries;
  for (int i = 0; i < 200; ++i) {
    std::string e = "entry " + std::to_string(i) + (i % 4 == 0 ? "\nwith a second line" : "") +
                    (i % 9 == 0 ? std::string(100, '.') : "");
    entries.push_back(e);
    data += e + (i % 5 == 0 ? "\n%\r\n" : "\n%\n");
  }
  BlockReader r(std::make_unique<StringStream>(data, 33), "mem", fortune_boundary, 64);
  auto blocks = all_blocks(r);
  std::vector<std::string> got;
  for (const auto& b : blocks) {
    // Every block ends right after a separator line.
    ASSERT_TRUE(b.text.ends_with("\n%\n") || b.text.ends_with("\n%\r\n")) << b.text;
    size_t pos = 0;
    while (pos < b.text.size()) {
      size_t sep = b.text.find("\n%", pos);
      got.push_back(b.text.substr(pos, sep - pos));
      pos = b.text.find('\n', sep + 1) + 1;
    }
  }
  EXPECT_EQ(got, entries);
}

TEST(FortuneBoundary, Cases) {
  EXPECT_EQ(fortune_boundary(""), 0u);
  EXPECT_EQ(fortune_boundary("a\n%\nb"), 4u);
  EXPECT_EQ(fortune_boundary("a\n%"), 0u);
  EXPECT_EQ(fortune_boundary("a\n%\r\nb"), 5u);
  EXPECT_EQ(fortune_boundary("%\n"), 2u);
  EXPECT_EQ(fortune_boundary("a%\nb"), 0u);      // not a line of its own
  EXPECT_EQ(fortune_boundary("a\n%%\n"), 0u);
  EXPECT_EQ(fortune_boundary("a\n100%\n"), 0u);
  EXPECT_EQ(fortune_boundary("a\n%\nb\n%\nc"), 8u);
  EXPECT_EQ(fortune_boundary("a\n%\nb 50%\nc"), 4u);
}

}  // namespace
}  // namespace tlm
