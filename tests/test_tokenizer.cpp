// Unit tests for the tokenizer core: the GPT-2 pre-tokenizer scanner (splits derived by hand
// from the regex), the byte-level alphabet, BPE merging (the scan and heap paths against a
// naive reference), added-token splitting, and tokenizer.json loading errors. Exactness
// against Hugging Face and tiktoken is tested in test_tokenizer_interop.cpp.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "core/check.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/tokenizer.h"

using namespace tlm;

namespace {

std::vector<std::string> split(std::string_view s) {
  std::vector<std::string_view> v;
  gpt2_pretokenize(s, v);
  return {v.begin(), v.end()};
}

// 256 byte tokens, then the given merges (as byte strings), plus <|endoftext|> last.
Tokenizer make(const std::vector<std::pair<std::string, std::string>>& merges) {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(std::string(1, static_cast<char>(b)));
  std::vector<std::pair<uint32_t, uint32_t>> ids;
  auto id_of = [&](const std::string& s) {
    for (uint32_t i = 0; i < tokens.size(); ++i)
      if (tokens[i] == s) return i;
    ADD_FAILURE() << "no token " << s;
    return 0u;
  };
  for (const auto& [a, b] : merges) {
    ids.emplace_back(id_of(a), id_of(b));
    if (std::find(tokens.begin(), tokens.end(), a + b) == tokens.end()) tokens.push_back(a + b);
  }
  uint32_t eos = static_cast<uint32_t>(tokens.size());
  tokens.push_back("<|endoftext|>");
  return Tokenizer(tokens, ids, {{eos, "<|endoftext|>", true}});
}

// The textbook BPE: merge the lowest-ranked adjacent pair (leftmost on ties) until none applies.
std::vector<std::string> naive_bpe(std::string_view piece, const std::vector<std::pair<std::string, std::string>>& merges) {
  std::vector<std::string> sym;
  for (char c : piece) sym.emplace_back(1, c);
  for (;;) {
    size_t best_rank = SIZE_MAX, best = 0;
    for (size_t i = 0; i + 1 < sym.size(); ++i)
      for (size_t r = 0; r < merges.size() && r < best_rank; ++r)
        if (merges[r].first == sym[i] && merges[r].second == sym[i + 1]) {
          best_rank = r;
          best = i;
        }
    if (best_rank == SIZE_MAX) return sym;
    sym[best] += sym[best + 1];
    sym.erase(sym.begin() + static_cast<long>(best) + 1);
  }
}

}  // namespace

TEST(Pretokenize, Gpt2RegexCases) {
  using V = std::vector<std::string>;
  EXPECT_EQ(split("Hello world"), (V{"Hello", " world"}));
  EXPECT_EQ(split("it's we're I've I'm we'll he'd can't"),
            (V{"it", "'s", " we", "'re", " I", "'ve", " I", "'m", " we", "'ll", " he", "'d", " can", "'t"}));
  EXPECT_EQ(split("IT'S"), (V{"IT", "'", "S"}));  // contractions are case-sensitive
  EXPECT_EQ(split("a  b"), (V{"a", " ", " b"}));  // \s+(?!\S) leaves the last space to the word
  EXPECT_EQ(split("a   b"), (V{"a", "  ", " b"}));
  EXPECT_EQ(split("a \n b"), (V{"a", " \n", " b"}));
  EXPECT_EQ(split("a\nb"), (V{"a", "\n", "b"}));
  EXPECT_EQ(split("a\n\nb"), (V{"a", "\n", "\n", "b"}));
  EXPECT_EQ(split("end  "), (V{"end", "  "}));
  EXPECT_EQ(split(" "), (V{" "}));
  EXPECT_EQ(split("x 123abc"), (V{"x", " 123", "abc"}));
  EXPECT_EQ(split("!!! ?? ok"), (V{"!!!", " ??", " ok"}));
  EXPECT_EQ(split("@user http"), (V{"@", "user", " http"}));
  EXPECT_EQ(split("a 's"), (V{"a", " '", "s"}));
  EXPECT_EQ(split("caf\xC3\xA9 na\xC3\xAFve"), (V{"caf\xC3\xA9", " na\xC3\xAFve"}));
  // A combining mark is not a letter: e + U+0301 splits.
  EXPECT_EQ(split("e\xCC\x81x"), (V{"e", "\xCC\x81", "x"}));
  // NBSP is whitespace but not ' ': it never prefixes a word.
  EXPECT_EQ(split("a\xC2\xA0" "b"), (V{"a", "\xC2\xA0", "b"}));
  // Emoji are "other"; a ZWJ sequence stays one run.
  EXPECT_EQ(split("hi \xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7!"),
            (V{"hi", " \xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7!"}));
  // CJK letters and Arabic-Indic digits.
  EXPECT_EQ(split("\xE6\x97\xA5\xE6\x9C\xAC \xD9\xA1\xD9\xA2"), (V{"\xE6\x97\xA5\xE6\x9C\xAC", " \xD9\xA1\xD9\xA2"}));
  // Invalid bytes are "other" characters, one byte each.
  EXPECT_EQ(split("a\xFF\xFE" "b"), (V{"a", "\xFF\xFE", "b"}));
}

