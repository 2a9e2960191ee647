// Unit tests for data/reader: format names, detect_format on every fixture, expand_inputs
// (archive directories, plain directories, errors), and every format reader against the
// hand-written fixtures: exact texts, ids, languages, users, retweet flags, line / record
// numbers of tweets and of malformed records, and compressed copies reading the same.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/check.h"
#include "data/reader.h"
#include "data/source.h"
#include "fixtures.h"

namespace tlm {
namespace {

using testing::collect;
using testing::data_path;
using testing::slurp;
using testing::TempDir;
using testing::write_file;

constexpr auto kArchive = static_cast<uint8_t>(SourceFormat::archive);
constexpr auto kV1 = static_cast<uint8_t>(SourceFormat::v1);
constexpr auto kV2 = static_cast<uint8_t>(SourceFormat::v2);

struct Want {
  uint64_t line;
  std::string id, user, lang, created_at;
  bool retweet;
  uint8_t format;
  std::string text;
};

void expect_tweets(const std::vector<RawTweet>& got, const std::vector<Want>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(what + " tweet #" + std::to_string(i));
    EXPECT_EQ(got[i].line, want[i].line);
    EXPECT_EQ(got[i].id, want[i].id);
    EXPECT_EQ(got[i].user, want[i].user);
    EXPECT_EQ(got[i].lang, want[i].lang);
    EXPECT_EQ(got[i].created_at, want[i].created_at);
    EXPECT_EQ(got[i].retweet, want[i].retweet);
    EXPECT_EQ(got[i].format, want[i].format);
    EXPECT_EQ(got[i].text, want[i].text);
  }
}

bool same_tweet(const RawTweet& a, const RawTweet& b) {
  return a.text == b.text && a.id == b.id && a.lang == b.lang && a.created_at == b.created_at && a.user == b.user &&
         a.retweet == b.retweet && a.line == b.line && a.format == b.format;
}

Format detect(const std::string& path, const std::string& column = "text") {
  return detect_format(read_head(path), path, column);
}

TEST(Formats, NamesAndParsing) {
  EXPECT_EQ(parse_format("auto"), Format::automatic);
  EXPECT_EQ(parse_format("archive"), Format::archive);
  for (const char* j : {"json", "jsonl", "v1", "v1.1", "v2"}) EXPECT_EQ(parse_format(j), Format::json) << j;
  EXPECT_EQ(parse_format("csv"), Format::csv);
  EXPECT_EQ(parse_format("txt"), Format::text);
  EXPECT_EQ(parse_format("fortune"), Format::fortune);
  EXPECT_THROW(parse_format("xml"), UserError);
  EXPECT_THROW(parse_format("JSON"), UserError);
  for (Format f : {Format::automatic, Format::archive, Format::json, Format::csv, Format::text, Format::fortune})
    EXPECT_EQ(parse_format(format_name(f)), f);
  EXPECT_STREQ(source_format_name(SourceFormat::v1), "api_v1.1");
  EXPECT_STREQ(source_format_name(SourceFormat::v2), "api_v2");
  EXPECT_STREQ(source_format_name(SourceFormat::fortune), "fortune");
}

TEST(DetectFormat, EveryFixture) {
  EXPECT_EQ(detect(data_path("archive/data/tweets.js")), Format::archive);
  EXPECT_EQ(detect(data_path("archive/data/tweets-part1.js")), Format::archive);
  EXPECT_EQ(detect(data_path("archive_old/data/tweet.js")), Format::archive);
  EXPECT_EQ(detect(data_path("tweets.js")), Format::archive);
  for (const char* j : {"v1.jsonl", "v2.jsonl", "v2_page.json", "v2_pages.jsonl"})
    EXPECT_EQ(detect(data_path(j)), Format::json) << j;
  EXPECT_EQ(detect(data_path("tweets.csv")), Format::csv);  // behind a BOM, CRLF header
  EXPECT_EQ(detect(data_path("tweets_truncated.csv")), Format::csv);
  EXPECT_EQ(detect(data_path("tweets.txt")), Format::text);
  EXPECT_EQ(detect(data_path("fortunes")), Format::fortune);
  // A file named .csv is CSV; otherwise the header must name the text column.
  EXPECT_EQ(detect(data_path("tweets.csv"), "body"), Format::csv);
  TempDir tmp;
  std::filesystem::copy_file(data_path("tweets.csv"), tmp / "export.dat");
  EXPECT_EQ(detect(tmp / "export.dat"), Format::csv);
  EXPECT_EQ(detect(tmp / "export.dat", "body"), Format::text);
  testing::gzip_file(data_path("tweets_truncated.csv"), tmp / "named.csv.gz");
  EXPECT_EQ(detect(tmp / "named.csv.gz", "body"), Format::csv);
}

TEST(DetectFormat, EdgeCases) {
  EXPECT_EQ(detect_format("", "e", "text"), Format::text);
  EXPECT_EQ(detect_format(" \n\r\n", "e", "text"), Format::text);
  EXPECT_EQ(detect_format("\xEF\xBB\xBF  [{\"text\":\"a\"}]", "e", "text"), Format::json);
  EXPECT_EQ(detect_format("hello, world\nsecond line\n", "e", "text"), Format::text);
  EXPECT_EQ(detect_format("%\nfirst fortune\n", "e", "text"), Format::fortune);
  EXPECT_EQ(detect_format("a fortune\r\n%\r\nanother\r\n", "e", "text"), Format::fortune);
  EXPECT_EQ(detect_format("Text,Id\nhi,1\n", "e", "text"), Format::csv);
  try {
    detect_format(std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16), "photo.png", "text");
    FAIL() << "expected a UserError";
  } catch (const UserError& e) {
    EXPECT_EQ(e.input(), "photo.png");
    EXPECT_NE(std::string(e.what()).find("binary"), std::string::npos);
  }
}

