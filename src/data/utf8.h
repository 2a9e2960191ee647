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
// Number of code points in valid UTF-8.
size_t utf8_length(std::string_view s);

}  // namespace tlm
