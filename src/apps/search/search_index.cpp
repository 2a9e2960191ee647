// The search index (see search_index.h): opening and creating, incremental adds, and the three
// search modes over tweets.db and vectors.hnsw.
#include "apps/search/search_index.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <unordered_map>
#include <unordered_set>

#include "data/tweet_time.h"
#include "apps/search/fusion.h"
#include "apps/search/text_match.h"
#include "core/check.h"
#include "core/file.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/progress.h"
#include "model/llama.h"

namespace tlm::apps {

namespace {

constexpr const char* kFormat = "tweetlm-search-index";
constexpr int kVersion = 1;
// A filter passing at most this many tweets is answered by an exact scan of them.
constexpr size_t kExactScanMax = 8192;

std::string db_path(const std::string& dir) { return dir + "/tweets.db"; }
std::string hnsw_path(const std::string& dir) { return dir + "/vectors.hnsw"; }
std::string info_path(const std::string& dir) { return dir + "/index.json"; }

void check_dim(const std::string& dir, int index_dim, int model_dim) {
  if (index_dim != model_dim)
    throw user_error(dir, "the index holds vectors of dimension %d but the model's embeddings have dimension %d: "
                     "use the model the index was built with, or a new index directory", index_dim, model_dim);
}

}  // namespace

const char* search_mode_name(SearchMode m) {
  switch (m) {
    case SearchMode::bm25: return "bm25";
    case SearchMode::dense: return "dense";
    case SearchMode::hybrid: return "hybrid";
  }
  return "?";
}

SearchMode parse_search_mode(const std::string& s, const std::string& what) {
  if (s == "bm25") return SearchMode::bm25;
  if (s == "dense") return SearchMode::dense;
  if (s == "hybrid") return SearchMode::hybrid;
  throw user_error(what, "'%s' is not a search mode (bm25, dense or hybrid)", s.c_str());
}

std::string model_fingerprint(const Llama& model) {
  uint64_t seed = hash64(model.config().to_hf_json().dump());
  return strprintf("%016llx", static_cast<unsigned long long>(
                                  hash64(model.params(), model.num_params() * sizeof(float), seed)));
}

bool SearchIndex::exists(const std::string& dir) { return path_exists(info_path(dir)); }

SearchIndex::~SearchIndex() = default;

std::unique_ptr<SearchIndex> SearchIndex::create(const std::string& dir, int dim, const IndexParams& params,
                                                 const ModelInfo& model) {
  if (exists(dir)) throw user_error(dir, "a search index exists there already");
  if (params.ef_search < 1) throw user_error("--ef-search", "must be at least 1 (got %d)", params.ef_search);
  make_dirs(dir);
  std::unique_ptr<SearchIndex> ix(new SearchIndex());
  ix->dir_ = dir;
  ix->dim_ = dim;
  ix->params_ = params;
  ix->model_ = model;
  ix->db_ = std::make_unique<TweetDb>(db_path(dir), true);
  // A database left by a create that died before index.json: reused only while empty.
  if (ix->db_->count() > 0) throw user_error(info_path(dir), "missing, but tweets.db holds tweets: not a usable index");
  ix->db_->set_meta("dim", std::to_string(dim));
  ix->vectors_ = std::make_unique<VectorStore>(dim, params.hnsw, 1024);
  ix->vectors_->write_temp(hnsw_path(dir));
  VectorStore::publish(hnsw_path(dir));
  ix->write_info();
  return ix;
}

std::unique_ptr<SearchIndex> SearchIndex::open(const std::string& dir) {
  if (!is_directory(dir)) throw user_error(dir, "no such index directory (build one with tweetlm index)");
  if (!exists(dir)) throw user_error(dir, "not a search index (no index.json; build one with tweetlm index)");
  nlohmann::json j = nlohmann::json::parse(read_file(info_path(dir)), nullptr, false);
  const std::string ip = info_path(dir);
  if (j.is_discarded() || !j.is_object()) throw user_error(ip, "not valid JSON");
  if (j.value("format", "") != kFormat) throw user_error(ip, "not a tweetlm search index description");
  if (j.value("version", 0) != kVersion)
    throw user_error(ip, "search index version %d; this tweetlm reads version %d", j.value("version", 0), kVersion);
  std::unique_ptr<SearchIndex> ix(new SearchIndex());
  ix->dir_ = dir;
  try {
    ix->dim_ = j.at("dim").get<int>();
    const auto& p = j.at("params");
    ix->params_.hnsw.M = p.at("M").get<int>();
    ix->params_.hnsw.ef_construction = p.at("ef_construction").get<int>();
    ix->params_.ef_search = p.at("ef_search").get<int>();
    ix->model_.path = j.at("model").value("path", "");
    ix->model_.fingerprint = j.at("model").value("fingerprint", "");
  } catch (const nlohmann::json::exception& e) {
    throw user_error(ip, "incomplete index description (%s)", e.what());
  }
  if (ix->dim_ < 1 || ix->params_.ef_search < 1) throw user_error(ip, "invalid dim or ef_search");
  if (!path_exists(db_path(dir))) throw user_error(db_path(dir), "no such file (the tweets of this index are missing)");
  ix->db_ = std::make_unique<TweetDb>(db_path(dir), false);
  std::optional<std::string> db_dim = ix->db_->meta("dim");
  if (!db_dim || *db_dim != std::to_string(ix->dim_))
    throw user_error(db_path(dir), "its vector dimension (%s) differs from index.json's (%d)",
                     db_dim ? db_dim->c_str() : "none", ix->dim_);
  ix->vectors_ = VectorStore::load(hnsw_path(dir), ix->dim_);
  ix->load_row_meta();
  return ix;
}

void SearchIndex::load_row_meta() {
  row_lang_.clear();
  row_ts_.clear();
  rows_ = 0;
  db_->for_each_row_meta([&](int64_t l, const std::string& lang, std::optional<int64_t> ts) { note_row(l, lang, ts); });
}

void SearchIndex::note_row(int64_t label, const std::string& lang, std::optional<int64_t> ts) {
  const size_t l = size_t(label);
  if (row_lang_.size() <= l) {
    row_lang_.resize(l + 1, INT32_MIN);  // INT32_MIN: no row with this label
    row_ts_.resize(l + 1, INT64_MIN);
  }
  int code = -1;
  if (!lang.empty()) {
    code = lang_code(lang);
    if (code < 0) {
      code = int(langs_.size());
      langs_.push_back(lang);
    }
  }
  row_lang_[l] = code;
  row_ts_[l] = ts ? *ts : INT64_MIN;
  rows_++;
}

int SearchIndex::lang_code(const std::string& lang) const {
  for (size_t i = 0; i < langs_.size(); i++)
    if (langs_[i] == lang) return int(i);
  return -1;
}

bool SearchIndex::passes(int64_t label, int code, const RowFilter& f) const {
  if (label < 0 || size_t(label) >= row_lang_.size() || row_lang_[size_t(label)] == INT32_MIN) return false;
  if (!f.lang.empty() && row_lang_[size_t(label)] != code) return false;
  const int64_t ts = row_ts_[size_t(label)];
  if ((f.since || f.until) && ts == INT64_MIN) return false;
  if (f.since && ts < *f.since) return false;
  if (f.until && ts > *f.until) return false;
  return true;
}

size_t SearchIndex::size() const {
  std::shared_lock lk(rw_);
  return rows_;
}

size_t SearchIndex::vectors() const {
  std::shared_lock lk(rw_);
  return vectors_->size();
}

nlohmann::json SearchIndex::info() const {
  std::shared_lock lk(rw_);
  return info_locked();
}

nlohmann::json SearchIndex::info_locked() const {
  return {{"format", kFormat},
          {"version", kVersion},
          {"dim", dim_},
          {"count", rows_},
          {"vectors", vectors_->size()},
          {"model", {{"path", model_.path}, {"fingerprint", model_.fingerprint}}},
          {"params", {{"M", params_.hnsw.M}, {"ef_construction", params_.hnsw.ef_construction},
                      {"ef_search", params_.ef_search}, {"space", "inner product (unit vectors)"}}},
          {"fts", {{"tokenize", "unicode61 remove_diacritics 2"}, {"ranking", "bm25"}}},
          {"files", {{"tweets", "tweets.db"}, {"vectors", "vectors.hnsw"}}}};
}

void SearchIndex::write_info() { atomic_write_file(info_path(dir_), info_locked().dump(2) + "\n"); }

AddReport SearchIndex::add(const std::vector<IndexTweet>& tweets, TextModel& model, const AddOptions& opt) {
  std::lock_guard add_lock(add_mutex_);
  check_dim(dir_, dim_, model.dim());
  const auto t0 = std::chrono::steady_clock::now();
  AddReport rep;
  rep.read = tweets.size();

  // Which tweets are new, and which rows lack a vector (both read-only: searches go on).
  std::vector<const IndexTweet*> fresh;
  std::vector<TweetRow> repair;
  int64_t next_label;
  {
    std::shared_lock lk(rw_);
    std::lock_guard db_lock(db_mutex_);
    std::unordered_set<std::string_view> seen;
    for (const IndexTweet& t : tweets) {
      if (!seen.insert(t.id).second) rep.repeated++;
      else if (db_->has_id(t.id)) rep.already++;
      else fresh.push_back(&t);
    }
    if (vectors_->size() < rows_) {
      std::vector<int64_t> missing;
      for (size_t l = 0; l < row_lang_.size(); l++)
        if (row_lang_[l] != INT32_MIN && !vectors_->contains(int64_t(l))) missing.push_back(int64_t(l));
      repair = db_->rows(missing);
    }
    next_label = db_->max_label() + 1;
  }
  rep.repaired = repair.size();
  if (!repair.empty())
    log_warn("%s: %zu tweets have no vector (an earlier index run was interrupted): embedding them now",
             dir_.c_str(), repair.size());

  const size_t to_embed = fresh.size() + repair.size();
  Progress progress("embed", double(to_embed), ProgressUnit::count, opt.progress ? 10.0 : 1e30);
  size_t embedded = 0;
  const size_t chunk = std::max<size_t>(opt.commit_every, 1), batch = std::max<size_t>(opt.embed_batch, 1);
  size_t pos = 0;
  bool first = true;
  while (first || pos < fresh.size()) {
    const size_t n = std::min(chunk, fresh.size() - pos);
    if (n == 0 && repair.empty()) break;
    std::vector<TweetRow> rows;
    rows.reserve(n);
    for (size_t i = 0; i < n; i++) {
      const IndexTweet& t = *fresh[pos + i];
      TweetRow r;
      r.label = next_label++;
      r.id = t.id;
      r.text = t.text;
      r.lang = t.lang;
      r.created_at = t.created_at;
      r.created_ts = parse_tweet_time(t.created_at);
      rows.push_back(std::move(r));
    }
    // Embedding, outside every lock: the slow part, while searches go on.
    std::vector<const TweetRow*> work;
    if (first)
      for (const TweetRow& r : repair) work.push_back(&r);
    for (const TweetRow& r : rows) work.push_back(&r);
    std::vector<std::vector<float>> vecs;
    vecs.reserve(work.size());
    const double e0 = progress.elapsed_s();
    for (size_t b = 0; b < work.size(); b += batch) {
      std::vector<std::string> texts;
      for (size_t i = b; i < std::min(work.size(), b + batch); i++) texts.push_back(work[i]->text);
      std::vector<std::vector<float>> e = model.embed(texts);
      TLM_CHECK(e.size() == texts.size(), "embed gave %zu vectors for %zu texts", e.size(), texts.size());
      for (auto& v : e) {
        TLM_CHECK(int(v.size()) == dim_, "embedding of length %zu, index dimension %d", v.size(), dim_);
        vecs.push_back(std::move(v));
      }
      embedded += texts.size();
      progress.update(double(embedded));
    }
    rep.embed_seconds += progress.elapsed_s() - e0;

    // Graph, transaction, rename: searches wait (the graph is not safe to grow under a reader).
    std::unique_lock lk(rw_);
    std::lock_guard db_lock(db_mutex_);
    vectors_->reserve(vectors_->size() + work.size());
    for (size_t i = 0; i < work.size(); i++) vectors_->add(vecs[i].data(), work[i]->label);
    vectors_->write_temp(hnsw_path(dir_));
    db_->begin();
    try {
      for (const TweetRow& r : rows) db_->insert(r);
      db_->commit();
    } catch (...) {
      db_->rollback();
      // The graph in memory now holds labels without rows: searches skip them, and a later
      // add of the same labels overwrites their vectors (hnswlib updates a known label).
      throw;
    }
    VectorStore::publish(hnsw_path(dir_));
    for (const TweetRow& r : rows) note_row(r.label, r.lang, r.created_ts);
    write_info();
    rep.added += rows.size();
    pos += n;
    first = false;
  }
  if (to_embed) progress.finish();
  rep.total = rows_;
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

std::vector<Bm25Hit> SearchIndex::bm25(const std::vector<std::string>& terms, const RowFilter& f, int limit,
                                       const std::string& open, const std::string& close) const {
  std::shared_lock lk(rw_);
  return bm25_locked(terms, f, limit, open, close);
}

std::vector<VectorHit> SearchIndex::dense(const std::vector<float>& q, int limit, const RowFilter& f,
                                          int ef_search) const {
  std::shared_lock lk(rw_);
  return dense_locked(q, limit, f, ef_search);
}

std::vector<Bm25Hit> SearchIndex::bm25_locked(const std::vector<std::string>& terms, const RowFilter& f, int limit,
                                              const std::string& open, const std::string& close) const {
  std::string match = fts_match_expression(terms);
  if (match.empty()) return {};
  std::lock_guard db_lock(db_mutex_);
  return db_->bm25(match, f, limit, open, close);
}

std::vector<VectorHit> SearchIndex::dense_locked(const std::vector<float>& q, int limit, const RowFilter& f,
                                                 int ef_search) const {
  check_dim(dir_, dim_, int(q.size()));
  const size_t k = size_t(std::max(limit, 0));
  const size_t ef = size_t(ef_search > 0 ? ef_search : params_.ef_search);
  auto known = [this](int64_t l) { return l >= 0 && size_t(l) < row_lang_.size() && row_lang_[size_t(l)] != INT32_MIN; };
  if (!f.active()) {
    // Labels without a row (a failed transaction) are filtered out too.
    LabelFilter rows_only = known;
    return vectors_->search(q.data(), k, ef, vectors_->size() == rows_ ? nullptr : &rows_only);
  }
  int code = -1;
  if (!f.lang.empty() && (code = lang_code(f.lang)) < 0) return {};  // no tweet in that language
  std::vector<int64_t> pass;
  for (size_t l = 0; l < row_lang_.size() && pass.size() <= kExactScanMax; l++)
    if (passes(int64_t(l), code, f)) pass.push_back(int64_t(l));
  if (pass.size() <= kExactScanMax) return vectors_->exact_search(q.data(), k, pass);
  LabelFilter filter = [this, code, &f](int64_t l) { return passes(l, code, f); };
  return vectors_->search(q.data(), k, ef, &filter);
}

std::vector<SearchResult> SearchIndex::search(const SearchQuery& q, TextModel* model) const {
  if (q.query.find_first_not_of(" \t\r\n\f\v") == std::string::npos)
    throw user_error("query", "empty: give some words to search for");
  if (q.k < 1) throw user_error("k", "must be at least 1 (got %d)", q.k);
  const bool need_model = q.mode != SearchMode::bm25;
  if (need_model && !model)
    throw user_error("mode", "%s search needs a model to embed the query (-m MODEL)", search_mode_name(q.mode));
  if (need_model) check_dim(dir_, dim_, model->dim());
  const std::vector<std::string> terms = query_terms(q.query);
  std::vector<float> qv;
  if (need_model) qv = model->embed({q.query}).at(0);  // outside the locks: the model is the caller's

  std::shared_lock lk(rw_);
  const int depth = q.mode == SearchMode::hybrid ? std::max(q.depth, q.k) : q.k;
  std::vector<Bm25Hit> kw;
  std::vector<VectorHit> dn;
  if (q.mode != SearchMode::dense) kw = bm25_locked(terms, q.filter, depth, q.mark_open, q.mark_close);
  if (q.mode != SearchMode::bm25) dn = dense_locked(qv, depth, q.filter, q.ef_search);

  std::vector<SearchResult> out;
  auto push = [&](int64_t label, double score) {
    SearchResult r;
    r.label = label;
    r.score = score;
    out.push_back(std::move(r));
  };
  if (q.mode == SearchMode::bm25) {
    for (const Bm25Hit& h : kw) push(h.label, h.score);
  } else if (q.mode == SearchMode::dense) {
    for (const VectorHit& h : dn) push(h.label, h.score);
  } else {
    std::vector<std::vector<int64_t>> lists(2);
    for (const Bm25Hit& h : kw) lists[0].push_back(h.label);
    for (const VectorHit& h : dn) lists[1].push_back(h.label);
    for (const FusedHit& h : reciprocal_rank_fusion(lists, q.rrf_k, size_t(q.k))) push(h.label, h.score);
  }
  if (out.size() > size_t(q.k)) out.resize(size_t(q.k));

  std::vector<int64_t> labels;
  for (const SearchResult& r : out) labels.push_back(r.label);
  std::vector<TweetRow> rows;
  {
    std::lock_guard db_lock(db_mutex_);
    rows = db_->rows(labels);
  }
  std::unordered_map<int64_t, const TweetRow*> by_label;
  for (const TweetRow& r : rows) by_label[r.label] = &r;
  std::unordered_map<int64_t, std::pair<int, const std::string*>> kw_rank;
  for (size_t i = 0; i < kw.size(); i++) kw_rank[kw[i].label] = {int(i + 1), &kw[i].snippet};
  std::unordered_map<int64_t, int> dn_rank;
  for (size_t i = 0; i < dn.size(); i++) dn_rank[dn[i].label] = int(i + 1);

  std::vector<SearchResult> done;
  for (SearchResult& r : out) {
    auto row = by_label.find(r.label);
    if (row == by_label.end()) continue;  // a vector whose row never committed
    const TweetRow& t = *row->second;
    r.rank = int(done.size() + 1);
    r.id = t.id;
    r.text = t.text;
    r.lang = t.lang;
    r.created_at = t.created_ts ? format_timestamp(*t.created_ts) : t.created_at;
    auto kr = kw_rank.find(r.label);
    if (kr != kw_rank.end()) {
      r.bm25_rank = kr->second.first;
      r.snippet = *kr->second.second;
    } else {
      r.snippet = highlight_terms(t.text, terms, q.mark_open, q.mark_close);
    }
    auto dr = dn_rank.find(r.label);
    if (dr != dn_rank.end()) r.dense_rank = dr->second;
    done.push_back(std::move(r));
  }
  return done;
}

}  // namespace tlm::apps
