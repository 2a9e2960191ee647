// POST /v1/search for `tweetlm serve`: the request body in, the response body out, over a
// SearchIndex and whatever TextModel the server has (its engine). The HTTP route itself lives in
// src/serve; this file owns the API's contract so the CLI's `search --json` and the server agree.
//
// Request:  {"query": str, "k": int 1..100 (10), "mode": "bm25"|"dense"|"hybrid" ("hybrid"),
//            "lang": str?, "since": str?, "until": str?}   (null = absent; other fields ignored)
// Response: {"object": "search.results", "mode": str, "query": str,
//            "results": [{"rank", "id", "text", "snippet", "score", "lang", "created_at"}...]}
// snippet marks matched words with ** (e.g. "I love **coffee**"); text is the tweet as indexed.
// Every bad body throws UserError whose input is the field ("query", "k", ...): an HTTP 400.
#pragma once

#include <nlohmann/json.hpp>

#include "apps/search/search_index.h"

namespace tlm::apps {

// The body parsed and checked into a query (UserError naming the field).
SearchQuery parse_search_request(const nlohmann::json& body);
// One result as the API (and `tweetlm search --json`) writes it.
nlohmann::json search_result_json(const SearchResult& r);

nlohmann::json search_api(const nlohmann::json& body, SearchIndex& index, TextModel& model);

}  // namespace tlm::apps
