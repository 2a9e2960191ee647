// `tweetlm serve`: the OpenAI-compatible HTTP server (src/serve) over a model from any source
// load_model accepts (checkpoint, run directory, HF directory, GGUF file). Flags follow
// llama.cpp's server (-m --host --port --api-key --parallel/-np). The applications' routes
// (POST /v1/search over --index, /v1/ads/* with the --safety classifier) are wired here: the
// server only knows them as AppRoutes, so src/serve never depends on src/apps.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "core/check.h"
#include "core/json.h"
#include "core/log.h"
#include "apps/ads/ads_api.h"
#include "apps/search/search_api.h"
#include "store/model_loader.h"
#include "serve/api.h"
#include "serve/server.h"

namespace tlm::cli {

namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_serve_signal(int) { g_stop.store(true); }

struct ServeArgs {
  std::string model, tokenizer, alias;
  std::string index;   // --index: a search index (tweetlm index)
  std::string safety;  // --safety: a brand-safety classifier (tweetlm ads train-safety)
  serve::ServerOptions opt;
  bool ctx_given = false;  // -c/--ctx-size was on the command line
};

// The state the app routes read: opened once, before the server starts, and only read after.
struct Apps {
  std::unique_ptr<apps::SearchIndex> index;
  std::optional<apps::SafetyClassifier> safety;
  const apps::SafetyClassifier* classifier() const { return safety ? &*safety : nullptr; }
};

void add_app_routes(ServeArgs& a, Apps& apps, const LoadedModel& lm) {
  serve::ServerOptions& opt = a.opt;
  if (!a.index.empty()) {
    apps.index = apps::SearchIndex::open(a.index);
    if (apps.index->dim() != lm.model->config().dim)
      throw user_error(a.index, "the search index holds vectors of width %d, the model's are %d (index it with this model)",
                       apps.index->dim(), lm.model->config().dim);
    opt.app_info["search"] = strprintf("%zu tweets from %s", apps.index->size(), a.index.c_str());
  }
  if (!a.safety.empty()) {
    apps.safety = apps::SafetyClassifier::load(a.safety);
    if (apps.safety->dim != lm.model->config().dim || apps.safety->n_layers > lm.model->config().n_layers)
      throw user_error(a.safety, "the classifier was trained on features of width %d and %d layers, the model has %d and %d",
                       apps.safety->dim, apps.safety->n_layers, lm.model->config().dim, lm.model->config().n_layers);
    opt.app_info["safety"] = strprintf("%zu probes from %s", apps.safety->probes.size(), a.safety.c_str());
  }
  opt.app_routes.push_back({"/v1/ads/safety", [&apps](const nlohmann::json& body, TextModel& model) {
                              return apps::ads_safety_api(body, apps.classifier(), model);
                            }});
  opt.app_routes.push_back({"/v1/ads/match", [&apps](const nlohmann::json& body, TextModel& model) {
                              return apps::ads_match_api(body, apps.classifier(), model);
                            }});
  opt.app_routes.push_back({"/v1/ads/copy", [&apps](const nlohmann::json& body, TextModel& model) {
                              return apps::ads_copy_api(body, apps.classifier(), model);
                            }});
  opt.app_routes.push_back({"/v1/search", [&apps](const nlohmann::json& body, TextModel& model) {
                              if (!apps.index)
                                throw serve::ApiError(404, "this server has no search index (start it with --index DIR)");
                              return apps::search_api(body, *apps.index, model);
                            }});
}

// A name for /v1/models: the model file or directory's base name, without ".gguf".
std::string default_alias(const std::string& path) {
  std::filesystem::path p = std::filesystem::path(path).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  std::string name = p.filename().string();
  if (name.size() > 5 && name.ends_with(".gguf")) name.resize(name.size() - 5);
  return name.empty() || name == "." ? "tweetlm" : name;
}

int run_serve(ServeArgs& a) {
  serve::ServerOptions& opt = a.opt;
  if (opt.port < 0 || opt.port > 65535) throw user_error("--port", "%d is not a port (0-65535; 0: any free one)", opt.port);
  if (opt.engine.parallel < 1 || opt.engine.parallel > 1024)
    throw user_error("--parallel", "%d slots: must be in [1, 1024]", opt.engine.parallel);
  if (opt.engine.queue_size < 1) throw user_error("--queue", "must be at least 1");
  if (opt.max_tokens < 0) throw user_error("--max-tokens", "must be >= 0 (0: the model's context)");
  if (opt.max_body < 1024) throw user_error("--max-body", "must be at least 1024 bytes");
  if (!opt.run_dir.empty() && !std::filesystem::is_directory(opt.run_dir))
    throw user_error(opt.run_dir, "--run: not a directory");
  if (!opt.eval_file.empty() && !read_json_file(opt.eval_file).contains("baseline"))
    throw user_error(opt.eval_file, "--eval: not the JSON of 'tweetlm eval tweeteval --json-out'");
  if (!opt.eval_file.empty()) opt.app_info["eval"] = opt.eval_file;
  LoadedModel lm = load_model(a.model, a.tokenizer);
  const int model_ctx = lm.model->config().max_seq_len;
  if (a.ctx_given && (opt.engine.ctx_size < 1 || opt.engine.ctx_size > model_ctx))
    throw user_error("--ctx-size", "%d: must be in [1, %d] (the model's context)", opt.engine.ctx_size, model_ctx);
  if (!a.ctx_given) opt.engine.ctx_size = model_ctx;
  Apps apps;
  add_app_routes(a, apps, lm);
  opt.model_id = a.alias.empty() ? default_alias(a.model) : a.alias;
  opt.engine.n_vocab = int(lm.tokenizer.vocab_size());
  opt.engine.eos_id = int32_t(lm.tokenizer.eos_id());
  if (opt.api_key.empty()) {
    if (const char* k = std::getenv("TWEETLM_API_KEY")) opt.api_key = k;
  }
  std::signal(SIGPIPE, SIG_IGN);  // a client that hangs up is a failed write, not a dead server
  std::signal(SIGINT, on_serve_signal);
  std::signal(SIGTERM, on_serve_signal);
  serve::run_server(lm, opt, g_stop, [&](int port) {
    const ModelConfig& c = lm.model->config();
    log_info("serve: model '%s' (%.1fM parameters, context %d) from %s, %d slots of %d tokens", opt.model_id.c_str(),
             double(c.num_params()) / 1e6, c.max_seq_len, lm.dir.c_str(), opt.engine.parallel, opt.engine.ctx_size);
    // One line on stdout for scripts and tests (the port matters with --port 0).
    std::printf("listening on http://%s:%d\n", opt.host.c_str(), port);
    std::fflush(stdout);
  });
  log_info("serve: stopped");
  return 0;
}

}  // namespace

