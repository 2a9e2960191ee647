// Campaign validation and contextual matching (see targeting.h).
#include "apps/ads/targeting.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "core/check.h"
#include "core/file.h"
#include "core/json.h"

namespace tlm::apps {

using nlohmann::json;

namespace {

std::string lang_key(std::string l) {
  for (char& c : l) c = char(std::tolower(static_cast<unsigned char>(c)));
  const size_t dash = l.find_first_of("-_");
  return dash == std::string::npos ? l : l.substr(0, dash);
}

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); i++) s += double(a[i]) * b[i];
  return s;
}

std::vector<std::string> string_list(const json& c, const char* key, const std::string& what, const std::string& who) {
  std::vector<std::string> out;
  if (!c.contains(key) || c[key].is_null()) return out;
  if (!c[key].is_array()) throw user_error(what, "%s: \"%s\" must be an array of strings", who.c_str(), key);
  for (size_t i = 0; i < c[key].size(); i++) {
    const json& v = c[key][i];
    if (!v.is_string()) throw user_error(what, "%s: \"%s\"[%zu] is not a string", who.c_str(), key, i);
    const std::string s = v.get<std::string>();
    if (match_words(s).empty())
      throw user_error(what, "%s: \"%s\"[%zu] (\"%s\") has no words to match", who.c_str(), key, i, s.c_str());
    out.push_back(s);
  }
  return out;
}

std::string fmt_score(double x) { return strprintf("%.2f", x); }

}  // namespace

std::vector<Campaign> parse_campaigns(const json& j, const std::string& what) {
  if (!j.is_array()) throw user_error(what, "expected a JSON array of campaigns");
  if (j.empty()) throw user_error(what, "no campaigns (the array is empty)");
  static const std::set<std::string> known = {"name",     "description", "keywords", "excluded_topics",
                                              "language", "min_safety",  "max_ads"};
  std::vector<Campaign> out;
  std::set<std::string> names;
  for (size_t i = 0; i < j.size(); i++) {
    const json& c = j[i];
    std::string who = strprintf("campaign %zu", i + 1);
    if (!c.is_object()) throw user_error(what, "%s: expected an object", who.c_str());
    Campaign k;
    if (!c.contains("name") || !c["name"].is_string() || c["name"].get<std::string>().empty())
      throw user_error(what, "%s: \"name\" is missing or not a non-empty string", who.c_str());
    k.name = c["name"].get<std::string>();
    who = strprintf("campaign \"%s\"", k.name.c_str());
    if (!names.insert(k.name).second) throw user_error(what, "%s: the name is used by an earlier campaign", who.c_str());
    for (const auto& [key, value] : c.items())
      if (!known.count(key))
        throw user_error(what, "%s: unknown field \"%s\" (fields: name, description, keywords, excluded_topics, language, "
                         "min_safety, max_ads)", who.c_str(), key.c_str());
    if (!c.contains("description") || !c["description"].is_string() || c["description"].get<std::string>().empty())
      throw user_error(what, "%s: \"description\" is missing or not a non-empty string", who.c_str());
    k.description = c["description"].get<std::string>();
    k.keywords = string_list(c, "keywords", what, who);
    k.excluded_topics = string_list(c, "excluded_topics", what, who);
    if (c.contains("language") && !c["language"].is_null()) {
      if (!c["language"].is_string() || c["language"].get<std::string>().empty())
        throw user_error(what, "%s: \"language\" must be a language code such as \"en\"", who.c_str());
      k.language = c["language"].get<std::string>();
    }
    if (!c.contains("min_safety"))
      throw user_error(what, "%s: \"min_safety\" is missing (0 to 1: the least safety, 1 - risk, of a tweet the ad may go "
                       "next to; 0 accepts every tweet)", who.c_str());
    if (!c["min_safety"].is_number()) throw user_error(what, "%s: \"min_safety\" must be a number from 0 to 1", who.c_str());
    k.min_safety = c["min_safety"].get<double>();
    if (!(k.min_safety >= 0 && k.min_safety <= 1))
      throw user_error(what, "%s: \"min_safety\" %g is outside 0..1", who.c_str(), k.min_safety);
    if (c.contains("max_ads") && !c["max_ads"].is_null()) {
      if (!c["max_ads"].is_number_integer() || c["max_ads"].get<long long>() < 0 ||
          c["max_ads"].get<long long>() > (1LL << 30))
        throw user_error(what, "%s: \"max_ads\" must be an integer >= 0", who.c_str());
      k.max_ads = int(c["max_ads"].get<long long>());
    }
    out.push_back(std::move(k));
  }
  return out;
}

std::vector<Campaign> load_campaigns(const std::string& path) { return parse_campaigns(read_json_file(path), path); }

