// Tweet search (src/apps/search, `tweetlm index` / `tweetlm search`): BM25 over FTS5, dense
// search over HNSW, hybrid reciprocal rank fusion, filters, incremental indexing, damaged files,
// the POST /v1/search body contract, and the CLI's error contract through the real binary.
// The models are random (tests/model_fixture.h) over a tokenizer trained here in-process: the
// dense checks need only that a text's own embedding is its nearest, which holds for any model.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <thread>

#include "data/tweet_time.h"
#include "apps/search/fusion.h"
#include "apps/search/search_api.h"
#include "apps/search/search_index.h"
#include "apps/search/text_match.h"
#include "apps/search/vector_store.h"
#include "core/check.h"
#include "core/rng.h"
#include "store/model_loader.h"
#include "model_fixture.h"
#include "tokenizer/bpe_train.h"
#include "train_fixture.h"

namespace tlm {
namespace {

using apps::IndexTweet;
using apps::SearchIndex;
using apps::SearchMode;
using apps::SearchQuery;
namespace fs = std::filesystem;

const std::vector<IndexTweet> kTweets = {
    {"1", "I love my morning coffee at the café", "en", "2020-01-05T08:00:00Z"},
    {"2", "Rain again today, staying home with a book", "en", "Wed Feb 12 10:00:00 +0000 2020"},
    {"3", "Le café est fermé aujourd'hui", "fr", "2020-03-01"},
    {"4", "Tonight's game was amazing! #sports", "en", "2021-06-01T20:00:00Z"},
    {"5", "New music release: listen now http", "en", "2021-07-15T12:00:00+02:00"},
    {"6", "Partido increíble esta noche", "es", "2021-06-02T21:00:00Z"},
    {"7", "Happy birthday to my best friend @user", "en", ""},
    {"8", "Coffee prices are rising AND nobody cares (really)", "en", "2022-01-01T00:00:00Z"},
};
const std::vector<IndexTweet> kMore = {
    {"9", "Sunny day at the beach with the dog", "en", "2022-05-01T10:00:00Z"},
    {"10", "Un café con leche por favor", "es", "2022-05-02T10:00:00Z"},
    {"11", "Election night results are coming in", "en", "2022-11-08T23:00:00Z"},
    {"12", "Best pizza in town, no contest", "en", "2023-02-01T19:00:00Z"},
};

std::vector<IndexTweet> all_tweets() {
  std::vector<IndexTweet> v = kTweets;
  v.insert(v.end(), kMore.begin(), kMore.end());
  return v;
}

void write_jsonl(const std::string& path, const std::vector<IndexTweet>& tweets) {
  std::ofstream f(path);
  for (const IndexTweet& t : tweets) {
    nlohmann::json j = {{"id", t.id}, {"text", t.text}, {"lang", t.lang}};
    if (!t.created_at.empty()) j["created_at"] = t.created_at;
    f << j.dump() << "\n";
  }
}

class Search : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new testing::TempDir();
    WordCounts wc;
    for (const IndexTweet& t : all_tweets()) wc.add_text(t.text);
    BpeTrainOptions bo;
    bo.vocab_size = 400;
    bo.min_frequency = 1;
    Tokenizer tok = train_bpe(wc, bo);
    testing::write_random_model(dir("model32"), tok, {.dim = 32, .heads = 4, .kv_heads = 2, .head_dim = 8, .ffn = 48});
    testing::write_random_model(dir("model48"), tok, {.dim = 48, .heads = 4, .kv_heads = 2, .head_dim = 12, .ffn = 48});
    lm_ = new LoadedModel(load_model(dir("model32")));
    tm_ = new LocalTextModel(*lm_->model, lm_->tokenizer, 4);
    write_jsonl(dir("first.jsonl"), kTweets);
    write_jsonl(dir("more.jsonl"), kMore);
  }
  static void TearDownTestSuite() {
    delete tm_;
    delete lm_;
    delete tmp_;
  }
  static std::string dir(const std::string& name) { return tmp_->path() + "/" + name; }
  // A fresh index of kTweets (or all tweets) in dir(name).
  static std::unique_ptr<SearchIndex> make_index(const std::string& name, bool all = false) {
    auto ix = SearchIndex::create(dir(name), tm_->dim(), {}, {dir("model32"), "x"});
    apps::AddOptions o;
    o.progress = false;
    ix->add(all ? all_tweets() : kTweets, *tm_, o);
    return ix;
  }
  static std::vector<std::string> ids(const std::vector<apps::SearchResult>& rs) {
    std::vector<std::string> v;
    for (const auto& r : rs) v.push_back(r.id);
    return v;
  }
  static std::vector<apps::SearchResult> find(SearchIndex& ix, const std::string& q, SearchMode mode, int k = 10,
                                              apps::RowFilter f = {}) {
    SearchQuery sq;
    sq.query = q;
    sq.mode = mode;
    sq.k = k;
    sq.filter = f;
    return ix.search(sq, tm_);
  }
  static testing::TempDir* tmp_;
  static LoadedModel* lm_;
  static LocalTextModel* tm_;
};
testing::TempDir* Search::tmp_ = nullptr;
LoadedModel* Search::lm_ = nullptr;
LocalTextModel* Search::tm_ = nullptr;

