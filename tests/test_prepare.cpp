// Unit tests for data/prepare on the hand-written fixtures: report counts per format and per
// drop rule, malformed examples as file:line, the output JSONL (fields, normalization, valid
// UTF-8), filters, exact and near de-duplication, --strict, byte-identical output whatever the
// thread count, and atomic outputs (a failed run leaves no partial or temporary files).
#include <gtest/gtest.h>

#include <ctime>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/threads.h"
#include "core/rng.h"
#include "data/prepare.h"
#include "data/tweet_time.h"
#include "fixtures.h"

namespace tlm {
namespace {

using nlohmann::json;
using testing::data_path;
using testing::slurp;
using testing::TempDir;
using testing::write_file;

PrepareOptions options(const std::vector<std::string>& inputs, const std::string& outdir) {
  PrepareOptions o;
  o.inputs = inputs;
  o.outdir = outdir;
  o.split = {1, 0, 0};  // everything in train.jsonl, in source order, unless a test says otherwise
  return o;
}

std::vector<json> read_jsonl(const std::string& path) {
  std::vector<json> out;
  for (const auto& line : testing::split_lines(slurp(path))) out.push_back(json::parse(line));  // throws on bad UTF-8
  return out;
}

std::vector<std::string> texts(const std::string& path) {
  std::vector<std::string> out;
  for (const auto& j : read_jsonl(path)) out.push_back(j.at("text"));
  return out;
}

std::vector<std::string> dir_entries(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

uint64_t by_format(const PrepareReport& r, SourceFormat f) { return r.read_by_format[static_cast<int>(f)]; }

TEST(Prepare, ApiV1Fixture) {
  TempDir out;
  PrepareReport r = prepare(options({data_path("v1.jsonl")}, out.path()));
  EXPECT_EQ(r.records, 10u);
  EXPECT_EQ(r.malformed, 2u);
  EXPECT_EQ(by_format(r, SourceFormat::v1), 8u);
  EXPECT_EQ(r.retweets, 1u);
  EXPECT_EQ(r.wrong_lang + r.empty + r.too_short + r.duplicates + r.near_duplicates, 0u);
  EXPECT_EQ(r.kept, 7u);
  EXPECT_EQ(r.split_counts[0], 7u);
  EXPECT_EQ(r.languages, (std::map<std::string, uint64_t>{{"en", 6}, {"ja", 1}}));

  // Malformed records are reported as file:line: problem, in source order. Line 5 (a lone
  // surrogate escape) is repaired, not malformed.
  const std::string path = data_path("v1.jsonl");
  ASSERT_EQ(r.malformed_examples.size(), 2u);
  EXPECT_TRUE(r.malformed_examples[0].starts_with(path + ":6: invalid JSON")) << r.malformed_examples[0];
  EXPECT_EQ(r.malformed_examples[1], path + ":7: no text field");

  auto lines = read_jsonl(out / "train.jsonl");
  ASSERT_EQ(lines.size(), 7u);
  EXPECT_EQ(texts(out / "train.jsonl"),
            (std::vector<std::string>{
                "To make room for more expression, we will now count all emojis as equal—including those with "
                "gender\u200d\u200d and skin tone modifiers 👍🏻👍🏽👍🏿. This is now reflected in Twitter-Text, our "
                "Open Source library.",
                "Hello from extended mode & friends @user", "Good morning 😀🌞", "broken emoji \uFFFD here",
                "Windows line endings are fine", "今日は良い天気ですね", "This is so true http"}));
  EXPECT_EQ(lines[5].at("id"), "1050300000000000016");  // from a numeric "id"
  EXPECT_EQ(lines[5].at("lang"), "ja");
  // Field order and escaping are fixed: the exact bytes of one line.
  EXPECT_EQ(testing::split_lines(slurp(out / "train.jsonl"))[1],
            "{\"id\":\"1050300000000000010\",\"text\":\"Hello from extended mode & friends @user\",\"lang\":\"en\","
            "\"created_at\":\"Thu Oct 11 09:00:00 +0000 2018\"}");
  EXPECT_EQ(slurp(out / "val.jsonl"), "");
  EXPECT_EQ(slurp(out / "test.jsonl"), "");
}

TEST(Prepare, ReportFileMatchesReport) {
  TempDir out;
  PrepareReport r = prepare(options({data_path("v2.jsonl"), data_path("tweets.csv")}, out.path()));
  json j = json::parse(slurp(out / "report.json"));
  EXPECT_EQ(j.at("records"), r.records);
  EXPECT_EQ(j.at("kept"), r.kept);
  EXPECT_EQ(j.at("read_by_format").at("api_v2"), 8);
  EXPECT_EQ(j.at("read_by_format").at("csv"), 8);
  EXPECT_FALSE(j.at("read_by_format").contains("text"));
  EXPECT_EQ(j.at("dropped").at("retweet"), 1);
  EXPECT_EQ(j.at("dropped").at("empty"), 1);
  EXPECT_EQ(j.at("dropped").at("malformed"), 1);
  EXPECT_EQ(j.at("malformed_examples").at(0), data_path("tweets.csv") + ":6: row has 3 fields, header has 6");
  ASSERT_EQ(j.at("files").size(), 2u);
  EXPECT_EQ(j.at("files").at(0).at("path"), data_path("v2.jsonl"));
  EXPECT_EQ(j.at("files").at(0).at("format"), "json");
  EXPECT_EQ(j.at("files").at(0).at("tweets"), 8);
  EXPECT_EQ(j.at("files").at(1).at("format"), "csv");
  EXPECT_EQ(j.at("files").at(1).at("malformed"), 1);
  EXPECT_EQ(j.at("files").at(1).at("bytes"), slurp(data_path("tweets.csv")).size());
  EXPECT_EQ(j.at("outputs").size(), 3u);
  EXPECT_FALSE(j.contains("near_dup"));
  // Totals agree with each other.
  uint64_t hist = 0;
  for (uint64_t h : r.length_hist) hist += h;
  uint64_t langs = 0;
  for (const auto& [l, n] : r.languages) langs += n;
  EXPECT_EQ(hist, r.kept);
  EXPECT_EQ(langs, r.kept);
  EXPECT_EQ(r.split_counts[0] + r.split_counts[1] + r.split_counts[2], r.kept);
  EXPECT_EQ(r.bytes_out, slurp(out / "train.jsonl").size() + slurp(out / "val.jsonl").size() +
                             slurp(out / "test.jsonl").size());
  EXPECT_EQ(r.bytes_in, slurp(data_path("v2.jsonl")).size() + slurp(data_path("tweets.csv")).size());
  EXPECT_NE(r.summary().find("kept"), std::string::npos);
}

// Every fixture at once: counts per source format and per drop rule.
TEST(Prepare, AllFixtures) {
  TempDir out;
  std::vector<std::string> in = {data_path("archive"),        data_path("tweets.js"),      data_path("archive_old"),
                                 data_path("v1.jsonl"),       data_path("v2.jsonl"),       data_path("v2_page.json"),
                                 data_path("v2_pages.jsonl"), data_path("tweets.csv"),     data_path("tweets_truncated.csv"),
                                 data_path("tweets.txt"),     data_path("fortunes")};
  PrepareOptions opt = options(in, out.path());
  opt.split = SplitFractions{};  // the default 0.98 / 0.01 / 0.01
  PrepareReport r = prepare(opt);
  EXPECT_EQ(by_format(r, SourceFormat::archive), 11u);
  EXPECT_EQ(by_format(r, SourceFormat::v1), 8u);
  EXPECT_EQ(by_format(r, SourceFormat::v2), 14u);
  EXPECT_EQ(by_format(r, SourceFormat::csv), 10u);
  EXPECT_EQ(by_format(r, SourceFormat::text), 10u);
  EXPECT_EQ(by_format(r, SourceFormat::fortune), 4u);
  EXPECT_EQ(r.malformed, 5u);
  EXPECT_EQ(r.records, 62u);
  EXPECT_EQ(r.retweets, 6u);  // 2 by "RT @" text in archives, 4 by API metadata
  EXPECT_EQ(r.empty, 3u);     // an empty CSV text and two blank text lines
  EXPECT_EQ(r.too_short, 0u);
  EXPECT_EQ(r.duplicates, 0u);
  EXPECT_EQ(r.wrong_lang, 0u);
  EXPECT_EQ(r.kept, 48u);
  EXPECT_EQ(r.files.size(), in.size());
  EXPECT_EQ(r.files[0].path, data_path("archive"));
  EXPECT_EQ(r.files[0].format, "archive");
  EXPECT_EQ(r.files[0].tweets, 6u);
  EXPECT_EQ(r.split_counts[0] + r.split_counts[1] + r.split_counts[2], 48u);

  std::vector<json> all;
  for (const char* s : {"train.jsonl", "val.jsonl", "test.jsonl"})
    for (auto& j : read_jsonl(out / s)) all.push_back(std::move(j));
  ASSERT_EQ(all.size(), 48u);
  size_t with_id = 0;
  for (const auto& j : all) {
    ASSERT_TRUE(j.contains("text"));
    std::string t = j.at("text");
    EXPECT_FALSE(t.empty());
    EXPECT_EQ(t.find("  "), std::string::npos) << t;
    EXPECT_EQ(t.find("https://"), std::string::npos) << t;
    EXPECT_EQ(t.find("&amp;"), std::string::npos) << t;
    EXPECT_FALSE(t.starts_with("RT @")) << t;
    for (const char* k : {"id", "lang", "created_at"}) {
      if (j.contains(k)) {
        EXPECT_FALSE(j.at(k).get<std::string>().empty()) << k;
      }
    }
    if (j.contains("lang")) {
      std::string lang = j.at("lang");
      for (char c : lang) EXPECT_FALSE(c >= 'A' && c <= 'Z') << lang;
    }
    with_id += j.contains("id");
  }
  // Text and fortune lines have no id; every other kept tweet does.
  EXPECT_EQ(with_id, 48u - 8u - 4u);
  // Spot checks of normalization on the fixtures.
  auto has = [&](const std::string& text) {
    return std::any_of(all.begin(), all.end(), [&](const json& j) { return j.at("text") == text; });
  };
  EXPECT_TRUE(has("Just setting up my blog & loving it <3 http"));
  EXPECT_TRUE(has("Il fait beau aujourd'hui à #Paris ☀️"));
  EXPECT_TRUE(has("@user @user thanks for the follow! see http"));
  EXPECT_TRUE(has("Café au lait, s'il vous plaît"));
  EXPECT_TRUE(has("zero\u200Bwidth space, nobreak and a bell!"));
  EXPECT_TRUE(has("spaced out text with tabs"));
  EXPECT_TRUE(has("Line one line two of a multi-line tweet"));
  EXPECT_TRUE(has("Family day 👩\u200D👩\u200D👧 at the park"));
  EXPECT_TRUE(has("This is so cool! http"));  // a v2 quote post is kept
  EXPECT_TRUE(has("Q: How many programmers does it take to change a light bulb? A: None, that's a hardware problem."));
}

TEST(Prepare, RetweetAndLanguageFilters) {
  TempDir a, b;
  PrepareOptions keep = options({data_path("v2.jsonl")}, a.path());
  keep.keep_retweets = true;
  PrepareReport r = prepare(keep);
  EXPECT_EQ(r.retweets, 0u);
  EXPECT_EQ(r.kept, 8u);

  PrepareOptions en = options({data_path("v2.jsonl"), data_path("fortunes")}, b.path());
  en.langs = {"EN"};  // case-insensitive
  r = prepare(en);
  EXPECT_EQ(r.retweets, 1u);
  EXPECT_EQ(r.wrong_lang, 2u);  // de and es; fortunes have no language and pass
  EXPECT_EQ(r.kept, 5u + 4u);
  EXPECT_EQ(r.languages, (std::map<std::string, uint64_t>{{"en", 5}, {"unknown", 4}}));
}

// created_at against glibc's timegm as an independent oracle (the forms one by one are in
// test_search's SearchText.Dates), plus what prepare meets beyond them: a v1.1 offset west of
// UTC, Unix milliseconds, leap days.
TEST(TweetTime, TimegmAgreesAndPrepareForms) {
  EXPECT_EQ(parse_tweet_time("Wed Oct 10 15:19:24 -0500 2018"), 1539202764);
  EXPECT_EQ(parse_tweet_time("1539202764123"), 1539202764);
  EXPECT_EQ(parse_tweet_time("2020-02-29"), 1582934400);
  for (const char* bad : {"", "2019-02-29", "2018-13-01", "2018-10-10T25:00:00Z", "Wed Xyz 10 20:19:24 +0000 2018",
                          "yesterday", "2018-10-10T20:19:24 junk", "12345"})
    EXPECT_FALSE(parse_tweet_time(bad).has_value()) << bad;
  Rng rng(5);
  for (int i = 0; i < 2000; ++i) {
    std::tm tm{};
    tm.tm_year = 70 + int(rng.below(130));
    tm.tm_mon = int(rng.below(12));
    tm.tm_mday = 1 + int(rng.below(28));
    tm.tm_hour = int(rng.below(24));
    tm.tm_min = int(rng.below(60));
    tm.tm_sec = int(rng.below(60));
    char iso[32];
    std::strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
    const int64_t want = int64_t(timegm(&tm));
    ASSERT_EQ(parse_tweet_time(iso), want) << iso;
  }
}

// --since/--until keep since <= created_at <= until (a bare --until date is its whole day, as
// in `search`); undated tweets are dropped and counted.
TEST(Prepare, SinceAndUntilCutByCreatedAt) {
  TempDir tmp, out;
  write_file(tmp / "t.jsonl",
             "{\"id\":\"1\",\"text\":\"from twenty nineteen\",\"created_at\":\"2019-06-01T00:00:00.000Z\"}\n"
             "{\"id\":\"2\",\"text\":\"new year twenty twenty\",\"created_at\":\"2020-01-01T00:00:00.000Z\"}\n"
             "{\"id_str\":\"3\",\"text\":\"a v1 tweet of 2020\",\"created_at\":\"Sat Jun 06 12:00:00 +0000 2020\"}\n"
             "{\"id\":\"4\",\"text\":\"the first second of 2021\",\"created_at\":\"2021-01-01T00:00:00.000Z\"}\n"
             "{\"id\":\"5\",\"text\":\"a tweet without a date\"}\n");
  PrepareOptions opt = options({tmp / "t.jsonl"}, out.path());
  opt.since = parse_date_bound("2020-01-01", false, "--since");
  opt.until = parse_date_bound("2020-12-31", true, "--until");  // the whole last day
  PrepareReport r = prepare(opt);
  EXPECT_EQ(texts(out / "train.jsonl"), (std::vector<std::string>{"new year twenty twenty", "a v1 tweet of 2020"}));
  EXPECT_EQ(r.out_of_range, 2u);
  EXPECT_EQ(r.undated, 1u);
  const json rep = json::parse(slurp(out / "report.json"));
  EXPECT_EQ(rep["dropped"]["date"], 2);
  EXPECT_EQ(rep["dropped"]["undated"], 1);
}

TEST(Prepare, LengthAndExactDuplicates) {
  TempDir tmp, out;
  write_file(tmp / "t.txt",
             "Hello world out there\n"
             "Hello   world out there\n"   // same after whitespace collapse
             "Hello world out there!\n"
             "@alice hello there friend\n"
             "@bob hello there friend\n"   // same after @user
             "see https://t.co/aaa now\n"
             "see https://t.co/bbb now\n"  // same after http
             "ok\n"                         // 2 code points
             "Ok!\n"
             "&amp;\n"                      // "&": 1 code point
             "   \t \n"
             "Hello world out there\n");
  PrepareReport r = prepare(options({tmp / "t.txt"}, out.path()));
  EXPECT_EQ(r.records, 12u);
  EXPECT_EQ(r.duplicates, 4u);
  EXPECT_EQ(r.too_short, 2u);
  EXPECT_EQ(r.empty, 1u);
  EXPECT_EQ(r.kept, 5u);
  EXPECT_EQ(texts(out / "train.jsonl"), (std::vector<std::string>{"Hello world out there", "Hello world out there!",
                                                                   "@user hello there friend", "see http now", "Ok!"}));
  TempDir out2;
  PrepareOptions longer = options({tmp / "t.txt"}, out2.path());
  longer.min_chars = 22;
  r = prepare(longer);
  EXPECT_EQ(r.kept, 2u);  // "Hello world out there!" and "@user hello there friend"
}

TEST(Prepare, NearDuplicates) {
  TempDir tmp, out, off;
  std::string base = "The quarterly results are in and the team hit every single target we set in January, thanks all";
  write_file(tmp / "n.txt", base + "\n" + base + "!!\n" + "A completely unrelated tweet about cats and their many naps\n");
  PrepareOptions opt = options({tmp / "n.txt"}, out.path());
  opt.near_dup = 0.8;
  PrepareReport r = prepare(opt);
  EXPECT_EQ(r.near_duplicates, 1u);
  EXPECT_EQ(r.kept, 2u);
  json j = json::parse(slurp(out / "report.json"));
  EXPECT_EQ(j.at("near_dup").at("threshold"), 0.8);
  EXPECT_EQ(j.at("near_dup").at("bands").get<int>() * j.at("near_dup").at("rows").get<int>() <= 64, true);
  EXPECT_EQ(j.at("dropped").at("near_duplicate"), 1);
  r = prepare(options({tmp / "n.txt"}, off.path()));  // off by default
  EXPECT_EQ(r.kept, 3u);
}

TEST(Prepare, InvalidUtf8IsRepairedInTextAndMetadata) {
  TempDir tmp, out;
  write_file(tmp / "bad.csv", "id,text,lang\n\xFF" "1,caf\xE9 au lait,E\xFFN\n2,fine text,en\n");
  PrepareReport r = prepare(options({tmp / "bad.csv"}, out.path()));
  EXPECT_EQ(r.kept, 2u);
  EXPECT_EQ(r.repaired_utf8, 1u);
  auto lines = read_jsonl(out / "train.jsonl");  // parsing would throw on invalid UTF-8
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].at("text"), "caf\uFFFD au lait");
  EXPECT_EQ(lines[0].at("id"), "\uFFFD" "1");
  EXPECT_EQ(lines[0].at("lang"), "e\uFFFDn");
  // The report holds the language too, and must still be writable JSON.
  EXPECT_EQ(r.languages.count("e\uFFFDn"), 1u);
  json j = json::parse(slurp(out / "report.json"));
  EXPECT_EQ(j.at("languages").at("e\uFFFDn"), 1);
}

TEST(Prepare, MalformedExamplesAreCapped) {
  TempDir tmp, out;
  write_file(tmp / "arr.json", "[{\"text\": \"a fine tweet\"}, 42, {\"id\": \"3\"}]");
  PrepareOptions opt = options({data_path("v1.jsonl"), tmp / "arr.json"}, out.path());
  opt.max_examples = 3;
  PrepareReport r = prepare(opt);
  EXPECT_EQ(r.malformed, 4u);
  ASSERT_EQ(r.malformed_examples.size(), 3u);
  // A whole-document file names the record instead of a line.
  EXPECT_EQ(r.malformed_examples[2], tmp / "arr.json" + ": record 2: expected a JSON object");
}

TEST(Prepare, OptionErrors) {
  TempDir out;
  auto expect_user_error = [](PrepareOptions o, const std::string& input) {
    try {
      prepare(o);
      ADD_FAILURE() << "expected a UserError for " << input;
    } catch (const UserError& e) {
      EXPECT_EQ(e.input(), input) << e.what();
    }
  };
  expect_user_error(options({}, out.path()), "--input");
  expect_user_error(options({data_path("fortunes")}, ""), "--output");
  PrepareOptions bad = options({data_path("fortunes")}, out.path());
  bad.near_dup = 1.5;
  expect_user_error(bad, "--near-dup");
  bad.near_dup = -0.1;
  expect_user_error(bad, "--near-dup");
  expect_user_error(options({out / "missing.jsonl"}, out / "o"), out / "missing.jsonl");
  write_file(out / "afile", "x");
  EXPECT_THROW(prepare(options({data_path("fortunes")}, out / "afile/sub")), UserError);
}

// --strict: the first malformed record stops the run with file:line, and nothing is written.
TEST(Prepare, StrictStopsAtFirstMalformedRecord) {
  TempDir out;
  PrepareOptions opt = options({data_path("v1.jsonl")}, out / "o");
  opt.strict = true;
  try {
    prepare(opt);
    FAIL() << "expected a UserError";
  } catch (const UserError& e) {
    EXPECT_EQ(e.input(), data_path("v1.jsonl") + ":6");
    EXPECT_NE(std::string(e.what()).find("invalid JSON"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--strict"), std::string::npos) << e.what();
  }
  // The output folder this run created is removed again: no half-made folder (issue 16).
  EXPECT_FALSE(std::filesystem::exists(out / "o"));
  // Strict on clean input succeeds.
  opt.inputs = {data_path("v2.jsonl"), data_path("fortunes")};
  EXPECT_EQ(prepare(opt).kept, 7u + 4u);
}

// A run that fails after more than a buffer of output was written (the first input is large,
// the second is malformed) leaves the previous run's files untouched and no temporary files.
TEST(Prepare, FailedRunLeavesNoPartialFiles) {
  TempDir tmp, out;
  std::string big;
  for (int i = 0; i < 40000; ++i) big += "tweet number " + std::to_string(i) + " says something worth keeping\n";
  write_file(tmp / "big.txt", big);

  ASSERT_EQ(prepare(options({data_path("fortunes")}, out.path())).kept, 4u);
  auto before = dir_entries(out.path());
  EXPECT_EQ(before, (std::vector<std::string>{"report.json", "test.jsonl", "train.jsonl", "val.jsonl"}));
  std::string train = slurp(out / "train.jsonl"), report = slurp(out / "report.json");

  PrepareOptions opt = options({tmp / "big.txt", data_path("tweets_truncated.csv")}, out.path());
  opt.strict = true;
  EXPECT_THROW(prepare(opt), UserError);
  EXPECT_EQ(dir_entries(out.path()), before) << "no *.tmp.* files may remain";
  EXPECT_EQ(slurp(out / "train.jsonl"), train);
  EXPECT_EQ(slurp(out / "report.json"), report);

  TempDir fresh;
  opt.outdir = fresh / "o";
  EXPECT_THROW(prepare(opt), UserError);
  EXPECT_FALSE(std::filesystem::exists(fresh / "o")) << "a failed run leaves no folder it made";
  EXPECT_TRUE(std::filesystem::exists(fresh.path())) << "but keeps the ones that were there";
}

TEST(Prepare, CompressedInputGivesTheSameOutput) {
  TempDir tmp, a, b, c;
  testing::gzip_file(data_path("v1.jsonl"), tmp / "v1.jsonl.gz");
  testing::zstd_file(data_path("v1.jsonl"), tmp / "v1.jsonl.zst");
  prepare(options({data_path("v1.jsonl")}, a.path()));
  prepare(options({tmp / "v1.jsonl.gz"}, b.path()));
  prepare(options({tmp / "v1.jsonl.zst"}, c.path()));
  EXPECT_EQ(slurp(b / "train.jsonl"), slurp(a / "train.jsonl"));
  EXPECT_EQ(slurp(c / "train.jsonl"), slurp(a / "train.jsonl"));
}

// A corpus big enough for the parallel paths (JSON lines, normalization), with duplicates,
// retweets, languages and malformed lines; outputs must match byte for byte at 1 and 2 threads.
TEST(Prepare, SameOutputWithOneAndTwoThreads) {
  TempDir tmp;
  std::mt19937 rng(77);
  const char* words[] = {"the", "game", "tonight", "was", "amazing", "@fan", "https://t.co/x", "&amp;", "😀",
                         "lol", "café", "e\u0301", "new", "album", "drops", "friday", "#music", "  ", "RT"};
  const char* langs[] = {"en", "es", "fr", "EN", ""};
  std::string jsonl;
  std::vector<std::string> earlier;
  for (int i = 0; i < 6000; ++i) {
    if (i % 500 == 7) {
      jsonl += "{\"id_str\": \"broken\n";
      continue;
    }
    std::string text = i % 50 == 3 ? "RT @someone: repeated" : "";
    int n = 3 + static_cast<int>(rng() % 12);
    for (int k = 0; k < n; ++k) text += std::string(k ? " " : "") + words[rng() % std::size(words)];
    if (i % 10 == 5) text = earlier[rng() % earlier.size()];  // an exact repeat
    earlier.push_back(text);
    json j = {{"id_str", std::to_string(1000000 + i % 5500)}, {"text", text}, {"lang", langs[rng() % 5]}};
    if (i % 7 == 0) j["retweeted_status"] = {{"id_str", "1"}};
    jsonl += j.dump() + "\n";
  }
  write_file(tmp / "corpus.jsonl", jsonl);
  std::string txt;
  for (int i = 0; i < 3000; ++i) txt += "line " + std::to_string(i % 2000) + " " + words[rng() % std::size(words)] + "\n";
  write_file(tmp / "corpus.txt", txt);

  std::vector<std::string> in = {tmp / "corpus.jsonl", tmp / "corpus.txt", data_path("archive"), data_path("tweets.csv"),
                                 data_path("v2_page.json")};
  std::string outs[2];
  json reports[2];
  for (int t = 0; t < 2; ++t) {
    set_num_threads(t + 1);
    outs[t] = tmp / ("out" + std::to_string(t + 1));
    PrepareOptions opt = options(in, outs[t]);
    opt.split = {0.8, 0.1, 0.1};
    opt.near_dup = 0.8;
    PrepareReport r = prepare(opt);
    EXPECT_EQ(r.threads, t + 1);
    reports[t] = r.to_json();
    for (const char* k : {"seconds", "threads", "mb_per_s", "outputs"}) reports[t].erase(k);
  }
  set_num_threads(0);
  EXPECT_GT(reports[0].at("kept").get<int>(), 1000);
  EXPECT_GT(reports[0].at("dropped").at("duplicate").get<int>(), 300);
  EXPECT_GT(reports[0].at("dropped").at("retweet").get<int>(), 500);
  EXPECT_EQ(reports[0].at("malformed"), 12 + 1);
  EXPECT_EQ(reports[0], reports[1]);
  for (const char* s : {"train.jsonl", "val.jsonl", "test.jsonl"}) {
    std::string one = slurp(outs[0] + "/" + s), two = slurp(outs[1] + "/" + s);
    EXPECT_FALSE(one.empty()) << s;
    EXPECT_TRUE(one == two) << s << " differs between 1 and 2 threads";
  }
}

}  // namespace
}  // namespace tlm
