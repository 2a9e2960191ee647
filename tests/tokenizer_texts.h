// Inputs for the tokenizer exactness tests (test_tokenizer_interop.cpp): hand-written hard
// strings, seeded random Unicode text, seeded random byte strings (invalid UTF-8 included), the
// TweetEval test tweets, and an escaped form of a text for failure messages.
//
// The random Unicode generator is weighted toward what decides pre-tokenization and merging
// (letters, combining marks, every White_Space character, zero-width characters, punctuation,
// digits of several kinds, contractions, emoji sequences), with a share of code points drawn
// from all seventeen planes, assigned or not, so category-table differences between
// implementations show up too. Everything is a pure function of the seed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/check.h"
#include "core/rng.h"
#include "core/utf8.h"

namespace tlm::testing {

// Printable ASCII as is, everything else as C++ escapes (\n, \t, \uXXXX, \UXXXXXXXX; control
// characters and invalid bytes as \xHH), so a failing input can be read and pasted into a test.
inline std::string escaped(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c >= 0x20 && c < 0x7F) out.push_back(static_cast<char>(c));
    else if (c < 0x80) out += strprintf("\\x%02X", c);
    else if (i + len <= s.size() && utf8_valid(std::string_view(s).substr(i, len))) {
      size_t j = i;
      uint32_t cp = utf8_decode(s, j);
      out += cp <= 0xFFFF ? strprintf("\\u%04X", cp) : strprintf("\\U%08X", cp);
    } else {
      out += strprintf("\\x%02X", c);
      len = 1;
    }
    i += len;
  }
  return out;
}

