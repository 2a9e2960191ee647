// POST /v1/search (see search_api.h).
#include "apps/search/search_api.h"

#include "data/tweet_time.h"
#include "core/check.h"

namespace tlm::apps {

namespace {

const char* type_name(const nlohmann::json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  return "an object";
}

// An optional string field: absent or null -> "".
std::string opt_string(const nlohmann::json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return "";
  if (!it->is_string()) throw user_error(key, "must be a string, not %s", type_name(*it));
  return it->get<std::string>();
}

}  // namespace

SearchQuery parse_search_request(const nlohmann::json& body) {
  if (!body.is_object()) throw user_error("body", "must be a JSON object, not %s", type_name(body));
  SearchQuery q;
  auto query = body.find("query");
  if (query == body.end() || query->is_null()) throw user_error("query", "missing (the text to search for)");
  if (!query->is_string()) throw user_error("query", "must be a string, not %s", type_name(*query));
  q.query = query->get<std::string>();
  if (q.query.find_first_not_of(" \t\r\n\f\v") == std::string::npos)
    throw user_error("query", "empty: give some words to search for");
  if (q.query.size() > 4096) throw user_error("query", "longer than 4096 bytes");
  auto k = body.find("k");
  if (k != body.end() && !k->is_null()) {
    if (!k->is_number_integer()) throw user_error("k", "must be an integer, not %s", type_name(*k));
    const int64_t v = k->get<int64_t>();
    if (v < 1 || v > 100) throw user_error("k", "must be in 1..100 (got %lld)", static_cast<long long>(v));
    q.k = int(v);
  }
  auto mode = body.find("mode");
  if (mode != body.end() && !mode->is_null()) {
    if (!mode->is_string()) throw user_error("mode", "must be a string, not %s", type_name(*mode));
    q.mode = parse_search_mode(mode->get<std::string>(), "mode");
  }
  q.filter.lang = opt_string(body, "lang");
  if (std::string s = opt_string(body, "since"); !s.empty()) q.filter.since = parse_date_bound(s, false, "since");
  if (std::string s = opt_string(body, "until"); !s.empty()) q.filter.until = parse_date_bound(s, true, "until");
  return q;
}

nlohmann::json search_result_json(const SearchResult& r) {
  auto or_null = [](const std::string& s) { return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s); };
  return {{"rank", r.rank},        {"id", r.id},           {"text", r.text}, {"snippet", r.snippet},
          {"score", r.score},      {"lang", or_null(r.lang)}, {"created_at", or_null(r.created_at)}};
}

nlohmann::json search_api(const nlohmann::json& body, SearchIndex& index, TextModel& model) {
  SearchQuery q = parse_search_request(body);
  std::vector<SearchResult> results = index.search(q, &model);
  nlohmann::json out = {{"object", "search.results"}, {"mode", search_mode_name(q.mode)}, {"query", q.query}};
  nlohmann::json& list = out["results"] = nlohmann::json::array();
  for (const SearchResult& r : results) list.push_back(search_result_json(r));
  return out;
}

}  // namespace tlm::apps