TEST(SearchText, QueryTermsAndFtsExpression) {
  EXPECT_EQ(apps::query_terms("don't (stop) AND \"now\"* now NOW"),
            (std::vector<std::string>{"don", "t", "stop", "AND", "now"}));
  EXPECT_EQ(apps::query_terms("*** () \" ^ :"), std::vector<std::string>{});
  EXPECT_EQ(apps::fts_match_expression({"a", "AND", "b"}), "\"a\" OR \"AND\" OR \"b\"");
  EXPECT_EQ(apps::fold_word("CAFÉ"), "cafe");
  EXPECT_EQ(apps::fold_word("Straße"), "strasse");
  EXPECT_EQ(apps::highlight_terms("Le Café, café!", {"cafe"}, "[", "]"), "Le [Café], [café]!");
  EXPECT_EQ(apps::highlight_terms("no match here", {"cafe"}, "[", "]"), "no match here");
}

TEST(SearchText, Dates) {
    EXPECT_EQ(parse_tweet_time("1970-01-01"), 0);
  EXPECT_EQ(parse_tweet_time("2020-01-05T08:00:00Z"), 1578211200);
  EXPECT_EQ(parse_tweet_time("2020-01-05T08:00:00.123Z"), 1578211200);
  EXPECT_EQ(parse_tweet_time("2020-01-05T10:00:00+02:00"), 1578211200);
  EXPECT_EQ(parse_tweet_time("2020-01-05 08:00"), 1578211200);
  EXPECT_EQ(parse_tweet_time("Sun Jan 05 08:00:00 +0000 2020"), 1578211200);
  EXPECT_EQ(parse_tweet_time("1578211200"), 1578211200);
  EXPECT_FALSE(parse_tweet_time("2020-02-30"));
  EXPECT_FALSE(parse_tweet_time("yesterday"));
  EXPECT_FALSE(parse_tweet_time(""));
  EXPECT_EQ(format_timestamp(1578211200), "2020-01-05T08:00:00Z");
  EXPECT_EQ(parse_date_bound("2020-01-05", true, "--until"), 1578268799);
  EXPECT_EQ(parse_date_bound("2020-01-05", false, "--since"), 1578182400);
  try {
    parse_date_bound("soon", false, "--since");
    FAIL();
  } catch (const UserError& e) {
    EXPECT_EQ(e.input(), "--since");
  }
}