TEST(Pretokenize, PiecesAlwaysCoverTheInput) {
  std::mt19937 rng(7);
  for (int t = 0; t < 3000; ++t) {
    std::string s(rng() % 40, '\0');
    for (char& c : s) c = static_cast<char>(rng() % 4 == 0 ? " \n'a1\xC2\xA0"[rng() % 7] : rng());
    std::string joined;
    for (const auto& p : split(s)) {
      ASSERT_FALSE(p.empty());
      joined += p;
    }
    ASSERT_EQ(joined, s);
  }
}

TEST(ByteLevel, AlphabetIsABijection) {
  std::set<std::string> seen;
  for (int b = 0; b < 256; ++b) EXPECT_TRUE(seen.insert(byte_level_chars()[b]).second);
  EXPECT_EQ(byte_level_chars()[' '], "\xC4\xA0");   // Ġ
  EXPECT_EQ(byte_level_chars()['\n'], "\xC4\x8A");  // Ċ
  EXPECT_EQ(byte_level_chars()['A'], "A");
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  std::string back;
  ASSERT_TRUE(byte_level_to_bytes(bytes_to_byte_level(all), back));
  EXPECT_EQ(back, all);
  EXPECT_FALSE(byte_level_to_bytes("\xE2\x82\xAC", back));  // € is not in the alphabet
}

TEST(Tokenizer, MergesByRankNotByPosition) {
  // "abc": (b, c) has the lower rank, so it wins although (a, b) is further left.
  Tokenizer t = make({{"b", "c"}, {"a", "b"}, {"a", "bc"}});
  auto ids = t.encode("abc");
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(t.token_bytes(ids[0]), "abc");
  EXPECT_EQ(t.decode(ids), "abc");
  auto ab = t.encode("abd");
  EXPECT_EQ(t.decode(ab), "abd");
  EXPECT_EQ(ab.size(), 2u);
}

TEST(Tokenizer, ScanAndHeapPathsMatchTheNaiveAlgorithm) {
  std::vector<std::pair<std::string, std::string>> merges = {
      {"a", "a"}, {"a", "b"}, {"aa", "a"}, {"b", "a"}, {"ab", "a"}, {"aa", "aa"}, {"b", "b"}, {"ba", "b"}, {"aaa", "b"}};
  Tokenizer t = make(merges);
  std::mt19937 rng(3);
  for (int trial = 0; trial < 500; ++trial) {
    size_t n = 1 + rng() % 120;  // both sides of the 32-symbol switch to the heap
    std::string w(n, 'a');
    for (char& c : w) c = rng() % 3 ? 'a' : 'b';
    std::vector<std::string> expect = naive_bpe(w, merges);
    auto ids = t.encode(w);  // a single letter run: one piece
    std::vector<std::string> got;
    for (uint32_t id : ids) got.push_back(t.token_bytes(id));
    ASSERT_EQ(got, expect) << w;
  }
}

TEST(Tokenizer, AddedTokensAreSplitOutFirst) {
  Tokenizer t = make({{"h", "i"}});
  auto ids = t.encode("hi<|endoftext|>hi<|endoftext|>");
  ASSERT_EQ(ids.size(), 4u);
  EXPECT_EQ(ids[1], t.eos_id());
  EXPECT_EQ(ids[3], t.eos_id());
  EXPECT_EQ(t.decode(ids), "hi<|endoftext|>hi<|endoftext|>");
  EXPECT_EQ(t.decode(ids, true), "hihi");
  // A partial special token is ordinary text.
  auto partial = t.encode("<|endoftext");
  EXPECT_EQ(std::count(partial.begin(), partial.end(), static_cast<uint32_t>(t.eos_id())), 0);
}

