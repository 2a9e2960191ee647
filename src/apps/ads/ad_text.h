// Text helpers shared by the advertising apps: the words of a text as keyword matching sees
// them, whole-phrase keyword hits, the de-duplication key of ad copy, and reading the tweets an
// ads command works on (plain text lines, JSON lines, or stdin).
//
// Matching is whole-word and case-insensitive on normalised text: NFC, Unicode case folding
// (so "CAFÉ", "Café" and "cafe\u0301" are one word), words are maximal runs of letters, marks
// and digits (a hashtag's '#' and all punctuation separate words, so "#latte" and "latte!" both
// contain the word "latte", "lattes" does not). A keyword of several words matches them in a
// row.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tlm::apps {

std::vector<std::string> match_words(std::string_view text);
// The keywords (as given) whose words occur in a row among `words`, each once, in keyword order.
std::vector<std::string> keyword_hits(const std::vector<std::string>& words, const std::vector<std::string>& keywords);
// Two texts are duplicates when their words are equal (case, punctuation and spacing ignored).
std::string dedup_key(std::string_view text);

// A tweet an ads command works on: its text as given and, when the input says (a JSON "lang"
// as the Twitter API writes it; "und" means unknown), its language.
struct AdTweet {
  std::string text;
  std::string lang;  // "" when unknown
  std::string id;    // the input's "id"/"id_str", "" when none
};

// `path` ("-": stdin), read by the corpus reader (data/corpus.h): a prepared folder, JSON lines
// (a .jsonl/.json name; stdin whose first non-blank byte is '{') of objects with "text"
// (required), "lang" and "id", or one tweet per line. A UserError names the file and line of
// each problem, or an input without tweets.
std::vector<AdTweet> read_ad_tweets(const std::string& path);
// The text the model reads for a tweet: normalised as `tweetlm prepare` does for training
// (mentions -> @user, links -> http, entities, NFC, whitespace).
std::string model_text(std::string_view text);

}  // namespace tlm::apps
