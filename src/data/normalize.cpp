// Tweet normalization (see normalize.h). Each step is one linear pass; NFC calls utf8proc only
// when the text is not NFC already by a quick check (ASCII, and most emoji, CJK, Arabic and
// precomposed Latin text, pass it), which keeps the common case fast.
#include "data/normalize.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "core/utf8.h"

namespace tlm {
namespace {

bool is_word_byte(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; }

bool starts_with_icase(std::string_view s, size_t i, const char* lit) {
  size_t n = std::strlen(lit);
  if (i + n > s.size()) return false;
  for (size_t k = 0; k < n; ++k) {
    char c = s[i + k];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lit[k]) return false;
  }
  return true;
}

// Unicode White_Space code points (besides ASCII), as UTF-8 lead + tail checks.
size_t unicode_space_len(std::string_view s, size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (c == ' ' || (c >= '\t' && c <= '\r')) return 1;
  // Only these lead bytes start a Unicode space. Testing them first skips decoding most text,
  // and a continuation byte (replace_links scans byte by byte) is never taken for a space:
  // decoding from one could read "\x82\x85" as U+0085 and cut a character in half.
  if (c != 0xC2 && c != 0xE1 && c != 0xE2 && c != 0xE3) return 0;
  size_t j = i;
  uint32_t cp = utf8_decode(s, j);
  bool space = is_white_space(cp);
  return space ? j - i : 0;
}

struct Entity {
  const char* name;
  uint32_t cp;
};
// The entities that occur in tweets: Twitter escapes &, <, > itself; the rest come from
// third-party clients and scraped HTML.
constexpr Entity kEntities[] = {
    {"amp", '&'},       {"lt", '<'},        {"gt", '>'},         {"quot", '"'},      {"apos", '\''},
    {"nbsp", 0xA0},     {"hellip", 0x2026}, {"mdash", 0x2014},   {"ndash", 0x2013},  {"lsquo", 0x2018},
    {"rsquo", 0x2019},  {"ldquo", 0x201C},  {"rdquo", 0x201D},   {"copy", 0xA9},     {"reg", 0xAE},
    {"trade", 0x2122},  {"euro", 0x20AC},   {"pound", 0xA3},     {"yen", 0xA5},      {"cent", 0xA2},
    {"deg", 0xB0},      {"times", 0xD7},    {"middot", 0xB7},    {"bull", 0x2022},   {"laquo", 0xAB},
    {"raquo", 0xBB},
};

// NFC quick check. utf8proc_map decomposes and recomposes every code point, and it was the
// largest single cost of `prepare` on real tweets, most of which are NFC already. A code point
// is "inert" when NFC leaves it unchanged whatever surrounds it: combining class 0, NFC maps
// it to itself, it never composes with a character before it, and neither does the first
// character of its decomposition. Text made only of inert code points is NFC as it stands
// (UAX #15, "stable code points"), so it can be copied. The table is derived from utf8proc's
// own data on first use, so it always agrees with the slow path; a superset of the truly
// unsafe code points would only cost speed, never change output.
class NfcInertTable {
 public:
  NfcInertTable() : unsafe_(kWords, 0) {
    std::vector<uint64_t> second(kWords, 0);
    std::vector<std::pair<uint32_t, uint32_t>> first_of;  // (code point, first of its decomposition)
    for (uint32_t cp = 0; cp < kCodePoints; ++cp) {
      if (cp >= 0xD800 && cp <= 0xDFFF) {  // never in valid UTF-8
        set(unsafe_, cp);
        continue;
      }
      const utf8proc_property_t* p = utf8proc_get_property(static_cast<utf8proc_int32_t>(cp));
      if (p->combining_class != 0) set(unsafe_, cp);
      utf8proc_int32_t d[16];
      int boundclass = 0;
      utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp), d, 16, UTF8PROC_DECOMPOSE,
                                                   &boundclass);
      if (n < 1 || n > 16) {
        set(unsafe_, cp);
        continue;
      }
      if (n == 1 && static_cast<uint32_t>(d[0]) == cp) continue;  // no canonical decomposition
      // Every later character of a canonical decomposition can compose with what precedes it.
      for (utf8proc_ssize_t k = 1; k < n; ++k) set(second, static_cast<uint32_t>(d[k]));
      first_of.emplace_back(cp, static_cast<uint32_t>(d[0]));
      if (!maps_to_itself(cp)) set(unsafe_, cp);
    }
    for (size_t w = 0; w < kWords; ++w) unsafe_[w] |= second[w];
    for (const auto& [cp, first] : first_of)
      if (test(second, first)) set(unsafe_, cp);
  }
  bool inert(uint32_t cp) const { return cp < kCodePoints && !test(unsafe_, cp); }

 private:
  static constexpr uint32_t kCodePoints = 0x110000;
  static constexpr size_t kWords = kCodePoints / 64;
  static void set(std::vector<uint64_t>& b, uint32_t cp) { b[cp >> 6] |= uint64_t(1) << (cp & 63); }
  static bool test(const std::vector<uint64_t>& b, uint32_t cp) { return (b[cp >> 6] >> (cp & 63)) & 1; }
  static bool maps_to_itself(uint32_t cp) {
    std::string s;
    utf8_append(s, cp);
    utf8proc_uint8_t* res = nullptr;
    utf8proc_ssize_t len = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                        static_cast<utf8proc_ssize_t>(s.size()), &res,
                                        static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
    bool same = len >= 0 && std::string_view(reinterpret_cast<const char*>(res), static_cast<size_t>(len)) == s;
    std::free(res);
    return same;
  }
  std::vector<uint64_t> unsafe_;
};

