// Keyword words, de-duplication keys and the ads input reader (see ad_text.h).
#include "apps/ads/ad_text.h"

#include <utf8proc.h>

#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/file.h"
#include "data/normalize.h"
#include "data/utf8.h"

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

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r' || s[b] == '\n')) b++;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r' || s[e - 1] == '\n')) e--;
  return std::string(s.substr(b, e - b));
}

bool ends_with(const std::string& s, const char* suffix) {
  std::string_view x(suffix);
  return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
}

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
  std::string data;
  if (path == "-") {
    char buf[1 << 16];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) data.append(buf, n);
  } else {
    if (!path_exists(path)) throw user_error(path, "no such file");
    if (is_directory(path)) throw user_error(path, "is a directory, not a file of tweets");
    data = read_file(path);
  }
  const std::string what = path == "-" ? "stdin" : path;
  std::vector<std::string> lines;
  for (size_t pos = 0; pos < data.size();) {
    size_t nl = data.find('\n', pos);
    if (nl == std::string::npos) nl = data.size();
    lines.push_back(data.substr(pos, nl - pos));
    pos = nl + 1;
  }
  bool json_lines = ends_with(path, ".jsonl") || ends_with(path, ".json");
  for (const std::string& l : lines) {
    std::string t = trim(l);
    if (t.empty()) continue;
    if (t[0] == '{') json_lines = true;
    break;
  }
  std::vector<AdTweet> tweets;
  for (size_t i = 0; i < lines.size(); i++) {
    std::string line = trim(lines[i]);
    if (line.empty()) continue;
    AdTweet t;
    if (!json_lines) {
      std::string valid;
      utf8_repair(line, valid);
      t.text = std::move(valid);
      tweets.push_back(std::move(t));
      continue;
    }
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      throw user_error(what, "line %zu: not JSON (%s)", i + 1, e.what());
    }
    if (!j.is_object()) throw user_error(what, "line %zu: expected an object with \"text\"", i + 1);
    if (!j.contains("text") || !j["text"].is_string())
      throw user_error(what, "line %zu: \"text\" is missing or not a string", i + 1);
    t.text = j["text"].get<std::string>();
    if (j.contains("lang") && !j["lang"].is_null()) {
      if (!j["lang"].is_string()) throw user_error(what, "line %zu: \"lang\" is not a string", i + 1);
      t.lang = j["lang"].get<std::string>();
      if (t.lang == "und") t.lang.clear();
    }
    for (const char* key : {"id_str", "id"})
      if (t.id.empty() && j.contains(key)) t.id = j[key].is_string() ? j[key].get<std::string>() : j[key].dump();
    tweets.push_back(std::move(t));
  }
  if (tweets.empty()) throw user_error(what, "no tweets (the input is empty)");
  return tweets;
}

}  // namespace tlm::apps
