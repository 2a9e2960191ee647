// INDEX_DIR/tweets.db: the tweets of a search index and their FTS5 keyword index, in SQLite.
//
//   tweets(rowid INTEGER PRIMARY KEY, id TEXT UNIQUE, text, lang, created_at, created_ts)
//   tweets_fts: FTS5, external content (the text lives once, in tweets), unicode61 with
//               remove_diacritics 2, ranked by bm25()
//   meta(key PRIMARY KEY, value): schema version, vector dimension
//
// The rowid is the tweet's label in vectors.hnsw, so a BM25 hit and a dense hit of one tweet
// are one number. created_ts is created_at as unix seconds (data/tweet_time.h), NULL when unparseable.
// Every SQLite failure is a UserError naming the database file with SQLite's message, so a
// corrupt or truncated file is one clear line, never a crash. Not thread-safe: SearchIndex
// serialises every call.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace tlm::apps {

struct TweetRow {
  int64_t label = 0;
  std::string id, text, lang, created_at;
  std::optional<int64_t> created_ts;
};

// Filters shared by the BM25 query and the in-memory filter of the dense search.
struct RowFilter {
  std::string lang;                    // "" = any
  std::optional<int64_t> since, until;  // inclusive bounds on created_ts
  bool active() const { return !lang.empty() || since || until; }
};

struct Bm25Hit {
  int64_t label = 0;
  double score = 0;  // -bm25(): higher is better
  std::string snippet;
};

class TweetDb {
 public:
  // Opens `path`; `create`: makes the schema when the file is new. UserError when the file is
  // not a tweetlm index database (or is corrupt: a quick integrity check runs on open).
  TweetDb(const std::string& path, bool create);
  ~TweetDb();
  TweetDb(const TweetDb&) = delete;
  TweetDb& operator=(const TweetDb&) = delete;

  const std::string& path() const { return path_; }
  int64_t count();
  int64_t max_label();
  bool has_id(const std::string& id);
  std::optional<std::string> meta(const std::string& key);
  void set_meta(const std::string& key, const std::string& value);

  void begin();
  void commit();
  void rollback() noexcept;
  // Into tweets and tweets_fts (inside begin/commit).
  void insert(const TweetRow& row);

  // Rows by label, in the order asked; labels not in the table are left out.
  std::vector<TweetRow> rows(const std::vector<int64_t>& labels);
  // Calls fn for every row (label order) without its text.
  void for_each_row_meta(const std::function<void(int64_t label, const std::string& lang,
                                                  std::optional<int64_t> ts)>& fn);
  // Labels and texts of rows with label in [first, last].
  std::vector<std::pair<int64_t, std::string>> texts(int64_t first, int64_t last);

  // BM25 top `limit` for an FTS5 MATCH expression, with snippet() marked by open/close.
  std::vector<Bm25Hit> bm25(const std::string& match, const RowFilter& filter, int limit, const std::string& open,
                            const std::string& close);

 private:
  void exec(const char* sql);
  [[noreturn]] void fail(const char* what);
  std::string path_;
  sqlite3* db_ = nullptr;
};

}  // namespace tlm::apps
