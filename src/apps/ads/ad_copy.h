// Ad copy: tweets written by the model for a product. A prompt is built from the product and
// its keywords (as hashtags), `candidates` continuations are sampled (TextModel::sample, one
// random stream each, so a seed gives the same ads), and each candidate becomes the ad
// "prompt + continuation" with whitespace collapsed. Then:
//  - over 280 characters as Twitter counts them (tweet_length.h): cut at a word boundary to fit;
//    dropped when the only cut is inside a word or nothing of the continuation is left;
//  - empty continuations are dropped, and of duplicates (same words: ad_text.h dedup_key) the
//    most likely is kept;
//  - with a brand-safety classifier, candidates it labels offensive or hateful are dropped;
//  - the rest are ranked by the model's mean log-probability per sampled token (the end of text
//    included when the model ended the tweet), best first, and the best n kept.
// The score is that of the text as sampled (a cut ad keeps its candidate's score).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "apps/ads/safety.h"
#include "infer/text_model.h"

namespace tlm::apps {

struct CopyOptions {
  std::string product;
  std::vector<std::string> keywords;
  int n = 5;
  int candidates = 0;        // 0: 4 n
  float temperature = 0.9f;
  uint64_t seed = 1337;
  int max_tokens = 64;       // per candidate (less when the context is short)
};

struct AdCopy {
  std::string text;
  double score = 0;    // mean log-probability per token
  double logprob = 0;  // total
  int tokens = 0;
  int length = 0;      // Twitter length
  bool truncated = false;
  bool has_safety = false;
  SafetyVerdict safety;
};

struct CopyResult {
  std::string prompt;
  std::vector<AdCopy> ads;
  int sampled = 0, empty = 0, duplicates = 0, unsafe = 0, too_long = 0;
  int truncated = 0;  // of the ads kept
};

// The prompt for a product: "<product> #kw1 #kw2" (a keyword's spaces removed in its hashtag).
std::string ad_prompt(const std::string& product, const std::vector<std::string>& keywords);
// Throws a UserError naming the field ("product", "n", ...) for invalid options.
void validate(const CopyOptions& opt);
CopyResult generate_ad_copy(TextModel& model, const SafetyClassifier* classifier, const CopyOptions& opt);

}  // namespace tlm::apps
