// Tests for the BPE trainer (src/tokenizer/bpe_train.h): word counting over every input kind, and
// the incremental merge loop against a naive reference trainer written here.
//
// The reference recounts every pair from scratch before each merge and applies the merge to
// every word, with the same tie-break (count, then merged bytes, then ids). It shares no code
// with the trainer, so agreement on random corpora (overlapping runs like "aaaa", multi-byte
// UTF-8, raw bytes including 0x00, results that an earlier merge already made) and on real
// tweets means the heap, the lazy invalidation and the incremental pair counts are right.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <unordered_map>

#include "core/check.h"
#include "core/rng.h"
#include "core/threads.h"
#include "fixtures.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/bpe_train.h"

namespace tlm {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;
using testing::write_file;

const std::string kTweetEval = std::string(TLM_SHARED_DIR) + "/data/tweeteval";

// ---------------------------------------------------------------------------------------------
// Naive reference trainer.

struct NaiveResult {
  BpeTrainResult result;
  std::vector<std::pair<std::string, std::vector<uint32_t>>> words;  // final segmentation
  std::vector<int64_t> merge_counts;                                  // count of each merge
};

NaiveResult naive_bpe(const WordCounts& wc, const BpeTrainOptions& opt) {
  NaiveResult out;
  std::vector<std::string>& tokens = out.result.tokens;
  std::map<std::string, uint32_t> by_bytes;
  tokens = opt.special_tokens;
  const uint32_t k = static_cast<uint32_t>(tokens.size());
  for (int b = 0; b < 256; ++b) {
    by_bytes[std::string(1, char(b))] = uint32_t(tokens.size());
    tokens.emplace_back(1, char(b));
  }
  std::vector<std::pair<std::vector<uint32_t>, int64_t>> words;
  for (const auto& [w, c] : wc.sorted()) {
    std::vector<uint32_t> s;
    for (unsigned char ch : w) s.push_back(k + ch);
    words.emplace_back(std::move(s), int64_t(c));
  }
  const int64_t min_count = int64_t(std::max<uint64_t>(opt.min_frequency, 1));
  while (tokens.size() < opt.vocab_size) {
    std::unordered_map<uint64_t, int64_t> counts;
    for (const auto& [s, c] : words)
      for (size_t i = 0; i + 1 < s.size(); ++i) counts[(uint64_t(s[i]) << 32) | s[i + 1]] += c;
    bool found = false;
    uint64_t best = 0;
    int64_t best_count = 0;
    std::string best_bytes;
    for (const auto& [key, c] : counts) {
      std::string bytes = tokens[key >> 32] + tokens[uint32_t(key)];
      if (!found || c > best_count || (c == best_count && (bytes < best_bytes || (bytes == best_bytes && key < best)))) {
        found = true;
        best = key;
        best_count = c;
        best_bytes = bytes;
      }
    }
    if (!found || best_count < min_count) break;
    const uint32_t a = uint32_t(best >> 32), b = uint32_t(best);
    uint32_t x;
    if (auto it = by_bytes.find(best_bytes); it != by_bytes.end()) {
      x = it->second;
    } else {
      x = uint32_t(tokens.size());
      by_bytes[best_bytes] = x;
      tokens.push_back(best_bytes);
    }
    out.result.merges.emplace_back(a, b);
    out.merge_counts.push_back(best_count);
    for (auto& [s, c] : words) {
      std::vector<uint32_t> t;
      for (size_t i = 0; i < s.size();) {
        if (i + 1 < s.size() && s[i] == a && s[i + 1] == b) {
          t.push_back(x);
          i += 2;
        } else {
          t.push_back(s[i++]);
        }
      }
      s = std::move(t);
    }
  }
  const auto sorted = wc.sorted();
  for (size_t i = 0; i < words.size(); ++i) out.words.emplace_back(sorted[i].first, words[i].first);
  return out;
}

// Expects identical vocabularies and merges; on failure names the first differing merge.
void expect_same(const BpeTrainResult& got, const BpeTrainResult& want, const std::string& what) {
  ASSERT_EQ(got.merges.size(), want.merges.size()) << what;
  for (size_t i = 0; i < got.merges.size(); ++i) {
    if (got.merges[i] != want.merges[i]) {
      auto show = [&](const BpeTrainResult& r) {
        return "('" + r.tokens[r.merges[i].first] + "', '" + r.tokens[r.merges[i].second] + "')";
      };
      FAIL() << what << ": merge " << i << " is " << show(got) << ", reference " << show(want);
    }
  }
  EXPECT_EQ(got.tokens, want.tokens) << what;
}

// ---------------------------------------------------------------------------------------------
// Corpora.

// Texts built from a small alphabet of fragments, so that pairs repeat, runs overlap ("aaaa")
// and counts tie often. Fragments include 2-, 3- and 4-byte UTF-8 and contractions.
std::vector<std::string> random_texts(uint64_t seed, size_t n) {
  static const std::vector<std::string> frags = {"a", "a", "a", "b", "b", "c", "ab", " ", " ", "  ", "\t", "é",
                                                 "日本", "😀", "'s", "'ll", "1", "22", "!", "?!", "\xe2\x80\x8d"};
  Rng rng(seed);
  std::vector<std::string> texts;
  for (size_t i = 0; i < n; ++i) {
    std::string t;
    const uint32_t len = 1 + rng.below(30);
    for (uint32_t j = 0; j < len; ++j) t += frags[rng.below(uint32_t(frags.size()))];
    texts.push_back(t);
  }
  return texts;
}

WordCounts count_texts(const std::vector<std::string>& texts) {
  WordCounts wc;
  for (const std::string& t : texts) wc.add_text(t);
  return wc;
}

std::vector<std::string> tweeteval_files() {
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(kTweetEval)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && (name == "train_text.txt" || name == "val_text.txt")) files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// The first `n` lines of TweetEval's emoji train text (plain tweets).
std::vector<std::string> tweeteval_lines(size_t n) {
  std::ifstream f(kTweetEval + "/emoji/train_text.txt");
  std::vector<std::string> lines;
  for (std::string line; lines.size() < n && std::getline(f, line);) lines.push_back(line);
  return lines;
}

BpeTrainOptions options(size_t vocab, uint64_t min_frequency, std::vector<std::string> specials = default_special_tokens()) {
  BpeTrainOptions o;
  o.vocab_size = vocab;
  o.min_frequency = min_frequency;
  o.special_tokens = std::move(specials);
  return o;
}

// ---------------------------------------------------------------------------------------------
// WordCounts

TEST(WordCounts, CountsMergesAndGrows) {
  WordCounts a, b;
  a.add_word("x", 2);
  a.add_word("y");
  a.add_word("x");
  b.add_word("y", 5);
  b.add_word("z");
  for (int i = 0; i < 5000; ++i) b.add_word(std::to_string(i) + "w");  // grows past the first table
  EXPECT_EQ(a.unique(), 2u);
  EXPECT_EQ(a.total(), 4u);
  EXPECT_EQ(a.count("x"), 3u);
  a.merge(std::move(b));
  EXPECT_EQ(a.unique(), 5003u);
  EXPECT_EQ(a.total(), 4u + 6u + 5000u);
  EXPECT_EQ(a.count("y"), 6u);
  EXPECT_EQ(a.count("z"), 1u);
  EXPECT_EQ(a.count("4999w"), 1u);
  EXPECT_EQ(a.count("nope"), 0u);
  EXPECT_EQ(b.unique(), 0u);
  const auto s = a.sorted();
  EXPECT_EQ(s[0], (std::pair<std::string, uint64_t>("y", 6)));
  EXPECT_EQ(s[1], (std::pair<std::string, uint64_t>("x", 3)));
}

TEST(WordCounts, AddTextCountsPreTokens) {
  WordCounts wc;
  wc.add_text("hello world hello");
  wc.add_text("hello, it's <|endoftext|>");
  EXPECT_EQ(wc.count("hello"), 2u);
  EXPECT_EQ(wc.count(" hello"), 1u);
  EXPECT_EQ(wc.count(" world"), 1u);
  EXPECT_EQ(wc.count("'s"), 1u);
  // A special token inside a text is plain text for training.
  EXPECT_EQ(wc.count(" <|"), 1u);
  EXPECT_EQ(wc.count("endoftext"), 1u);
  EXPECT_EQ(wc.count("<|endoftext|>"), 0u);
}

// ---------------------------------------------------------------------------------------------
// count_words over files

TEST(CountWords, PreparedDirectoryUsesTrainAndVal) {
  TempDir dir;
  write_file(dir / "corpus/train.jsonl",
             "{\"id\":\"1\",\"text\":\"hello world\",\"lang\":\"en\"}\n"
             "{\"text\":\"caf\\u00e9 \\\"quoted\\\"\\nnext\"}\n"
             "\n");
  write_file(dir / "corpus/val.jsonl", "{\"text\":\"hello again\"}\n");
  write_file(dir / "corpus/test.jsonl", "{\"text\":\"never counted\"}\n");
  WordCounts wc = count_words({dir / "corpus"});
  EXPECT_EQ(wc.count("hello"), 2u);
  EXPECT_EQ(wc.count(" world"), 1u);
  EXPECT_EQ(wc.count(" again"), 1u);
  EXPECT_EQ(wc.count("café"), 1u);
  EXPECT_EQ(wc.count(" \""), 1u);
  EXPECT_EQ(wc.count("\""), 1u);
  EXPECT_EQ(wc.count("\n"), 1u);  // the escaped newline is text
  EXPECT_EQ(wc.count("next"), 1u);
  EXPECT_EQ(wc.count(" counted"), 0u);  // test.jsonl is held out
  EXPECT_EQ(wc.total(), 10u);
}

TEST(CountWords, JsonlAndPlainTextFiles) {
  TempDir dir;
  write_file(dir / "a.jsonl", "{\"text\":\"one two\"}\r\n{\"text\":\"two\"}");  // CRLF, no final newline
  write_file(dir / "b.txt", "two three\r\n\nthree\n");
  WordCounts wc = count_words({dir / "a.jsonl", dir / "b.txt"});
  EXPECT_EQ(wc.count("one"), 1u);
  EXPECT_EQ(wc.count(" two"), 1u);
  EXPECT_EQ(wc.count("two"), 2u);
  EXPECT_EQ(wc.count(" three"), 1u);
  EXPECT_EQ(wc.count("three"), 1u);
  EXPECT_EQ(wc.count("three\r"), 0u);
  EXPECT_EQ(wc.total(), 6u);
}

TEST(CountWords, BadInputsAreUserErrors) {
  TempDir dir;
  const std::string missing = dir / "missing.txt";
  try {
    count_words({missing});
    FAIL() << "no error for a missing file";
  } catch (const UserError& e) {
    EXPECT_EQ(e.input(), missing);
  }
  fs::create_directories(dir / "notprepared");
  write_file(dir / "notprepared/train.jsonl", "{\"text\":\"x\"}\n");
  try {
    count_words({dir / "notprepared"});
    FAIL() << "no error for a directory without val.jsonl";
  } catch (const UserError& e) {
    EXPECT_EQ(e.input(), dir / "notprepared");
    EXPECT_NE(e.problem().find("val.jsonl"), std::string::npos) << e.what();
  }
  write_file(dir / "bad.jsonl", "{\"text\":\"ok\"}\n{\"text\": oops}\n");
  try {
    count_words({dir / "bad.jsonl"});
    FAIL() << "no error for malformed JSON";
  } catch (const UserError& e) {
    EXPECT_EQ(e.input(), dir / "bad.jsonl" + ":2");  // PATH:LINE, as every corpus reader says it
    EXPECT_NE(e.problem().find("invalid JSON"), std::string::npos) << e.what();
  }
  write_file(dir / "notext.jsonl", "{\"full_text\":\"x\"}\n");
  try {
    count_words({dir / "notext.jsonl"});
    FAIL() << "no error for a line without text";
  } catch (const UserError& e) {
    EXPECT_EQ(e.input(), dir / "notext.jsonl" + ":1");
    EXPECT_NE(e.problem().find("text"), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------------------------------------
// The merge loop

// Wikipedia's "aaabdaaabac", one word, by hand:
//   aa a a b d a a a b a c : (a,a) 4                       -> aa
//   [aa a b d aa a b a c]  : (aa,a) 2 and (a,b) 2 tie, "aaa" < "ab" -> aaa
//   [aaa b d aaa b a c]    : (aaa,b) 2                     -> aaab
//   [aaab d aaab a c]      : all pairs count 1; "aaaba" < "aaabd" < "ac" < "daaab" -> aaaba
//   [aaab d aaaba c]       : "aaabac" < "aaabd" < "daaaba" -> aaabac
TEST(TrainBpe, HandCheckedMerges) {
  WordCounts wc;
  wc.add_text("aaabdaaabac");
  ASSERT_EQ(wc.count("aaabdaaabac"), 1u);
  BpeTrainResult r = learn_bpe(wc, options(10000, 1, {}));
  std::vector<std::pair<std::string, std::string>> got;
  for (auto [l, rr] : r.merges) got.emplace_back(r.tokens[l], r.tokens[rr]);
  std::vector<std::pair<std::string, std::string>> want = {
      {"a", "a"}, {"aa", "a"}, {"aaa", "b"}, {"aaab", "a"}, {"aaaba", "c"}};
  // Then the single remaining pair (aaab, d) and (d, aaabac) in byte order, until one word is left.
  want.push_back({"aaab", "d"});
  want.push_back({"aaabd", "aaabac"});
  EXPECT_EQ(got, want);

  // min_frequency 2 stops after the three merges seen twice.
  wc = WordCounts();
  wc.add_word("aaabdaaabac", 1);
  r = learn_bpe(wc, options(10000, 2, {}));
  ASSERT_EQ(r.merges.size(), 3u);
  EXPECT_EQ(r.tokens.back(), "aaab");
  // vocab_size caps it: 256 bytes + 1 special + 2 merges.
  r = learn_bpe(wc, options(259, 1, {"<s>"}));
  EXPECT_EQ(r.tokens.size(), 259u);
  EXPECT_EQ(r.merges.size(), 2u);
}

TEST(TrainBpe, WordCountsWeightPairs) {
  // (l,o) occurs in 3 words x count; the best pair is by total count, not by number of words.
  WordCounts wc;
  wc.add_word("lo", 1);
  wc.add_word("low", 1);
  wc.add_word("xy", 5);
  BpeTrainResult r = learn_bpe(wc, options(1000, 1, {}));
  ASSERT_GE(r.merges.size(), 2u);
  EXPECT_EQ(r.tokens[r.merges[0].first] + r.tokens[r.merges[0].second], "xy");
  EXPECT_EQ(r.tokens[r.merges[1].first] + r.tokens[r.merges[1].second], "lo");
}

TEST(TrainBpe, MatchesNaiveReferenceOnRandomCorpora) {
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    const WordCounts wc = count_texts(random_texts(seed, 40 + 20 * seed));
    for (uint64_t min_frequency : {1, 2, 5}) {
      const auto opt = options(260 + 4 + 60 * seed, min_frequency);
      const BpeTrainResult got = learn_bpe(wc, opt);
      const NaiveResult want = naive_bpe(wc, opt);
      expect_same(got, want.result, "seed " + std::to_string(seed) + " min_frequency " + std::to_string(min_frequency));
      EXPECT_EQ(got.merges.size(), got.tokens.size() - 260) << "every merge makes a new token (train.h)";
      for (int64_t c : want.merge_counts) EXPECT_GE(c, int64_t(std::max<uint64_t>(min_frequency, 1)));
    }
  }
}

TEST(TrainBpe, MatchesNaiveReferenceOnRawBytes) {
  // Words straight from bytes (no pre-tokenizer): NUL and 0xff stress the byte-order tie-break
  // (a NUL after a prefix, a token that is a prefix of another), invalid UTF-8 is fine.
  const std::string alphabet = std::string("\0a\xff\xc3", 4);
  for (uint64_t seed = 100; seed < 110; ++seed) {
    Rng rng(seed);
    WordCounts wc;
    for (int i = 0; i < 60; ++i) {
      std::string w;
      const uint32_t len = 1 + rng.below(12);
      for (uint32_t j = 0; j < len; ++j) w += alphabet[rng.below(4)];
      wc.add_word(w, 1 + rng.below(4));
    }
    const auto opt = options(100000, 1, {});
    const NaiveResult want = naive_bpe(wc, opt);
    const BpeTrainResult got = learn_bpe(wc, opt);
    expect_same(got, want.result, "seed " + std::to_string(seed));
    EXPECT_EQ(got.merges.size(), got.tokens.size() - 256) << "every merge makes a new token (train.h)";
  }
}

TEST(TrainBpe, MatchesNaiveReferenceOnTweets) {
  ASSERT_TRUE(fs::is_directory(kTweetEval)) << "shared TweetEval data missing at " << kTweetEval;
  const std::vector<std::string> lines = tweeteval_lines(1500);
  const WordCounts wc = count_texts(lines);
  const auto opt = options(1200, 2);
  const NaiveResult want = naive_bpe(wc, opt);
  expect_same(learn_bpe(wc, opt), want.result, "TweetEval emoji train, 1500 lines");

  // The encoder, given the learned merges, segments every training word as training left it.
  const Tokenizer tok = train_bpe(wc, opt);
  std::vector<std::string_view> pieces;
  size_t checked = 0;
  for (const auto& [word, ids] : want.words) {
    pieces.clear();
    gpt2_pretokenize(word, pieces);
    if (pieces.size() != 1) continue;  // a piece only re-splits as itself in context
    EXPECT_EQ(tok.encode(word), ids) << "'" << word << "'";
    ++checked;
  }
  EXPECT_GT(checked, wc.unique() * 9 / 10);
}

TEST(TrainBpe, VocabularyLayoutAndOptions) {
  const WordCounts wc = count_texts(random_texts(7, 200));
  const std::vector<std::string> specials = {"<|endoftext|>", "<x>", "a"};  // "a" is also a byte token
  const Tokenizer tok = train_bpe(wc, options(300, 1, specials));
  EXPECT_EQ(tok.vocab_size(), 300u);
  ASSERT_EQ(tok.added_tokens().size(), 3u);
  for (uint32_t i = 0; i < 3; ++i) {
    EXPECT_EQ(tok.token_bytes(i), specials[i]);
    EXPECT_EQ(tok.added_tokens()[i].id, i);
    EXPECT_EQ(tok.added_tokens()[i].content, specials[i]);
    EXPECT_TRUE(tok.added_tokens()[i].special);
  }
  for (int b = 0; b < 256; ++b) EXPECT_EQ(tok.token_bytes(3 + b), std::string(1, char(b)));
  EXPECT_EQ(tok.eos_id(), 0);
  EXPECT_EQ(tok.merges().size(), 300u - 259u);  // no reuse this early
  for (auto [l, r] : tok.merges()) {
    EXPECT_GE(l, 3u);
    EXPECT_GE(r, 3u);
  }

  // No special tokens: bytes at 0..255.
  const Tokenizer plain = train_bpe(wc, options(256, 2, {}));
  EXPECT_EQ(plain.vocab_size(), 256u);
  EXPECT_EQ(plain.token_bytes(0), std::string(1, '\0'));
  EXPECT_TRUE(plain.merges().empty());

  // A min_frequency above every count learns nothing.
  const Tokenizer none = train_bpe(wc, options(5000, wc.total() + 1));
  EXPECT_EQ(none.vocab_size(), 260u);
  EXPECT_TRUE(none.merges().empty());

  // Training runs out of pairs before a huge vocabulary.
  const BpeTrainResult all = learn_bpe(wc, options(1000000, 1));
  EXPECT_LT(all.tokens.size(), 1000000u);

  EXPECT_THROW(train_bpe(wc, options(259, 2)), UserError);                         // < 256 + 4
  EXPECT_THROW(train_bpe(wc, options(1000, 2, {"<a>", "<a>"})), UserError);        // duplicate
  EXPECT_THROW(train_bpe(wc, options(1000, 2, {""})), UserError);                  // empty
  EXPECT_THROW(train_bpe(std::vector<std::string>{"/nonexistent/x.txt"}, options(1000, 2)), UserError);
}

TEST(TrainBpe, EmptyCorpus) {
  const Tokenizer tok = train_bpe(WordCounts(), options(1000, 2));
  EXPECT_EQ(tok.vocab_size(), 260u);
  EXPECT_TRUE(tok.merges().empty());
}

// ---------------------------------------------------------------------------------------------
// The whole TweetEval train+val text

class TrainTweetEval : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::is_directory(kTweetEval)) << "shared TweetEval data missing at " << kTweetEval;
    files_ = tweeteval_files();
    ASSERT_GE(files_.size(), 2u);
  }
  void TearDown() override { set_num_threads(0); }
  std::vector<std::string> files_;
};

