// Twitter's weighted tweet length (apps/ads/tweet_length.h): a table of hand-checked cases,
// several from twitter-text's own conformance suite (validate.yml, v3 configuration), and the
// cut that makes ad copy fit.
#include <gtest/gtest.h>

#include <string>

#include "apps/ads/tweet_length.h"
#include "core/utf8.h"

using tlm::apps::truncate_tweet;
using tlm::apps::tweet_length;

namespace {

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; i++) out += s;
  return out;
}

struct Case {
  const char* what;
  std::string text;
  int length;
};

}  // namespace

TEST(TweetLength, HandCheckedTable) {
  const Case cases[] = {
      {"empty", "", 0},
      {"ASCII", "This is a test.", 15},
      {"newline counts one", "a\nb", 3},
      {"http URL", "http://test.com", 23},
      {"https URL", "https://test.com", 23},
      {"bare gTLD domain", "test.com", 23},
      {"several URLs (conformance)", "Test https://test.com test https://test.com test.com test", 86},
      {"bare domain with path and query", "example.com/path/to/resource?search=foo&lang=en", 23},
      {"www domain, sentence dot not in the URL", "see www.example.com.", 28},
      {"short URL on a ccTLD", "t.co", 23},
      {"two labels on a ccTLD", "foo.co.jp", 23},
      {"ccTLD with a path", "bit.ly/dJpywL", 23},
      {"one label on a ccTLD, no path: text", "example.de", 10},
      {"numbers and abbreviations are not URLs", "e.g. 3.14", 9},
      {"an email address is not a URL", "me@example.com", 14},
      {"64-character label is not a domain (conformance)",
       "randomurlrandomurlrandomurlrandomurlrandomurlrandomurlrandomurls.com", 68},
      {"long URL counts 23", "https://example.com/" + repeat("a", 200), 23},
      {"a domain label over 63 characters is text", "https://" + repeat("a", 64) + ".com", 76},
      {"URL with balanced parentheses, trailing dot outside", "Check http://example.com/a_(b).", 30},
      {"ftp is no URL scheme", "ftp://example.com", 17},
      {"unicode domain", "http://\u2603.net/", 23},
      {"directional marks around a URL (conformance)", "\u2066\u202Ahttp://foobar.\u067E\u0627\u06A9\u0633\u062A\u0627\u0646/\u202C\u2069", 31},
      {"CJK weighs 2", "\u6545\u4EBA\u897F\u8F9E", 8},
      {"kana weighs 2", "\u306E\u306E\u306E\u306E", 8},
      {"Hangul weighs 2", "\uC800\uCC40\uCBFF\uCFFF", 8},
      {"Latin-1 and Cyrillic weigh 1", "caf\u00E9 \u0434\u0430", 7},
      {"general punctuation 2010-201F weighs 1", "\u201Cquoted\u201D \u2014 ok", 13},
      {"ellipsis U+2026 weighs 2", "\u2026", 2},
      {"prime U+2032 weighs 1", "\u2032", 1},
      {"emoji (conformance)", "\U0001F637\U0001F47E\U0001F621\U0001F525\U0001F4A9", 10},
      {"skin tone and ZWJ sequences count 2 each", "\U0001F64B\U0001F3FD\U0001F468\u200D\U0001F3A4", 4},
      {"family ZWJ sequence", "\U0001F468\u200D\U0001F469\u200D\U0001F467\u200D\U0001F466", 2},
      {"flags", "\U0001F1EF\U0001F1F5\U0001F1FA\U0001F1F8", 4},
      {"keycaps", "#\uFE0F\u20E31\uFE0F\u20E3", 4},
      {"Unicode 10 emoji with tag flag (conformance)",
       "Unicode 10.0 emoji: \U0001F92A; \U0001F9D5; \U0001F9D5\U0001F3FE; "
       "\U0001F3F4\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F",
       34},
      {"Unicode 9 emoji (conformance)", "Unicode 9.0 emoji: \U0001F920; \U0001F483; \U0001F483\U0001F3FE", 29},
      {"text-style heart with VS16 is one emoji", "\u2764\uFE0F", 2},
      {"copyright sign as text weighs 1", "\u00A9", 1},
      {"copyright sign as emoji weighs 2", "\u00A9\uFE0F", 2},
      {"combining acute is composed first (conformance)", "A\u0301B", 2},
      {"decomposed cafe", "cafe\u0301", 4},
      {"a combining mark without a composition counts", "q\u0301", 2},
      {"composition exclusion decomposes to 3 (conformance)", "A\uFB2C", 4},
      {"140 family emoji are exactly 280 (conformance)",
       repeat("\U0001F468\u200D\U0001F469\u200D\U0001F467\u200D\U0001F466", 140), 280},
      {"160 CJK characters are 320 (conformance)", repeat("\u6545", 160), 320},
  };
  for (const Case& c : cases) EXPECT_EQ(tweet_length(c.text), c.length) << c.what << ": " << c.text;
}

TEST(TweetLength, TruncateKeepsFittingTextsAndCutsAtWords) {
  EXPECT_EQ(truncate_tweet("hello world"), "hello world");
  const std::string words = repeat("aaaaaaaaa ", 40);  // 400 characters
  const std::string cut = truncate_tweet(words);
  EXPECT_LE(tweet_length(cut), 280);
  EXPECT_GE(tweet_length(cut), 270);
  EXPECT_NE(cut.back(), ' ');
  EXPECT_EQ(cut.size() % 10, 9u) << "cut inside a word";
}

TEST(TweetLength, TruncateNeverSplitsEmojiOrUrls) {
  const std::string family = "\U0001F468\u200D\U0001F469\u200D\U0001F467\u200D\U0001F466";
  const std::string cut = truncate_tweet(repeat(family, 150));
  EXPECT_EQ(tweet_length(cut), 280);
  EXPECT_EQ(cut, repeat(family, 140));
  EXPECT_TRUE(tlm::utf8_valid(cut));
  // 270 x's, a space and a URL (23): the URL does not fit and is not cut in half.
  const std::string xs = repeat("x", 270);
  EXPECT_EQ(truncate_tweet(xs + " https://example.com/abc"), xs);
  EXPECT_EQ(tweet_length(truncate_tweet(repeat("\u6545", 200), 10)), 10);
}

// A prefix is counted afresh: "aaaaax.tv" cut from "aaaaax.tv3" (text) would read as a URL
// (23) and overflow the limit; the cut must still fit (found by fuzz/fuzz_tweet_length).
TEST(TweetLength, ACutThatWouldBecomeAUrlStillFits) {
  using tlm::apps::truncate_tweet;
  using tlm::apps::tweet_length;
  EXPECT_EQ(tweet_length("aaaaax.tv3"), 10);
  EXPECT_EQ(tweet_length("aaaaax.tv"), 23);
  for (int limit = 0; limit <= 10; limit++) {
    const std::string cut = truncate_tweet("aaaaax.tv3", limit);
    EXPECT_LE(tweet_length(cut), limit) << limit << ": '" << cut << "'";
  }
  EXPECT_EQ(truncate_tweet("aaaaax.tv3", 10), "aaaaax.tv3");
}
