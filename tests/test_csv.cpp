// Unit tests for CSV: parse_csv_record / parse_csv_row (RFC 4180 quoting, CRLF, lenient tails,
// unterminated quotes), csv_boundary (must agree with the parser, or blocks split records), and
// read_csv over the hand-written fixtures, compressed copies and a file larger than one block.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/check.h"
#include "data/csv.h"
#include "data/reader.h"
#include "data/source.h"
#include "fixtures.h"

namespace tlm {
namespace {

using testing::collect;
using testing::data_path;
using testing::TempDir;
using Fields = std::vector<std::string>;

Fields parse_at(std::string_view buf, size_t pos, size_t* next = nullptr, bool* complete = nullptr) {
  Fields f;
  bool c;
  size_t n = parse_csv_record(buf, pos, f, c);
  if (next) *next = n;
  if (complete) *complete = c;
  return f;
}

// Offsets just after every complete, terminated record of `buf`, as the parser sees them.
std::vector<size_t> record_ends(std::string_view buf) {
  std::vector<size_t> ends;
  size_t pos = 0;
  while (pos < buf.size()) {
    Fields f;
    bool complete;
    size_t next = parse_csv_record(buf, pos, f, complete);
    if (complete && next > 0 && buf[next - 1] == '\n') ends.push_back(next);
    pos = next;
  }
  return ends;
}

TEST(ParseCsvRecord, PlainFields) {
  size_t next;
  bool complete;
  EXPECT_EQ(parse_at("a,b,c\nrest", 0, &next, &complete), (Fields{"a", "b", "c"}));
  EXPECT_EQ(next, 6u);
  EXPECT_TRUE(complete);
  EXPECT_EQ(parse_at(",,\n", 0), (Fields{"", "", ""}));
  EXPECT_EQ(parse_at("single", 0, &next), (Fields{"single"}));
  EXPECT_EQ(next, 6u);
  EXPECT_EQ(parse_at("", 0, &next, &complete), (Fields{""}));
  EXPECT_EQ(next, 0u);
  EXPECT_TRUE(complete);
}

TEST(ParseCsvRecord, QuotedFields) {
  size_t next;
  EXPECT_EQ(parse_at("1,\"Hello, world\",en\n", 0), (Fields{"1", "Hello, world", "en"}));
  EXPECT_EQ(parse_at("\"She said \"\"hi\"\"\"\n", 0), (Fields{"She said \"hi\""}));
  EXPECT_EQ(parse_at("\"\"\n", 0), (Fields{""}));
  EXPECT_EQ(parse_at("\"\"\"\"\n", 0), (Fields{"\""}));
  // A newline inside quotes belongs to the field; the record ends at the next unquoted one.
  std::string buf = "1,\"line one\nline two\",x\n2,y\n";
  EXPECT_EQ(parse_at(buf, 0, &next), (Fields{"1", "line one\nline two", "x"}));
  EXPECT_EQ(next, buf.find("2,y"));
  EXPECT_EQ(parse_at(buf, next), (Fields{"2", "y"}));
}

TEST(ParseCsvRecord, CrlfLineEnds) {
  size_t next;
  std::string buf = "a,\"b\r\nc\"\r\nd,e\r\n";
  EXPECT_EQ(parse_at(buf, 0, &next), (Fields{"a", "b\r\nc"}));  // CR inside quotes is content
  EXPECT_EQ(next, buf.find("d,e"));
  EXPECT_EQ(parse_at(buf, next, &next), (Fields{"d", "e"}));  // CR before LF is not
  EXPECT_EQ(next, buf.size());
  EXPECT_EQ(parse_at("x,\r\n", 0), (Fields{"x", ""}));
  EXPECT_EQ(parse_at("last\r", 0), (Fields{"last"}));
}

TEST(ParseCsvRecord, LenientWhereRfcIsSilent) {
  // Text after a closing quote is kept; a quote inside an unquoted field is literal.
  EXPECT_EQ(parse_at("\"ab\"cd,e\n", 0), (Fields{"abcd", "e"}));
  EXPECT_EQ(parse_at("1,I am 6'2\" tall,en\n", 0), (Fields{"1", "I am 6'2\" tall", "en"}));
  EXPECT_EQ(parse_at("\"closed\"tail with \"quote,z\n", 0), (Fields{"closedtail with \"quote", "z"}));
}

TEST(ParseCsvRecord, UnterminatedQuoteIsReported) {
  size_t next;
  bool complete;
  std::string buf = "3,\"cut off\nin the mid";
  EXPECT_EQ(parse_at(buf, 0, &next, &complete), (Fields{"3", "cut off\nin the mid"}));
  EXPECT_FALSE(complete);
  EXPECT_EQ(next, buf.size());
  Fields f;
  EXPECT_FALSE(parse_csv_row("x,\"y", f));
  EXPECT_TRUE(parse_csv_row("x,\"y\"", f));
  EXPECT_EQ(f, (Fields{"x", "y"}));
}

TEST(CsvBoundary, SimpleCases) {
  EXPECT_EQ(csv_boundary(""), 0u);
  EXPECT_EQ(csv_boundary("a,b"), 0u);
  EXPECT_EQ(csv_boundary("a,b\n"), 4u);
  EXPECT_EQ(csv_boundary("a\nb\nc"), 4u);
  EXPECT_EQ(csv_boundary("a,\"b\nc\"\n"), 8u);   // not after the quoted newline
  EXPECT_EQ(csv_boundary("a,\"b\nc"), 0u);       // inside an open quote: no boundary yet
  EXPECT_EQ(csv_boundary("x\n\"open\n"), 2u);
  EXPECT_EQ(csv_boundary("\"\"\"\"\n"), 5u);
}

// A quote in the middle of an unquoted field is text for the parser, so it must not flip the
// boundary's idea of "inside quotes" either; otherwise the block reader cuts inside a record.
TEST(CsvBoundary, StrayQuoteInUnquotedField) {
  std::string buf = "1,5\" tall,en\n2,\"x\ny\",en\n";
  EXPECT_EQ(csv_boundary(buf), buf.size());
  EXPECT_EQ(csv_boundary(buf.substr(0, 19)), 13u);  // cut inside "x\ny": last boundary is line 1
}

// For every prefix of a buffer, the boundary is the last complete record end in that prefix.
void expect_boundaries_agree_with_parser(const std::string& buf, const std::string& name) {
  std::vector<size_t> ends = record_ends(buf);
  for (size_t len = 0; len <= buf.size(); ++len) {
    size_t expected = 0;
    for (size_t e : ends)
      if (e <= len) expected = e;
    ASSERT_EQ(csv_boundary(std::string_view(buf).substr(0, len)), expected) << name << " prefix " << len;
  }
}

TEST(CsvBoundary, AgreesWithParserOnEveryPrefix) {
  expect_boundaries_agree_with_parser(testing::slurp(data_path("tweets.csv")), "tweets.csv");
  expect_boundaries_agree_with_parser(testing::slurp(data_path("tweets_truncated.csv")), "tweets_truncated.csv");
  expect_boundaries_agree_with_parser(
      "id,text\n1,5\" tall\n2,\"multi\nline \"\"quoted\"\" text\"\n3,\"closed\"tail with \"quote\n"
      "4,plain\n5,\"a\r\nb\"\r\n6,\"\"\n7,\"\"\"\",x\n8,\"a,b\",\"c\nd\"\n",
      "tricky");
}

// The block reader with csv_boundary and tiny blocks: records re-parsed block by block equal a
// parse of the whole buffer.
TEST(CsvBoundary, TinyBlocksKeepRecordsWhole) {
  TempDir tmp;
  std::string csv = "id,text\n";
  for (int i = 0; i < 300; ++i) {
    if (i % 7 == 3) csv += std::to_string(i) + ",He is 6'" + std::to_string(i % 10) + "\" tall\n";
    else if (i % 5 == 1) csv += std::to_string(i) + ",\"multi\nline, with \"\"quotes\"\" " + std::to_string(i) + "\"\r\n";
    else csv += std::to_string(i) + ",plain row " + std::to_string(i) + "\n";
  }
  testing::write_file(tmp / "t.csv", csv);
  Fields f;
  bool complete;
  std::vector<Fields> whole, blocks;
  for (size_t pos = 0; pos < csv.size();) {
    pos = parse_csv_record(csv, pos, f, complete);
    whole.push_back(f);
  }
  for (size_t block_size : {64, 100, 1000}) {
    blocks.clear();
    BlockReader reader(open_stream(tmp / "t.csv"), tmp / "t.csv", csv_boundary, block_size);
    std::string_view block;
    while (reader.next(block)) {
      for (size_t pos = 0; pos < block.size();) {
        pos = parse_csv_record(block, pos, f, complete);
        ASSERT_TRUE(complete);
        blocks.push_back(f);
      }
    }
    EXPECT_EQ(blocks, whole) << "block size " << block_size;
  }
}

struct Expected {
  uint64_t line;
  std::string id, created_at, user, lang, text;
};

void expect_tweets(const RecordBatch& b, const std::vector<Expected>& want) {
  ASSERT_EQ(b.tweets.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    const RawTweet& t = b.tweets[i];
    EXPECT_EQ(t.line, want[i].line) << i;
    EXPECT_EQ(t.id, want[i].id) << i;
    EXPECT_EQ(t.created_at, want[i].created_at) << i;
    EXPECT_EQ(t.user, want[i].user) << i;
    EXPECT_EQ(t.lang, want[i].lang) << i;
    EXPECT_EQ(t.text, want[i].text) << i;
    EXPECT_FALSE(t.retweet);
    EXPECT_EQ(t.format, static_cast<uint8_t>(SourceFormat::csv));
  }
}

const std::vector<Expected> kTweetsCsv = {
    {2, "1050118621198921728", "2018-10-10 20:19:24", "jack", "en", "Hello, world! Commas, inside, quotes"},
    {3, "1050118621198921729", "2018-10-10 20:20:00", "biz", "en", "Line one\r\nline two of a multi-line tweet"},
    {5, "1050118621198921730", "2018-10-11 08:00:00", "quotes", "en", "She said \"hi\" to me"},
    {7, "1050118621198921732", "2018-10-11 10:00:00", "empty", "en", ""},
    {8, "1050118621198921733", "2018-10-12 12:00:00", "maria", "es", "\u00A1Hola! \u00BFQu\u00E9 tal? \U0001F60A"},
    {10, "1050118621198921734", "2018-10-12 13:00:00", "ahmed", "ar",
     "\u0645\u0631\u062D\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645\u060C \u0643\u064A\u0641 "
     "\u062D\u0627\u0644\u0643\u0645\u061F \U0001F319"},
    {11, "1050118621198921735", "2018-10-12 14:00:00", "tall", "en", "I am 6'2\" tall"},
    {12, "1050118621198921736", "2018-10-12 15:00:00", "trailing", "en", "Quoted \"at the end\""},
};

TEST(ReadCsv, Fixture) {
  auto c = collect([](const BatchSink& s) { read_csv(data_path("tweets.csv"), "text", s); });
  expect_tweets(c.all, kTweetsCsv);
  ASSERT_EQ(c.all.errors.size(), 1u);
  EXPECT_EQ(c.all.errors[0].line, 6u);
  EXPECT_EQ(c.all.errors[0].what, "row has 3 fields, header has 6");
  EXPECT_EQ(c.bytes, testing::slurp(data_path("tweets.csv")).size());
}

TEST(ReadCsv, TextColumnIsCaseInsensitive) {
  auto c = collect([](const BatchSink& s) { read_csv(data_path("tweets.csv"), "TEXT", s); });
  EXPECT_EQ(c.all.tweets.size(), kTweetsCsv.size());
}

TEST(ReadCsv, TruncatedFileReportsTheOpenQuote) {
  auto c = collect([](const BatchSink& s) { read_csv(data_path("tweets_truncated.csv"), "text", s); });
  expect_tweets(c.all, {{2, "1", "", "", "en", "First complete row"}, {3, "2", "", "", "en", "Second complete row"}});
  ASSERT_EQ(c.all.errors.size(), 1u);
  EXPECT_EQ(c.all.errors[0].line, 4u);
  EXPECT_NE(c.all.errors[0].what.find("unterminated quoted field"), std::string::npos);
}

TEST(ReadCsv, MissingTextColumnNamesTheColumns) {
  try {
    read_csv(data_path("tweets.csv"), "body", [](RecordBatch&) {});
    FAIL() << "expected a UserError";
  } catch (const UserError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("tweets.csv"), std::string::npos) << what;
    EXPECT_NE(what.find("no column named 'body'"), std::string::npos) << what;
    EXPECT_NE(what.find("id, created_at, username, lang, text, retweet_count"), std::string::npos) << what;
  }
}

TEST(ReadCsv, OtherColumnNamesAndLfEnds) {
  TempDir tmp;
  testing::write_file(tmp / "k.csv",
                      "tweet,Language,date,screen_name,id_str\n"
                      "first tweet,EN,2020-01-01,alice,11\n"
                      "\"second, quoted\",fr,2020-01-02,bob,12\n"
                      "\n"
                      "third,,2020-01-03,,13");
  auto c = collect([&](const BatchSink& s) { read_csv(tmp / "k.csv", "tweet", s); });
  expect_tweets(c.all, {{2, "11", "2020-01-01", "alice", "EN", "first tweet"},
                        {3, "12", "2020-01-02", "bob", "fr", "second, quoted"},
                        {5, "13", "2020-01-03", "", "", "third"}});
  EXPECT_TRUE(c.all.errors.empty());
}

TEST(ReadCsv, CompressedCopiesReadTheSame) {
  TempDir tmp;
  auto plain = collect([](const BatchSink& s) { read_csv(data_path("tweets.csv"), "text", s); });
  testing::gzip_file(data_path("tweets.csv"), tmp / "tweets.csv.gz");
  testing::zstd_file(data_path("tweets.csv"), tmp / "tweets.csv.zst");
  for (const char* name : {"tweets.csv.gz", "tweets.csv.zst"}) {
    auto c = collect([&](const BatchSink& s) { read_csv(tmp / name, "text", s); });
    expect_tweets(c.all, kTweetsCsv);
    ASSERT_EQ(c.all.errors.size(), 1u) << name;
    EXPECT_EQ(c.all.errors[0].line, 6u) << name;
    EXPECT_EQ(c.bytes, plain.bytes) << name;  // decompressed bytes
  }
}

// Larger than one 8 MiB block, with a stray quote early on and multi-line quoted fields after
// it: every record must come through whole, with the right line numbers, whatever the cut.
TEST(ReadCsv, FileLargerThanOneBlock) {
  TempDir tmp;
  std::string csv = "id,text,lang\n";
  csv += "0,He is 6'2\" tall,en\n";
  std::vector<std::pair<uint64_t, std::string>> expected = {{2, "He is 6'2\" tall"}};
  uint64_t line = 3;
  for (int i = 1; csv.size() < (9u << 20); ++i) {
    std::string text = "tweet " + std::to_string(i) + " says \"hi\",\nthen a second line";
    csv += std::to_string(i) + ",\"tweet " + std::to_string(i) + " says \"\"hi\"\",\nthen a second line\",en\n";
    expected.push_back({line, text});
    line += 2;
  }
  testing::write_file(tmp / "big.csv", csv);
  auto c = collect([&](const BatchSink& s) { read_csv(tmp / "big.csv", "text", s); });
  EXPECT_GE(c.batches, 2u);
  EXPECT_TRUE(c.all.errors.empty()) << c.all.errors.size() << " errors, first at line "
                                    << (c.all.errors.empty() ? 0 : c.all.errors[0].line) << ": "
                                    << (c.all.errors.empty() ? "" : c.all.errors[0].what);
  ASSERT_EQ(c.all.tweets.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_EQ(c.all.tweets[i].line, expected[i].first) << i;
    ASSERT_EQ(c.all.tweets[i].text, expected[i].second) << i;
    ASSERT_EQ(c.all.tweets[i].id, std::to_string(i)) << i;
  }
}

}  // namespace
}  // namespace tlm
