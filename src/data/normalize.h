// Tweet text normalization, following the conventions of tweet language models (BERTweet,
// TweetEval): user mentions become "@user", links become "http", HTML entities are unescaped,
// text is Unicode NFC, control characters go, whitespace runs become one space. Every step can
// be switched off. Entities are unescaped repeatedly (up to three passes) because scraped
// tweets are often escaped twice ("&amp;amp;"). Invalid UTF-8 is always repaired (U+FFFD), never passed through.
#pragma once

#include <string>
#include <string_view>

namespace tlm {

struct NormalizeOptions {
  bool unescape_html = true;
  bool mentions = true;   // @name -> @user
  bool links = true;      // http(s)://... and www.... -> http
  bool nfc = true;
  bool strip_control = true;
  bool collapse_whitespace = true;
};

struct NormalizeResult {
  bool repaired_utf8 = false;
};

// Normalizes `in` into `out` (cleared first). `scratch` is reused between calls to avoid
// allocation on the hot path.
NormalizeResult normalize_tweet(std::string_view in, const NormalizeOptions& opt, std::string& out,
                                std::string& scratch);

// Individual steps, exposed for tests. Each appends to / rewrites into `out`.
void unescape_html(std::string_view in, std::string& out);
void replace_links(std::string_view in, std::string& out);
void replace_mentions(std::string_view in, std::string& out);
void nfc(std::string_view in, std::string& out);
void strip_control(std::string_view in, std::string& out);
void collapse_whitespace(std::string_view in, std::string& out);

// "RT @name:" at the start marks a classic retweet.
bool is_retweet_text(std::string_view text);

}  // namespace tlm
