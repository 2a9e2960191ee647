// The length of a tweet as Twitter counts it (twitter-text v3 configuration), so generated ad
// copy is never refused for length: the text is NFC-normalised, then every code point weighs
// 200 except the ranges U+0000-U+10FF, U+2000-U+200D, U+2010-U+201F and U+2032-U+2037 (100),
// each URL weighs transformedURLLength (23) x 100 and each emoji sequence (ZWJ sequences, skin
// tones, flags, keycaps, tag sequences) weighs 200; the length is the total / 100 and a tweet
// may have 280.
//
// URL detection follows twitter-text's extractor in its main rules (http/https with any domain
// that ends in a letter TLD or an IPv4 address; bare domains ending in a known gTLD, or in a
// two-letter ccTLD when the domain has a path or two labels before it, or is .co/.tv; labels of
// at most 63 characters; trailing punctuation is not part of the URL), with a list of common
// gTLDs rather than twitter-text's full list: a bare domain on a rare gTLD is counted as text
// (docs/ads.md lists the rules).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tlm::apps {

inline constexpr int kMaxTweetLength = 280;
inline constexpr int kTransformedUrlLength = 23;

// One counted piece of an NFC-normalised text: bytes [begin, end) and its weight x 100.
struct TweetUnit {
  size_t begin = 0, end = 0;
  int weight = 0;
  enum Kind { text, url, emoji } kind = text;
};

std::string nfc_normalize(std::string_view s);
// The units of `nfc_text` (already NFC: pass nfc_normalize's result).
std::vector<TweetUnit> tweet_units(std::string_view nfc_text);
// The weighted length of `text` (NFC-normalised first), in Twitter characters.
int tweet_length(std::string_view text);
// `text` (NFC) cut to at most max_length weighted characters: at a unit boundary (never inside a
// URL, an emoji sequence or a UTF-8 sequence), at the last whitespace when one is in the second
// half of what fits, trailing whitespace removed. Texts that fit come back NFC, unchanged.
std::string truncate_tweet(std::string_view text, int max_length = kMaxTweetLength);

}  // namespace tlm::apps
