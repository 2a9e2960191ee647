// Twitter's weighted tweet length (see tweet_length.h): one pass that finds URLs and emoji
// sequences at each position and weighs everything else code point by code point.
#include "apps/ads/tweet_length.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "data/normalize.h"
#include "core/utf8.h"

namespace tlm::apps {

namespace {

int char_weight(uint32_t cp) {
  if (cp <= 0x10FF || (cp >= 0x2000 && cp <= 0x200D) || (cp >= 0x2010 && cp <= 0x201F) ||
      (cp >= 0x2032 && cp <= 0x2037))
    return 100;
  return 200;
}

bool is_pictographic(uint32_t cp) {
  return utf8proc_get_property(utf8proc_int32_t(cp))->boundclass == UTF8PROC_BOUNDCLASS_EXTENDED_PICTOGRAPHIC;
}
bool is_regional(uint32_t cp) { return cp >= 0x1F1E6 && cp <= 0x1F1FF; }
bool is_emoji_modifier(uint32_t cp) { return cp >= 0x1F3FB && cp <= 0x1F3FF; }
bool is_tag(uint32_t cp) { return cp >= 0xE0020 && cp <= 0xE007F; }

uint32_t cp_at(std::string_view s, size_t i, size_t* next = nullptr) {
  size_t j = i;
  uint32_t cp = utf8_decode(s, j);
  if (next) *next = j;
  return cp;
}

// End of the emoji sequence starting at i, or i when none starts there.
size_t emoji_end(std::string_view s, size_t i) {
  size_t j;
  uint32_t cp = cp_at(s, i, &j);
  auto peek = [&](size_t at) -> uint32_t { return at < s.size() ? cp_at(s, at) : 0; };
  auto skip = [&](size_t at) {
    size_t n;
    cp_at(s, at, &n);
    return n;
  };
  if ((cp >= '0' && cp <= '9') || cp == '#' || cp == '*') {  // keycap: [0-9#*] FE0F? 20E3
    size_t k = j;
    if (peek(k) == 0xFE0F) k = skip(k);
    return peek(k) == 0x20E3 ? skip(k) : i;
  }
  if (is_regional(cp)) return is_regional(peek(j)) ? skip(j) : i;  // a flag: two indicators
  if (!is_pictographic(cp)) return i;
  // Text-presentation symbols that weigh 100 as text (© ®) are emoji only with FE0F.
  if (char_weight(cp) == 100 && peek(j) != 0xFE0F) return i;
  for (;;) {
    for (uint32_t c = peek(j); j < s.size() && (c == 0xFE0F || c == 0x20E3 || is_emoji_modifier(c) || is_tag(c));
         c = peek(j))
      j = skip(j);
    if (j < s.size() && peek(j) == 0x200D) {
      size_t k = skip(j);
      if (k < s.size() && is_pictographic(peek(k))) {
        j = skip(k);
        continue;
      }
    }
    return j;
  }
}

bool ascii_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
char lower(char c) { return char(std::tolower(static_cast<unsigned char>(c))); }

bool starts_with_ci(std::string_view s, size_t i, std::string_view p) {
  if (s.size() - i < p.size()) return false;
  for (size_t k = 0; k < p.size(); k++)
    if (lower(s[i + k]) != p[k]) return false;
  return true;
}

// Generic and sponsored TLDs accepted without a protocol (the common ones; twitter-text has all).
bool is_gtld(const std::string& t) {
  static const char* const list[] = {
      "com", "net", "org", "info", "biz", "edu", "gov", "mil", "int", "name", "pro", "mobi", "aero", "asia", "cat",
      "coop", "jobs", "museum", "tel", "travel", "xxx", "app", "dev", "page", "blog", "shop", "store", "online",
      "site", "website", "tech", "news", "live", "today", "world", "life", "xyz", "club", "top", "vip", "art",
      "design", "media", "music", "email", "cloud", "link", "click", "space", "fun", "games", "social", "video",
      "wiki", "global", "agency", "studio", "network", "digital", "systems", "solutions", "company", "services",
      "group", "team", "love", "coffee", "football", "soccer", "sport", "fitness", "photo", "photography", "pics",
      "blue", "red", "pink", "black", "green", "gold", "guru", "ninja", "rocks", "works", "zone", "land", "city",
      "london", "nyc", "paris", "berlin", "tokyo", "google", "amazon", "apple", "microsoft", "youtube"};
  for (const char* g : list)
    if (t == g) return true;
  return false;
}

// Domain characters: ASCII letters and digits, '-', '_', and any non-ASCII letter or digit
// (internationalised domains such as http://☃.net count too: symbols are allowed there).
bool domain_char(std::string_view s, size_t i, size_t* next, bool allow_unicode) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    *next = i + 1;
    return ascii_alnum(char(c)) || c == '-' || c == '_';
  }
  if (!allow_unicode) return false;
  uint32_t cp = cp_at(s, i, next);
  if (is_white_space(cp)) return false;
  utf8proc_category_t cat = utf8proc_category(utf8proc_int32_t(cp));
  // letters, marks, digits, symbols (☃); not punctuation or separators
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT ||
         cat == UTF8PROC_CATEGORY_LM || cat == UTF8PROC_CATEGORY_LO || cat == UTF8PROC_CATEGORY_MN ||
         cat == UTF8PROC_CATEGORY_MC || cat == UTF8PROC_CATEGORY_ND || cat == UTF8PROC_CATEGORY_SO ||
         cat == UTF8PROC_CATEGORY_SM;
}