inline std::vector<std::string> hard_strings() {
  std::vector<std::string> v = {
      // Emoji: ZWJ families, skin tones, flags (regional indicators and tag sequences), keycaps.
      "😀", "👨‍👩‍👧‍👦 family", "👩🏽‍💻👨🏿‍🚀", "🏳️‍🌈🏴‍☠️", "🇺🇸🇬🇧🇯🇵🇧🇷", "🏴󠁧󠁢󠁳󠁣󠁴󠁿 scotland",
      "👍🏻👍🏼👍🏽👍🏾👍🏿", "❤️‍🔥 ❤️ ♥", "1️⃣ #️⃣ *️⃣", "😂😂😂 lol", "a😂b 😂c", "🫶🏾🫠🪿",
      // CJK, kana, Hangul, full width.
      "今日は良い天気ですね。", "我爱自然语言处理！", "한국어 텍스트 처리", "ｆｕｌｌｗｉｄｔｈ　ｔｅｘｔ　１２３",
      "東京2024オリンピック", "ｗｗｗ笑", "𠜎𠜱𠝹𠱓",
      // Right to left, bidi controls, mixed digits.
      "مرحبا بالعالم! كيف حالك؟", "שלום עולם", "\u202Bembedded RTL\u202C", "العربية 123 ٤٥٦ test",
      "إن شاء الله 🙏", "\u200Frlm\u200Elrm",
      // Zero-width characters (not White_Space: they join words).
      "zero\u200Bwidth\u200Cnon\u200Djoiner", "\uFEFFbom at start", "word\u2060joiner", "\u180Emongolian vs",
      "a\u200B b \u200Bc", "\u200D",
      // Combining marks.
      "e\u0301 vs \u00E9", "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇", "a\u0308\u0304x", "\u0301 leading mark", " \u0301", "ก่ิ่่่ ไทย", "हिन्दी தமிழ்",
      "n\u0303o\u0303 1\u20E3",
      // Spaces: NBSP, ideographic space, tabs, newline runs, trailing and repeated spaces.
      "a\u00A0b", "a\u3000b", "a \u00A0 b", "tab\there", "\t\tlead tabs", "nl\n\n\nruns", "\r\n windows \r\n",
      "trailing   ", "   leading", "multiple     spaces before words", "   ", " ", "", "\n", " \n ", "\n \n",
      "a  \n  b", "\u2028line sep\u2029para", "\u0085nel", "\v\f", " \t x", "x \t", "\u2000\u2001\u200A y",
      "\u205F\u202F\u1680 z", "  \u00A0x", "end with nbsp\u00A0",
      // Contractions, upper case ones (not contractions in GPT-2's regex), near misses.
      "it's don't they're we've I'm you'll he'd", "IT'S DON'T THEY'RE WE'VE I'M YOU'LL HE'D", "'S 'T 'Re 'sS 'LL",
      "rock'n'roll", "''s", "' s", "'", "'''", "the dogs' bones", "ma'am y'all o'clock", "it\u2019s curly",
      "'s's's", " 's", "x'", "'ve'll'd'm't're", "'1 '\u00E9 '\u0301",
      // Numbers with letters, other numerals.
      "abc123def", "123abc", "3.14159", "1,000,000", "2024-05-01", "0x1F600", "\u00BD \u00BE \u00B2 \u00B3 Ⅻ ①②",
      "٣٤٥", "１２３", "10x 2nd 3rd 4th", "v1.2.3-rc1", "$100 €50 £20 ¥1000",
      // Special token text inside ordinary text.
      "<|endoftext|>", "a<|endoftext|>b", " <|endoftext|> ", "<|endoftext|><|endoftext|>", "<|endoftext",
      "endoftext|>", "<|im_start|>user\nhi<|im_end|>", "<|pad|>", "<<|endoftext|>>", "x <|endoftext|>\n\ny",
      // Tweet-shaped text.
      "@user @user http", "#hashtag #100DaysOfCode", "RT @user: lol 😂😂😂", "loooooooooool", "!!!!!!!!!!!!", "?!?!",
      "....", "http://t.co/abc123", "¯\\_(ツ)_/¯", "( ͡° ͜ʖ ͡°)", "&amp; &lt; &gt;", "C++ c# F#", "@user_123: ok",
      // Other scripts and planes.
      "Ελληνικά кириллица ქართული Հայերեն", "𝕳𝖊𝖑𝖑𝖔 𝔀𝓸𝓻𝓵𝓭", "\U000E0041\U000E0042 tags", "\U000F0000\U0010FFFD pua",
      "\uFFFD replacement", "\uFFFE\uFFFF nonchars",
  };
  // Control characters and NUL inside text.
  v.push_back(std::string("nul\0inside", 10));
  v.push_back("\x01\x02\x1F\x7F ctl");
  // Long pieces: the heap path of the merge loop and long whitespace runs.
  std::string s;
  for (int i = 0; i < 2000; ++i) s += "😂";
  v.push_back(s);
  v.push_back(std::string(3000, 'a'));
  v.push_back(std::string("a").append(1000, ' ').append("b"));
  v.push_back(std::string(500, '\n') + "x");
  s.clear();
  for (int i = 0; i < 100; ++i) s += "1234567890";
  v.push_back(s);
  s.clear();
  for (int i = 0; i < 300; ++i) s += "ab'";
  v.push_back(s);
  return v;
}

