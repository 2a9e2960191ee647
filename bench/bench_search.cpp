// bench_search: hashtag retrieval quality of tweet search (bm25, dense, hybrid) and query
// latency on a 100k-tweet index (src/apps/search).
//
// Usage:
//   bench_search -m MODEL [--shared DIR] [--index DIR] [--json FILE] [--top 50] [--min-tweets 20]
//                [--max-per-tag 0] [--max-tweets 0] [--latency-size 100000] [--latency-queries 200]
//                [--batch 32] [-t THREADS]
//
// Retrieval (the TweetEval train + val texts only, every task: ../shared/data/README.md): a
// tweet carries hashtag #h when "#h" (ASCII letters, digits, _) appears in it, case folded. The
// --top most frequent hashtags carried by at least --min-tweets tweets are the queries. Their
// carriers lose those hashtags from their text; every tweet (carriers and the rest, exact
// duplicates dropped) is indexed; the query is the bare word h, and the relevant tweets are h's
// carriers. Reported per mode: MRR (reciprocal rank of the first relevant tweet in the top 100)
// and nDCG@10 (binary gains), averaged over the queries, and recall@100. On a slow machine the
// corpus can be cut (deterministically, seeded): --max-per-tag keeps at most that many carriers
// per hashtag, --max-tweets fills up to that many tweets with non-carriers (0: all).
//
// Latency: the retrieval index copied and grown to --latency-size tweets with perturbed copies of
// its tweets: the text with the first word of another tweet appended, the vector the source's
// embedding plus Gaussian noise (cosine ~0.9 to it), renormalised. Copies are not embedded, so a
// 100k index costs only the retrieval corpus's embeddings; the graph, the FTS table and every
// query path are the real ones. Queries: the hashtag words and 1 to 3 words cut from random
// tweets, one at a time, 10 warm-up queries first; per mode p50/p99 of search() without the
// query's embedding, and the query embedding's own p50 (dense and hybrid pay it once per query).
// Also reported: index build rate (tweets/s: embedding, graph, SQLite, all).
// --index DIR keeps the indexes (DIR/retrieval, DIR/latency) so a rerun only searches. Tests never
// look at these numbers.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "apps/search/search_index.h"
#include "apps/search/text_match.h"
#include "bench_util.h"
#include "core/check.h"
#include "core/file.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/threads.h"
#include "store/model_loader.h"

#ifndef TLM_SHARED_DIR
#define TLM_SHARED_DIR "../shared"
#endif

namespace tlm::bench {
namespace {

namespace fs = std::filesystem;
using apps::IndexTweet;
using apps::SearchMode;

const char* kTasks[] = {"emoji", "emotion", "hate", "irony", "offensive", "sentiment", "stance/abortion",
                        "stance/atheism", "stance/climate", "stance/feminist", "stance/hillary"};

struct Text {
  std::string id, text;
};

std::vector<Text> read_texts(const std::string& shared, const std::vector<std::string>& splits) {
  std::vector<Text> out;
  std::unordered_set<std::string> seen;
  for (const char* task : kTasks)
    for (const std::string& split : splits) {
      std::string path = shared + "/data/tweeteval/" + task + "/" + split + "_text.txt";
      if (!path_exists(path)) continue;  // sentiment has no train split here
      std::ifstream f(path);
      std::string line;
      for (size_t n = 1; std::getline(f, line); n++) {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        if (line.empty() || !seen.insert(line).second) continue;
        out.push_back({std::string(task) + "/" + split + "/" + std::to_string(n), line});
      }
    }
  return out;
}

bool tag_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// (begin, end, folded name) of each "#name" in text.
struct Tag {
  size_t b, e;
  std::string name;
};
std::vector<Tag> hashtags(const std::string& s) {
  std::vector<Tag> out;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] != '#' || (i > 0 && tag_char(s[i - 1]))) continue;
    size_t e = i + 1;
    while (e < s.size() && tag_char(s[e])) e++;
    if (e == i + 1) continue;
    std::string name = s.substr(i + 1, e - i - 1);
    for (char& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
    if (name.find_first_not_of("0123456789_") == std::string::npos) continue;
    out.push_back({i, e, name});
  }
  return out;
}