// Hand computation with k = 60: A = [10, 20, 30], B = [30, 10, 40]
//   10: 1/61 + 1/62 = 0.0325217   30: 1/63 + 1/61 = 0.0322664   20: 1/62   40: 1/63
TEST(SearchFusion, ReciprocalRankFusionByHand) {
  auto f = apps::reciprocal_rank_fusion({{10, 20, 30}, {30, 10, 40}}, 60);
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(f[0].label, 10);
  EXPECT_EQ(f[1].label, 30);
  EXPECT_EQ(f[2].label, 20);
  EXPECT_EQ(f[3].label, 40);
  EXPECT_NEAR(f[0].score, 1.0 / 61 + 1.0 / 62, 1e-12);
  EXPECT_NEAR(f[1].score, 1.0 / 63 + 1.0 / 61, 1e-12);
  EXPECT_NEAR(f[2].score, 1.0 / 62, 1e-12);
  EXPECT_NEAR(f[3].score, 1.0 / 63, 1e-12);
  EXPECT_EQ(f[1].ranks, (std::vector<int>{3, 1}));
  EXPECT_EQ(f[3].ranks, (std::vector<int>{0, 3}));
  // Equal scores: the better best rank, then the first list's order.
  auto t = apps::reciprocal_rank_fusion({{1, 2}, {2, 1}}, 60);
  EXPECT_EQ(t[0].label, 1);
  EXPECT_EQ(t[1].label, 2);
  EXPECT_EQ(apps::reciprocal_rank_fusion({{1, 2, 3}, {4}}, 60, 2).size(), 2u);
  EXPECT_TRUE(apps::reciprocal_rank_fusion({{}, {}}).empty());
}

TEST_F(Search, Bm25FindsExactWordFirst) {
  auto ix = make_index("bm25");
  auto r = find(*ix, "rain", SearchMode::bm25);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].id, "2");
  EXPECT_EQ(r[0].rank, 1);
  EXPECT_GT(r[0].score, 0);
  EXPECT_EQ(r[0].snippet, "**Rain** again today, staying home with a book");
  EXPECT_EQ(r[0].created_at, "2020-02-12T10:00:00Z");
  EXPECT_EQ(r[0].lang, "en");
  EXPECT_EQ(find(*ix, "birthday friend", SearchMode::bm25).at(0).id, "7");
  EXPECT_TRUE(find(*ix, "zebra", SearchMode::bm25).empty());
}

TEST_F(Search, Bm25RemovesDiacritics) {
  auto ix = make_index("diacritics");
  for (const char* q : {"cafe", "CAFÉ", "café"}) {
    auto r = ids(find(*ix, q, SearchMode::bm25));
    std::sort(r.begin(), r.end());
    EXPECT_EQ(r, (std::vector<std::string>{"1", "3"})) << q;
  }
  EXPECT_EQ(find(*ix, "increible", SearchMode::bm25).at(0).id, "6");
  EXPECT_NE(find(*ix, "cafe", SearchMode::bm25).at(0).snippet.find("**café**"), std::string::npos);
}

TEST_F(Search, QuerySyntaxCharactersNeverError) {
  auto ix = make_index("syntax");
  for (const char* q : {"\"coffee", "coffee*", "AND", "(coffee", "coffee)", "NEAR(coffee rain)", "coffee OR",
                        "-coffee", "^coffee", "text:coffee", "\"*\"", "***", "coffee AND (really", "NOT", "'",
                        "{coffee}", "c++", "#sports", "@user"}) {
    for (SearchMode m : {SearchMode::bm25, SearchMode::hybrid}) EXPECT_NO_THROW(find(*ix, q, m)) << q;
  }
  EXPECT_EQ(find(*ix, "coffee*", SearchMode::bm25).size(), 2u);
  EXPECT_EQ(find(*ix, "(really", SearchMode::bm25).at(0).id, "8");
  EXPECT_EQ(find(*ix, "AND", SearchMode::bm25).at(0).id, "8");  // a word like any other
  EXPECT_EQ(find(*ix, "#sports", SearchMode::bm25).at(0).id, "4");
  EXPECT_TRUE(find(*ix, "***", SearchMode::bm25).empty());
  for (const char* q : {"", "   ", "\n"}) {
    try {
      find(*ix, q, SearchMode::bm25);
      FAIL() << "no error for an empty query";
    } catch (const UserError& e) {
      EXPECT_EQ(e.input(), "query");
    }
  }
}

