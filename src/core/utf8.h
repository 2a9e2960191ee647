// UTF-8 primitives shared by normalization, de-duplication and (later) the tokenizer.
//
// Invalid input policy: tweetlm never passes invalid UTF-8 through. Each maximal invalid
// subsequence (the W3C/WHATWG "substitution of maximal subparts" practice) becomes U+FFFD, so
// repair is deterministic and matches what browsers and Python's errors="replace" produce.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tlm {

bool is_ascii(std::string_view s);
// True when `s` is valid UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool utf8_valid(std::string_view s);
// Writes `s` to `out` with invalid sequences replaced; returns true if anything was replaced.
bool utf8_repair(std::string_view s, std::string& out);
// Decodes one code point from valid UTF-8 at s[i], advancing i.
uint32_t utf8_decode(std::string_view s, size_t& i);
void utf8_append(std::string& out, uint32_t cp);
// Unicode White_Space (the \s of Unicode regexes): tab..CR, space, NEL, NBSP, U+1680,
// U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000. One definition for normalization,
// the pre-tokenizer and added-token stripping.
inline bool is_white_space(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
         cp == 0x3000;
}
// Number of code points in valid UTF-8.
size_t utf8_length(std::string_view s);

// A letter, mark or digit (Unicode categories L*, M*, N*): what makes up a word for keyword
// matching and TF-IDF terms.
bool is_word_code_point(uint32_t cp);

}  // namespace tlm