bool is_ipv4(const std::vector<std::string>& labels) {
  if (labels.size() != 4) return false;
  for (const std::string& l : labels) {
    if (l.empty() || l.size() > 3 || !std::all_of(l.begin(), l.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return false;
    if (std::atoi(l.c_str()) > 255) return false;
  }
  return true;
}

// The end of a URL starting at i (with or without a protocol), or i when none starts there.
size_t url_end(std::string_view s, size_t i) {
  if (i > 0) {  // a URL never continues a word, a mention, a cashtag or a hashtag
    char p = s[i - 1];
    if (ascii_alnum(p) || p == '@' || p == '$' || p == '#') return i;
  }
  size_t j = i;
  bool protocol = false;
  if (starts_with_ci(s, i, "https://")) j += 8, protocol = true;
  else if (starts_with_ci(s, i, "http://")) j += 7, protocol = true;
  else if (i > 0 && (s[i - 1] == '-' || s[i - 1] == '_' || s[i - 1] == '.' || s[i - 1] == '/')) return i;
  // domain: labels separated by dots
  std::vector<std::string> labels;
  size_t domain_end = j;
  for (;;) {
    size_t k = j, n;
    std::string label;
    while (k < s.size() && domain_char(s, k, &n, protocol)) {
      label.append(s.substr(k, n - k));
      k = n;
    }
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') break;
    labels.push_back(label);
    domain_end = k;
    if (k < s.size() && s[k] == '.' && k + 1 < s.size()) j = k + 1;
    else break;
  }
  if (labels.size() < 2) return i;
  std::string tld = labels.back();
  for (char& c : tld) c = lower(c);
  const bool alpha_tld = tld.size() >= 2 && std::all_of(tld.begin(), tld.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x80 || std::isalpha(static_cast<unsigned char>(c));
  });
  // underscores only in subdomains, never in the registered domain
  if (labels[labels.size() - 2].find('_') != std::string::npos || tld.find('_') != std::string::npos) return i;
  size_t end = domain_end;
  if (end < s.size() && s[end] == ':') {  // port
    size_t k = end + 1;
    while (k < s.size() && s[k] >= '0' && s[k] <= '9') k++;
    if (k > end + 1) end = k;
  }
  bool path = false;
  if (end < s.size() && (s[end] == '/' || s[end] == '?' || s[end] == '#')) {
    size_t k = end;
    while (k < s.size()) {
      size_t n;
      uint32_t cp = cp_at(s, k, &n);
      if (is_white_space(cp) || cp == '"' || cp == '<' || cp == '>' || cp == '`' || cp == '{' || cp == '}' ||
          (cp >= 0x2000 && cp <= 0x206F) || cp >= 0x1F000)
        break;
      k = n;
    }
    // trailing punctuation ends a sentence, not the URL; ')' only when it closes a '(' inside
    while (k > end) {
      char c = s[k - 1];
      if (c == '.' || c == ',' || c == '!' || c == '?' || c == ';' || c == ':' || c == '\'' || c == '*' || c == '(' ||
          c == '[' || c == ']' || c == '|' || c == '~' || c == '%' || c == '$' || c == '@' || c == '\\') {
        k--;
        continue;
      }
      if (c == ')') {
        std::string_view body = s.substr(end, k - end);
        if (std::count(body.begin(), body.end(), '(') < std::count(body.begin(), body.end(), ')')) {
          k--;
          continue;
        }
      }
      break;
    }
    if (k > end) path = true, end = k;
  }
  // the URL must not run straight into more word characters ("example.comx" is no URL)
  if (domain_end == end && end < s.size()) {
    size_t n;
    if (domain_char(s, end, &n, true) || s[end] == '@') return i;
  }
  if (protocol) return (alpha_tld || is_ipv4(labels)) ? end : i;
  for (const std::string& l : labels)  // bare domains are ASCII
    if (!std::all_of(l.begin(), l.end(), [](char c) { return ascii_alnum(c) || c == '-' || c == '_'; })) return i;
  if (is_gtld(tld)) return end;
  if (tld.size() == 2 && alpha_tld) {  // a country code: "t.co", "foo.co.jp", "bit.ly/x"; not "example.de"
    if (path || labels.size() > 2 || tld == "co" || tld == "tv") return end;
  }
  return i;
}

}  // namespace