TEST_F(Search, FiltersByLanguageAndDate) {
  auto ix = make_index("filters");
  apps::RowFilter fr;
  fr.lang = "fr";
  EXPECT_EQ(ids(find(*ix, "cafe", SearchMode::bm25, 10, fr)), std::vector<std::string>{"3"});
  apps::RowFilter early;
  early.until = parse_date_bound("2021-12-31", true, "--until");
  EXPECT_EQ(ids(find(*ix, "coffee", SearchMode::bm25, 10, early)), std::vector<std::string>{"1"});
  apps::RowFilter late;
  late.since = parse_date_bound("2021-12-31", false, "--since");
  EXPECT_EQ(ids(find(*ix, "coffee", SearchMode::bm25, 10, late)), std::vector<std::string>{"8"});
  apps::RowFilter nobody;
  nobody.lang = "de";
  EXPECT_TRUE(find(*ix, "cafe", SearchMode::hybrid, 10, nobody).empty());
  // Dense and hybrid: every result passes, and k results come back while enough pass.
  apps::RowFilter en;
  en.lang = "en";
  for (SearchMode m : {SearchMode::dense, SearchMode::hybrid}) {
    auto r = find(*ix, "anything at all", m, 5, en);
    EXPECT_EQ(r.size(), 5u);
    for (const auto& x : r) EXPECT_EQ(x.lang, "en");
    apps::RowFilter y2021;
    y2021.since = parse_date_bound("2021-01-01", false, "--since");
    y2021.until = parse_date_bound("2021-12-31", true, "--until");
    auto d = ids(find(*ix, "music", m, 10, y2021));
    std::sort(d.begin(), d.end());
    EXPECT_EQ(d, (std::vector<std::string>{"4", "5", "6"}));  // the undated tweet 7 never passes a date filter
  }
}

TEST_F(Search, DenseFindsATweetsOwnTextFirst) {
  auto ix = make_index("dense", true);
  for (const IndexTweet& t : all_tweets()) {
    auto r = find(*ix, t.text, SearchMode::dense, 3);
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(r[0].id, t.id);
    EXPECT_NEAR(r[0].score, 1.0, 1e-4);
    EXPECT_GE(r[0].score, r[1].score);
  }
  // A dense-only hit is highlighted by our own matcher.
  auto r = find(*ix, "Partido increible esta noche", SearchMode::dense, 1);
  EXPECT_EQ(r.at(0).snippet, "**Partido** **increíble** **esta** **noche**");
}

TEST_F(Search, HybridIsTheFusionOfBothLists) {
  auto ix = make_index("hybrid", true);
  for (const char* q : {"cafe", "coffee day", "the best night", "rain"}) {
    SearchQuery sq;
    sq.query = q;
    sq.k = 5;
    sq.mode = SearchMode::hybrid;
    auto got = ix->search(sq, tm_);
    std::vector<std::vector<int64_t>> lists(2);
    for (const auto& h : ix->bm25(apps::query_terms(q), {}, 100)) lists[0].push_back(h.label);
    for (const auto& h : ix->dense(tm_->embed({q})[0], 100, {})) lists[1].push_back(h.label);
    auto want = apps::reciprocal_rank_fusion(lists, 60, 5);
    ASSERT_EQ(got.size(), want.size()) << q;
    for (size_t i = 0; i < got.size(); i++) {
      EXPECT_EQ(got[i].label, want[i].label) << q;
      EXPECT_DOUBLE_EQ(got[i].score, want[i].score);
      EXPECT_EQ(got[i].bm25_rank, want[i].ranks[0]);
      EXPECT_EQ(got[i].dense_rank, want[i].ranks[1]);
    }
  }
  // A keyword hit leads hybrid when it is also near in the dense list; the rain tweet is first
  // in BM25 (the only hit) and first in dense when the query is its text.
  EXPECT_EQ(find(*ix, "Rain again today, staying home with a book", SearchMode::hybrid).at(0).id, "2");
}

