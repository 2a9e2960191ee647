// The advertising apps as JSON in, JSON out, for `tweetlm serve` (routes /v1/ads/safety,
// /v1/ads/match, /v1/ads/copy, wired by serve/) and for tests. An invalid body throws a
// tlm::UserError whose input is the field at fault ("input", "campaigns", "k", ...), which the
// server answers with HTTP 400.
//
// Thread safety: these functions keep no state between calls; the classifier is only read
// (const), so any number of HTTP threads may call them at once, as long as the TextModel itself
// may be called from several threads (the engine-backed one queues every call).
//
// Bodies:
//   safety: {"input": str | [str]}
//   match:  {"campaigns": [campaign...], "input": str | [str | {"text", "lang"?, "id"?}],
//            "k"?: int >= 1, "keyword_weight"?: number, "topic_threshold"?: number}
//   copy:   {"product": str, "keywords"?: [str], "n"?: int, "candidates"?: int, "seed"?: int,
//            "temperature"?: number}
#pragma once

#include <nlohmann/json.hpp>

#include "apps/ads/safety.h"
#include "infer/text_model.h"

namespace tlm::apps {

// {"results": [{"text", "risk", "labels": [...], "probabilities": {task: p}}]}
nlohmann::json ads_safety_api(const nlohmann::json& body, const SafetyClassifier* classifier, TextModel& model);
// {"results": [{"text", "campaigns": [{"campaign", "score", "similarity", "keyword_hits"}],
//               "excluded": [{"campaign", "reason"}], "safety"?: {...}}]}
nlohmann::json ads_match_api(const nlohmann::json& body, const SafetyClassifier* classifier, TextModel& model);
// {"prompt", "ads": [{"text", "score", "logprob", "tokens", "length", "truncated"}], "stats": {...}}
nlohmann::json ads_copy_api(const nlohmann::json& body, const SafetyClassifier* classifier, TextModel& model);

}  // namespace tlm::apps
