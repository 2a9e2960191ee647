// TF-IDF vectorizer (see tfidf.h).
#include "apps/classify/tfidf.h"

#include <utf8proc.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "core/utf8.h"

namespace tlm::apps {

namespace {

bool word_char(uint32_t cp) { return cp == '_' || cp == '\'' || is_word_code_point(cp); }

bool separator(uint32_t cp) {
  if (is_white_space(cp)) return true;
  const auto cat = utf8proc_category(utf8proc_int32_t(cp));
  return (cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO) || cat == UTF8PROC_CATEGORY_CC ||
         cat == UTF8PROC_CATEGORY_CF || cat == UTF8PROC_CATEGORY_ZS || cp == 0xFE0F || cp == 0x200D;
}

void append_folded(std::string& out, uint32_t cp) {
  utf8proc_int32_t buf[4];
  utf8proc_ssize_t n = utf8proc_decompose_char(utf8proc_int32_t(cp), buf, 4, UTF8PROC_CASEFOLD, nullptr);
  if (n <= 0 || n > 4) return utf8_append(out, cp);
  for (utf8proc_ssize_t k = 0; k < n; k++) utf8_append(out, uint32_t(buf[k]));
}

}  // namespace

std::vector<std::string> tfidf_words(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    if (!cur.empty() && cur != "#" && cur != "@") out.push_back(cur);
    cur.clear();
  };
  for (size_t i = 0; i < text.size();) {
    const uint32_t cp = utf8_decode(text, i);
    if (word_char(cp)) {
      append_folded(cur, cp);
    } else if ((cp == '#' || cp == '@') && cur.empty()) {
      cur.push_back(char(cp));
    } else {
      flush();
      if (!separator(cp)) {  // an emoji or symbol: a term of its own
        append_folded(cur, cp);
        flush();
      }
    }
  }
  flush();
  return out;
}

std::vector<std::string> TfidfVectorizer::terms(const std::string& text) const {
  const std::vector<std::string> w = tfidf_words(text);
  std::vector<std::string> t = w;
  for (int n = 2; n <= opt_.max_ngram; n++)
    for (size_t i = 0; i + size_t(n) <= w.size(); i++) {
      std::string g = w[i];
      for (int k = 1; k < n; k++) g += ' ' + w[i + size_t(k)];
      t.push_back(std::move(g));
    }
  return t;
}

TfidfVectorizer TfidfVectorizer::fit(const std::vector<std::string>& texts, const Options& opt) {
  TfidfVectorizer v;
  v.opt_ = opt;
  std::unordered_map<std::string, uint32_t> df;
  for (const std::string& text : texts) {
    std::vector<std::string> t = v.terms(text);
    std::sort(t.begin(), t.end());
    t.erase(std::unique(t.begin(), t.end()), t.end());
    for (std::string& s : t) df[std::move(s)]++;
  }
  std::vector<std::pair<std::string, uint32_t>> kept;
  for (auto& [term, d] : df)
    if (d >= uint32_t(std::max(opt.min_df, 1))) kept.emplace_back(term, d);
  // Most frequent first, ties by term: the vocabulary does not depend on hash-map order.
  std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (kept.size() > opt.max_features) kept.resize(opt.max_features);
  const double N = double(texts.size());
  for (auto& [term, d] : kept) {
    v.vocab_.emplace(term, uint32_t(v.idf_.size()));
    v.idf_.push_back(float(std::log((1.0 + N) / (1.0 + d)) + 1.0));
  }
  return v;
}

FeatureMatrix TfidfVectorizer::transform(const std::vector<std::string>& texts) const {
  FeatureMatrix m;
  m.sparse = true;
  m.rows = texts.size();
  m.cols = idf_.size();
  m.indptr.push_back(0);
  std::map<uint32_t, int> tf;
  for (const std::string& text : texts) {
    tf.clear();
    for (const std::string& t : terms(text))
      if (auto it = vocab_.find(t); it != vocab_.end()) tf[it->second]++;
    double norm = 0;
    const size_t start = m.values.size();
    for (auto [col, n] : tf) {
      const float w = float((1.0 + std::log(double(n))) * idf_[col]);
      m.indices.push_back(col);
      m.values.push_back(w);
      norm += double(w) * w;
    }
    if (norm > 0)
      for (size_t p = start; p < m.values.size(); p++) m.values[p] = float(m.values[p] / std::sqrt(norm));
    m.indptr.push_back(m.values.size());
  }
  return m;
}

}  // namespace tlm::apps
