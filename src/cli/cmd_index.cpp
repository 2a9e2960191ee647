// `tweetlm index`: tweets in (prepared corpora, .jsonl files), a search index out (or grown):
// SQLite + FTS5 for keywords, HNSW for the model's embeddings (src/apps/search). Running it
// again with more tweets adds only the new ids.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "apps/search/index_input.h"
#include "apps/search/search_index.h"
#include "cli/commands.h"
#include "core/check.h"
#include "core/file.h"
#include "core/log.h"
#include "store/model_loader.h"

namespace tlm::cli {

namespace {

struct IndexArgs {
  std::vector<std::string> inputs;
  std::string model, tokenizer, out;
  int batch = 32;
  apps::IndexParams params;
  size_t commit_every = 50000;
};

int run_index(const IndexArgs& a) {
  std::vector<apps::IndexTweet> tweets = apps::read_index_inputs(a.inputs);
  log_info("index: %zu tweets read from %zu input%s", tweets.size(), a.inputs.size(), a.inputs.size() == 1 ? "" : "s");
  LoadedModel lm = load_model(a.model, a.tokenizer);
  const std::string fingerprint = apps::model_fingerprint(*lm.model);
  LocalTextModel tm(*lm.model, lm.tokenizer, a.batch);

  std::unique_ptr<apps::SearchIndex> ix;
  if (apps::SearchIndex::exists(a.out)) {
    ix = apps::SearchIndex::open(a.out);
    if (ix->dim() != tm.dim())
      throw user_error(a.model, "its embeddings have dimension %d, but the index %s holds vectors of dimension %d: "
                       "use the index's model (%s) or a new index directory", tm.dim(), a.out.c_str(), ix->dim(),
                       ix->model().path.c_str());
    if (!ix->model().fingerprint.empty() && ix->model().fingerprint != fingerprint)
      throw user_error(a.model, "not the model that built the index %s (%s, fingerprint %s; this one is %s): "
                       "vectors of two models are not comparable, use a new index directory", a.out.c_str(),
                       ix->model().path.c_str(), ix->model().fingerprint.c_str(), fingerprint.c_str());
    const apps::HnswParams have = ix->params().hnsw;
    if (have.M != a.params.hnsw.M || have.ef_construction != a.params.hnsw.ef_construction)
      log_info("index: %s exists: adding with its own HNSW parameters (M=%d, ef_construction=%d)", a.out.c_str(),
               have.M, have.ef_construction);
  } else {
    // The model's absolute path: `search` finds it from any working directory.
    ix = apps::SearchIndex::create(a.out, tm.dim(), a.params,
                                   {std::filesystem::absolute(lm.dir).lexically_normal().string(), fingerprint});
  }
  apps::AddOptions opt;
  opt.embed_batch = size_t(a.batch) * 4;
  opt.commit_every = a.commit_every;
  apps::AddReport r = ix->add(tweets, tm, opt);
  std::printf("index: %zu tweets read, %zu added, %zu already indexed, %zu repeated ids", r.read, r.added, r.already,
              r.repeated);
  if (r.repaired) std::printf(", %zu vectors restored", r.repaired);
  std::printf("; %zu tweets in %s", r.total, a.out.c_str());
  if (r.added + r.repaired && r.embed_seconds > 0)
    std::printf(" (%.0f tweets/s embedded, %.1f s in all)", double(r.added + r.repaired) / r.embed_seconds, r.seconds);
  std::printf("\n");
  return 0;
}

}  // namespace

Runner add_index(CLI::App& app) {
  auto* cmd = app.add_subcommand("index", "Build or grow a tweet search index (keywords: SQLite FTS5 BM25; dense: HNSW "
                                 "over the model's embeddings)");
  auto a = std::make_shared<IndexArgs>();
  cmd->add_option("-i,--input", a->inputs, "Prepared corpus directories (every split) or .jsonl files of "
                  "{\"id\",\"text\",\"lang\"?,\"created_at\"?}")
      ->required()->expected(1, -1);
  cmd->add_option("-m,--model", a->model, "Model whose embeddings the dense search uses (checkpoint, run or model "
                  "directory, or GGUF file)")
      ->required();
  cmd->add_option("-o,--out", a->out, "Index directory (created, or grown when it holds an index)")->required();
  cmd->add_option("--tokenizer", a->tokenizer, "tokenizer.json to use instead of the model directory's");
  cmd->add_option("--batch", a->batch, "Tweets per forward pass while embedding")->capture_default_str()
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--hnsw-m", a->params.hnsw.M, "HNSW links per node (new index only)")->capture_default_str()
      ->check(CLI::Range(2, 4096));
  cmd->add_option("--ef-construction", a->params.hnsw.ef_construction, "HNSW build breadth (new index only)")
      ->capture_default_str()->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--ef-search", a->params.ef_search, "Default HNSW search breadth stored in the index (new index only)")
      ->capture_default_str()->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--commit-every", a->commit_every, "New tweets per committed chunk (transaction + graph save)")
      ->capture_default_str()->check(CLI::Range(1, 1 << 30));
  return [a] { return run_index(*a); };
}

}  // namespace tlm::cli