std::string collapse_spaces(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == ' ' && (out.empty() || out.back() == ' ')) continue;
    out += c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = size_t(std::ceil(p / 100.0 * double(v.size()))) ;
  return v[std::min(v.size() - 1, i ? i - 1 : 0)];
}

// The benchmark's TextModel: the real model, whose embeddings are remembered by text so that the
// perturbed copies of the latency index can be given vectors derived from them (see above).
class CachedTextModel : public TextModel {
 public:
  explicit CachedTextModel(TextModel& inner) : inner_(inner) {}
  const Tokenizer& tokenizer() const override { return inner_.tokenizer(); }
  int dim() const override { return inner_.dim(); }
  int context() const override { return inner_.context(); }
  int n_layers() const override { return inner_.n_layers(); }
  std::vector<std::vector<float>> embed(const std::vector<std::string>& texts) override {
    std::vector<std::vector<float>> out(texts.size());
    std::vector<std::string> miss;
    std::vector<size_t> where;
    for (size_t i = 0; i < texts.size(); i++) {
      auto it = cache_.find(texts[i]);
      if (it != cache_.end()) out[i] = it->second;
      else miss.push_back(texts[i]), where.push_back(i);
    }
    last_embed_ms = 0;
    if (!miss.empty()) {
      double t0 = now_s();
      std::vector<std::vector<float>> e = inner_.embed(miss);
      last_embed_ms = (now_s() - t0) * 1e3;
      for (size_t j = 0; j < e.size(); j++) {
        if (record) cache_[miss[j]] = e[j];
        out[where[j]] = std::move(e[j]);
      }
    }
    return out;
  }
  std::vector<std::vector<float>> features(const std::vector<std::string>& t, const std::vector<int>& l) override {
    return inner_.features(t, l);
  }
  std::vector<TextSample> sample(const std::string& p, int n, int m, const SamplerOptions& s) override {
    return inner_.sample(p, n, m, s);
  }
  void put(const std::string& text, std::vector<float> v) { cache_[text] = std::move(v); }
  const std::vector<float>* get(const std::string& text) const {
    auto it = cache_.find(text);
    return it == cache_.end() ? nullptr : &it->second;
  }
  bool record = true;
  double last_embed_ms = 0;

 private:
  TextModel& inner_;
  std::unordered_map<std::string, std::vector<float>> cache_;
};

struct Quality {
  double mrr = 0, ndcg10 = 0, recall100 = 0, ms = 0;
};

std::unique_ptr<apps::SearchIndex> open_or_build(const std::string& dir, const std::vector<IndexTweet>& tweets,
                                                 TextModel& tm, const apps::ModelInfo& info, nlohmann::json& build) {
  std::unique_ptr<apps::SearchIndex> ix =
      apps::SearchIndex::exists(dir) ? apps::SearchIndex::open(dir) : apps::SearchIndex::create(dir, tm.dim(), {}, info);
  apps::AddReport r = ix->add(tweets, tm);
  build = {{"tweets", r.total}, {"added", r.added}, {"seconds", r.seconds}, {"embed_seconds", r.embed_seconds},
           {"tweets_per_s", r.seconds > 0 && r.added ? double(r.added) / r.seconds : 0.0},
           {"embed_tweets_per_s", r.embed_seconds > 0 && r.added ? double(r.added) / r.embed_seconds : 0.0}};
  return ix;
}