TEST_F(Search, IncrementalAddsOnlyNewIdsAndReopens) {
  const std::string d = dir("incremental");
  apps::AddOptions o;
  o.progress = false;
  o.commit_every = 3;  // several chunks
  {
    auto ix = SearchIndex::create(d, tm_->dim(), {}, {dir("model32"), "x"});
    auto r = ix->add(kTweets, *tm_, o);
    EXPECT_EQ(r.added, kTweets.size());
    EXPECT_EQ(ix->size(), kTweets.size());
    EXPECT_EQ(ix->vectors(), kTweets.size());
    EXPECT_TRUE(find(*ix, "pizza", SearchMode::bm25).empty());
  }
  {
    auto ix = SearchIndex::open(d);
    std::vector<IndexTweet> batch = kMore;
    batch.insert(batch.end(), kTweets.begin(), kTweets.begin() + 3);  // already there
    batch.push_back(kMore[0]);                                          // repeated
    auto r = ix->add(batch, *tm_, o);
    EXPECT_EQ(r.added, kMore.size());
    EXPECT_EQ(r.already, 3u);
    EXPECT_EQ(r.repeated, 1u);
    EXPECT_EQ(r.total, 12u);
    EXPECT_EQ(find(*ix, "pizza", SearchMode::bm25).at(0).id, "12");
    EXPECT_EQ(find(*ix, kMore[2].text, SearchMode::dense).at(0).id, "11");
    EXPECT_EQ(ix->add(all_tweets(), *tm_, o).added, 0u);
  }
  auto ix = SearchIndex::open(d);
  EXPECT_EQ(ix->size(), 12u);
  EXPECT_EQ(ix->vectors(), 12u);
  EXPECT_EQ(ix->info()["count"], 12);
  nlohmann::json info = nlohmann::json::parse(testing::slurp(d + "/index.json"));
  EXPECT_EQ(info["dim"], 32);
  EXPECT_EQ(info["vectors"], 12);
  EXPECT_EQ(info["params"]["M"], 16);
  EXPECT_EQ(info["params"]["ef_construction"], 200);
  for (const IndexTweet& t : all_tweets()) EXPECT_EQ(find(*ix, t.text, SearchMode::dense, 1).at(0).id, t.id);
}

TEST_F(Search, RefusesAModelOfAnotherDimension) {
  auto ix = make_index("dims");
  LoadedModel other = load_model(dir("model48"));
  LocalTextModel tm48(*other.model, other.tokenizer, 2);
  try {
    ix->add(kMore, tm48);
    FAIL();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("dimension 32"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("dimension 48"), std::string::npos) << e.what();
  }
  SearchQuery q;
  q.query = "coffee";
  q.mode = SearchMode::dense;
  EXPECT_THROW(ix->search(q, &tm48), UserError);
  q.mode = SearchMode::bm25;
  EXPECT_EQ(ix->search(q, &tm48).size(), 2u);  // keywords need no vectors
  q.mode = SearchMode::hybrid;
  try {
    ix->search(q, nullptr);
    FAIL();
  } catch (const UserError& e) {
    EXPECT_EQ(e.input(), "mode");
  }
}

