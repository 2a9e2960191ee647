// Unit tests for tokenizer/tokenize_corpus: a prepared-directory fixture written here is
// encoded with a tiny tokenizer (256 byte tokens, <|endoftext|>, three merges); the shards are
// read back and must hold every tweet in order, each ending with <|endoftext|> and decoding to
// its text; output is byte-identical at 1 and 2 threads; meta.json describes the shards; bad
// inputs are one UserError each; reruns leave no stale shards.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/hash.h"
#include "core/threads.h"
#include "data/shards.h"
#include "fixtures.h"
#include "tokenizer/tokenize_corpus.h"

namespace tlm {
namespace {

using nlohmann::json;
using testing::slurp;
using testing::TempDir;
using testing::user_error_of;
using testing::write_file;

// Byte tokens 0..255, then (with_eos) <|endoftext|>, then "he", "ll", " t".
Tokenizer tiny_tokenizer(bool with_eos = true) {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(std::string(1, static_cast<char>(b)));
  std::vector<AddedToken> added;
  if (with_eos) {
    added.push_back({static_cast<uint32_t>(tokens.size()), "<|endoftext|>", true});
    tokens.push_back("<|endoftext|>");
  }
  tokens.insert(tokens.end(), {"he", "ll", " t"});
  std::vector<std::pair<uint32_t, uint32_t>> merges = {{'h', 'e'}, {'l', 'l'}, {' ', 't'}};
  return Tokenizer(tokens, merges, added);
}

// Tweets with what a prepared corpus holds: ASCII, emoji, CJK, Arabic, quotes, backslashes,
// newlines (escaped in JSON), and the letters our merges apply to.
std::vector<std::string> make_tweets(size_t n, uint32_t seed) {
  static const std::vector<std::string> words = {
      "hello", "the", "tell", "@user", "http", "\xF0\x9F\x98\x82", "\xE6\x97\xA5\xE6\x9C\xAC",
      "\xD9\x85\xD8\xB1\xD8\xAD\xD8\xA8\xD8\xA7", "\"quoted\"", "back\\slash", "two\nlines", "tab\there", "he'll",
      "#tweet", "123", "e\xCC\x81"};
  std::mt19937 rng(seed);
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) {
    std::string t;
    size_t k = 1 + rng() % 12;
    for (size_t j = 0; j < k; ++j) t += (j ? " " : "") + words[rng() % words.size()];
    out.push_back(t);
  }
  return out;
}

std::string jsonl(const std::vector<std::string>& texts) {
  std::string s;
  for (size_t i = 0; i < texts.size(); ++i)
    s += json{{"id", std::to_string(i)}, {"text", texts[i]}, {"lang", "en"}}.dump() + "\n";
  return s;
}

// Every token of a split's shards, in order.
std::vector<uint32_t> read_split(const std::string& dir, const std::string& split) {
  std::vector<uint32_t> all;
  for (const auto& path : list_shards(dir, split)) {
    auto v = ShardFile(path, ShardCheck::full).to_vector();
    all.insert(all.end(), v.begin(), v.end());
  }
  return all;
}

// Splits a token stream at each eos (which must end every document).
std::vector<std::vector<uint32_t>> documents(const std::vector<uint32_t>& ids, uint32_t eos) {
  std::vector<std::vector<uint32_t>> out(1);
  for (uint32_t id : ids) {
    if (id == eos) out.emplace_back();
    else out.back().push_back(id);
  }
  EXPECT_TRUE(out.back().empty()) << "the stream does not end with eos";
  out.pop_back();
  return out;
}

class TokenizeCorpus : public ::testing::Test {
 protected:
  void SetUp() override {
    train = make_tweets(3000, 1);  // > one chunk of lines, so threads share the work
    val = make_tweets(40, 2);
    write_file(prepared / "train.jsonl", jsonl(train));
    write_file(prepared / "val.jsonl", jsonl(val));
  }
  void TearDown() override { set_num_threads(0); }
  TempDir prepared, out;
  std::vector<std::string> train, val;
  Tokenizer tok = tiny_tokenizer();
};

TEST_F(TokenizeCorpus, ShardsHoldEveryTweetInOrderSeparatedByEos) {
  TokenizeReport rep = tokenize_corpus(prepared.path(), tok, out.path());
  const uint32_t eos = 256;
  EXPECT_EQ(rep.eos_id, eos);
  EXPECT_EQ(rep.vocab_size, 260u);
  EXPECT_EQ(rep.token_width, 2u);
  ASSERT_EQ(rep.splits.size(), 3u);
  for (auto [split, texts] : {std::pair{"train", &train}, std::pair{"val", &val}}) {
    SCOPED_TRACE(split);
    auto ids = read_split(out.path(), split);
    auto docs = documents(ids, eos);
    ASSERT_EQ(docs.size(), texts->size());
    for (size_t i = 0; i < docs.size(); ++i) {
      EXPECT_EQ(tok.decode(docs[i]), (*texts)[i]) << i;
      EXPECT_EQ(docs[i], tok.encode((*texts)[i])) << i;
    }
  }
  // The merges were used: "he" (257) must appear, since "hello" and "the" are common.
  auto ids = read_split(out.path(), "train");
  EXPECT_NE(std::find(ids.begin(), ids.end(), 257u), ids.end());
  EXPECT_EQ(rep.splits[0].name, "train");
  EXPECT_TRUE(rep.splits[0].present);
  EXPECT_EQ(rep.splits[0].documents, train.size());
  EXPECT_EQ(rep.splits[0].tokens, ids.size());
  EXPECT_EQ(rep.splits[0].bytes_in, slurp(prepared / "train.jsonl").size());
  EXPECT_FALSE(rep.splits[2].present);  // no test.jsonl: fine, no test shards
  EXPECT_TRUE(list_shards(out.path(), "test").empty());
  std::string summary = rep.summary();
  EXPECT_NE(summary.find("train"), std::string::npos);
  EXPECT_NE(summary.find("(no file)"), std::string::npos);
}

// A tweet that contains the text "<|endoftext|>" stays one document: training data is encoded
// with encode_ordinary, so the special token's text is ordinary bytes there.
TEST_F(TokenizeCorpus, TypedSeparatorTextDoesNotSplitATweet) {
  std::vector<std::string> tricky = {"before <|endoftext|> after", "plain", "<|endoftext|>"};
  write_file(prepared / "val.jsonl", jsonl(tricky));
  tokenize_corpus(prepared.path(), tok, out.path());
  auto docs = documents(read_split(out.path(), "val"), 256);
  ASSERT_EQ(docs.size(), tricky.size());
  for (size_t i = 0; i < docs.size(); ++i) {
    EXPECT_EQ(tok.decode(docs[i]), tricky[i]);
    EXPECT_EQ(std::count(docs[i].begin(), docs[i].end(), 256u), 0) << i;
  }
}

TEST_F(TokenizeCorpus, IdenticalAtOneAndTwoThreads) {
  TempDir out2;
  TokenizeOptions opt;
  opt.shard_tokens = 5000;  // several shards, so boundaries are compared too
  set_num_threads(1);
  tokenize_corpus(prepared.path(), tok, out.path(), opt);
  set_num_threads(2);
  tokenize_corpus(prepared.path(), tok, out2.path(), opt);
  auto shards1 = list_shards(out.path(), "train"), shards2 = list_shards(out2.path(), "train");
  ASSERT_GT(shards1.size(), 3u);
  ASSERT_EQ(shards1.size(), shards2.size());
  for (size_t i = 0; i < shards1.size(); ++i)
    EXPECT_EQ(slurp(shards1[i]), slurp(shards2[i])) << shards1[i];
}

TEST_F(TokenizeCorpus, ShardLimitKeepsTweetsWhole) {
  TokenizeOptions opt;
  opt.shard_tokens = 1000;
  TokenizeReport rep = tokenize_corpus(prepared.path(), tok, out.path(), opt);
  uint64_t docs = 0;
  for (const auto& path : list_shards(out.path(), "train")) {
    ShardFile f(path);
    EXPECT_LE(f.size(), 1000u);
    EXPECT_EQ(f.token(f.size() - 1), 256u) << path << " ends inside a tweet";
    docs += f.documents();
  }
  EXPECT_EQ(docs, train.size());
  EXPECT_EQ(rep.splits[0].shards.size(), list_shards(out.path(), "train").size());
}

TEST_F(TokenizeCorpus, MetaJsonDescribesTheShards) {
  std::string tok_path = prepared / "tokenizer.json";
  tok.save(tok_path);
  TokenizeOptions opt;
  opt.tokenizer_path = tok_path;
  opt.shard_tokens = 4000;
  TokenizeReport rep = tokenize_corpus(prepared.path(), tok, out.path(), opt);
  json meta = json::parse(slurp(out / "meta.json"));
  EXPECT_EQ(meta, json::parse(rep.to_json().dump()));
  EXPECT_EQ(meta["shard_version"], 1);
  EXPECT_EQ(meta["token_width"], 2);
  EXPECT_EQ(meta["shard_tokens"], 4000);
  EXPECT_EQ(meta["tokenizer"]["vocab_size"], 260);
  EXPECT_EQ(meta["tokenizer"]["eos_id"], 256);
  EXPECT_EQ(meta["tokenizer"]["path"], tok_path);
  EXPECT_EQ(meta["tokenizer"]["file_xxh3"], strprintf("%016llx", (unsigned long long)hash64(slurp(tok_path))));
  EXPECT_EQ(meta["tokenizer"]["vocab_xxh3"], strprintf("%016llx", (unsigned long long)tokenizer_fingerprint(tok)));
  EXPECT_FALSE(meta["splits"].contains("test"));
  for (const char* split : {"train", "val"}) {
    const json& s = meta["splits"][split];
    uint64_t tokens = 0, docs = 0;
    ASSERT_FALSE(s["shards"].empty());
    for (const json& f : s["shards"]) {
      ShardFile shard(out / f["file"].get<std::string>());
      EXPECT_EQ(f["tokens"], shard.size());
      EXPECT_EQ(f["documents"], shard.documents());
      tokens += shard.size();
      docs += shard.documents();
    }
    EXPECT_EQ(s["tokens"], tokens);
    EXPECT_EQ(s["documents"], docs);
  }
  EXPECT_EQ(meta["splits"]["val"]["documents"], val.size());
}

TEST(TokenizerFingerprint, DependsOnWhatDecidesTheIds) {
  EXPECT_EQ(tokenizer_fingerprint(tiny_tokenizer()), tokenizer_fingerprint(tiny_tokenizer()));
  EXPECT_NE(tokenizer_fingerprint(tiny_tokenizer()), tokenizer_fingerprint(tiny_tokenizer(false)));
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(std::string(1, static_cast<char>(b)));
  tokens.push_back("<|endoftext|>");
  tokens.insert(tokens.end(), {"he", "ll", " t"});
  // Same vocabulary, merges in another rank order: different encodings possible.
  Tokenizer swapped(tokens, {{'l', 'l'}, {'h', 'e'}, {' ', 't'}}, {{256, "<|endoftext|>", true}});
  EXPECT_NE(tokenizer_fingerprint(swapped), tokenizer_fingerprint(tiny_tokenizer()));
}

TEST_F(TokenizeCorpus, RerunReplacesShardsAndRemovesStaleOnes) {
  TokenizeOptions small;
  small.shard_tokens = 2000;
  tokenize_corpus(prepared.path(), tok, out.path(), small);
  size_t many = list_shards(out.path(), "train").size();
  ASSERT_GT(many, 2u);
  write_file(out / "test_000000.bin", "left from a run whose corpus had a test split");
  TokenizeReport rep = tokenize_corpus(prepared.path(), tok, out.path());  // default: one shard per split
  EXPECT_EQ(list_shards(out.path(), "train").size(), 1u);
  EXPECT_TRUE(list_shards(out.path(), "test").empty());
  EXPECT_EQ(documents(read_split(out.path(), "train"), 256).size(), train.size());
  for (const auto& e : std::filesystem::directory_iterator(out.path()))
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
}

TEST_F(TokenizeCorpus, FailedRunLeavesNoMetaJson) {
  tokenize_corpus(prepared.path(), tok, out.path());
  ASSERT_TRUE(std::filesystem::exists(out / "meta.json"));
  write_file(prepared / "val.jsonl", jsonl({"fine"}) + "{\"id\":\"2\",\"text\":broken}\n");
  std::string err = user_error_of([&] { tokenize_corpus(prepared.path(), tok, out.path()); });
  EXPECT_EQ(err, prepared / "val.jsonl" + ":2: invalid JSON: The JSON document has an improper structure: "
                                          "missing or superfluous commas, braces, missing keys, etc.");
  EXPECT_FALSE(std::filesystem::exists(out / "meta.json"));
}

TEST_F(TokenizeCorpus, LineWithoutText) {
  write_file(prepared / "val.jsonl", "\n" + jsonl({"one"}) + "{\"id\":\"2\",\"body\":\"x\"}\n");
  EXPECT_EQ(user_error_of([&] { tokenize_corpus(prepared.path(), tok, out.path()); }),
            prepared / "val.jsonl" + ":3: no \"text\" string (expected {\"id\":..,\"text\":..,\"lang\":..} per line)");
}

TEST_F(TokenizeCorpus, ErrorLineIsTheFirstBadOneWhateverTheThreads) {
  std::vector<std::string> lines = make_tweets(2000, 3);
  std::string s = jsonl(lines);
  // Bad lines at 1500 and 1900 (different chunks); the error must name 1500.
  auto line_start = [&](size_t n) {
    size_t pos = 0;
    for (size_t i = 1; i < n; ++i) pos = s.find('\n', pos) + 1;
    return pos;
  };
  s.insert(line_start(1900), "not json\n");
  s.insert(line_start(1500), "[1,2]\n");
  write_file(prepared / "train.jsonl", s);
  set_num_threads(2);
  EXPECT_NE(user_error_of([&] { tokenize_corpus(prepared.path(), tok, out.path()); })
                .find("train.jsonl:1500: no \"text\" string"),
            std::string::npos);
}

TEST(TokenizeCorpusErrors, MissingOrEmptyPreparedDir) {
  TempDir dir, out;
  Tokenizer tok = tiny_tokenizer();
  EXPECT_EQ(user_error_of([&] { tokenize_corpus(dir / "nope", tok, out.path()); }),
            dir / "nope" + ": no such directory");
  write_file(dir / "afile", "x");
  EXPECT_EQ(user_error_of([&] { tokenize_corpus(dir / "afile", tok, out.path()); }),
            dir / "afile" + ": not a directory (expected the output directory of 'tweetlm prepare')");
  std::filesystem::remove(dir / "afile");
  EXPECT_EQ(user_error_of([&] { tokenize_corpus(dir.path(), tok, out.path()); }),
            dir.path() + ": no train.jsonl, val.jsonl or test.jsonl (expected the output of 'tweetlm prepare')");
}

TEST(TokenizeCorpusErrors, TokenizerWithoutEndOfText) {
  TempDir dir, out;
  write_file(dir / "test.jsonl", jsonl({"only a test split"}));
  TokenizeOptions opt;
  opt.tokenizer_path = "tok.json";
  EXPECT_EQ(user_error_of([&] { tokenize_corpus(dir.path(), tiny_tokenizer(false), out.path(), opt); }),
            "tok.json: has no <|endoftext|> token, which tweetlm needs to separate tweets in the shards");
  // With it, a test-only corpus is fine.
  TokenizeReport rep = tokenize_corpus(dir.path(), tiny_tokenizer(), out.path());
  EXPECT_FALSE(rep.splits[0].present);
  EXPECT_EQ(rep.splits[2].documents, 1u);
}

TEST(TokenizeCorpusErrors, EmptySplitFileIsFine) {
  TempDir dir, out;
  write_file(dir / "train.jsonl", "");
  write_file(dir / "val.jsonl", jsonl({"hello there"}));
  TokenizeReport rep = tokenize_corpus(dir.path(), tiny_tokenizer(), out.path());
  EXPECT_TRUE(rep.splits[0].present);
  EXPECT_EQ(rep.splits[0].documents, 0u);
  EXPECT_TRUE(rep.splits[0].shards.empty());
  EXPECT_EQ(rep.splits[1].documents, 1u);
}

}  // namespace
}  // namespace tlm