int run(int argc, char** argv) {
  CLI::App app{"bench_search: hashtag retrieval (MRR, nDCG@10) and query latency of tweet search"};
  std::string model, shared = TLM_SHARED_DIR, index_dir, json_out;
  int top = 50, min_tweets = 20, latency_size = 100000, latency_queries = 200, batch = 32, threads = 0;
  size_t max_per_tag = 0, max_tweets = 0;
  app.add_option("-m,--model", model, "Any trained tweetlm model (checkpoint, run or model directory, GGUF)")->required();
  app.add_option("--shared", shared, "The shared directory (data/tweeteval)")->capture_default_str();
  app.add_option("--index", index_dir, "Keep the indexes here (reused by a rerun); default: a temporary directory");
  app.add_option("--json", json_out, "Write the results as JSON");
  app.add_option("--top", top, "Hashtags queried")->capture_default_str();
  app.add_option("--min-tweets", min_tweets, "Least tweets carrying a queried hashtag")->capture_default_str();
  app.add_option("--max-per-tag", max_per_tag, "Most carriers kept per queried hashtag (0: all)")->capture_default_str();
  app.add_option("--max-tweets", max_tweets, "Tweets indexed for retrieval, carriers first (0: all)")->capture_default_str();
  app.add_option("--latency-size", latency_size, "Tweets in the latency index")->capture_default_str();
  app.add_option("--latency-queries", latency_queries, "Timed queries per mode")->capture_default_str();
  app.add_option("--batch", batch, "Tweets per forward pass while embedding")->capture_default_str();
  app.add_option("-t,--threads", threads, "Threads (0: all cores)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  set_num_threads(threads);

  // Corpus and queries.
  std::vector<Text> texts = read_texts(shared, {"train", "val"});
  if (texts.empty()) throw user_error(shared + "/data/tweeteval", "no TweetEval train/val texts found");
  std::map<std::string, size_t> carriers;
  for (const Text& t : texts) {
    std::set<std::string> mine;
    for (const Tag& h : hashtags(t.text)) mine.insert(h.name);
    for (const std::string& h : mine) carriers[h]++;
  }
  std::vector<std::pair<std::string, size_t>> ranked(carriers.begin(), carriers.end());
  std::stable_sort(ranked.begin(), ranked.end(), [](auto& a, auto& b) { return a.second > b.second; });
  std::vector<std::string> queries;
  for (const auto& [h, n] : ranked)
    if (int(queries.size()) < top && n >= size_t(min_tweets)) queries.push_back(h);
  if (queries.empty()) throw user_error(shared, "no hashtag is carried by %d tweets", min_tweets);
  const std::unordered_set<std::string> queried(queries.begin(), queries.end());
  std::unordered_map<std::string, std::unordered_set<std::string>> relevant;  // hashtag -> ids
  std::vector<IndexTweet> corpus;
  std::vector<std::vector<std::string>> carried_by;  // per corpus tweet: the queried hashtags it carried
  for (const Text& t : texts) {
    std::string text;
    size_t at = 0;
    std::vector<std::string> carried;
    for (const Tag& h : hashtags(t.text)) {
      if (!queried.count(h.name)) continue;
      text += t.text.substr(at, h.b - at);
      at = h.e;
      carried.push_back(h.name);
    }
    text = carried.empty() ? t.text : collapse_spaces(text + t.text.substr(at));
    if (text.find_first_not_of(' ') == std::string::npos) continue;  // nothing left but hashtags
    corpus.push_back({t.id, text, "", ""});
    carried_by.push_back(carried);
  }
  {
    // The cut (--max-per-tag, --max-tweets): seeded shuffle, carriers first while their tags are
    // under the cap, then non-carriers; the kept tweets return to corpus order.
    std::vector<size_t> order(corpus.size());
    for (size_t i = 0; i < order.size(); i++) order[i] = i;
    Rng rng(42);
    for (size_t i = order.size(); i > 1; i--) std::swap(order[i - 1], order[rng.below(i)]);
    std::unordered_map<std::string, size_t> kept_per_tag;
    std::vector<char> keep(corpus.size(), 0);
    size_t kept = 0;
    for (size_t i : order) {
      if (carried_by[i].empty()) continue;
      bool room = max_per_tag == 0;
      for (const std::string& h : carried_by[i]) room = room || kept_per_tag[h] < max_per_tag;
      if (!room) continue;
      keep[i] = 1, kept++;
      for (const std::string& h : carried_by[i]) kept_per_tag[h]++;
    }
    for (size_t i : order)
      if (carried_by[i].empty() && (max_tweets == 0 || kept < max_tweets)) keep[i] = 1, kept++;
    std::vector<IndexTweet> cut;
    for (size_t i = 0; i < corpus.size(); i++) {
      if (!keep[i]) continue;
      for (const std::string& h : carried_by[i]) relevant[h].insert(corpus[i].id);
      cut.push_back(std::move(corpus[i]));
    }
    corpus = std::move(cut);
  }
  std::printf("bench_search: %zu tweets (TweetEval train+val, deduplicated), %zu hashtag queries (%s ... %s)\n",
              corpus.size(), queries.size(), queries.front().c_str(), queries.back().c_str());

  LoadedModel lm = load_model(model);
  LocalTextModel local(*lm.model, lm.tokenizer, batch);
  CachedTextModel tm(local);
  const apps::ModelInfo info{lm.dir, apps::model_fingerprint(*lm.model)};
  std::printf("model: %s (dim %d, %d layers, %.1fM parameters)\n", lm.dir.c_str(), tm.dim(), lm.model->config().n_layers,
              double(lm.model->config().num_params()) / 1e6);
  const std::string work = index_dir.empty() ? make_temp_dir("/tmp", "tlm-bench-search-") : index_dir;
  make_dirs(work);

  nlohmann::json build_eval, build_latency;
  std::unique_ptr<apps::SearchIndex> ix = open_or_build(work + "/retrieval", corpus, tm, info, build_eval);

  // Retrieval quality.
  const SearchMode modes[] = {SearchMode::bm25, SearchMode::dense, SearchMode::hybrid};
  std::map<std::string, Quality> quality;
  for (SearchMode m : modes) {
    Quality q;
    for (const std::string& h : queries) {
      apps::SearchQuery sq;
      sq.query = h;
      sq.mode = m;
      sq.k = 100;
      double t0 = now_s();
      std::vector<apps::SearchResult> rs = ix->search(sq, &tm);
      q.ms += (now_s() - t0) * 1e3;
      const auto& rel = relevant[h];
      double dcg = 0, idcg = 0, rr = 0;
      size_t found = 0;
      for (size_t i = 0; i < rs.size(); i++) {
        if (!rel.count(rs[i].id)) continue;
        found++;
        if (rr == 0) rr = 1.0 / double(i + 1);
        if (i < 10) dcg += 1.0 / std::log2(double(i + 2));
      }
      for (size_t i = 0; i < std::min<size_t>(10, rel.size()); i++) idcg += 1.0 / std::log2(double(i + 2));
      q.mrr += rr;
      q.ndcg10 += idcg > 0 ? dcg / idcg : 0;
      q.recall100 += rel.empty() ? 0 : double(found) / double(rel.size());
    }
    const double n = double(queries.size());
    q.mrr /= n, q.ndcg10 /= n, q.recall100 /= n, q.ms /= n;
    quality[apps::search_mode_name(m)] = q;
  }

  // Latency on a --latency-size index: the retrieval index plus the test texts (and copies).
  const std::string lat_dir = work + "/latency";
  if (!apps::SearchIndex::exists(lat_dir)) fs::copy(work + "/retrieval", lat_dir, fs::copy_options::recursive);
  ix.reset();
  std::vector<IndexTweet> more;
  {
    Rng rng(1);
    const float sigma = 0.5f / std::sqrt(float(tm.dim()));
    for (size_t i = 0; corpus.size() + more.size() < size_t(latency_size); i++) {
      const IndexTweet& a = corpus[rng.below(corpus.size())];
      const IndexTweet& b = corpus[rng.below(corpus.size())];
      IndexTweet c{"copy/" + std::to_string(i), a.text + " " + b.text.substr(0, b.text.find(' ')), "", ""};
      if (const std::vector<float>* v = tm.get(a.text)) {  // absent when the index was reused
        std::vector<float> p = *v;
        double norm = 0;
        for (float& x : p) x += sigma * float(rng.normal()), norm += double(x) * x;
        for (float& x : p) x = float(x / std::sqrt(norm));
        tm.put(c.text, std::move(p));
      }
      more.push_back(std::move(c));
    }
  }
  std::unique_ptr<apps::SearchIndex> big = open_or_build(lat_dir, more, tm, info, build_latency);
  tm.record = false;
  std::vector<std::string> lat_q = queries;
  {
    Rng rng(2);
    while (int(lat_q.size()) < latency_queries) {
      const std::string& t = corpus[rng.below(corpus.size())].text;
      std::vector<std::string> words = apps::query_terms(t);
      if (words.empty()) continue;
      size_t n = 1 + rng.below(3), s = rng.below(words.size());
      std::string q;
      for (size_t i = s; i < std::min(words.size(), s + n); i++) q += (q.empty() ? "" : " ") + words[i];
      lat_q.push_back(q);
    }
    lat_q.resize(size_t(latency_queries));
  }
  std::map<std::string, std::vector<double>> latency;  // p50, p99 of search, p50 of the query embedding
  for (SearchMode m : modes) {
    std::vector<double> ms, embed_ms;
    Progress prog(std::string("latency ") + apps::search_mode_name(m), double(lat_q.size()));
    for (size_t i = 0; i < lat_q.size() + 10; i++) {
      apps::SearchQuery sq;
      sq.query = lat_q[i % lat_q.size()];
      sq.mode = m;
      sq.k = 10;
      tm.last_embed_ms = 0;
      double t0 = now_s();
      big->search(sq, &tm);
      double total = (now_s() - t0) * 1e3;
      if (i < 10) continue;  // warm-up
      ms.push_back(total - tm.last_embed_ms);
      embed_ms.push_back(tm.last_embed_ms);
      prog.update(double(ms.size()));
    }
    prog.finish();
    latency[apps::search_mode_name(m)] = {percentile(ms, 50), percentile(ms, 99), percentile(embed_ms, 50)};
  }

  std::printf("\nhashtag retrieval: %zu queries over %zu tweets; latency: %zu queries over %zu tweets\n",
              queries.size(), corpus.size(), lat_q.size(), big->size());
  std::printf("| mode | MRR | nDCG@10 | recall@100 | search p50 ms | search p99 ms | query embedding p50 ms |\n"
              "|---|---|---|---|---|---|---|\n");
  nlohmann::json modes_json = nlohmann::json::object();
  for (SearchMode m : modes) {
    const std::string name = apps::search_mode_name(m);
    const Quality& q = quality[name];
    const double p50 = latency[name][0], p99 = latency[name][1], emb = latency[name][2];
    std::printf("| %s | %.3f | %.3f | %.3f | %.2f | %.2f | %.1f |\n", name.c_str(), q.mrr, q.ndcg10, q.recall100, p50,
                p99, emb);
    modes_json[name] = {{"mrr", q.mrr}, {"ndcg10", q.ndcg10}, {"recall100", q.recall100}, {"search_p50_ms", p50},
                        {"search_p99_ms", p99}, {"query_embed_p50_ms", emb}};
  }
  std::printf("index build: retrieval %zu tweets at %.0f tweets/s (embedding %.0f tweets/s); latency index +%zu at "
              "%.0f tweets/s\n",
              size_t(build_eval["added"]), double(build_eval["tweets_per_s"]), double(build_eval["embed_tweets_per_s"]),
              size_t(build_latency["added"]), double(build_latency["tweets_per_s"]));
  if (!json_out.empty()) {
    nlohmann::json j = {{"bench", "search"}, {"cpu", cpu_model()}, {"threads", num_threads()},
                        {"model", {{"path", lm.dir}, {"dim", tm.dim()}, {"fingerprint", info.fingerprint}}},
                        {"queries", queries}, {"retrieval_tweets", corpus.size()}, {"latency_tweets", big->size()},
                        {"max_per_tag", max_per_tag}, {"max_tweets", max_tweets},
                        {"latency_queries", lat_q.size()}, {"modes", modes_json},
                        {"build", {{"retrieval", build_eval}, {"latency", build_latency}}}};
    atomic_write_file(json_out, j.dump(2) + "\n");
    std::printf("wrote %s\n", json_out.c_str());
  }
  if (index_dir.empty()) fs::remove_all(work);
  return 0;
}

}  // namespace
}  // namespace tlm::bench

int main(int argc, char** argv) {
  try {
    return tlm::bench::run(argc, argv);
  } catch (const tlm::UserError& e) {
    std::fprintf(stderr, "bench_search: error: %s\n", e.what());
    return 2;
  }
}
