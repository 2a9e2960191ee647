// `tweetlm serve`: the HTTP front end (cpp-httplib). Its threads parse and validate requests
// (serve/api.h), post them to the Engine's queue, and write the engine's events back, as one
// JSON body or as Server-Sent Events. They never touch the model.
//
// Safety defaults: binds 127.0.0.1 unless told otherwise; with an API key every route but
// /health and the static page (which holds no data: it asks for the key) needs
// "Authorization: Bearer KEY"; bodies over max_body bytes are refused (413); a full queue is a
// 503 with Retry-After; a streaming client that goes away cancels its generation and frees the
// slot; every error is OpenAI-shaped JSON.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>
#include <vector>

#include "store/model_loader.h"
#include "infer/text_model.h"
#include "serve/engine.h"

namespace tlm::serve {

// A route of the applications (search, ads: src/apps, wired by cli/cmd_serve.cpp), next to the
// OpenAI ones: POST `path` with a JSON body, answered with the JSON `handler` returns. The
// handler runs on an HTTP thread and reaches the model only through the TextModel it is given
// (engine requests). A tlm::UserError it throws becomes a 400 with its message.
struct AppRoute {
  std::string path;
  std::function<nlohmann::json(const nlohmann::json& body, TextModel& model)> handler;
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;              // 0: any free port (reported to on_listening)
  std::string api_key;          // empty: no authentication
  std::string model_id;         // the name clients pass as "model"
  int max_tokens = 0;           // largest max_tokens (0: the context)
  size_t max_body = 1 << 20;    // bytes
  int http_threads = 64;        // connections served at once (streams hold one each)
  std::string run_dir;          // a training run whose metrics.jsonl the page plots (optional)
  std::string eval_file;        // `eval tweeteval --json-out` scores the page shows (optional)
  EngineOptions engine;
  std::vector<AppRoute> app_routes;
  nlohmann::json app_info = nlohmann::json::object();  // GET /v1/apps: what the page can offer
};

// Serves until `stop` becomes true (checked a few times a second). Throws a UserError when the
// address cannot be bound. `on_listening(port)` runs once the socket listens.
void run_server(const LoadedModel& model, const ServerOptions& opt, const std::atomic<bool>& stop,
                const std::function<void(int port)>& on_listening);

// The page served at "/" (serve/web/index.html, embedded at build time).
const std::string& web_page();
// The script of its Search and Ads tabs (serve/web/apps.js), served at /apps.js.
const std::string& web_apps_script();

}  // namespace tlm::serve
