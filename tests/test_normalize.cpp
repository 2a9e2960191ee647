// Unit tests for data/normalize: each step on its own (HTML entities, links, mentions, NFC,
// control characters, whitespace), each step switched off through NormalizeOptions, UTF-8
// repair, retweet detection, and a randomized check that output is always valid UTF-8.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "data/normalize.h"
#include "core/utf8.h"

namespace tlm {
namespace {

using Step = void (*)(std::string_view, std::string&);

std::string run(Step step, std::string_view in) {
  std::string out;
  step(in, out);
  return out;
}

std::string norm(std::string_view in, const NormalizeOptions& opt = {}) {
  std::string out, scratch;
  normalize_tweet(in, opt, out, scratch);
  return out;
}

TEST(UnescapeHtml, NamedEntities) {
  EXPECT_EQ(run(unescape_html, "a &amp; b &lt;3 &gt; &quot;x&quot; &apos;y&apos;"), "a & b <3 > \"x\" 'y'");
  EXPECT_EQ(run(unescape_html, "wait&hellip; &nbsp;ok"), "wait\u2026 \u00A0ok");
  EXPECT_EQ(run(unescape_html, "&euro;5 &copy; &mdash;"), "\u20AC" "5 \u00A9 \u2014");
}

TEST(UnescapeHtml, NumericEntities) {
  EXPECT_EQ(run(unescape_html, "aujourd&#39;hui"), "aujourd'hui");
  EXPECT_EQ(run(unescape_html, "&#x1F600;"), "\U0001F600");
  EXPECT_EQ(run(unescape_html, "&#X1f600;"), "\U0001F600");
  EXPECT_EQ(run(unescape_html, "&#128512;"), "\U0001F600");
  EXPECT_EQ(run(unescape_html, "&#x41;&#66;"), "AB");
}

TEST(UnescapeHtml, InvalidNumericTargetsBecomeReplacementCharacter) {
  EXPECT_EQ(run(unescape_html, "a&#0;b"), "a\uFFFD" "b");
  EXPECT_EQ(run(unescape_html, "&#xD800;"), "\uFFFD");   // surrogate
  EXPECT_EQ(run(unescape_html, "&#xDFFF;"), "\uFFFD");
  EXPECT_EQ(run(unescape_html, "&#x110000;"), "\uFFFD");  // beyond Unicode
  EXPECT_EQ(run(unescape_html, "&#1114112;"), "\uFFFD");
  EXPECT_EQ(run(unescape_html, "&#99999999;"), "\uFFFD");  // many digits: saturates, no overflow
  EXPECT_EQ(run(unescape_html, "&#xFFFFFF;"), "\uFFFD");
}

TEST(UnescapeHtml, NonEntitiesStayLiteral) {
  for (const char* s : {"AT&T", "fish & chips", "&", "&;", "&#;", "&#x;", "&#12a;", "&#xZZ;", "&foo;",
                        "&amp", "&verylongentityname;", "a & b;"})
    EXPECT_EQ(run(unescape_html, s), s) << s;
  EXPECT_EQ(run(unescape_html, "& &amp;"), "& &");
  EXPECT_EQ(run(unescape_html, "&&amp;"), "&&");
  // One pass only: a double-escaped entity loses one level, as in the source HTML.
  EXPECT_EQ(run(unescape_html, "&amp;lt;"), "&lt;");
}

TEST(ReplaceLinks, SchemesAndWww) {
  EXPECT_EQ(run(replace_links, "see https://t.co/AbC123 now"), "see http now");
  EXPECT_EQ(run(replace_links, "http://example.com"), "http");
  EXPECT_EQ(run(replace_links, "HTTPS://EXAMPLE.COM/X?y=1&z=2#frag"), "http");
  EXPECT_EQ(run(replace_links, "go to www.example.com/about."), "go to http");
  EXPECT_EQ(run(replace_links, "WWW.Example.com"), "http");
  EXPECT_EQ(run(replace_links, "two https://a.co/1 https://b.co/2"), "two http http");
  EXPECT_EQ(run(replace_links, "(https://t.co/x)"), "(http");
  EXPECT_EQ(run(replace_links, "line\nhttps://t.co/x\nnext"), "line\nhttp\nnext");
}

// Clients glue links to the previous word ("...Squarehttps://t.co/x"): schemes count anywhere,
// a bare "www." only at a word start.
TEST(ReplaceLinks, SchemesGluedToAWord) {
  EXPECT_EQ(run(replace_links, "Posted a photo on Squarehttps://t.co/x"), "Posted a photo on Squarehttp");
  EXPECT_EQ(run(replace_links, "xhttp://a.b/c d"), "xhttp d");
  EXPECT_EQ(run(replace_links, "awww.cute"), "awww.cute");
}

TEST(ReplaceLinks, EndsAtUnicodeWhitespace) {
  EXPECT_EQ(run(replace_links, "https://t.co/a\u00A0next"), "http\u00A0next");
  EXPECT_EQ(run(replace_links, "https://t.co/a\u3000\u6B21"), "http\u3000\u6B21");
  EXPECT_EQ(run(replace_links, "https://t.co/a\u2003b"), "http\u2003" "b");
}

TEST(ReplaceLinks, NotLinks) {
  for (const char* s : {"http", "http:// alone", "https://", "awww.cute", "www.", "mailto:me",
                        "ftp://host/file", "the http protocol"})
    EXPECT_EQ(run(replace_links, s), s) << s;
}

// A link runs to the next whitespace whatever follows it; the scan must step over whole code
// points. U+3085 (E3 82 85) and U+30A0 (E3 82 A0) end in bytes that, read from the middle of the
// character, look like U+0085 / U+00A0 (whitespace): the link must not end there.
TEST(ReplaceLinks, NonAsciiAfterLinkIsNotCutMidCharacter) {
  EXPECT_EQ(run(replace_links, "https://t.co/abc\u3057\u3085\u3046 x"), "http x");
  EXPECT_EQ(run(replace_links, "https://example.jp/\u30A0"), "http");
  EXPECT_EQ(run(replace_links, "\u8A73\u7D30https://t.co/q\u3085\uC885 \u3042"), "\u8A73\u7D30http \u3042");
  std::string out = run(replace_links, "https://t.co/\u3085\u3085\u3085");
  EXPECT_TRUE(utf8_valid(out));
  EXPECT_EQ(out, "http");
}

TEST(ReplaceMentions, Mentions) {
  EXPECT_EQ(run(replace_mentions, "@jack hi"), "@user hi");
  EXPECT_EQ(run(replace_mentions, "RT @jack: x"), "RT @user: x");
  EXPECT_EQ(run(replace_mentions, "hi @a_b1 and @C"), "hi @user and @user");
  EXPECT_EQ(run(replace_mentions, "(@jack)"), "(@user)");
  EXPECT_EQ(run(replace_mentions, "@jack's idea"), "@user's idea");
  EXPECT_EQ(run(replace_mentions, ".@jack said"), ".@user said");
  EXPECT_EQ(run(replace_mentions, "@_"), "@user");
}

TEST(ReplaceMentions, EmailAddressesAndBareAtSignsStay) {
  for (const char* s : {"mail me at jack@twitter.com", "a@b", "@", "@ noon", "meet @ 5", "email@", "@\u540D\u524D"})
    EXPECT_EQ(run(replace_mentions, s), s) << s;
  EXPECT_EQ(run(replace_mentions, "@jack@biz"), "@user@biz");  // the second is glued to a word
}

TEST(Nfc, ComposesCanonically) {
  EXPECT_EQ(run(nfc, "Cafe\u0301"), "Caf\u00E9");
  EXPECT_EQ(run(nfc, "s'il vous plai\u0302t"), "s'il vous pla\u00EEt");
  EXPECT_EQ(run(nfc, "\u212B"), "\u00C5");               // Angstrom sign is a canonical singleton
  EXPECT_EQ(run(nfc, "\u1100\u1161"), "\uAC00");         // Hangul jamo compose
  EXPECT_EQ(run(nfc, "q\u0307\u0323"), "q\u0323\u0307");  // canonical reordering
  EXPECT_EQ(run(nfc, "e\u0301\u0301"), "\u00E9\u0301");
}

TEST(Nfc, IsNotCompatibilityNormalization) {
  for (const char* s : {"\uFB01", "\uFF21", "x\u00B2", "\u2460", "plain ascii",
                        "\U0001F469\u200D\U0001F469\u200D\U0001F467", "\U0001F44D\U0001F3FD"})
    EXPECT_EQ(run(nfc, s), s) << s;
}

TEST(StripControl, RemovesControlsKeepsLayoutAndJoiners) {
  EXPECT_EQ(run(strip_control, "a\x01" "b\x7F" "c\td\ne\rf\x1B"), "abc\td\ne\rf");
  EXPECT_EQ(run(strip_control, std::string("nul\0byte", 8)), "nulbyte");
  EXPECT_EQ(run(strip_control, "C1\u0080\u009F."), "C1.");
  EXPECT_EQ(run(strip_control, "nel\u0085kept"), "nel\u0085kept");  // whitespace, left to the next step
  EXPECT_EQ(run(strip_control, "no\uFEFFbom"), "nobom");
  EXPECT_EQ(run(strip_control, "x\uFFFE\uFFFF\uFDD0\uFDEF\U0001FFFE\U0010FFFFy"), "xy");  // noncharacters
  for (const char* s : {"\U0001F469\u200D\U0001F469\u200D\U0001F467",  // ZWJ sequence
                        "\u2708\uFE0F", "zero\u200Bwidth", "\u200Eltr mark", "\uFFFD", "\u202Bembedding"})
    EXPECT_EQ(run(strip_control, s), s) << s;
}

TEST(CollapseWhitespace, AsciiAndUnicodeRuns) {
  EXPECT_EQ(run(collapse_whitespace, "  a  b\t\tc\n\nd \r\n "), "a b c d");
  EXPECT_EQ(run(collapse_whitespace,
                "a\u00A0" "b\u3000" "c\u2003" "d\u2028" "e\u0085" "f\u202F" "g\u205F" "h\u1680" "i\u2029" "j\v\fk"),
            "a b c d e f g h i j k");
  EXPECT_EQ(run(collapse_whitespace, "   "), "");
  EXPECT_EQ(run(collapse_whitespace, ""), "");
  EXPECT_EQ(run(collapse_whitespace, "\u200Bx\u200By"), "\u200Bx\u200By");  // ZWSP is not White_Space
  EXPECT_EQ(run(collapse_whitespace, "\u0645\u0631\u062D\u0628\u0627  \u0628\u0643\u0645"),
            "\u0645\u0631\u062D\u0628\u0627 \u0628\u0643\u0645");
}

TEST(CollapseWhitespace, AppendsAfterExistingContent) {
  std::string out = "X";
  collapse_whitespace("  a  b  ", out);
  EXPECT_EQ(out, "Xa b");
}

TEST(IsRetweetText, ClassicPrefix) {
  EXPECT_TRUE(is_retweet_text("RT @jack: hello"));
  EXPECT_TRUE(is_retweet_text("  RT @jack: hello"));
  EXPECT_TRUE(is_retweet_text("\tRT @x"));
  EXPECT_FALSE(is_retweet_text("RT: hello"));
  EXPECT_FALSE(is_retweet_text("rt @jack lowercase"));
  EXPECT_FALSE(is_retweet_text("ART @gallery"));
  EXPECT_FALSE(is_retweet_text("Please RT @jack"));
  EXPECT_FALSE(is_retweet_text(""));
  EXPECT_FALSE(is_retweet_text("RT"));
}

TEST(NormalizeTweet, DefaultsMatchTweetModelConventions) {
  EXPECT_EQ(norm("RT @jack: Check this out &amp; tell me https://t.co/x  \n\n \U0001F600"),
            "RT @user: Check this out & tell me http \U0001F600");
  EXPECT_EQ(norm("@maria_g \u00A1Feliz cumplea\u00F1os! \U0001F382\U0001F389"),
            "@user \u00A1Feliz cumplea\u00F1os! \U0001F382\U0001F389");
  EXPECT_EQ(norm("Family day \U0001F469\u200D\U0001F469\u200D\U0001F467 at the park"),
            "Family day \U0001F469\u200D\U0001F469\u200D\U0001F467 at the park");
  EXPECT_EQ(norm("   spaced\u00A0out\u3000text \t with  tabs   "), "spaced out text with tabs");
  // Entities are unescaped before links and mentions are found.
  EXPECT_EQ(norm("&#64;jack see &lt;https://t.co/a&gt;"), "@user see <http");
  // Scraped tweets are often escaped twice: unescaping repeats, at most three passes.
  EXPECT_EQ(norm("fish &amp;amp; chips &amp;lt;3"), "fish & chips <3");
  EXPECT_EQ(norm("&amp;amp;amp;amp;lt;"), "&amp;lt;");
  // An escaped control character is removed like a literal one.
  EXPECT_EQ(norm("bell&#7;!"), "bell!");
  EXPECT_EQ(norm(""), "");
  EXPECT_EQ(norm(" \u200B "), "\u200B");
}

// One input with something for every step; each row switches exactly one step off.
TEST(NormalizeTweet, EachStepCanBeSwitchedOff) {
  const std::string in = "  @jack  Cafe\u0301 &amp; https://t.co/x \u00A0" "e\x01nd  ";
  const std::string all = "@user Caf\u00E9 & http end";
  EXPECT_EQ(norm(in), all);
  struct Row {
    bool NormalizeOptions::*flag;
    std::string expected;
  } rows[] = {
      {&NormalizeOptions::unescape_html, "@user Caf\u00E9 &amp; http end"},
      {&NormalizeOptions::mentions, "@jack Caf\u00E9 & http end"},
      {&NormalizeOptions::links, "@user Caf\u00E9 & https://t.co/x end"},
      {&NormalizeOptions::nfc, "@user Cafe\u0301 & http end"},
      {&NormalizeOptions::strip_control, "@user Caf\u00E9 & http e\x01nd"},
      {&NormalizeOptions::collapse_whitespace, "  @user  Caf\u00E9 & http \u00A0" "end  "},
  };
  for (const Row& r : rows) {
    NormalizeOptions opt;
    opt.*r.flag = false;
    EXPECT_EQ(norm(in, opt), r.expected);
  }
  NormalizeOptions none{false, false, false, false, false, false};
  EXPECT_EQ(norm(in, none), in);
}

TEST(NormalizeTweet, RepairsInvalidUtf8EvenWithEveryStepOff) {
  NormalizeOptions none{false, false, false, false, false, false};
  std::string out, scratch;
  EXPECT_TRUE(normalize_tweet("caf\xE9 au lait", none, out, scratch).repaired_utf8);
  EXPECT_EQ(out, "caf\uFFFD au lait");
  EXPECT_TRUE(normalize_tweet("truncated \xF0\x9F\x98", {}, out, scratch).repaired_utf8);
  EXPECT_EQ(out, "truncated \uFFFD");
  EXPECT_FALSE(normalize_tweet("fine \U0001F600", {}, out, scratch).repaired_utf8);
  EXPECT_EQ(out, "fine \U0001F600");
}

TEST(NormalizeTweet, OutputAndScratchAreReusable) {
  std::string out = "stale content", scratch = "more stale content";
  normalize_tweet("first  one", {}, out, scratch);
  EXPECT_EQ(out, "first one");
  normalize_tweet("@second", {}, out, scratch);
  EXPECT_EQ(out, "@user");
}

// Random compositions of tweet-like fragments under random option sets: the output must always
// be valid UTF-8 (it is written to JSON and fed to the tokenizer).
TEST(NormalizeTweet, OutputIsAlwaysValidUtf8) {
  const char* fragments[] = {"hello", " ", "  ", "\t", "\n", "\r\n", "@jack", "a@b.c", "https://t.co/Ab1",
                             "www.x.com/", "http://", "&amp;", "&#x1F600;", "&#0;", "&lt", "&", "\u3085",
                             "\u30A0", "\uC885", "\u00A0", "\u3000", "\u0085", "e\u0301", "\u200D",
                             "\U0001F469", "\uFEFF", "\x01", "\x7F", "\xFF", "\xC3", "\xE2\x82",
                             "\xED\xA0\x80", "\xF0\x9F\x98", "\u0645\u0631", "RT @x:"};
  std::mt19937 rng(1234);
  std::string out, scratch;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string in;
    int n = 1 + static_cast<int>(rng() % 8);
    for (int k = 0; k < n; ++k) in += fragments[rng() % std::size(fragments)];
    unsigned bits = rng();
    NormalizeOptions opt{bool(bits & 1), bool(bits & 2), bool(bits & 4), bool(bits & 8), bool(bits & 16),
                         bool(bits & 32)};
    normalize_tweet(in, opt, out, scratch);
    ASSERT_TRUE(utf8_valid(out)) << "input: " << in << " options: " << (bits & 63);
    if (opt.collapse_whitespace) {
      ASSERT_EQ(out.find("  "), std::string::npos) << in;
      if (!out.empty()) {
        ASSERT_NE(out.front(), ' ') << in;
        ASSERT_NE(out.back(), ' ') << in;
      }
    }
  }
}

}  // namespace
}  // namespace tlm