TEST(ArchiveTweetFiles, FindsAndOrdersParts) {
  auto files = archive_tweet_files(data_path("archive"));
  ASSERT_EQ(files.size(), 2u);
  EXPECT_TRUE(files[0].ends_with("/data/tweets.js")) << files[0];
  EXPECT_TRUE(files[1].ends_with("/data/tweets-part1.js")) << files[1];
  auto old = archive_tweet_files(data_path("archive_old"));
  ASSERT_EQ(old.size(), 1u);
  EXPECT_TRUE(old[0].ends_with("/data/tweet.js"));

  TempDir tmp;
  for (const char* f : {"tweets-part10.js", "tweets-part2.js", "tweets.js", "tweets-part1.js", "tweet-headers.js",
                        "deleted-tweets.js", "tweetdeck.js", "like.js", "tweets.txt"})
    write_file(tmp / ("data/" + std::string(f)), "window.YTD.x.part0 = []");
  std::filesystem::create_directories(tmp / "data/tweets_media");
  std::vector<std::string> names;
  for (const auto& p : archive_tweet_files(tmp.path())) names.push_back(std::filesystem::path(p).filename().string());
  EXPECT_EQ(names, (std::vector<std::string>{"tweets.js", "tweets-part1.js", "tweets-part2.js", "tweets-part10.js"}));
  TempDir none;
  write_file(none / "notes.txt", "hello\n");
  EXPECT_TRUE(archive_tweet_files(none.path()).empty());
}

TEST(ExpandInputs, ArchiveDirectoryIsOneInput) {
  auto in = expand_inputs({data_path("archive")}, {});
  ASSERT_EQ(in.size(), 1u);
  EXPECT_EQ(in[0].path, data_path("archive"));
  EXPECT_EQ(in[0].format, Format::archive);
  EXPECT_EQ(in[0].size, slurp(data_path("archive/data/tweets.js")).size() +
                            slurp(data_path("archive/data/tweets-part1.js")).size());
}

TEST(ExpandInputs, FilesKeepTheirOrderAndForcedFormat) {
  auto in = expand_inputs({data_path("v1.jsonl"), data_path("fortunes"), data_path("tweets.csv")}, {});
  ASSERT_EQ(in.size(), 3u);
  EXPECT_EQ(in[0].format, Format::json);
  EXPECT_EQ(in[1].format, Format::fortune);
  EXPECT_EQ(in[2].format, Format::csv);
  EXPECT_EQ(in[0].size, slurp(data_path("v1.jsonl")).size());
  ReadOptions forced;
  forced.format = Format::text;
  auto t = expand_inputs({data_path("tweets.csv")}, forced);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].format, Format::text);
}

