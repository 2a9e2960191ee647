// SQLite storage of a search index (see tweet_db.h). Statements are prepared per call: the
// calls that matter (one BM25 query, one row fetch) are single statements, and SQLite parses
// them in microseconds.
#include "apps/search/tweet_db.h"

#include <sqlite3.h>

#include "core/check.h"

namespace tlm::apps {

namespace {

constexpr int kSchemaVersion = 1;

const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tweets(
  rowid INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  text TEXT NOT NULL,
  lang TEXT,
  created_at TEXT,
  created_ts INTEGER);
CREATE INDEX IF NOT EXISTS tweets_created_ts ON tweets(created_ts);
CREATE INDEX IF NOT EXISTS tweets_lang ON tweets(lang);
CREATE VIRTUAL TABLE IF NOT EXISTS tweets_fts USING fts5(
  text, content='tweets', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2');
)sql";

// One prepared statement; every error is the database's UserError.
class Stmt {
 public:
  Stmt(sqlite3* db, const std::string& path, const char* sql) : db_(db), path_(path) {
    if (sqlite3_prepare_v2(db, sql, -1, &st_, nullptr) != SQLITE_OK) fail();
  }
  ~Stmt() { sqlite3_finalize(st_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  void bind(int i, int64_t v) { check(sqlite3_bind_int64(st_, i, v)); }
  void bind(int i, const std::string& v) { check(sqlite3_bind_text(st_, i, v.data(), int(v.size()), SQLITE_TRANSIENT)); }
  void bind_text_or_null(int i, const std::string& v) { v.empty() ? bind_null(i) : bind(i, v); }
  void bind_null(int i) { check(sqlite3_bind_null(st_, i)); }
  // true: a row is ready; false: done.
  bool step() {
    int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail();
  }
  void reset() {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
  }
  int64_t i64(int c) { return sqlite3_column_int64(st_, c); }
  double f64(int c) { return sqlite3_column_double(st_, c); }
  bool is_null(int c) { return sqlite3_column_type(st_, c) == SQLITE_NULL; }
  std::string text(int c) {
    const unsigned char* p = sqlite3_column_text(st_, c);
    return p ? std::string(reinterpret_cast<const char*>(p), size_t(sqlite3_column_bytes(st_, c))) : std::string();
  }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) fail();
  }
  [[noreturn]] void fail() { throw user_error(path_, "%s", sqlite3_errmsg(db_)); }
  sqlite3* db_;
  const std::string& path_;
  sqlite3_stmt* st_ = nullptr;
};

}  // namespace

TweetDb::TweetDb(const std::string& path, bool create) : path_(path) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "cannot open";
    sqlite3_close(db_);
    db_ = nullptr;
    throw user_error(path, "cannot open the index database: %s", msg.c_str());
  }
  try {
    sqlite3_busy_timeout(db_, 5000);
    // quick_check reads every page: a truncated or overwritten file fails here, on open, with
    // one clear message, instead of in the middle of a search.
    {
      Stmt st(db_, path_, "PRAGMA quick_check");
      std::string verdict = st.step() ? st.text(0) : "no answer";
      if (verdict != "ok") throw user_error(path_, "the index database is corrupt (%s)", verdict.c_str());
    }
    if (create) {
      exec(kSchema);
      if (!meta("schema_version")) set_meta("schema_version", std::to_string(kSchemaVersion));
    }
    std::optional<std::string> v;
    try {
      v = meta("schema_version");
    } catch (const UserError&) {
      throw user_error(path_, "not a tweetlm search index database (no meta table)");
    }
    if (!v) throw user_error(path_, "not a tweetlm search index database (no schema version)");
    if (*v != std::to_string(kSchemaVersion))
      throw user_error(path_, "index database schema version %s; this tweetlm reads version %d", v->c_str(),
                       kSchemaVersion);
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

TweetDb::~TweetDb() { sqlite3_close(db_); }

void TweetDb::fail(const char* what) { throw user_error(path_, "%s: %s", what, sqlite3_errmsg(db_)); }

void TweetDb::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    throw user_error(path_, "%s", msg.c_str());
  }
}

int64_t TweetDb::count() {
  Stmt st(db_, path_, "SELECT count(*) FROM tweets");
  return st.step() ? st.i64(0) : 0;
}

int64_t TweetDb::max_label() {
  Stmt st(db_, path_, "SELECT coalesce(max(rowid), 0) FROM tweets");
  return st.step() ? st.i64(0) : 0;
}