TEST(Tokenizer, RoundTripsArbitraryBytes) {
  Tokenizer t = make({{"a", "b"}, {" ", "a"}, {"\xC3", "\xA9"}});
  std::mt19937 rng(11);
  for (int trial = 0; trial < 2000; ++trial) {
    std::string s(rng() % 64, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    ASSERT_EQ(t.decode(t.encode(s)), s);
  }
}

TEST(Tokenizer, JsonRoundTrip) {
  Tokenizer t = make({{"a", "b"}, {" ", "ab"}, {"\n", "\n"}});
  Tokenizer u = Tokenizer::from_json_text(t.to_json_text(), "mem");
  EXPECT_EQ(u.vocab_size(), t.vocab_size());
  EXPECT_EQ(u.merges(), t.merges());
  for (const char* s : {"ab ab\n\nab", "x <|endoftext|> y", "\xF0\x9F\x98\x80 ab"}) EXPECT_EQ(u.encode(s), t.encode(s)) << s;
  auto j = nlohmann::json::parse(t.to_json_text());
  EXPECT_EQ(j["model"]["type"], "BPE");
  EXPECT_EQ(j["pre_tokenizer"]["type"], "ByteLevel");
  EXPECT_EQ(j["model"]["vocab"]["\xC4\xA0" "ab"], t.token_id(" ab"));
  EXPECT_EQ(j["added_tokens"][0]["content"], "<|endoftext|>");
}

TEST(Tokenizer, BadJsonIsOneClearErrorNamingTheField) {
  Tokenizer t = make({{"a", "b"}});
  auto good = nlohmann::json::parse(t.to_json_text());
  auto expect_error = [](const nlohmann::json& j, const std::string& needle) {
    try {
      Tokenizer::from_json_text(j.dump(), "tok.json");
      ADD_FAILURE() << "accepted: " << needle;
    } catch (const UserError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }
  };
  auto j = good;
  j.erase("model");
  expect_error(j, "missing field 'model'");
  j = good;
  j["model"]["type"] = "WordPiece";
  expect_error(j, "model.type");
  j = good;
  j["model"]["merges"].push_back("a zz");
  expect_error(j, "model.merges[1]");
  j = good;
  j["model"]["merges"].push_back("abab");
  expect_error(j, "model.merges[1]");
  j = good;
  j["model"]["vocab"]["dup"] = 5;
  expect_error(j, "used twice");
  j = good;
  j["model"]["vocab"].erase("a");
  expect_error(j, "missing");
  j = good;
  j["normalizer"] = {{"type", "NFC"}};
  expect_error(j, "normalizer");
  j = good;
  j["pre_tokenizer"] = {{"type", "Whitespace"}};
  expect_error(j, "pre_tokenizer");
  j = good;
  j["added_tokens"][0]["id"] = 99999;
  expect_error(j, "missing");  // a gap in the ids
  try {
    Tokenizer::from_json_text("{not json", "tok.json");
    ADD_FAILURE();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("tok.json: not valid JSON"), std::string::npos) << e.what();
  }
}

// lstrip / rstrip (RoBERTa's <mask> style) swallow the whitespace around the token, as HF does
// (checked against HF tokenizers on GPT-2 with both flags set: "a <|endoftext|>  b" -> a, eos, b).
TEST(Tokenizer, AddedTokenStripFlags) {
  Tokenizer base = make({{"a", "b"}});
  auto j = nlohmann::json::parse(base.to_json_text());
  j["added_tokens"][0]["lstrip"] = true;
  j["added_tokens"][0]["rstrip"] = true;
  Tokenizer t = Tokenizer::from_json_text(j.dump(), "strip.json");
  uint32_t eos = static_cast<uint32_t>(t.eos_id());
  uint32_t a = static_cast<uint32_t>(t.token_id("a")), b = static_cast<uint32_t>(t.token_id("b"));
  EXPECT_EQ(t.encode("a <|endoftext|>  b"), (std::vector<uint32_t>{a, eos, b}));
  EXPECT_EQ(t.encode("a\xC2\xA0<|endoftext|>\xE3\x80\x80" "b"), (std::vector<uint32_t>{a, eos, b}));  // NBSP, U+3000
  EXPECT_EQ(t.encode("  <|endoftext|>"), (std::vector<uint32_t>{eos}));
  // Saved and loaded again, the flags survive.
  EXPECT_EQ(Tokenizer::from_json_text(t.to_json_text(), "again").encode("a <|endoftext|> b"), t.encode("a <|endoftext|> b"));
  // Without the flags the spaces are ordinary text.
  EXPECT_GT(base.encode("a <|endoftext|>  b").size(), 3u);
}

TEST(Tokenizer, FieldsThatChangeEncodingAreRefused) {
  auto good = nlohmann::json::parse(make({{"a", "b"}}).to_json_text());
  auto refused = [](const nlohmann::json& j, const char* field) {
    try {
      Tokenizer::from_json_text(j.dump(), "t.json");
      ADD_FAILURE() << "accepted " << field;
    } catch (const UserError& e) {
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
  };
  auto j = good;
  j["added_tokens"][0]["single_word"] = true;
  refused(j, "single_word");
  j = good;
  j["model"]["dropout"] = 0.1;
  refused(j, "model.dropout");
  j = good;
  j["model"]["ignore_merges"] = true;
  refused(j, "model.ignore_merges");
  j = good;
  j["model"]["dropout"] = nullptr;  // null and 0 mean none
  EXPECT_NO_THROW(Tokenizer::from_json_text(j.dump(), "t.json"));
}

// model.vocab is keyed by spelling, so a special token spelled like an ordinary one cannot be
// saved (HF could not load the file): one clear error instead of a corrupt tokenizer.json.
TEST(Tokenizer, SpecialSpelledLikeOrdinaryTokenIsRefusedOnSave) {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(std::string(1, static_cast<char>(b)));
  tokens.push_back("ab");
  tokens.push_back("ab");  // the special token's slot
  Tokenizer t(tokens, {{'a', 'b'}}, {{257, "ab", true}});
  EXPECT_EQ(t.encode("ab"), (std::vector<uint32_t>{257}));  // the added-token split wins, as in HF
  EXPECT_THROW(t.to_json_text(), UserError);
}