Runner add_serve(CLI::App& app) {
  auto* cmd = app.add_subcommand("serve", "OpenAI-compatible HTTP server with continuous batching and a web page");
  auto a = std::make_shared<ServeArgs>();
  serve::ServerOptions& o = a->opt;
  cmd->add_option("-m,--model", a->model, "Checkpoint, training output directory, HF model directory or .gguf file")
      ->required();
  cmd->add_option("--host", o.host, "Address to listen on (0.0.0.0: every interface)")->capture_default_str();
  cmd->add_option("--port", o.port, "Port (0: any free port, printed at start)")->capture_default_str();
  cmd->add_option("--api-key", o.api_key,
                  "Require 'Authorization: Bearer KEY' on every route but /health and / (or env TWEETLM_API_KEY)");
  // -np (llama.cpp's spelling) reaches --parallel through main.cpp's argv rewrite: CLI11 has
  // no multi-character short options.
  cmd->add_option("--parallel", o.engine.parallel, "Sequences generated together (KV-cache slots; also -np)")
      ->capture_default_str();
  auto* ctx = cmd->add_option("-c,--ctx-size", o.engine.ctx_size,
                              "KV-cache tokens per slot: prompt + generated (default: the model's context)");
  cmd->add_option("--queue", o.engine.queue_size, "Requests waiting for a slot before answering 503")
      ->capture_default_str();
  cmd->add_option("--max-tokens", o.max_tokens, "Largest max_tokens a request may ask (0: the model's context)")
      ->capture_default_str();
  cmd->add_option("--max-body", o.max_body, "Largest request body, bytes (larger: 413)")->capture_default_str();
  cmd->add_option("--batch-rows", o.engine.max_rows, "Token rows per forward step (decode tokens + prompt chunks)")
      ->capture_default_str();
  cmd->add_option("--threads-http", o.http_threads, "HTTP connections served at once")->capture_default_str();
  cmd->add_option("-a,--alias", a->alias, "Model name in /v1/models (default: the model path's base name)");
  cmd->add_option("--run", o.run_dir, "Training output directory whose metrics.jsonl the web page plots");
  cmd->add_option("--eval", o.eval_file, "TweetEval scores (eval tweeteval --json-out) the web page shows");
  cmd->add_option("--tokenizer", a->tokenizer, "tokenizer.json to use instead of the model's");
  cmd->add_option("--index", a->index, "Search index (tweetlm index) answering POST /v1/search");
  cmd->add_option("--safety", a->safety, "Brand-safety classifier (tweetlm ads train-safety) for /v1/ads/*");
  return [a, ctx] {
    a->ctx_given = ctx->count() > 0;
    return run_serve(*a);
  };
}

}  // namespace tlm::cli
