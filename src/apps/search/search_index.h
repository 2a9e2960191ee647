// A tweet search index: INDEX_DIR/tweets.db (tweets + FTS5, tweet_db.h), INDEX_DIR/vectors.hnsw
// (dense vectors, vector_store.h) and INDEX_DIR/index.json (what built it: model path and
// fingerprint, dimension, counts, HNSW parameters). The library behind `tweetlm index`,
// `tweetlm search` and the server's POST /v1/search (search_api.h).
//
// Adding is incremental and loses nothing on a crash: only tweets whose id is new are embedded;
// per chunk, the grown graph is written to vectors.hnsw.tmp and fsynced, the rows are committed
// in one SQLite transaction, and only then is the graph renamed over vectors.hnsw. tweets.db is
// therefore the truth and the graph can only lag it (a crash between commit and rename): the
// next add embeds every row the graph lacks, and a dense search says how many are missing.
//
// Threads: any number of search() calls at once (a shared lock; SQLite calls serialised by a
// mutex, graph reads lock-free); add() takes the lock exclusively. The TextModel passed in is
// the caller's: search() only calls its embed() for the query, outside every lock.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/search/index_input.h"
#include "apps/search/tweet_db.h"
#include "apps/search/vector_store.h"
#include "infer/text_model.h"

namespace tlm {
class Llama;
}

namespace tlm::apps {

enum class SearchMode { bm25, dense, hybrid };
const char* search_mode_name(SearchMode m);
// UserError(`what`) for anything but bm25, dense, hybrid.
SearchMode parse_search_mode(const std::string& s, const std::string& what = "--mode");

struct IndexParams {
  HnswParams hnsw;
  int ef_search = 100;  // default search breadth (a query's own ef_search overrides it)
};

// What built the vectors. The fingerprint tells two models apart (model_fingerprint).
struct ModelInfo {
  std::string path, fingerprint;
};
// XXH3 of the configuration and every weight: same weights, same fingerprint, wherever loaded from.
std::string model_fingerprint(const Llama& model);

struct AddOptions {
  size_t embed_batch = 64;      // texts per embed() call (one progress update each)
  size_t commit_every = 50000;  // new tweets per transaction + graph save
  bool progress = true;
};

struct AddReport {
  size_t read = 0;             // tweets given
  size_t repeated = 0;         // ids given more than once (the first kept)
  size_t already = 0;          // ids already in the index
  size_t added = 0;
  size_t repaired = 0;         // rows that had no vector (an interrupted earlier add)
  size_t total = 0;            // tweets in the index afterwards
  double embed_seconds = 0, seconds = 0;
};

struct SearchQuery {
  std::string query;
  int k = 10;
  SearchMode mode = SearchMode::hybrid;
  RowFilter filter;
  int depth = 100;     // hybrid: each list is retrieved this deep (at least k)
  int ef_search = 0;   // 0: the index's
  double rrf_k = 60;
  std::string mark_open = "**", mark_close = "**";  // around matched words in snippets
};

struct SearchResult {
  int rank = 0;
  double score = 0;  // bm25: -bm25(); dense: cosine similarity; hybrid: RRF score
  int64_t label = 0;
  std::string id, text, snippet, lang, created_at;  // created_at: ISO 8601 UTC when parseable
  int bm25_rank = 0, dense_rank = 0;                // 1-based rank in each list; 0: not in it
};

class SearchIndex {
 public:
  static bool exists(const std::string& dir);  // index.json is there
  // UserError when `dir` is not a search index or any of its files is missing or corrupt.
  static std::unique_ptr<SearchIndex> open(const std::string& dir);
  // A new, empty index (the directory is created). UserError if one exists already.
  static std::unique_ptr<SearchIndex> create(const std::string& dir, int dim, const IndexParams& params,
                                             const ModelInfo& model);
  ~SearchIndex();

  const std::string& dir() const { return dir_; }
  int dim() const { return dim_; }
  size_t size() const;          // tweets
  size_t vectors() const;       // tweets with a vector (== size() unless an add was interrupted)
  const ModelInfo& model() const { return model_; }
  const IndexParams& params() const { return params_; }
  nlohmann::json info() const;  // the contents of index.json

  // Adds the tweets whose id is new; `model` must be of the index's dimension (UserError).
  AddReport add(const std::vector<IndexTweet>& tweets, TextModel& model, const AddOptions& options = {});

  // `model` is needed for dense and hybrid (UserError "mode" without one). UserError for an
  // empty query, k < 1, or a model of another dimension.
  std::vector<SearchResult> search(const SearchQuery& q, TextModel* model) const;

  // The parts of search, for tests and benchmarks: labels best first (thread-safe like search).
  std::vector<Bm25Hit> bm25(const std::vector<std::string>& terms, const RowFilter& f, int limit,
                            const std::string& open = "**", const std::string& close = "**") const;
  std::vector<VectorHit> dense(const std::vector<float>& q, int limit, const RowFilter& f, int ef_search = 0) const;

 private:
  SearchIndex() = default;
  nlohmann::json info_locked() const;  // the caller holds rw_
  std::vector<Bm25Hit> bm25_locked(const std::vector<std::string>& terms, const RowFilter& f, int limit,
                                   const std::string& open, const std::string& close) const;
  std::vector<VectorHit> dense_locked(const std::vector<float>& q, int limit, const RowFilter& f, int ef_search) const;
  void load_row_meta();
  void write_info();
  void note_row(int64_t label, const std::string& lang, std::optional<int64_t> ts);
  bool passes(int64_t label, int lang_code, const RowFilter& f) const;
  int lang_code(const std::string& lang) const;  // -1: never seen (matches nothing)

  std::string dir_;
  int dim_ = 0;
  IndexParams params_;
  ModelInfo model_;
  std::unique_ptr<TweetDb> db_;
  std::unique_ptr<VectorStore> vectors_;
  // Per label (index = rowid): language code and created_ts, for the dense filters.
  std::vector<int32_t> row_lang_;
  std::vector<int64_t> row_ts_;  // INT64_MIN: no date
  std::vector<std::string> langs_;
  size_t rows_ = 0;

  mutable std::shared_mutex rw_;   // search shared; add exclusive while it changes the index
  mutable std::mutex db_mutex_;    // one SQLite call at a time
  std::mutex add_mutex_;           // one add at a time (it embeds outside rw_)
};

}  // namespace tlm::apps