bool TweetDb::has_id(const std::string& id) {
  Stmt st(db_, path_, "SELECT 1 FROM tweets WHERE id = ?1");
  st.bind(1, id);
  return st.step();
}

std::optional<std::string> TweetDb::meta(const std::string& key) {
  Stmt st(db_, path_, "SELECT value FROM meta WHERE key = ?1");
  st.bind(1, key);
  if (!st.step()) return std::nullopt;
  return st.text(0);
}

void TweetDb::set_meta(const std::string& key, const std::string& value) {
  Stmt st(db_, path_, "INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2");
  st.bind(1, key);
  st.bind(2, value);
  st.step();
}

void TweetDb::begin() { exec("BEGIN IMMEDIATE"); }
void TweetDb::commit() { exec("COMMIT"); }
void TweetDb::rollback() noexcept { sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr); }

void TweetDb::insert(const TweetRow& r) {
  {
    Stmt st(db_, path_, "INSERT INTO tweets(rowid, id, text, lang, created_at, created_ts) VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
    st.bind(1, r.label);
    st.bind(2, r.id);
    st.bind(3, r.text);
    st.bind_text_or_null(4, r.lang);
    st.bind_text_or_null(5, r.created_at);
    if (r.created_ts) st.bind(6, *r.created_ts);
    else st.bind_null(6);
    st.step();
  }
  Stmt fts(db_, path_, "INSERT INTO tweets_fts(rowid, text) VALUES(?1, ?2)");
  fts.bind(1, r.label);
  fts.bind(2, r.text);
  fts.step();
}

std::vector<TweetRow> TweetDb::rows(const std::vector<int64_t>& labels) {
  std::vector<TweetRow> out;
  Stmt st(db_, path_, "SELECT rowid, id, text, lang, created_at, created_ts FROM tweets WHERE rowid = ?1");
  for (int64_t l : labels) {
    st.reset();
    st.bind(1, l);
    if (!st.step()) continue;
    TweetRow r;
    r.label = st.i64(0);
    r.id = st.text(1);
    r.text = st.text(2);
    r.lang = st.text(3);
    r.created_at = st.text(4);
    if (!st.is_null(5)) r.created_ts = st.i64(5);
    out.push_back(std::move(r));
  }
  return out;
}

void TweetDb::for_each_row_meta(
    const std::function<void(int64_t, const std::string&, std::optional<int64_t>)>& fn) {
  Stmt st(db_, path_, "SELECT rowid, lang, created_ts FROM tweets ORDER BY rowid");
  while (st.step()) {
    std::optional<int64_t> ts;
    if (!st.is_null(2)) ts = st.i64(2);
    fn(st.i64(0), st.text(1), ts);
  }
}

std::vector<std::pair<int64_t, std::string>> TweetDb::texts(int64_t first, int64_t last) {
  std::vector<std::pair<int64_t, std::string>> out;
  Stmt st(db_, path_, "SELECT rowid, text FROM tweets WHERE rowid BETWEEN ?1 AND ?2 ORDER BY rowid");
  st.bind(1, first);
  st.bind(2, last);
  while (st.step()) out.emplace_back(st.i64(0), st.text(1));
  return out;
}

std::vector<Bm25Hit> TweetDb::bm25(const std::string& match, const RowFilter& f, int limit, const std::string& open,
                                   const std::string& close) {
  std::vector<Bm25Hit> out;
  if (match.empty() || limit <= 0) return out;
  // snippet() of up to 64 tokens: the whole of almost every tweet, with its matches marked.
  Stmt st(db_, path_,
          "SELECT f.rowid, bm25(tweets_fts) AS s, snippet(tweets_fts, 0, ?2, ?3, '…', 64) "
          "FROM tweets_fts AS f JOIN tweets AS t ON t.rowid = f.rowid "
          "WHERE tweets_fts MATCH ?1 AND (?4 IS NULL OR t.lang = ?4) "
          "AND (?5 IS NULL OR t.created_ts >= ?5) AND (?6 IS NULL OR t.created_ts <= ?6) "
          "ORDER BY s, f.rowid LIMIT ?7");
  st.bind(1, match);
  st.bind(2, open);
  st.bind(3, close);
  st.bind_text_or_null(4, f.lang);
  if (f.since) st.bind(5, *f.since);
  else st.bind_null(5);
  if (f.until) st.bind(6, *f.until);
  else st.bind_null(6);
  st.bind(7, int64_t(limit));
  while (st.step()) out.push_back({st.i64(0), -st.f64(1), st.text(2)});
  return out;
}

}  // namespace tlm::apps
