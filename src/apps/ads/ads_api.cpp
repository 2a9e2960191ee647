// JSON bodies of the ads endpoints: validation (one UserError naming the field) and the
// answers (see ads_api.h).
#include "apps/ads/ads_api.h"

#include <limits>

#include "apps/ads/ad_copy.h"
#include "apps/ads/ad_text.h"
#include "apps/ads/targeting.h"
#include "core/check.h"

namespace tlm::apps {

using nlohmann::json;

namespace {

constexpr size_t kMaxInputs = 1024;

void require_object(const json& body) {
  if (!body.is_object()) throw user_error("body", "expected a JSON object");
}

void check_fields(const json& body, std::initializer_list<const char*> known) {
  for (const auto& [key, value] : body.items()) {
    bool ok = false;
    for (const char* k : known) ok = ok || key == k;
    if (!ok) throw user_error(key, "unknown field");
  }
}

std::vector<AdTweet> input_tweets(const json& body, bool allow_objects) {
  if (!body.contains("input")) throw user_error("input", "is missing (a string or an array of strings)");
  const json& in = body["input"];
  std::vector<AdTweet> out;
  auto one = [&](const json& v, const std::string& where) {
    AdTweet t;
    if (v.is_string()) {
      t.text = v.get<std::string>();
    } else if (allow_objects && v.is_object()) {
      if (!v.contains("text") || !v["text"].is_string()) throw user_error(where, "\"text\" is missing or not a string");
      t.text = v["text"].get<std::string>();
      if (v.contains("lang") && !v["lang"].is_null()) {
        if (!v["lang"].is_string()) throw user_error(where, "\"lang\" is not a string");
        t.lang = v["lang"].get<std::string>();
        if (t.lang == "und") t.lang.clear();
      }
      if (v.contains("id")) t.id = v["id"].is_string() ? v["id"].get<std::string>() : v["id"].dump();
    } else {
      throw user_error(where, allow_objects ? "must be a string or an object with \"text\"" : "must be a string");
    }
    out.push_back(std::move(t));
  };
  if (in.is_array()) {
    if (in.empty()) throw user_error("input", "is an empty array");
    if (in.size() > kMaxInputs) throw user_error("input", "has %zu texts, at most %zu per request", in.size(), kMaxInputs);
    for (size_t i = 0; i < in.size(); i++) one(in[i], strprintf("input[%zu]", i));
  } else {
    one(in, "input");
  }
  return out;
}

int int_field(const json& body, const char* key, int def, int lo, int hi) {
  if (!body.contains(key) || body[key].is_null()) return def;
  const json& v = body[key];
  if (!v.is_number_integer()) throw user_error(key, "must be an integer");
  const long long x = v.get<long long>();
  if (x < lo || x > hi) throw user_error(key, "must be from %d to %d (got %lld)", lo, hi, x);
  return int(x);
}

double number_field(const json& body, const char* key, double def) {
  if (!body.contains(key) || body[key].is_null()) return def;
  if (!body[key].is_number()) throw user_error(key, "must be a number");
  return body[key].get<double>();
}

json verdict_json(const SafetyVerdict& v) {
  json p = json::object();
  for (const auto& [task, prob] : v.probability) p[task] = prob;
  return {{"risk", v.risk}, {"labels", v.labels}, {"probabilities", p}};
}

}  // namespace

json ads_safety_api(const json& body, const SafetyClassifier* classifier, TextModel& model) {
  require_object(body);
  check_fields(body, {"input"});
  const std::vector<AdTweet> tweets = input_tweets(body, false);
  if (!classifier) throw user_error("classifier", "this server has no brand-safety classifier (start it with --safety FILE)");
  std::vector<std::string> texts;
  for (const AdTweet& t : tweets) texts.push_back(t.text);
  const std::vector<SafetyVerdict> v = classifier->classify(model, texts);
  json results = json::array();
  for (size_t i = 0; i < v.size(); i++) {
    json r = verdict_json(v[i]);
    r["text"] = texts[i];
    results.push_back(std::move(r));
  }
  return {{"results", results}};
}

json ads_match_api(const json& body, const SafetyClassifier* classifier, TextModel& model) {
  require_object(body);
  check_fields(body, {"campaigns", "input", "k", "keyword_weight", "topic_threshold"});
  if (!body.contains("campaigns")) throw user_error("campaigns", "is missing (an array of campaigns)");
  const std::vector<Campaign> campaigns = parse_campaigns(body["campaigns"], "campaigns");
  const std::vector<AdTweet> tweets = input_tweets(body, true);
  MatchOptions opt;
  opt.k = int_field(body, "k", opt.k, 1, 1000);
  opt.keyword_weight = number_field(body, "keyword_weight", opt.keyword_weight);
  opt.topic_threshold = number_field(body, "topic_threshold", opt.topic_threshold);
  const std::vector<TweetMatch> m = match_campaigns(campaigns, tweets, model, classifier, opt);
  json results = json::array();
  for (size_t i = 0; i < m.size(); i++) results.push_back(match_json(campaigns, tweets[i], m[i]));
  return {{"results", results}};
}

json ads_copy_api(const json& body, const SafetyClassifier* classifier, TextModel& model) {
  require_object(body);
  check_fields(body, {"product", "keywords", "n", "candidates", "seed", "temperature"});
  CopyOptions opt;
  if (!body.contains("product") || !body["product"].is_string()) throw user_error("product", "is missing or not a string");
  opt.product = body["product"].get<std::string>();
  if (body.contains("keywords") && !body["keywords"].is_null()) {
    if (!body["keywords"].is_array()) throw user_error("keywords", "must be an array of strings");
    for (size_t i = 0; i < body["keywords"].size(); i++) {
      if (!body["keywords"][i].is_string()) throw user_error(strprintf("keywords[%zu]", i), "must be a string");
      opt.keywords.push_back(body["keywords"][i].get<std::string>());
    }
  }
  opt.n = int_field(body, "n", opt.n, 1, 100);
  opt.candidates = int_field(body, "candidates", 0, 1, 1000);
  if (body.contains("seed") && !body["seed"].is_null()) {
    if (!body["seed"].is_number_integer() || body["seed"].get<long long>() < 0)
      throw user_error("seed", "must be an integer >= 0");
    opt.seed = body["seed"].get<uint64_t>();
  }
  opt.temperature = float(number_field(body, "temperature", opt.temperature));
  const CopyResult r = generate_ad_copy(model, classifier, opt);
  json ads = json::array();
  for (const AdCopy& a : r.ads) {
    json j = {{"text", a.text},     {"score", a.score},   {"logprob", a.logprob},
              {"tokens", a.tokens}, {"length", a.length}, {"truncated", a.truncated}};
    if (a.has_safety) j["safety"] = verdict_json(a.safety);
    ads.push_back(std::move(j));
  }
  return {{"prompt", r.prompt},
          {"ads", ads},
          {"stats",
           {{"sampled", r.sampled}, {"empty", r.empty}, {"duplicates", r.duplicates}, {"unsafe", r.unsafe},
            {"too_long", r.too_long}, {"truncated", r.truncated}}}};
}

}  // namespace tlm::apps
