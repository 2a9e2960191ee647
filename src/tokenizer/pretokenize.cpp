// The GPT-2 pre-tokenizer as a scanner (see pretokenize.h). Each step mirrors one alternative
// of the regex, tried in the regex's order at the current position:
//   1. contractions 's 't 're 've 'm 'll 'd (case-sensitive, as in GPT-2)
//   2. ' ?' followed by a run of letters, of numbers, or of "other" (not space/letter/number)
//   3. a whitespace run: all of it at the end of the text or when it is one character;
//      otherwise all but its last character (\s+(?!\S) backtracks by one so the last space
//      can prefix the next word)
// Character classes come from a 64K-entry table for the BMP (built once from utf8proc) and
// utf8proc directly above it, so the common case is one array load per character; code points
// utf8proc (Unicode 15) leaves unassigned are looked up in the Unicode 16 additions (kUnicode16).
#include "tokenizer/pretokenize.h"

#include <utf8proc.h>

#include <cstdint>
#include <vector>

#include "core/utf8.h"

namespace tlm {
namespace {

enum Cls : uint8_t { kOther = 0, kLetter = 1, kNumber = 2, kSpace = 3 };


// Letters and numbers new in Unicode 16.0. utf8proc 2.8 (Debian 12) has the Unicode 15 tables,
// while HF tokenizers (Oniguruma) and tiktoken (Rust regex) classify by Unicode 16, so these
// code points, unassigned for utf8proc, are looked up here. The list is exactly where HF's
// pre-tokenizer differed from utf8proc over every code point of planes 0-3 and 14
// (TokenizerInterop.PretokenizerSplitsEveryCodePointLikeHf in tests/test_tokenizer_interop.cpp).
struct CpRange {
  uint32_t lo, hi;
  Cls cls;
};
constexpr CpRange kUnicode16[] = {
    {0x1C89, 0x1C8A, kLetter},   {0xA7CB, 0xA7CD, kLetter},   {0xA7DA, 0xA7DC, kLetter},   {0x105C0, 0x105F3, kLetter},
    {0x10D40, 0x10D49, kNumber}, {0x10D4A, 0x10D65, kLetter}, {0x10D6F, 0x10D85, kLetter}, {0x10EC2, 0x10EC4, kLetter},
    {0x11380, 0x11389, kLetter}, {0x1138B, 0x1138B, kLetter}, {0x1138E, 0x1138E, kLetter}, {0x11390, 0x113B5, kLetter},
    {0x113B7, 0x113B7, kLetter}, {0x113D1, 0x113D1, kLetter}, {0x113D3, 0x113D3, kLetter}, {0x116D0, 0x116E3, kNumber},
    {0x11BC0, 0x11BE0, kLetter}, {0x11BF0, 0x11BF9, kNumber}, {0x13460, 0x143FA, kLetter}, {0x16100, 0x1611D, kLetter},
    {0x16130, 0x16139, kNumber}, {0x16D40, 0x16D6C, kLetter}, {0x16D70, 0x16D79, kNumber}, {0x18CFF, 0x18CFF, kLetter},
    {0x1CCF0, 0x1CCF9, kNumber}, {0x1E5D0, 0x1E5ED, kLetter}, {0x1E5F0, 0x1E5F0, kLetter}, {0x1E5F1, 0x1E5FA, kNumber},
    {0x2EBF0, 0x2EE5D, kLetter}};

Cls classify_slow(uint32_t cp) {
  if (is_white_space(cp)) return kSpace;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_CN:  // unassigned in Unicode 15: maybe a Unicode 16 letter or number
      for (const CpRange& r : kUnicode16)
        if (cp >= r.lo && cp <= r.hi) return r.cls;
      return kOther;
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
      return kLetter;
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
      return kNumber;
    default:
      return kOther;
  }
}

const std::vector<uint8_t>& bmp_table() {
  static const std::vector<uint8_t> table = [] {
    std::vector<uint8_t> t(0x10000);
    for (uint32_t cp = 0; cp < 0x10000; ++cp) t[cp] = classify_slow(cp);
    return t;
  }();
  return table;
}

// Decodes the character at s[i]: its class and byte length. Invalid UTF-8 is one "other" byte.
inline Cls char_at(std::string_view s, size_t i, size_t& len, const uint8_t* bmp) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    len = 1;
    return static_cast<Cls>(bmp[c]);
  }
  size_t n = s.size() - i;
  auto cont = [&](size_t k) { return k < n && (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80; };
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF && cont(1)) {
    len = 2;
    cp = ((c & 0x1Fu) << 6) | (s[i + 1] & 0x3F);
  } else if (c >= 0xE0 && c <= 0xEF && cont(1) && cont(2)) {
    cp = ((c & 0x0Fu) << 12) | ((s[i + 1] & 0x3Fu) << 6) | (s[i + 2] & 0x3F);
    if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)) { len = 1; return kOther; }
    len = 3;
  } else if (c >= 0xF0 && c <= 0xF4 && cont(1) && cont(2) && cont(3)) {
    cp = ((c & 0x07u) << 18) | ((s[i + 1] & 0x3Fu) << 12) | ((s[i + 2] & 0x3Fu) << 6) | (s[i + 3] & 0x3F);
    if (cp < 0x10000 || cp > 0x10FFFF) { len = 1; return kOther; }
    len = 4;
    return classify_slow(cp);
  } else {
    len = 1;
    return kOther;
  }
  return static_cast<Cls>(bmp[cp]);
}

bool contraction_at(std::string_view s, size_t i, size_t& len) {
  if (s[i] != '\'' || i + 1 >= s.size()) return false;
  char a = s[i + 1];
  if (a == 's' || a == 't' || a == 'm' || a == 'd') { len = 2; return true; }
  if (i + 2 < s.size()) {
    char b = s[i + 2];
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) { len = 3; return true; }
  }
  return false;
}

}  // namespace

void gpt2_pretokenize(std::string_view s, std::vector<std::string_view>& out) {
  const uint8_t* bmp = bmp_table().data();
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    size_t len;
    if (contraction_at(s, i, len)) {
      out.push_back(s.substr(i, len));
      i += len;
      continue;
    }
    // ' ?' then a run of one class (letters, numbers, or other).
    size_t k = i;
    if (s[k] == ' ' && k + 1 < n) ++k;
    size_t clen;
    Cls cls = char_at(s, k, clen, bmp);
    if (cls == kSpace && k != i) {  // ' ' then whitespace: the optional space cannot help
      k = i;
      cls = kSpace;
      clen = 1;
    }
    if (cls != kSpace) {
      size_t j = k + clen;
      while (j < n) {
        size_t l2;
        if (char_at(s, j, l2, bmp) != cls) break;
        j += l2;
      }
      out.push_back(s.substr(i, j - i));
      i = j;
      continue;
    }
    // A whitespace run [i, j).
    size_t j = i, last = i;
    while (j < n) {
      size_t l2;
      if (char_at(s, j, l2, bmp) != kSpace) break;
      last = j;
      j += l2;
    }
    if (j == n || last == i) {
      out.push_back(s.substr(i, j - i));
      i = j;
    } else {
      out.push_back(s.substr(i, last - i));
      i = last;
    }
  }
}

}  // namespace tlm
