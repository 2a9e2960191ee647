// Query words, FTS5 expressions and highlighting (see text_match.h).
#include "apps/search/text_match.h"

#include <utf8proc.h>

#include <cstdlib>
#include <unordered_set>

namespace tlm::apps {

namespace {

bool is_word_char(utf8proc_int32_t cp) {
  switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
    case UTF8PROC_CATEGORY_CO:
      return true;
    default:
      return false;
  }
}

// Calls fn(begin, end, is_word) for each maximal run of word / non-word characters. Invalid
// UTF-8 bytes are non-word characters of one byte.
template <typename Fn>
void for_each_run(std::string_view text, Fn fn) {
  size_t i = 0, start = 0;
  int state = -1;  // -1: nothing yet, 0: in a separator run, 1: in a word
  while (i < text.size()) {
    utf8proc_int32_t cp;
    utf8proc_ssize_t n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(text.data() + i),
                                          utf8proc_ssize_t(text.size() - i), &cp);
    bool word = n > 0 && is_word_char(cp);
    if (n <= 0) n = 1;
    if (state != -1 && int(word) != state) {
      fn(start, i, state == 1);
      start = i;
    }
    state = int(word);
    i += size_t(n);
  }
  if (state != -1) fn(start, i, state == 1);
}

}  // namespace

std::string fold_word(std::string_view word) {
  utf8proc_uint8_t* out = nullptr;
  utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(word.data()), utf8proc_ssize_t(word.size()),
                                    &out, utf8proc_option_t(UTF8PROC_COMPAT | UTF8PROC_COMPOSE | UTF8PROC_STRIPMARK |
                                                            UTF8PROC_CASEFOLD));
  if (n < 0) return std::string(word);  // invalid UTF-8: compared byte for byte
  std::string s(reinterpret_cast<const char*>(out), size_t(n));
  std::free(out);
  return s;
}

std::vector<std::string> query_terms(std::string_view query, size_t max_terms) {
  std::vector<std::string> terms;
  std::unordered_set<std::string> seen;
  for_each_run(query, [&](size_t b, size_t e, bool word) {
    if (!word || terms.size() >= max_terms) return;
    std::string w(query.substr(b, e - b));
    if (seen.insert(fold_word(w)).second) terms.push_back(std::move(w));
  });
  return terms;
}

std::string fts_match_expression(const std::vector<std::string>& terms) {
  std::string out;
  for (const std::string& t : terms) {
    if (!out.empty()) out += " OR ";
    out += '"';
    for (char c : t) {
      if (c == '"') out += '"';  // cannot occur in a word; kept for safety
      out += c;
    }
    out += '"';
  }
  return out;
}

std::string highlight_terms(std::string_view text, const std::vector<std::string>& terms, const std::string& open,
                            const std::string& close) {
  std::unordered_set<std::string> folded;
  for (const std::string& t : terms) folded.insert(fold_word(t));
  std::string out;
  out.reserve(text.size() + 16);
  for_each_run(text, [&](size_t b, size_t e, bool word) {
    std::string_view piece = text.substr(b, e - b);
    if (word && folded.count(fold_word(piece))) {
      out += open;
      out += piece;
      out += close;
    } else {
      out += piece;
    }
  });
  return out;
}

}  // namespace tlm::apps