std::string nfc_normalize(std::string_view s) {
  std::string repaired;
  utf8_repair(s, repaired);
  std::string out;
  nfc(repaired, out);
  return out;
}

std::vector<TweetUnit> tweet_units(std::string_view s) {
  std::vector<TweetUnit> units;
  size_t i = 0;
  while (i < s.size()) {
    size_t e = url_end(s, i);
    if (e > i) {
      units.push_back({i, e, kTransformedUrlLength * 100, TweetUnit::url});
      i = e;
      continue;
    }
    e = emoji_end(s, i);
    if (e > i) {
      units.push_back({i, e, 200, TweetUnit::emoji});
      i = e;
      continue;
    }
    size_t n = i;
    uint32_t cp = utf8_decode(s, n);
    units.push_back({i, n, char_weight(cp), TweetUnit::text});
    i = n;
  }
  return units;
}

int tweet_length(std::string_view text) {
  const std::string t = nfc_normalize(text);
  long total = 0;
  for (const TweetUnit& u : tweet_units(t)) total += u.weight;
  return int((total + 99) / 100);
}

std::string truncate_tweet(std::string_view text, int max_length) {
  std::string t = nfc_normalize(text);
  const std::vector<TweetUnit> units = tweet_units(t);
  long total = 0, limit = long(max_length) * 100;
  size_t fit = 0;  // bytes of the longest prefix of whole units that fits
  for (const TweetUnit& u : units) {
    if (total + u.weight > limit) break;
    total += u.weight;
    fit = u.end;
  }
  if (fit == t.size()) return t;
  size_t cut = fit;
  for (size_t k = fit; k > fit / 2; k--)  // the last word boundary in the second half
    if (t[k - 1] == ' ' || t[k - 1] == '\n' || t[k - 1] == '\t') {
      cut = k - 1;
      break;
    }
  t.resize(cut);
  auto trim = [&t] {
    while (!t.empty() && (t.back() == ' ' || t.back() == '\n' || t.back() == '\t')) t.pop_back();
  };
  trim();
  // A prefix is counted afresh, and its end can read differently from the whole text: "x.tv"
  // cut from "x.tv3" becomes a URL (23). Drop whole units from the end until it fits (found by
  // fuzz/fuzz_tweet_length); each round shortens t, and the empty text fits.
  while (tweet_length(t) > max_length) {
    const std::vector<TweetUnit> u = tweet_units(t);
    t.resize(u.size() > 1 ? u[u.size() - 2].end : 0);
    trim();
  }
  return t;
}

}  // namespace tlm::apps