// Every damaged file is one UserError naming it, never a crash (ASan checks the reads).
TEST_F(Search, DamagedFilesGiveOneClearError) {
  make_index("damaged_src");
  auto expect_error = [&](const std::string& name, const std::string& file, auto damage) {
    const std::string d = dir(name);
    fs::copy(dir("damaged_src"), d, fs::copy_options::recursive);
    damage(d + "/" + file);
    try {
      SearchIndex::open(d);
      ADD_FAILURE() << name << ": opened";
    } catch (const UserError& e) {
      EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
    }
  };
  const std::string hnsw = testing::slurp(dir("damaged_src") + "/vectors.hnsw");
  for (size_t cut : {size_t(0), size_t(10), size_t(95), size_t(96), size_t(500), hnsw.size() / 2, hnsw.size() - 1})
    expect_error("hnsw_cut" + std::to_string(cut), "vectors.hnsw",
                 [&](const std::string& p) { fs::resize_file(p, cut); });
  expect_error("hnsw_long", "vectors.hnsw", [&](const std::string& p) { testing::write_file(p, hnsw + "x"); });
  expect_error("hnsw_garbage", "vectors.hnsw", [&](const std::string& p) {
    std::string g = hnsw;
    for (size_t i = 0; i < 96; i++) g[i] = char(0xA5 ^ i);
    testing::write_file(p, g);
  });
  expect_error("hnsw_links", "vectors.hnsw", [&](const std::string& p) {
    std::string g = hnsw;
    // The first neighbour of element 0 (after its 4-byte count) pointed far outside the graph.
    g[96 + 4] = g[96 + 5] = g[96 + 6] = g[96 + 7] = char(0x7f);
    testing::write_file(p, g);
  });
  expect_error("hnsw_missing", "vectors.hnsw", [&](const std::string& p) { fs::remove(p); });
  const size_t db_size = fs::file_size(dir("damaged_src") + "/tweets.db");
  expect_error("db_cut", "tweets.db", [&](const std::string& p) { fs::resize_file(p, db_size / 2); });
  expect_error("db_garbage", "tweets.db", [&](const std::string& p) { testing::write_file(p, std::string(8192, 'z')); });
  expect_error("db_missing", "tweets.db", [&](const std::string& p) { fs::remove(p); });
  expect_error("info_garbage", "index.json", [&](const std::string& p) { testing::write_file(p, "{not json"); });
  // Random damage in the vector bytes or links: an error or a working index, never a crash.
  Rng rng(3);
  for (int trial = 0; trial < 20; trial++) {
    std::string g = hnsw;
    for (int k = 0; k < 8; k++) g[96 + rng.below(uint64_t(g.size() - 96))] = char(rng.below(256));
    const std::string d = dir("hnsw_random" + std::to_string(trial));
    fs::copy(dir("damaged_src"), d, fs::copy_options::recursive);
    testing::write_file(d + "/vectors.hnsw", g);
    try {
      auto ix = SearchIndex::open(d);
      find(*ix, "coffee", SearchMode::hybrid);
    } catch (const UserError&) {
    }
  }
}

