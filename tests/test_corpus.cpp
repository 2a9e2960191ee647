// Unit tests for data/corpus (the one reader of prepared tweets): which files a path stands for,
// every field of a JSON line (string and integer ids, id_str, lang, created_at, in_reply_to),
// plain text (blank lines, CRLF, BOM, invalid UTF-8 repaired), and the "PATH:LINE: problem"
// errors every command that reads a corpus now shares.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "data/corpus.h"
#include "fixtures.h"

namespace tlm {
namespace {

using testing::TempDir;
using testing::user_error_of;
using testing::write_file;

std::vector<CorpusRecord> read_all(const std::string& path, const std::vector<std::string>& splits = all_splits()) {
  std::vector<CorpusRecord> out;
  for_each_record(corpus_files(path, splits), [&](CorpusRecord&& r) { out.push_back(std::move(r)); });
  return out;
}

TEST(Corpus, PreparedFolderGivesItsSplitsInOrder) {
  TempDir d;
  write_file(d / "train.jsonl", "{\"text\":\"a\"}\n");
  write_file(d / "test.jsonl", "{\"text\":\"c\"}\n");
  const auto files = corpus_files(d.path());
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].path, d / "train.jsonl");
  EXPECT_EQ(files[1].path, d / "test.jsonl");
  EXPECT_EQ(files[0].format, CorpusFormat::json_lines);
  // Only the splits asked for; a missing one is an error only when all are required.
  EXPECT_EQ(corpus_files(d.path(), {"test"}).size(), 1u);
  EXPECT_EQ(user_error_of([&] { corpus_files(d.path(), {"train", "val"}, true); }),
            d.path() + ": not a prepared corpus folder: val.jsonl is missing (run `tweetlm prepare` first)");
  EXPECT_EQ(user_error_of([&] { corpus_files(d.path(), {"val"}); }),
            d.path() + ": not a prepared corpus folder: none of val.jsonl (run `tweetlm prepare` first)");
  EXPECT_EQ(user_error_of([&] { corpus_files(d / "missing"); }), d / "missing" + ": no such file or directory");
}

TEST(Corpus, FormatFollowsTheFileName) {
  TempDir d;
  write_file(d / "a.jsonl", "{\"text\":\"x\"}\n");
  write_file(d / "b.json", "{\"text\":\"x\"}\n");
  write_file(d / "c.txt", "{\"text\":\"x\"}\n");
  EXPECT_EQ(corpus_files(d / "a.jsonl")[0].format, CorpusFormat::json_lines);
  EXPECT_EQ(corpus_files(d / "b.json")[0].format, CorpusFormat::json_lines);
  EXPECT_EQ(corpus_files(d / "c.txt")[0].format, CorpusFormat::plain_text);
  EXPECT_EQ(read_all(d / "c.txt")[0].text, "{\"text\":\"x\"}");  // a plain-text tweet, as written
}

TEST(Corpus, EveryFieldOfAJsonLine) {
  TempDir d;
  write_file(d / "t.jsonl",
             "\xEF\xBB\xBF{\"id\":\"17\",\"text\":\"hello\",\"lang\":\"en\",\"created_at\":\"2020-01-02T03:04:05Z\","
             "\"in_reply_to\":\"9\"}\r\n"
             "\n   \n"
             "{\"id\":12345678901234567,\"text\":\"number id\",\"lang\":null}\n"
             "{\"id_str\":\"55\",\"text\":\"\"}\n");
  const auto r = read_all(d / "t.jsonl");
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].id, "17");
  EXPECT_EQ(r[0].text, "hello");
  EXPECT_EQ(r[0].lang, "en");
  EXPECT_EQ(r[0].created_at, "2020-01-02T03:04:05Z");
  EXPECT_EQ(r[0].in_reply_to, "9");
  EXPECT_EQ(r[1].id, "12345678901234567");
  EXPECT_EQ(r[1].lang, "");
  EXPECT_EQ(r[2].id, "55");
  EXPECT_EQ(r[2].text, "");
}

TEST(Corpus, BadLinesNameFileAndLine) {
  TempDir d;
  const std::string f = d / "t.jsonl";
  write_file(f, "{\"text\":\"ok\"}\n\nnot json\n");
  EXPECT_EQ(user_error_of([&] { read_all(f); }).rfind(f + ":3: invalid JSON", 0), 0u) << user_error_of([&] { read_all(f); });
  write_file(f, "{\"text\":\"ok\"}\n[1,2]\n");
  EXPECT_EQ(user_error_of([&] { read_all(f); }),
            f + ":2: no \"text\" string (expected {\"id\":..,\"text\":..,\"lang\":..} per line)");
  write_file(f, "{\"text\":\"ok\",\"lang\":3}\n");
  EXPECT_EQ(user_error_of([&] { read_all(f); }), f + ":1: \"lang\" must be a string");
  write_file(f, "{\"text\":\"ok\",\"id\":[1]}\n");
  EXPECT_EQ(user_error_of([&] { read_all(f); }), f + ":1: \"id\" must be a string or an integer");
}

TEST(Corpus, PlainTextLinesAreTweets) {
  TempDir d;
  write_file(d / "t.txt", "first tweet\r\n\n\t \nsecond \xFF tweet\nlast without newline");
  const auto r = read_all(d / "t.txt");
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].text, "first tweet");
  EXPECT_EQ(r[1].text, "second \xEF\xBF\xBD tweet");  // invalid UTF-8 becomes U+FFFD
  EXPECT_EQ(r[2].text, "last without newline");
  EXPECT_EQ(r[0].id, "");
}

TEST(Corpus, LineParserGivesTheTextOrTheProblem) {
  CorpusLineParser p;
  std::string err;
  EXPECT_EQ(p.text(R"({"id":"1","text":"caf\u00e9"})", err), "caf\xC3\xA9");
  EXPECT_EQ(err, "");
  EXPECT_EQ(p.text(R"({"txt":"no"})", err), "");
  EXPECT_EQ(err.rfind("no \"text\" string", 0), 0u) << err;
  EXPECT_EQ(p.text(R"({"text":"again"})", err), "again");
  EXPECT_EQ(err, "");  // cleared by a good line
}

}  // namespace
}  // namespace tlm