std::vector<TweetMatch> match_campaigns(const std::vector<Campaign>& campaigns, const std::vector<AdTweet>& tweets,
                                        TextModel& model, const SafetyClassifier* classifier, const MatchOptions& opt) {
  if (opt.k < 1) throw user_error("k", "must be at least 1 (got %d)", opt.k);
  std::vector<std::string> ctexts, topics, ttexts;
  std::vector<std::vector<size_t>> topic_index(campaigns.size());
  for (size_t c = 0; c < campaigns.size(); c++) {
    std::string t = campaigns[c].description;
    if (!campaigns[c].keywords.empty()) {
      t += ".";
      for (const std::string& kw : campaigns[c].keywords) t += " #" + kw;
    }
    ctexts.push_back(model_text(t));
    for (const std::string& topic : campaigns[c].excluded_topics) {
      topic_index[c].push_back(topics.size());
      topics.push_back(model_text(topic));
    }
  }
  for (const AdTweet& t : tweets) ttexts.push_back(model_text(t.text));
  const auto cemb = model.embed(ctexts), temb = model.embed(ttexts);
  const bool topic_sim = opt.topic_threshold <= 1.0 && !topics.empty();
  const auto topic_emb = topic_sim ? model.embed(topics) : std::vector<std::vector<float>>{};
  std::vector<SafetyVerdict> verdicts;
  if (classifier) {
    std::vector<std::string> raw;
    for (const AdTweet& t : tweets) raw.push_back(t.text);
    verdicts = classifier->classify(model, raw);
  }

  std::vector<int> placed(campaigns.size(), 0);
  std::vector<TweetMatch> out(tweets.size());
  for (size_t i = 0; i < tweets.size(); i++) {
    TweetMatch& m = out[i];
    if (classifier) m.has_safety = true, m.safety = verdicts[i];
    const std::vector<std::string> words = match_words(tweets[i].text);
    std::vector<CampaignScore> eligible;
    for (size_t c = 0; c < campaigns.size(); c++) {
      const Campaign& k = campaigns[c];
      auto exclude = [&](std::string why) { m.excluded.push_back({int(c), std::move(why)}); };
      if (!k.language.empty() && !tweets[i].lang.empty() && lang_key(k.language) != lang_key(tweets[i].lang)) {
        exclude("language: the campaign is for '" + k.language + "', the tweet is '" + tweets[i].lang + "'");
        continue;
      }
      if (k.min_safety > 0 && !classifier) {
        exclude("brand safety: min_safety " + fmt_score(k.min_safety) + " needs a classifier (--classifier), none given");
        continue;
      }
      if (k.min_safety > 0 && m.safety.risk > 1 - k.min_safety) {
        exclude("brand safety: risk " + fmt_score(m.safety.risk) + " is above " + fmt_score(1 - k.min_safety) +
                " (min_safety " + fmt_score(k.min_safety) + ")");
        continue;
      }
      std::string topic_hit;
      for (size_t t = 0; t < k.excluded_topics.size() && topic_hit.empty(); t++) {
        if (!keyword_hits(words, {k.excluded_topics[t]}).empty()) {
          topic_hit = "excluded topic '" + k.excluded_topics[t] + "': in the tweet";
        } else if (topic_sim) {
          const double s = dot(temb[i], topic_emb[topic_index[c][t]]);
          if (s >= opt.topic_threshold)
            topic_hit = "excluded topic '" + k.excluded_topics[t] + "': similarity " + fmt_score(s) + " >= " +
                        fmt_score(opt.topic_threshold);
        }
      }
      if (!topic_hit.empty()) {
        exclude(topic_hit);
        continue;
      }
      if (k.max_ads >= 0 && placed[c] >= k.max_ads) {
        exclude("max_ads: placed " + std::to_string(placed[c]) + " times already");
        continue;
      }
      CampaignScore s;
      s.campaign = int(c);
      s.similarity = dot(temb[i], cemb[c]);
      s.keyword_hits = keyword_hits(words, k.keywords);
      s.score = s.similarity + opt.keyword_weight * double(s.keyword_hits.size());
      eligible.push_back(std::move(s));
    }
    std::stable_sort(eligible.begin(), eligible.end(),
                     [](const CampaignScore& a, const CampaignScore& b) { return a.score > b.score; });
    if (eligible.size() > size_t(opt.k)) eligible.resize(size_t(opt.k));
    for (const CampaignScore& s : eligible) placed[size_t(s.campaign)]++;
    m.ranked = std::move(eligible);
  }
  return out;
}

json match_json(const std::vector<Campaign>& campaigns, const AdTweet& tweet, const TweetMatch& m) {
  json j = {{"text", tweet.text}};
  if (!tweet.id.empty()) j["id"] = tweet.id;
  if (!tweet.lang.empty()) j["lang"] = tweet.lang;
  if (m.has_safety) {
    json p = json::object();
    for (const auto& [task, prob] : m.safety.probability) p[task] = prob;
    j["safety"] = {{"risk", m.safety.risk}, {"labels", m.safety.labels}, {"probabilities", p}};
  }
  json ranked = json::array();
  for (const CampaignScore& s : m.ranked)
    ranked.push_back({{"campaign", campaigns[size_t(s.campaign)].name},
                      {"score", s.score},
                      {"similarity", s.similarity},
                      {"keyword_hits", s.keyword_hits}});
  j["campaigns"] = ranked;
  json ex = json::array();
  for (const Exclusion& e : m.excluded) ex.push_back({{"campaign", campaigns[size_t(e.campaign)].name}, {"reason", e.reason}});
  j["excluded"] = ex;
  return j;
}

}  // namespace tlm::apps