TEST(SearchVectors, FilteredGraphSearchStillReturnsK) {
  const int dim = 16, n = 3000;
  apps::VectorStore vs(dim, {8, 64}, 100);
  Rng rng(7);
  std::vector<std::vector<float>> v(n, std::vector<float>(dim));
  for (auto& x : v) {
    float s = 0;
    for (float& c : x) {
      c = float(rng.normal());
      s += c * c;
    }
    for (float& c : x) c /= std::sqrt(s);
  }
  for (int i = 0; i < n; i++) vs.add(v[size_t(i)].data(), i + 1);
  EXPECT_EQ(vs.size(), size_t(n));
  apps::LabelFilter rare = [](int64_t l) { return l % 97 == 0; };  // 30 of 3000 pass
  std::vector<int64_t> pass;
  for (int64_t l = 1; l <= n; l++)
    if (rare(l)) pass.push_back(l);
  int agree = 0;
  for (int q = 0; q < 10; q++) {
    auto got = vs.search(v[size_t(q * 31)].data(), 10, 20, &rare);
    ASSERT_EQ(got.size(), 10u);
    for (const auto& h : got) EXPECT_EQ(h.label % 97, 0);
    auto exact = vs.exact_search(v[size_t(q * 31)].data(), 10, pass);
    for (const auto& h : got)
      for (const auto& e : exact) agree += h.label == e.label;
  }
  EXPECT_GE(agree, 80);  // recall@10 of the filtered graph walk against the exact scan
  auto all = vs.search(v[5].data(), 1, 50);
  EXPECT_EQ(all.at(0).label, 6);
  // A NaN query (or damaged vectors) orders as farthest: an answer, never undefined behaviour.
  std::vector<float> nan(dim, std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(vs.search(nan.data(), 5, 20).size(), 5u);
  EXPECT_EQ(vs.search(nan.data(), 5, 20, &rare).size(), 5u);
  EXPECT_EQ(vs.exact_search(nan.data(), 5, pass).size(), 5u);
}

TEST_F(Search, ConcurrentSearchesWhileAdding) {
  auto ix = make_index("concurrent");
  std::vector<std::vector<float>> qv = tm_->embed({"coffee", "rain today", "music"});
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; t++)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 30; i++) {
        SearchQuery q;
        q.query = i % 2 ? "coffee" : "rain";
        q.mode = SearchMode::bm25;
        if (ix->search(q, nullptr).empty()) errors++;
        if (ix->dense(qv[size_t((t + i) % 3)], 3, {}).size() != 3) errors++;
      }
    });
  LoadedModel own = load_model(dir("model32"));
  LocalTextModel tm(*own.model, own.tokenizer, 2);
  apps::AddOptions o;
  o.progress = false;
  ix->add(kMore, tm, o);
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(ix->size(), 12u);
}

TEST_F(Search, ApiBodies) {
  auto ix = make_index("api");
  nlohmann::json ok = apps::search_api({{"query", "coffee"}, {"k", 2}, {"mode", "bm25"}}, *ix, *tm_);
  EXPECT_EQ(ok["object"], "search.results");
  EXPECT_EQ(ok["mode"], "bm25");
  ASSERT_EQ(ok["results"].size(), 2u);
  for (const char* key : {"rank", "id", "text", "snippet", "score", "lang", "created_at"})
    EXPECT_TRUE(ok["results"][0].contains(key)) << key;
  EXPECT_EQ(ok["results"][0]["rank"], 1);
  EXPECT_EQ(apps::search_api({{"query", "cafe"}}, *ix, *tm_)["mode"], "hybrid");
  auto fr = apps::search_api({{"query", "cafe"}, {"lang", "fr"}, {"mode", "dense"}, {"since", "2020-01-01"},
                              {"until", nullptr}},
                             *ix, *tm_);
  ASSERT_EQ(fr["results"].size(), 1u);
  EXPECT_EQ(fr["results"][0]["id"], "3");
  EXPECT_EQ(fr["results"][0]["created_at"], "2020-03-01T00:00:00Z");
  const std::vector<std::pair<nlohmann::json, std::string>> bad = {
      {nlohmann::json::array(), "body"},
      {"coffee", "body"},
      {{{"k", 3}}, "query"},
      {{{"query", nullptr}}, "query"},
      {{{"query", 42}}, "query"},
      {{{"query", "  "}}, "query"},
      {{{"query", "a"}, {"k", 0}}, "k"},
      {{{"query", "a"}, {"k", 101}}, "k"},
      {{{"query", "a"}, {"k", "5"}}, "k"},
      {{{"query", "a"}, {"k", 2.5}}, "k"},
      {{{"query", "a"}, {"k", true}}, "k"},
      {{{"query", "a"}, {"mode", "fuzzy"}}, "mode"},
      {{{"query", "a"}, {"mode", 1}}, "mode"},
      {{{"query", "a"}, {"lang", 5}}, "lang"},
      {{{"query", "a"}, {"since", "last week"}}, "since"},
      {{{"query", "a"}, {"until", 20200101}}, "until"},
  };
  for (const auto& [body, field] : bad) {
    try {
      apps::search_api(body, *ix, *tm_);
      ADD_FAILURE() << body.dump() << ": no error";
    } catch (const UserError& e) {
      EXPECT_EQ(e.input(), field) << body.dump() << ": " << e.what();
    }
  }
}