TEST_F(TrainTweetEval, SameTokenizerWithOneAndTwoThreads) {
  set_num_threads(1);
  const WordCounts w1 = count_words(files_);
  const Tokenizer t1 = train_bpe(files_, options(8192, 2));
  set_num_threads(2);
  const WordCounts w2 = count_words(files_);
  const Tokenizer t2 = train_bpe(files_, options(8192, 2));
  EXPECT_EQ(w1.sorted(), w2.sorted());
  EXPECT_GT(w1.unique(), 100000u);
  ASSERT_EQ(t1.vocab_size(), 8192u);
  ASSERT_EQ(t2.vocab_size(), 8192u);
  EXPECT_EQ(t1.merges(), t2.merges());
  for (uint32_t id = 0; id < t1.vocab_size(); ++id) ASSERT_EQ(t1.token_bytes(id), t2.token_bytes(id)) << id;
}

TEST_F(TrainTweetEval, FrequentWordsAreOneTokenAndTextRoundTrips) {
  const WordCounts wc = count_words(files_);
  const Tokenizer tok = train_bpe(wc, options(8192, 2));
  const auto sorted = wc.sorted();
  size_t multi = 0;
  for (size_t i = 0; i < sorted.size() && multi < 200; ++i) {
    const std::string& w = sorted[i].first;
    std::vector<std::string_view> pieces;
    gpt2_pretokenize(w, pieces);
    if (w.size() < 2 || pieces.size() != 1) continue;
    ++multi;
    EXPECT_EQ(tok.encode(w).size(), 1u) << "'" << w << "' seen " << sorted[i].second << " times";
  }
  // Every training text decodes back to itself.
  size_t lines = 0;
  for (const std::string& path : files_) {
    std::ifstream f(path);
    for (std::string line; std::getline(f, line); ++lines) {
      const std::vector<uint32_t> ids = tok.encode(line);
      ASSERT_EQ(tok.decode(ids), line) << path << ":" << lines;
    }
  }
  EXPECT_GT(lines, 80000u);
}

}  // namespace
}  // namespace tlm
