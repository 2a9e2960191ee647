// Unit tests for data/utf8: validation, repair by "substitution of maximal subparts" (the
// Unicode Standard ch. 3 examples, Tables 3-8 to 3-11, are used verbatim), decoding, encoding
// and code point counting.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "core/utf8.h"

namespace tlm {
namespace {

// U+FFFD as a literal, so expected strings are built at compile time.
#define FFFD "\xEF\xBF\xBD"

std::string repaired(std::string_view s) {
  std::string out;
  utf8_repair(s, out);
  return out;
}

TEST(Utf8, IsAsciiChecksEveryPosition) {
  EXPECT_TRUE(is_ascii(""));
  EXPECT_TRUE(is_ascii("hello"));
  std::string s(37, 'a');  // longer than one 8-byte word, with a tail
  EXPECT_TRUE(is_ascii(s));
  for (size_t i = 0; i < s.size(); ++i) {
    std::string t = s;
    t[i] = '\x80';
    EXPECT_FALSE(is_ascii(t)) << "non-ASCII byte at " << i;
  }
}

TEST(Utf8, ValidSequences) {
  for (const char* s : {"", "plain ascii", "caf\xC3\xA9",          // U+00E9
                        "\xC2\x80", "\xDF\xBF",                     // U+0080, U+07FF
                        "\xE0\xA0\x80", "\xE2\x82\xAC",             // U+0800, U+20AC
                        "\xED\x9F\xBF", "\xEE\x80\x80",             // U+D7FF, U+E000 around the surrogates
                        "\xEF\xBF\xBD", "\xEF\xBF\xBF",             // U+FFFD, U+FFFF
                        "\xF0\x90\x80\x80", "\xF0\x9F\x98\x80",     // U+10000, U+1F600
                        "\xF4\x8F\xBF\xBF"})                        // U+10FFFF
    EXPECT_TRUE(utf8_valid(s)) << s;
  // A family emoji: three emoji joined by two ZWJs.
  EXPECT_TRUE(utf8_valid("\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7"));
}

TEST(Utf8, InvalidSequences) {
  struct Case {
    const char* bytes;
    const char* why;
  } cases[] = {
      {"\x80", "lone continuation byte"},
      {"a\xBF", "lone continuation byte after ASCII"},
      {"\xC0\x80", "overlong NUL"},
      {"\xC1\xBF", "overlong U+007F"},
      {"\xE0\x80\x80", "overlong 3-byte"},
      {"\xE0\x9F\xBF", "overlong U+07FF"},
      {"\xF0\x8F\xBF\xBF", "overlong U+FFFF"},
      {"\xED\xA0\x80", "surrogate U+D800"},
      {"\xED\xBF\xBF", "surrogate U+DFFF"},
      {"\xED\xA0\xBD\xED\xB8\x80", "CESU-8 surrogate pair"},
      {"\xF4\x90\x80\x80", "U+110000"},
      {"\xF5\x80\x80\x80", "lead byte F5"},
      {"\xFF", "byte FF"},
      {"\xFE", "byte FE"},
      {"\xC3", "truncated 2-byte at end"},
      {"\xE2\x82", "truncated 3-byte at end"},
      {"\xF0\x9F\x98", "truncated 4-byte at end"},
      {"\xC3" "b", "truncated 2-byte before ASCII"},
      {"\xE2\x82" "abc", "truncated 3-byte before ASCII"},
  };
  for (const auto& c : cases) EXPECT_FALSE(utf8_valid(c.bytes)) << c.why;
  // Invalid bytes late in a long ASCII run (past the word-at-a-time fast path).
  std::string s(100, 'x');
  s += "\xC0\xAF";
  EXPECT_FALSE(utf8_valid(s));
}

TEST(Utf8, RepairLeavesValidTextAloneAndAppends) {
  std::string out = "prefix:";
  EXPECT_FALSE(utf8_repair("caf\xC3\xA9 \xF0\x9F\x98\x80", out));
  EXPECT_EQ(out, "prefix:caf\xC3\xA9 \xF0\x9F\x98\x80");
  std::string out2 = "p:";
  EXPECT_TRUE(utf8_repair("a\xFF", out2));
  EXPECT_EQ(out2, "p:a" FFFD);
}

// The Unicode Standard, ch. 3 "U+FFFD Substitution of Maximal Subparts", Tables 3-8 .. 3-11.
TEST(Utf8, RepairFollowsUnicodeTables) {
  // Table 3-8: non-shortest forms and ill-formed lead bytes: one U+FFFD per byte.
  EXPECT_EQ(repaired("\xC0\xAF\xE0\x80\xBF\xF0\x81\x82\x41"), FFFD FFFD FFFD FFFD FFFD FFFD FFFD FFFD "A");
  // Table 3-9: surrogates encoded in UTF-8: one U+FFFD per byte.
  EXPECT_EQ(repaired("\xED\xA0\x80\xED\xBF\xBF\xED\xAF\x41"), FFFD FFFD FFFD FFFD FFFD FFFD FFFD FFFD "A");
  // Table 3-10: beyond U+10FFFF and 0xFF bytes.
  EXPECT_EQ(repaired("\xF4\x91\x92\x93\xFF\x41\x80\xBF\x42"), FFFD FFFD FFFD FFFD FFFD "A" FFFD FFFD "B");
  // Table 3-11: truncated sequences: one U+FFFD per maximal subpart.
  EXPECT_EQ(repaired("\xE1\x80\xE2\xF0\x91\x92\xF1\xBF\x41"), FFFD FFFD FFFD FFFD "A");
  // The worked example in section 3.9.
  EXPECT_EQ(repaired("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64"),
            "a" FFFD FFFD FFFD "b" FFFD "c" FFFD FFFD "d");
}

TEST(Utf8, RepairOfTruncatedAndMixedInput) {
  EXPECT_EQ(repaired("abc\xF0\x9F\x98"), "abc" FFFD);  // a tweet cut inside an emoji
  EXPECT_EQ(repaired("\xE2\x82\xAC\xE2\x82"), "\xE2\x82\xAC" FFFD);
  EXPECT_EQ(repaired("caf\xE9 au lait"), "caf" FFFD " au lait");  // Latin-1 é
  EXPECT_EQ(repaired("\xC3\xA9\xC3"), "\xC3\xA9" FFFD);
  EXPECT_EQ(repaired("\xF4\x8F\xBF\xBF\xF4\x90"), "\xF4\x8F\xBF\xBF" FFFD FFFD);
  EXPECT_EQ(repaired("\xED\x9F\xBF\xED\xA0"), "\xED\x9F\xBF" FFFD FFFD);
}

TEST(Utf8, RepairOfRandomBytesIsValidAndStable) {
  std::mt19937 rng(7);
  // Bytes drawn mostly from the interesting ranges (leads, continuations, ASCII).
  const unsigned char pool[] = {'a', ' ', 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xDF,
                                0xE0, 0xE1, 0xED, 0xEF, 0xF0, 0xF1, 0xF4, 0xF5, 0xFF};
  for (int iter = 0; iter < 5000; ++iter) {
    std::string s;
    size_t len = rng() % 24;
    for (size_t i = 0; i < len; ++i) s.push_back(static_cast<char>(pool[rng() % sizeof pool]));
    std::string out;
    bool changed = utf8_repair(s, out);
    ASSERT_TRUE(utf8_valid(out)) << "repair produced invalid UTF-8, iteration " << iter;
    EXPECT_EQ(changed, !utf8_valid(s));
    if (!changed) {
      EXPECT_EQ(out, s);
    }
    std::string again;
    EXPECT_FALSE(utf8_repair(out, again));  // repair is idempotent
    EXPECT_EQ(again, out);
  }
}

TEST(Utf8, EncodeDecodeRoundTripsEveryScalarValue) {
  std::string s;
  for (uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    s.clear();
    utf8_append(s, cp);
    size_t expected_len = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    ASSERT_EQ(s.size(), expected_len) << std::hex << cp;
    ASSERT_TRUE(utf8_valid(s)) << std::hex << cp;
    size_t i = 0;
    ASSERT_EQ(utf8_decode(s, i), cp);
    ASSERT_EQ(i, s.size());
  }
}

TEST(Utf8, EncodeKnownBytes) {
  std::string s;
  utf8_append(s, 0xE9);
  utf8_append(s, 0x20AC);
  utf8_append(s, 0x1F600);
  EXPECT_EQ(s, "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
}

TEST(Utf8, DecodeAdvancesThroughMixedText) {
  std::string s = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80z";
  size_t i = 0;
  std::vector<uint32_t> cps;
  while (i < s.size()) cps.push_back(utf8_decode(s, i));
  EXPECT_EQ(cps, (std::vector<uint32_t>{'a', 0xE9, 0x20AC, 0x1F600, 'z'}));
}

TEST(Utf8, LengthCountsCodePoints) {
  EXPECT_EQ(utf8_length(""), 0u);
  EXPECT_EQ(utf8_length("hello"), 5u);
  EXPECT_EQ(utf8_length("caf\xC3\xA9"), 4u);
  EXPECT_EQ(utf8_length("\xF0\x9F\x98\x80\xF0\x9F\x98\x80"), 2u);
  // Family emoji: 3 emoji + 2 ZWJ = 5 code points (one grapheme, but length is in code points).
  EXPECT_EQ(utf8_length("\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7"), 5u);
  // Arabic: 5 letters.
  EXPECT_EQ(utf8_length("\xD9\x85\xD8\xB1\xD8\xAD\xD8\xA8\xD8\xA7"), 5u);
}

}  // namespace
}  // namespace tlm