// A plain directory becomes its regular files, sorted, each with its own format; hidden files,
// symlinks, subdirectories and binary files are skipped.
TEST(ExpandInputs, PlainDirectory) {
  TempDir tmp;
  for (const char* f : {"v1.jsonl", "tweets.csv", "tweets.txt", "fortunes"})
    std::filesystem::copy_file(data_path(f), tmp / f);
  write_file(tmp / ".hidden.txt", "secret\n");
  write_file(tmp / "image.png", std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0", 18));
  std::filesystem::create_symlink(data_path("tweets.txt"), tmp / "link.txt");
  std::filesystem::create_directories(tmp / "sub");
  write_file(tmp / "sub/nested.txt", "nested\n");

  auto in = expand_inputs({tmp.path()}, {});
  std::vector<std::pair<std::string, Format>> got;
  for (const auto& i : in) got.push_back({std::filesystem::path(i.path).filename().string(), i.format});
  EXPECT_EQ(got, (std::vector<std::pair<std::string, Format>>{{"fortunes", Format::fortune},
                                                              {"tweets.csv", Format::csv},
                                                              {"tweets.txt", Format::text},
                                                              {"v1.jsonl", Format::json}}));
  for (const auto& i : in) EXPECT_EQ(i.size, slurp(i.path).size()) << i.path;

  // With a forced format the binary file is still skipped (the documented contract).
  ReadOptions forced;
  forced.format = Format::text;
  auto t = expand_inputs({tmp.path()}, forced);
  ASSERT_EQ(t.size(), 4u);
  for (const auto& i : t) {
    EXPECT_EQ(i.format, Format::text);
    EXPECT_FALSE(i.path.ends_with("image.png"));
  }
}

TEST(ExpandInputs, Errors) {
  try {
    expand_inputs({"/nonexistent/tlm/nope.jsonl"}, {});
    FAIL() << "expected a UserError";
  } catch (const UserError& e) {
    EXPECT_EQ(e.input(), "/nonexistent/tlm/nope.jsonl");
    EXPECT_NE(std::string(e.what()).find("no such file"), std::string::npos);
  }
  TempDir empty;
  EXPECT_THROW(expand_inputs({empty.path()}, {}), UserError);
  TempDir binary;
  write_file(binary / "a.bin", std::string("\0\1\2\3", 4));
  EXPECT_THROW(expand_inputs({binary.path()}, {}), UserError);
  EXPECT_THROW(expand_inputs({binary / "a.bin"}, {}), UserError);  // named explicitly: an error, not a skip
}

const std::vector<Want> kArchiveTweets = {
    {1, "1050118621198921728", "", "en", "Wed Oct 10 20:19:24 +0000 2018", false, kArchive,
     "Just setting up my blog &amp; loving it &lt;3 https://t.co/AbCdEf1234"},
    // Archives carry no retweet metadata: the "RT @" text is what prepare goes by.
    {2, "1050118621198921729", "", "en", "Wed Oct 10 21:02:11 +0000 2018", false, kArchive,
     "RT @jack: just setting up my twttr"},
    {3, "1050300000000000001", "", "es", "Thu Oct 11 08:15:00 +0000 2018", false, kArchive,
     "@maria_g ¡Feliz cumpleaños! 🎂🎉 nos vemos pronto"},
    {4, "1050400000000000002", "", "und", "Fri Oct 12 17:45:09 +0000 2018", false, kArchive, "😂😂😂"},
    {1, "1060000000000000003", "", "fr", "Sat Nov 10 09:00:00 +0000 2018", false, kArchive,
     "Il fait beau aujourd&#39;hui à #Paris ☀️"},
    {2, "1060000000000000004", "", "en", "Sun Nov 11 12:30:45 +0000 2018", false, kArchive,
     "@jack @biz thanks for the follow! see www.example.com/about"},
};

TEST(ReadArchive, Directory) {
  auto c = collect([](const BatchSink& s) { read_archive(data_path("archive"), s); });
  expect_tweets(c.all.tweets, kArchiveTweets, "archive");
  EXPECT_TRUE(c.all.errors.empty());
  EXPECT_EQ(c.batches, 2u);  // one per part file
}

TEST(ReadArchive, SingleFileAndOlderLayout) {
  auto c = collect([](const BatchSink& s) { read_archive(data_path("tweets.js"), s); });
  expect_tweets(c.all.tweets,
                {{1, "1234567890123456789", "", "en", "Mon Mar 02 14:07:33 +0000 2020", false, kArchive,
                  "Shipped it! 3 &gt; 2 and tests are green https://t.co/Zx9Yw8Vu7T"},
                 {2, "1234567890123456790", "", "en", "Mon Mar 02 15:00:00 +0000 2020", false, kArchive,
                  "RT @opensource: Release notes are out for v2.0"},
                 {3, "1234567890123456791", "", "ja", "Tue Mar 03 07:30:00 +0000 2020", false, kArchive,
                  "おはようございます☕ 今日も頑張ろう"}},
                "tweets.js");
  // 2019-era archives: tweet.js, window.YTD.tweet.part0, no {"tweet": ...} wrapper.
  auto o = collect([](const BatchSink& s) { read_archive(data_path("archive_old"), s); });
  expect_tweets(o.all.tweets,
                {{1, "20", "", "en", "Tue Mar 21 20:50:14 +0000 2006", false, kArchive, "just setting up my twttr"},
                 {2, "29", "", "en", "Tue Mar 21 21:02:00 +0000 2006", false, kArchive,
                  "inviting coworkers &amp; friends"}},
                "archive_old");
}

TEST(ReadArchive, Errors) {
  EXPECT_THROW(read_archive(data_path("v1.jsonl"), [](RecordBatch&) {}), UserError);  // no window.YTD prefix
  TempDir tmp;
  EXPECT_THROW(read_archive(tmp.path(), [](RecordBatch&) {}), UserError);  // no tweets.js
  std::string js = slurp(data_path("tweets.js"));
  write_file(tmp / "cut/data/tweets.js", js.substr(0, js.size() / 2));
  try {
    read_archive(tmp / "cut", [](RecordBatch&) {});
    FAIL() << "expected a UserError";
  } catch (const UserError& e) {
    EXPECT_TRUE(e.input().ends_with("cut/data/tweets.js")) << e.input();
    EXPECT_NE(std::string(e.what()).find("invalid JSON"), std::string::npos) << e.what();
  }
}

// Detected by magic bytes: a gzip-compressed archive part keeps its .js name.
TEST(ReadArchive, CompressedPartFiles) {
  TempDir tmp;
  testing::gzip_file(data_path("archive/data/tweets.js"), tmp / "a/data/tweets.js");
  testing::zstd_file(data_path("archive/data/tweets-part1.js"), tmp / "a/data/tweets-part1.js");
  auto in = expand_inputs({tmp / "a"}, {});
  ASSERT_EQ(in.size(), 1u);
  EXPECT_EQ(in[0].format, Format::archive);
  auto c = collect([&](const BatchSink& s) { read_input(in[0], {}, s); });
  expect_tweets(c.all.tweets, kArchiveTweets, "compressed archive");
}

const std::string kV1Text1 =
    "To make room for more expression, we will now count all emojis as equal—including those with gender\u200d\u200d "
    "and skin tone modifiers 👍🏻👍🏽👍🏿. This is now reflected in Twitter-Text, our Open Source library.";

TEST(ReadJson, ApiV1Lines) {
  auto c = collect([](const BatchSink& s) { read_json(data_path("v1.jsonl"), s); });
  expect_tweets(c.all.tweets,
                {{1, "1050118621198921728", "TwitterAPI", "en", "Wed Oct 10 20:19:24 +0000 2018", false, kV1, kV1Text1},
                 {2, "1050300000000000010", "devrel_bot", "en", "Thu Oct 11 09:00:00 +0000 2018", false, kV1,
                  "Hello from extended mode &amp; friends @TwitterDev"},
                 {3, "1050300000000000011", "fan_account", "en", "Thu Oct 11 10:00:00 +0000 2018", true, kV1,
                  "RT @TwitterDev: Check out our new docs"},
                 {4, "1050300000000000012", "early_bird", "en", "Thu Oct 11 11:00:00 +0000 2018", false, kV1,
                  "Good morning 😀🌞"},
                 {5, "1050300000000000013", "halfway", "en", "Thu Oct 11 12:00:00 +0000 2018", false, kV1,
                  "broken emoji \uFFFD here"},
                 {8, "1050300000000000015", "win_user", "en", "Thu Oct 11 14:00:00 +0000 2018", false, kV1,
                  "Windows line endings are fine"},
                 {10, "1050300000000000016", "tokyo_sky", "ja", "Thu Oct 11 15:00:00 +0000 2018", false, kV1,
                  "今日は良い天気ですね"},
                 {11, "1050300000000000017", "quoter", "en", "Thu Oct 11 16:00:00 +0000 2018", false, kV1,
                  "This is so true https://t.co/QuOtE12345"}},
                "v1.jsonl");
  // Line 5 holds a lone surrogate escape (\ud83d), which simdjson rejects: the line is parsed
  // again with the escape replaced by U+FFFD, so the tweet is kept and never carries invalid
  // UTF-8. Lines 6 and 7 are malformed, reported with their lines.
  ASSERT_EQ(c.all.errors.size(), 2u);
  EXPECT_EQ(c.all.errors[0].line, 6u);
  EXPECT_NE(c.all.errors[0].what.find("invalid JSON"), std::string::npos) << c.all.errors[0].what;
  EXPECT_EQ(c.all.errors[1].line, 7u);
  EXPECT_EQ(c.all.errors[1].what, "no text field");
  EXPECT_EQ(c.bytes, slurp(data_path("v1.jsonl")).size());
}

// Strings simdjson rejects are repaired, not dropped: invalid UTF-8 bytes and lone surrogate
// escapes become U+FFFD; proper pairs and an escaped backslash before "u" stay as they are.
TEST(ReadJson, InvalidStringsAreRepairedNotDropped) {
  TempDir tmp;
  write_file(tmp / "bad.jsonl",
             "{\"text\":\"bytes \xff\xfe end\",\"id\":\"1\"}\n"
             "{\"text\":\"low \\udc00 alone, pair \\ud83d\\ude00, literal \\\\ud83d\",\"id\":\"2\"}\n"
             "{\"text\":\"two highs \\ud83d\\ud83d then\",\"id\":\"3\"}\n"
             "{\"text\": \xff}\n");
  auto c = collect([&](const BatchSink& s) { read_json(tmp / "bad.jsonl", s); });
  ASSERT_EQ(c.all.tweets.size(), 3u);
  EXPECT_EQ(c.all.tweets[0].text, "bytes \uFFFD\uFFFD end");
  EXPECT_EQ(c.all.tweets[1].text, "low \uFFFD alone, pair \U0001F600, literal \\ud83d");
  EXPECT_EQ(c.all.tweets[2].text, "two highs \uFFFD\uFFFD then");
  ASSERT_EQ(c.all.errors.size(), 1u);  // a bad byte outside any string is still malformed
  EXPECT_EQ(c.all.errors[0].line, 4u);
}

TEST(ReadJson, ApiV2Lines) {
  auto c = collect([](const BatchSink& s) { read_json(data_path("v2.jsonl"), s); });
  expect_tweets(
      c.all.tweets,
      {{1, "1460323737035677698", "2244994945", "en", "2021-11-15T19:08:05.000Z", false, kV2,
        "Introducing a new era for the Twitter Developer Platform! 📣\n\n✅ Tweets, Users, Spaces https://t.co/NlZkGtU8rP"},
       {2, "1600000000000000001", "1200", "en", "2023-02-01T10:00:00.000Z", false, kV2,
        "This is the first part of a long post that gets cut off in the text field, but note_tweet holds all of it, "
        "which is what a model should learn from."},
       {3, "1600000000000000002", "1300", "en", "2023-02-01T11:00:00.000Z", true, kV2,
        "RT @XDevelopers: The v2 endpoints are live"},
       {4, "1600000000000000003", "1400", "en", "2023-02-01T12:00:00.000Z", false, kV2,
        "This is so cool! https://t.co/QqQqQqQqQq"},
       {5, "1600000000000000004", "1500", "de", "2023-02-01T13:00:00.000Z", false, kV2,
        "@helper_42 Danke schön für die Hilfe!"},
       {6, "1600000000000000005", "1600", "en", "2023-02-02T08:00:00.000Z", false, kV2, "First post of the page"},
       {6, "1600000000000000006", "1601", "es", "2023-02-02T08:01:00.000Z", false, kV2, "Segundo post de la página"},
       {7, "1600000000000000007", "1700", "en", "2023-02-03T09:00:00.000Z", false, kV2, "Looked up by id"}},
      "v2.jsonl");
  EXPECT_TRUE(c.all.errors.empty());
}

TEST(ReadJson, ApiV2PrettyPrintedPage) {
  auto c = collect([](const BatchSink& s) { read_json(data_path("v2_page.json"), s); });
  const std::string t = "Today we are sharing our plans for the v2 API &amp; the new access levels 🧵";
  // A whole-file document: line holds the record number.
  expect_tweets(c.all.tweets,
                {{1, "1524796546306478083", "2244994945", "en", "2022-05-12T17:00:00.000Z", false, kV2, t},
                 {2, "1524796547287953408", "2244994945", "en", "2022-05-12T17:00:01.000Z", false, kV2,
                  "1/ Essential access is free and instant.\nElevated gives you more."},
                 {3, "1524819000000000000", "6253282", "en", "2022-05-12T18:30:00.000Z", true, kV2,
                  "RT @TwitterDev: " + t}},
                "v2_page.json");
  EXPECT_TRUE(c.all.errors.empty());
}

TEST(ReadJson, ApiV2PagePerLine) {
  auto c = collect([](const BatchSink& s) { read_json(data_path("v2_pages.jsonl"), s); });
  expect_tweets(c.all.tweets,
                {{1, "1630000000000000001", "2244994945", "en", "2023-03-01T10:00:00.000Z", false, kV2,
                  "Page one, post one #buildinpublic"},
                 {1, "1630000000000000002", "783214", "en", "2023-03-01T10:05:00.000Z", true, kV2,
                  "RT @X: Page one, post two"},
                 {2, "1630000000000000003", "17874544", "fr", "2023-03-01T09:00:00.000Z", false, kV2,
                  "Page deux : bonjour à tous"}},
                "v2_pages.jsonl");
  ASSERT_EQ(c.all.errors.size(), 1u);  // the errors-only response; the empty page is no error
  EXPECT_EQ(c.all.errors[0].line, 3u);
  EXPECT_EQ(c.all.errors[0].what, "no text field");
}

TEST(ReadJson, TopLevelArrayNumbersRecords) {
  TempDir tmp;
  write_file(tmp / "arr.json",
             "[\n  {\"id_str\": \"1\", \"text\": \"first\", \"user\": {\"screen_name\": \"a\"}},\n"
             "  {\"id\": 2, \"text\": \"second\", \"author_id\": \"7\"},\n  42,\n  {\"id\": \"4\"}\n]\n");
  auto c = collect([&](const BatchSink& s) { read_json(tmp / "arr.json", s); });
  expect_tweets(c.all.tweets,
                {{1, "1", "a", "", "", false, kV1, "first"}, {2, "2", "7", "", "", false, kV2, "second"}}, "arr.json");
  ASSERT_EQ(c.all.errors.size(), 2u);
  EXPECT_EQ(c.all.errors[0].line, 0u);
  EXPECT_EQ(c.all.errors[0].what, "record 3: expected a JSON object");
  EXPECT_EQ(c.all.errors[1].what, "record 4: no text field");
}

TEST(ReadJson, BrokenFirstLineLosesOneRecord) {
  TempDir tmp;
  write_file(tmp / "b.jsonl", "{\"text\": \"cut\n{\"text\": \"ok one\"}\n\n{\"text\": \"ok two\", \"lang\": \"en\"}");
  auto c = collect([&](const BatchSink& s) { read_json(tmp / "b.jsonl", s); });
  ASSERT_EQ(c.all.tweets.size(), 2u);
  EXPECT_EQ(c.all.tweets[0].text, "ok one");
  EXPECT_EQ(c.all.tweets[0].line, 2u);
  EXPECT_EQ(c.all.tweets[1].text, "ok two");
  EXPECT_EQ(c.all.tweets[1].line, 4u);
  ASSERT_EQ(c.all.errors.size(), 1u);
  EXPECT_EQ(c.all.errors[0].line, 1u);
}

TEST(ReadJson, EmptyAndBlankFiles) {
  TempDir tmp;
  write_file(tmp / "e.jsonl", "");
  write_file(tmp / "b.jsonl", "\n  \n\r\n");
  for (const char* f : {"e.jsonl", "b.jsonl"}) {
    auto c = collect([&](const BatchSink& s) { read_json(tmp / f, s); });
    EXPECT_TRUE(c.all.tweets.empty()) << f;
    EXPECT_TRUE(c.all.errors.empty()) << f;
  }
}

// Many lines: parsed in parallel, but order and line numbers are those of the file.
TEST(ReadJson, ManyLinesKeepOrder) {
  TempDir tmp;
  std::string s;
  for (int i = 1; i <= 5000; ++i)
    s += i % 997 == 0 ? "not json\n" : "{\"id\":\"" + std::to_string(i) + "\",\"text\":\"tweet " + std::to_string(i) + "\"}\n";
  write_file(tmp / "many.jsonl", s);
  auto c = collect([&](const BatchSink& sink) { read_json(tmp / "many.jsonl", sink); });
  ASSERT_EQ(c.all.tweets.size() + c.all.errors.size(), 5000u);
  ASSERT_EQ(c.all.errors.size(), 5u);
  uint64_t prev = 0;
  for (const auto& t : c.all.tweets) {
    ASSERT_GT(t.line, prev);
    ASSERT_EQ(t.id, std::to_string(t.line));
    ASSERT_EQ(t.text, "tweet " + t.id);
    prev = t.line;
  }
  for (size_t k = 0; k < c.all.errors.size(); ++k) EXPECT_EQ(c.all.errors[k].line, 997 * (k + 1));
}

// Files larger than one 8 MiB block: no record is lost, split or renumbered at the cut.
TEST(ReadInput, FilesLargerThanOneBlock) {
  TempDir tmp;
  std::string jsonl, text, fortune;
  uint64_t n = 0;
  while (jsonl.size() < (9u << 20)) {
    ++n;
    std::string s = std::to_string(n);
    jsonl += "{\"id\":\"" + s + "\",\"text\":\"tweet number " + s + " with some padding text\"}\n";
    text += "line " + s + " of a long plain text file, padded to be as long as a JSON line\r\n";
    fortune += "fortune " + s + ", padded to be as long as a JSON line\nsecond line of " + s + "\n%\n";
  }
  write_file(tmp / "big.jsonl", jsonl);
  write_file(tmp / "big.txt", text);
  write_file(tmp / "big.fortune", fortune);
  auto j = collect([&](const BatchSink& s) { read_json(tmp / "big.jsonl", s); });
  auto t = collect([&](const BatchSink& s) { read_text_lines(tmp / "big.txt", s); });
  auto f = collect([&](const BatchSink& s) { read_fortune(tmp / "big.fortune", s); });
  EXPECT_GE(j.batches, 2u);
  EXPECT_GE(t.batches, 2u);
  EXPECT_GE(f.batches, 2u);
  EXPECT_TRUE(j.all.errors.empty());
  ASSERT_EQ(j.all.tweets.size(), n);
  ASSERT_EQ(t.all.tweets.size(), n);
  ASSERT_EQ(f.all.tweets.size(), n);
  for (uint64_t i = 0; i < n; ++i) {
    std::string s = std::to_string(i + 1);
    ASSERT_EQ(j.all.tweets[i].line, i + 1);
    ASSERT_EQ(j.all.tweets[i].id, s);
    ASSERT_EQ(j.all.tweets[i].text, "tweet number " + s + " with some padding text");
    ASSERT_EQ(t.all.tweets[i].line, i + 1);
    ASSERT_EQ(t.all.tweets[i].text, "line " + s + " of a long plain text file, padded to be as long as a JSON line");
    ASSERT_EQ(f.all.tweets[i].line, 3 * i + 1);
    ASSERT_EQ(f.all.tweets[i].text, "fortune " + s + ", padded to be as long as a JSON line\nsecond line of " + s);
  }
}

TEST(ReadText, OneTweetPerLine) {
  auto c = collect([](const BatchSink& s) { read_text_lines(data_path("tweets.txt"), s); });
  const std::vector<std::string> want = {
      "Just landed in Tokyo \u2708\uFE0F so excited!",
      "مرحبا بكم في تويتر 🌙",
      "שלום עולם! מה שלומכם?",
      "",
      "Family day 👩\u200D👩\u200D👧 at the park",
      "Cafe\u0301 au lait, s'il vous plai\u0302t",
      "zero\u200Bwidth space, no\uFEFF" "break and a bell\a!",
      "   spaced\u00A0out\u3000text \t with  tabs   ",
      "",
      "last line has no newline",
  };
  ASSERT_EQ(c.all.tweets.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(c.all.tweets[i].text, want[i]) << "line " << i + 1;
    EXPECT_EQ(c.all.tweets[i].line, i + 1);
    EXPECT_EQ(c.all.tweets[i].format, static_cast<uint8_t>(SourceFormat::text));
    EXPECT_TRUE(c.all.tweets[i].id.empty());
  }
  EXPECT_TRUE(c.all.errors.empty());
}

TEST(ReadFortune, EntriesBetweenPercentLines) {
  auto c = collect([](const BatchSink& s) { read_fortune(data_path("fortunes"), s); });
  std::vector<std::pair<uint64_t, std::string>> got;
  for (const auto& t : c.all.tweets) {
    got.push_back({t.line, t.text});
    EXPECT_EQ(t.format, static_cast<uint8_t>(SourceFormat::fortune));
  }
  EXPECT_EQ(got, (std::vector<std::pair<uint64_t, std::string>>{
                     {1, "A day without sunshine is like, you know, night."},
                     {3, "Q: How many programmers does it take to change a light bulb?\nA: None, that's a hardware problem."},
                     {6, "The best way to predict the future is to invent it.\n\t\t-- Alan Kay"},
                     {10, "Life is what happens to you while you're busy making other plans."}}));
}

TEST(ReadInput, DispatchesOnFormat) {
  auto csv = collect([](const BatchSink& s) { read_input({data_path("tweets.csv"), Format::csv, 0}, {}, s); });
  EXPECT_EQ(csv.all.tweets.size(), 8u);
  // The same file forced to text: every line is a tweet (the header and the CRLF blank line too).
  auto txt = collect([](const BatchSink& s) { read_input({data_path("tweets.csv"), Format::text, 0}, {}, s); });
  EXPECT_EQ(txt.all.tweets.size(), 12u);
  EXPECT_EQ(txt.all.tweets[0].text, "id,created_at,username,lang,text,retweet_count");
  ReadOptions opt;
  opt.text_column = "username";
  auto users = collect([&](const BatchSink& s) { read_input({data_path("tweets.csv"), Format::csv, 0}, opt, s); });
  ASSERT_EQ(users.all.tweets.size(), 9u);  // the short row has a username
  EXPECT_EQ(users.all.tweets[0].text, "jack");
  EXPECT_THROW(read_input({data_path("tweets.csv"), Format::automatic, 0}, {}, [](RecordBatch&) {}), InternalError);
}

// Every fixture read through gzip and zstd copies gives the same tweets and errors.
TEST(ReadInput, CompressedCopiesReadIdentically) {
  TempDir tmp;
  const std::pair<const char*, Format> fixtures[] = {
      {"v1.jsonl", Format::json},     {"v2.jsonl", Format::json},  {"v2_page.json", Format::json},
      {"v2_pages.jsonl", Format::json}, {"tweets.csv", Format::csv}, {"tweets_truncated.csv", Format::csv},
      {"tweets.txt", Format::text},   {"fortunes", Format::fortune}, {"tweets.js", Format::archive}};
  for (const auto& [name, format] : fixtures) {
    auto plain = collect([&](const BatchSink& s) { read_input({data_path(name), format, 0}, {}, s); });
    testing::gzip_file(data_path(name), tmp / (std::string(name) + ".gz"));
    testing::zstd_file(data_path(name), tmp / (std::string(name) + ".zst"));
    for (const char* ext : {".gz", ".zst"}) {
      std::string path = tmp / (std::string(name) + ext);
      SCOPED_TRACE(path);
      EXPECT_EQ(detect(path), format);
      auto c = collect([&](const BatchSink& s) { read_input({path, format, 0}, {}, s); });
      ASSERT_EQ(c.all.tweets.size(), plain.all.tweets.size());
      for (size_t i = 0; i < plain.all.tweets.size(); ++i)
        EXPECT_TRUE(same_tweet(c.all.tweets[i], plain.all.tweets[i])) << "tweet " << i;
      ASSERT_EQ(c.all.errors.size(), plain.all.errors.size());
      for (size_t i = 0; i < plain.all.errors.size(); ++i) {
        EXPECT_EQ(c.all.errors[i].line, plain.all.errors[i].line);
        EXPECT_EQ(c.all.errors[i].what, plain.all.errors[i].what);
      }
    }
  }
}

}  // namespace
}  // namespace tlm
