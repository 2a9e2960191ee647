// `tweetlm search`: one query against a search index (tweetlm index): BM25 keywords, dense
// (the model's embeddings) or hybrid (reciprocal rank fusion of both). Prints a table, or JSON
// lines (--json) in the shape of the server's POST /v1/search results.
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "data/tweet_time.h"
#include "apps/search/search_api.h"
#include "apps/search/search_index.h"
#include "cli/commands.h"
#include "core/check.h"
#include "core/file.h"
#include "core/log.h"
#include "store/model_loader.h"

namespace tlm::cli {

namespace {

struct SearchArgs {
  std::string index, query, model, tokenizer, mode = "hybrid", lang, since, until;
  int k = 10, ef_search = 0, depth = 100;
  bool json = false;
};

// One line per result: newlines inside a tweet would break the table.
std::string flat(const std::string& s) {
  std::string out;
  for (char c : s) out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  return out;
}

int run_search(const SearchArgs& a) {
  apps::SearchQuery q;
  q.query = a.query;
  q.k = a.k;
  q.mode = apps::parse_search_mode(a.mode);
  q.depth = a.depth;
  q.ef_search = a.ef_search;
  q.filter.lang = a.lang;
  if (!a.since.empty()) q.filter.since = parse_date_bound(a.since, false, "--since");
  if (!a.until.empty()) q.filter.until = parse_date_bound(a.until, true, "--until");
  if (q.query.find_first_not_of(" \t\r\n\f\v") == std::string::npos)
    throw user_error("query", "empty: give some words to search for");
  const bool tty = !a.json && ::isatty(1);
  if (tty) q.mark_open = "\033[1m", q.mark_close = "\033[0m";

  std::unique_ptr<apps::SearchIndex> ix = apps::SearchIndex::open(a.index);
  std::optional<LoadedModel> lm;
  std::unique_ptr<LocalTextModel> tm;
  if (q.mode != apps::SearchMode::bm25) {
    std::string path = a.model.empty() ? ix->model().path : a.model;
    if (path.empty())
      throw user_error(a.index, "%s search needs a model: give -m MODEL (the index does not name one)", a.mode.c_str());
    if (a.model.empty() && !path_exists(path))
      throw user_error(path, "the index's model is gone: give -m MODEL, or use --mode bm25");
    lm = load_model(path, a.tokenizer);
    tm = std::make_unique<LocalTextModel>(*lm->model, lm->tokenizer, 1);
    if (tm->dim() != ix->dim())
      throw user_error(path, "its embeddings have dimension %d, but the index holds vectors of dimension %d", tm->dim(),
                       ix->dim());
    if (!ix->model().fingerprint.empty() && apps::model_fingerprint(*lm->model) != ix->model().fingerprint)
      log_warn("%s: not the model that built the index (%s): dense results will not mean much", path.c_str(),
               ix->model().path.c_str());
    if (ix->vectors() < ix->size())
      log_warn("%s: %zu of %zu tweets have no vector yet (an index run was interrupted): run tweetlm index again",
               a.index.c_str(), ix->size() - ix->vectors(), ix->size());
  }
  std::vector<apps::SearchResult> results = ix->search(q, tm.get());
  for (const apps::SearchResult& r : results) {
    if (a.json) {
      nlohmann::json j = apps::search_result_json(r);
      std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else {
      std::string date = r.created_at.size() >= 10 ? r.created_at.substr(0, 10) : (r.created_at.empty() ? "-" : r.created_at);
      std::printf("%3d  %8.4f  %-20s  %-10s  %-3s  %s\n", r.rank, r.score, r.id.c_str(), date.c_str(),
                  r.lang.empty() ? "-" : r.lang.c_str(), flat(r.snippet).c_str());
    }
  }
  if (!a.json && results.empty()) std::fprintf(stderr, "search: no results\n");
  return 0;
}

}  // namespace

Runner add_search(CLI::App& app) {
  auto* cmd = app.add_subcommand("search", "Search a tweet index (tweetlm index): bm25, dense or hybrid");
  auto a = std::make_shared<SearchArgs>();
  cmd->add_option("-x,--index", a->index, "Index directory (tweetlm index -o)")->required();
  cmd->add_option("query", a->query, "What to search for (plain words: no query syntax)")->required();
  cmd->add_option("-k", a->k, "Results to show")->capture_default_str()->check(CLI::Range(1, 10000));
  cmd->add_option("--mode", a->mode, "bm25 (keywords), dense (embeddings) or hybrid (reciprocal rank fusion of both)")
      ->capture_default_str();
  cmd->add_option("-m,--model", a->model, "Model to embed the query (dense, hybrid; default: the index's model)");
  cmd->add_option("--tokenizer", a->tokenizer, "tokenizer.json to use instead of the model directory's");
  cmd->add_option("--lang", a->lang, "Only tweets in this language (the tweets' lang field, e.g. en)");
  cmd->add_option("--since", a->since, "Only tweets from this date on (YYYY-MM-DD, ISO 8601 time or unix seconds)");
  cmd->add_option("--until", a->until, "Only tweets up to this date (a bare date includes that day)");
  cmd->add_option("--ef-search", a->ef_search, "HNSW search breadth (0: the index's)")->capture_default_str()
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--depth", a->depth, "Hybrid: results taken from each list before fusion")->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cmd->add_flag("--json", a->json, "JSON lines: rank, id, text, snippet, score, lang, created_at");
  return [a] { return run_search(*a); };
}

}  // namespace tlm::cli