// True when valid UTF-8 `s` is made of inert code points only (then NFC(s) == s).
bool inert_only(std::string_view s) {
  static const NfcInertTable table;
  for (size_t i = 0, n = s.size(); i < n;) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    if (!table.inert(utf8_decode(s, i))) return false;
  }
  return true;
}

}  // namespace

void unescape_html(std::string_view in, std::string& out) {
  size_t i = 0, n = in.size();
  while (i < n) {
    size_t amp = in.find('&', i);
    if (amp == std::string_view::npos) {
      out.append(in.substr(i));
      return;
    }
    out.append(in.substr(i, amp - i));
    size_t semi = in.find(';', amp + 1);
    bool done = false;
    if (semi != std::string_view::npos && semi - amp <= 10) {
      std::string_view name = in.substr(amp + 1, semi - amp - 1);
      if (name.size() >= 2 && name[0] == '#') {
        bool hex = name[1] == 'x' || name[1] == 'X';
        std::string_view digits = name.substr(hex ? 2 : 1);
        uint32_t cp = 0;
        bool ok = !digits.empty();
        for (char c : digits) {
          int d = (c >= '0' && c <= '9') ? c - '0'
                  : hex && (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10
                                                                   : -1;
          if (d < 0) { ok = false; break; }
          // Saturate: any value past U+10FFFF is out of range, however many digits follow.
          cp = std::min<uint32_t>(cp * (hex ? 16 : 10) + static_cast<uint32_t>(d), 0x110000);
        }
        if (ok) {
          // Invalid targets (NUL, surrogates, beyond Unicode) become U+FFFD as HTML5 specifies.
          if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
          utf8_append(out, cp);
          done = true;
        }
      } else {
        for (const Entity& e : kEntities) {
          if (name == e.name) {
            utf8_append(out, e.cp);
            done = true;
            break;
          }
        }
      }
    }
    if (done) {
      i = semi + 1;
    } else {
      out.push_back('&');
      i = amp + 1;
    }
  }
}

void replace_links(std::string_view in, std::string& out) {
  size_t i = 0, n = in.size();
  while (i < n) {
    // Copy the run of bytes that cannot start a link (anything but h, H, w, W) in one go.
    size_t run = i;
    while (run < n && (in[run] | 0x20) != 'h' && (in[run] | 0x20) != 'w') ++run;
    out.append(in.data() + i, run - i);
    i = run;
    if (i == n) break;
    unsigned char c = static_cast<unsigned char>(in[i]);
    // Schemes count even glued to a word ("...Squarehttps://t.co/x" is common in tweets);
    // a bare "www." only at a word start.
    bool boundary = i == 0 || !is_word_byte(static_cast<unsigned char>(in[i - 1]));
    size_t skip = 0;
    if (c == 'h' || c == 'H') {
      if (starts_with_icase(in, i, "https://")) skip = 8;
      else if (starts_with_icase(in, i, "http://")) skip = 7;
    } else if (boundary && (c == 'w' || c == 'W') && starts_with_icase(in, i, "www.")) {
      skip = 4;
    }
    if (skip && i + skip < n && !unicode_space_len(in, i + skip)) {
      size_t j = i + skip;
      while (j < n && !unicode_space_len(in, j)) ++j;
      out.append("http");
      i = j;
    } else {
      out.push_back(static_cast<char>(c));
      ++i;
    }
  }
}

void replace_mentions(std::string_view in, std::string& out) {
  size_t i = 0, n = in.size();
  while (i < n) {
    size_t at = in.find('@', i);
    if (at == std::string_view::npos) {
      out.append(in.substr(i));
      return;
    }
    out.append(in.substr(i, at - i));
    size_t j = at + 1;
    while (j < n && is_word_byte(static_cast<unsigned char>(in[j]))) ++j;
    // A mention needs a name and must not be glued to a word before it (e-mail addresses).
    bool glued = at > 0 && is_word_byte(static_cast<unsigned char>(in[at - 1]));
    if (j > at + 1 && !glued) out.append("@user");
    else out.append(in.substr(at, j - at));
    i = j;
  }
}

namespace {

// The full NFC (utf8proc: decompose, reorder, recompose).
void nfc_slow(std::string_view in, std::string& out) {
  utf8proc_uint8_t* res = nullptr;
  utf8proc_ssize_t len = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(in.data()),
                                      static_cast<utf8proc_ssize_t>(in.size()), &res,
                                      static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (len < 0) {  // cannot happen on repaired input; keep the text rather than lose it
    out.append(in);
    return;
  }
  out.append(reinterpret_cast<const char*>(res), static_cast<size_t>(len));
  std::free(res);
}

// NFC of text already known to be valid UTF-8 (normalize_tweet repairs first): saves the
// validation pass.
void nfc_of_valid(std::string_view in, std::string& out) {
  if (is_ascii(in) || inert_only(in)) out.append(in);
  else nfc_slow(in, out);
}

bool kept_ascii(unsigned char c) {
  return c < 0x80 && ((c >= 0x20 && c != 0x7F) || c == '\t' || c == '\n' || c == '\r');
}

}  // namespace

void nfc(std::string_view in, std::string& out) {
  // Invalid input goes the slow way, which decides what it becomes.
  if (is_ascii(in) || (utf8_valid(in) && inert_only(in))) out.append(in);
  else nfc_slow(in, out);
}

void strip_control(std::string_view in, std::string& out) {
  size_t i = 0, n = in.size();
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(in[i]);
    if (c < 0x80) {
      // C0 controls and DEL go; tab and line breaks stay for the whitespace step. Kept bytes
      // are copied a run at a time.
      size_t j = i;
      while (j < n && kept_ascii(static_cast<unsigned char>(in[j]))) ++j;
      out.append(in.data() + i, j - i);
      i = j > i ? j : i + 1;
      continue;
    }
    // No code point led by C3..DF or E1..EE is dropped, even decoded from malformed bytes:
    // copy those without decoding.
    if ((c >= 0xC3 && c <= 0xDF) || (c >= 0xE1 && c <= 0xEE)) {
      size_t len = c < 0xE0 ? 2 : 3;
      out.append(in.substr(i, len));
      i += len;
      continue;
    }
    size_t j = i;
    uint32_t cp = utf8_decode(in, j);
    // C1 controls, the BOM / zero-width no-break space, and noncharacters go. Zero-width joiners
    // and variation selectors stay: emoji sequences need them.
    bool drop = (cp >= 0x80 && cp <= 0x9F && cp != 0x85) || cp == 0xFEFF || (cp >= 0xFDD0 && cp <= 0xFDEF) ||
                (cp & 0xFFFE) == 0xFFFE;
    if (!drop) out.append(in.substr(i, j - i));
    i = j;
  }
}