// The real binary: index, search in other processes, the error contract.
TEST_F(Search, CommandLine) {
  using testing::run_program;
  using testing::tweetlm;
  const std::string logs = dir("cli_logs"), ix = dir("cli_index");
  fs::create_directories(logs);
  auto r = run_program(tweetlm({"-q", "index", "-i", dir("first.jsonl"), "-m", dir("model32"), "-o", ix}), logs);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("8 added"), std::string::npos) << r.out;
  r = run_program(tweetlm({"search", "-x", ix, "rain", "--mode", "bm25", "--json"}), logs);
  ASSERT_EQ(r.rc, 0) << r.err;
  auto lines = testing::split_lines(r.out);
  ASSERT_EQ(lines.size(), 1u) << r.out;
  EXPECT_EQ(nlohmann::json::parse(lines[0])["id"], "2");
  // Dense with the model named in index.json; the exact text of tweet 4 comes back first.
  r = run_program(tweetlm({"search", "-x", ix, kTweets[3].text, "--mode", "dense", "-k", "2", "--json"}), logs);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(testing::split_lines(r.out).at(0))["id"], "4");
  r = run_program(tweetlm({"search", "-x", ix, "cafe", "--lang", "fr"}), logs);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(testing::split_lines(r.out).size(), 1u) << r.out;
  // Incremental through the CLI: first the new file, then everything again (nothing new).
  r = run_program(tweetlm({"-q", "index", "-i", dir("more.jsonl"), dir("first.jsonl"), "-m", dir("model32"), "-o", ix}), logs);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("4 added, 8 already indexed"), std::string::npos) << r.out;
  r = run_program(tweetlm({"-q", "index", "-i", dir("more.jsonl"), "-m", dir("model32"), "-o", ix}), logs);
  EXPECT_NE(r.out.find("0 added"), std::string::npos) << r.out;

  auto one_line_error = [&](const std::vector<std::string>& args, const std::string& needle) {
    std::vector<std::string> quiet = {"-q"};
    quiet.insert(quiet.end(), args.begin(), args.end());
    auto e = run_program(tweetlm(quiet), logs);
    EXPECT_EQ(e.rc, 2) << e.err;
    EXPECT_EQ(testing::split_lines(e.err).size(), 1u) << e.err;
    EXPECT_EQ(e.err.rfind("tweetlm: error: ", 0), 0u) << e.err;
    EXPECT_NE(e.err.find(needle), std::string::npos) << e.err;
  };
  one_line_error({"search", "-x", dir("no_such_index"), "coffee"}, dir("no_such_index") + ": no such index directory");
  one_line_error({"search", "-x", ix, ""}, "query: empty");
  one_line_error({"search", "-x", ix, "coffee", "--mode", "fuzzy"}, "--mode");
  one_line_error({"search", "-x", ix, "coffee", "--since", "someday"}, "--since");
  one_line_error({"index", "-i", dir("more.jsonl"), "-m", dir("model48"), "-o", ix}, "dimension");
  one_line_error({"index", "-i", dir("nothing.jsonl"), "-m", dir("model32"), "-o", ix}, "nothing.jsonl");
  fs::resize_file(ix + "/vectors.hnsw", 200);
  one_line_error({"search", "-x", ix, "coffee"}, "vectors.hnsw");
}

}  // namespace
}  // namespace tlm
