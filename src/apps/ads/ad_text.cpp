// Keyword words, de-duplication keys and the ads input reader (see ad_text.h).
#include "apps/ads/ad_text.h"

#include <utf8proc.h>

#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/file.h"
#include "data/corpus.h"
#include "data/normalize.h"
#include "core/utf8.h"

namespace tlm::apps {

namespace {

// NFC + case folding, on repaired UTF-8.
std::string fold(std::string_view text) {
  std::string valid;
  utf8_repair(text, valid);
  utf8proc_uint8_t* out = nullptr;
  utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(valid.data()), utf8proc_ssize_t(valid.size()),
                                    &out, utf8proc_option_t(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD));
  std::string folded = n >= 0 ? std::string(reinterpret_cast<char*>(out), size_t(n)) : valid;
  std::free(out);
  return folded;
}

bool word_char(uint32_t cp) { return is_word_code_point(cp); }

}  // namespace

std::vector<std::string> match_words(std::string_view text) {
  const std::string f = fold(text);
  std::vector<std::string> words;
  std::string cur;
  for (size_t i = 0; i < f.size();) {
    size_t start = i;
    uint32_t cp = utf8_decode(f, i);
    if (word_char(cp)) {
      cur.append(f, start, i - start);
    } else if (!cur.empty()) {
      words.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) words.push_back(std::move(cur));
  return words;
}

std::vector<std::string> keyword_hits(const std::vector<std::string>& words, const std::vector<std::string>& keywords) {
  std::vector<std::string> hits;
  for (const std::string& kw : keywords) {
    const std::vector<std::string> k = match_words(kw);
    if (k.empty() || k.size() > words.size()) continue;
    for (size_t i = 0; i + k.size() <= words.size(); i++) {
      bool all = true;
      for (size_t j = 0; j < k.size() && all; j++) all = words[i + j] == k[j];
      if (all) {
        hits.push_back(kw);
        break;
      }
    }
  }
  return hits;
}

std::string dedup_key(std::string_view text) {
  std::string key;
  for (const std::string& w : match_words(text)) {
    if (!key.empty()) key.push_back(' ');
    key += w;
  }
  return key;
}

std::string model_text(std::string_view text) {
  std::string out, scratch;
  normalize_tweet(text, NormalizeOptions{}, out, scratch);
  return out;
}

std::vector<AdTweet> read_ad_tweets(const std::string& path) {
  std::vector<AdTweet> tweets;
  for_each_record(corpus_files(path), [&](CorpusRecord&& r) {
    AdTweet t;
    t.text = std::move(r.text);
    t.id = std::move(r.id);
    t.lang = r.lang == "und" ? "" : std::move(r.lang);
    tweets.push_back(std::move(t));
  });
  if (tweets.empty()) throw user_error(path == "-" ? "stdin" : path, "no tweets (the input is empty)");
  return tweets;
}

}  // namespace tlm::apps