// A random valid UTF-8 string of 0..max_chars code points (see the top of this file).
inline std::string random_unicode(Rng& r, uint32_t max_chars = 40) {
  static const uint32_t kSpaces[] = {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x20, 0x20, 0x20, 0x85, 0xA0, 0x1680,
                                     0x2000, 0x2005, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000,
                                     // not White_Space, but easily mistaken for it
                                     0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x180E, 0x1C};
  static const char* const kPieces[] = {"'s", "'S", "'t", "'re", "'ve", "'m", "'ll", "'d", "'LL", "'", "''",
                                        "<|endoftext|>", "<|endoftext", "<|im_end|>", "\r\n", "...", "http"};
  struct Range {
    uint32_t lo, hi;
  };
  static const Range kLetters[] = {{0xC0, 0x24F},   {0x370, 0x3FF},   {0x400, 0x4FF},   {0x531, 0x587},
                                   {0x10A0, 0x10FF}, {0x1E00, 0x1EFF}, {0x2C00, 0x2C5F}, {0xA640, 0xA69F}};
  static const Range kMarks[] = {{0x300, 0x36F}, {0x483, 0x489}, {0x591, 0x5BD}, {0x64B, 0x65F}, {0x900, 0x903},
                                 {0x1AB0, 0x1AFF}, {0x20D0, 0x20FF}, {0xFE20, 0xFE2F}, {0xE0100, 0xE01EF}};
  static const Range kDigits[] = {{0x30, 0x39},     {0x660, 0x669},   {0x966, 0x96F},   {0xFF10, 0xFF19},
                                  {0x2160, 0x2188}, {0x2460, 0x249B}, {0xB2, 0xB3},     {0x1D7CE, 0x1D7FF}};
  static const Range kScripts[] = {{0x4E00, 0x9FFF}, {0x3040, 0x30FF}, {0xAC00, 0xD7A3}, {0x600, 0x6FF},
                                   {0x590, 0x5FF},   {0x900, 0x97F},   {0xE00, 0xE7F},   {0x1780, 0x17FF}};
  static const Range kEmoji[] = {{0x1F300, 0x1F5FF}, {0x1F600, 0x1F64F}, {0x1F900, 0x1FAFF}, {0x2600, 0x27BF},
                                 {0x1F1E6, 0x1F1FF}, {0x1F3FB, 0x1F3FF}, {0xFE0F, 0xFE0F}, {0x200D, 0x200D}};
  static const Range kHighPlanes[] = {{0x10000, 0x1FFFF}, {0x20000, 0x3134F}, {0xE0000, 0xE007F}, {0xF0000, 0x10FFFF}};
  auto from = [&](const auto& ranges) {
    const Range& g = ranges[r.below(static_cast<uint32_t>(std::size(ranges)))];
    return g.lo + r.below(g.hi - g.lo + 1);
  };
  std::string out;
  uint32_t n = r.below(max_chars + 1);
  for (uint32_t k = 0; k < n; ++k) {
    uint32_t roll = r.below(1000), cp;
    if (roll < 220) cp = (r.below(2) ? 'a' : 'A') + r.below(26);
    else if (roll < 300) cp = from(kLetters);
    else if (roll < 380) cp = from(kMarks);
    else if (roll < 520) cp = kSpaces[r.below(static_cast<uint32_t>(std::size(kSpaces)))];
    else if (roll < 620) cp = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"[r.below(32)];
    else if (roll < 680) cp = from(kDigits);
    else if (roll < 730) {
      out += kPieces[r.below(static_cast<uint32_t>(std::size(kPieces)))];
      continue;
    } else if (roll < 800) cp = from(kEmoji);
    else if (roll < 870) cp = from(kScripts);
    else if (roll < 910) cp = from(kHighPlanes);
    else if (roll < 930) cp = r.below(0x20);
    else {
      cp = r.below(0x110000 - 0x800);  // any scalar value, every plane
      if (cp >= 0xD800) cp += 0x800;
    }
    utf8_append(out, cp);
  }
  return out;
}

// Random bytes: runs of valid UTF-8 (random_unicode), lone continuation and lead bytes,
// truncated sequences, overlong forms, encoded surrogates and values above U+10FFFF.
inline std::string random_bytes(Rng& r) {
  static const char* const kBad[] = {"\x80", "\xBF", "\xC0\xAF", "\xC1\xBF", "\xC2", "\xE0\x80\xAF", "\xE2\x82",
                                     "\xED\xA0\x80", "\xED\xBF\xBF", "\xF0\x82\x82\xAC", "\xF0\x9F\x98", "\xF4\x90\x80\x80",
                                     "\xF5\x80\x80\x80", "\xF8\x88\x80\x80\x80", "\xFE", "\xFF", "\xC3\x28"};
  std::string out;
  uint32_t parts = r.below(8);
  for (uint32_t k = 0; k < parts; ++k) {
    uint32_t roll = r.below(4);
    if (roll == 0) out += random_unicode(r, 8);
    else if (roll == 1) out += kBad[r.below(static_cast<uint32_t>(std::size(kBad)))];
    else if (roll == 2) out.push_back(static_cast<char>(r.below(256)));
    else
      for (uint32_t i = r.below(12); i > 0; --i) out.push_back(static_cast<char>(r.below(256)));
  }
  return out;
}

// Every line of every test_text.txt under `tweeteval_dir` (sorted paths, file order).
inline std::vector<std::string> tweeteval_test_texts(const std::string& tweeteval_dir) {
  std::vector<std::string> files, out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(tweeteval_dir))
    if (e.path().filename() == "test_text.txt") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  for (const std::string& f : files) {
    std::ifstream in(f, std::ios::binary);
    for (std::string line; std::getline(in, line);) out.push_back(line);
  }
  return out;
}

}  // namespace tlm::testing