void collapse_whitespace(std::string_view in, std::string& out) {
  size_t i = 0, n = in.size();
  bool pending = false;
  size_t start = out.size();
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(in[i]);
    if (c > ' ' && c < 0x80) {  // a run of printable ASCII holds no space: copy it at once
      size_t j = i + 1;
      while (j < n && static_cast<unsigned char>(in[j]) > ' ' && static_cast<unsigned char>(in[j]) < 0x80) ++j;
      if (pending && out.size() > start) out.push_back(' ');
      pending = false;
      out.append(in.data() + i, j - i);
      i = j;
      continue;
    }
    size_t w = unicode_space_len(in, i);
    if (w) {
      pending = true;
      i += w;
      continue;
    }
    if (pending && out.size() > start) out.push_back(' ');
    pending = false;
    size_t len = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    out.append(in.substr(i, len));
    i += len;
  }
}

bool is_retweet_text(std::string_view t) {
  size_t i = 0;
  while (i < t.size() && (t[i] == ' ' || t[i] == '\t')) ++i;
  return t.substr(i, 4) == "RT @";
}

NormalizeResult normalize_tweet(std::string_view in, const NormalizeOptions& opt, std::string& out,
                                std::string& scratch) {
  NormalizeResult r;
  out.clear();
  r.repaired_utf8 = utf8_repair(in, out);
  // Each step reads `out` and writes `scratch`, then the two swap.
  auto step = [&](bool enabled, void (*fn)(std::string_view, std::string&)) {
    if (!enabled) return;
    scratch.clear();
    fn(out, scratch);
    out.swap(scratch);
  };
  // Scraped tweets are often escaped twice ("&amp;amp;"): unescape until nothing changes
  // (at most three passes, so "&amp;amp;amp;lt;" cannot make us loop long).
  for (int pass = 0; pass < 3 && opt.unescape_html && out.find('&') != std::string::npos; ++pass) {
    scratch.clear();
    unescape_html(out, scratch);
    bool changed = scratch != out;
    out.swap(scratch);
    if (!changed) break;
  }
  step(opt.nfc, nfc_of_valid);
  step(opt.strip_control, strip_control);
  step(opt.links, replace_links);  // before mentions: a link may contain '@'
  step(opt.mentions, replace_mentions);
  step(opt.collapse_whitespace, collapse_whitespace);
  return r;
}

}  // namespace tlm
