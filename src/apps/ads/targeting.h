// Contextual targeting: which campaigns fit next to a tweet? Campaigns come from a JSON file
// (or a request body), each validated with one clear error per problem naming the campaign and
// the field. For each tweet the eligible campaigns are ranked by
//
//   score = cosine(embed(tweet), embed(description + keywords)) + keyword_weight * keyword hits
//
// (hits: the campaign's keywords found in the tweet, whole words, case-insensitive, on
// normalised text: ad_text.h), and a campaign is excluded, with the reason reported, when
//  - one of its excluded topics occurs in the tweet as words, or (when topic_threshold <= 1)
//    the tweet's embedding is at least that similar to the topic's;
//  - it names a language and the tweet's known language differs (primary subtags compared,
//    case-insensitive: "en-GB" is "en"; a tweet of unknown language is not excluded);
//  - the tweet is not safe enough: min_safety is the least safety (1 - risk) a tweet must have,
//    so a campaign with min_safety s only goes next to tweets with risk <= 1 - s. min_safety 0
//    accepts every tweet; without a classifier no risk is known, so campaigns with
//    min_safety > 0 get nothing at all;
//  - max_ads is set and the campaign has been placed that many times (tweets in input order).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/ads/ad_text.h"
#include "apps/ads/safety.h"
#include "infer/text_model.h"

namespace tlm::apps {

struct Campaign {
  std::string name, description;
  std::vector<std::string> keywords, excluded_topics;
  std::string language;  // "" : any
  double min_safety = 0;  // least 1 - risk of a tweet it may go next to
  int max_ads = -1;       // most placements; -1: no limit
};

// Validates a JSON array of campaigns; `what` names the source (a file path, or "campaigns").
// Required: name (unique, non-empty), description (non-empty string), min_safety (number in
// [0, 1]); optional: keywords and excluded_topics (arrays of non-empty strings), language (a
// non-empty string), max_ads (integer >= 0). Unknown fields are errors (a typo must not turn
// into a campaign without its safety rule).
std::vector<Campaign> parse_campaigns(const nlohmann::json& j, const std::string& what);
std::vector<Campaign> load_campaigns(const std::string& path);

struct MatchOptions {
  int k = 3;                      // campaigns shown per tweet
  double keyword_weight = 0.2;    // added per keyword hit
  double topic_threshold = 2.0;   // embedding similarity that excludes a topic; > 1: keywords only
};

struct CampaignScore {
  int campaign = 0;
  double score = 0, similarity = 0;
  std::vector<std::string> keyword_hits;
};
struct Exclusion {
  int campaign = 0;
  std::string reason;
};
struct TweetMatch {
  std::vector<CampaignScore> ranked;  // best first, at most k
  std::vector<Exclusion> excluded;    // in campaign order
  bool has_safety = false;
  SafetyVerdict safety;
};

std::vector<TweetMatch> match_campaigns(const std::vector<Campaign>& campaigns, const std::vector<AdTweet>& tweets,
                                        TextModel& model, const SafetyClassifier* classifier, const MatchOptions& opt);

nlohmann::json match_json(const std::vector<Campaign>& campaigns, const AdTweet& tweet, const TweetMatch& m);

}  // namespace tlm::apps
