// HTTP routes of `tweetlm serve` (see server.h).
#include "serve/server.h"

#include <chrono>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

#include <httplib.h>

#include "core/check.h"
#include "core/file.h"
#include "core/log.h"
#include "serve/api.h"
#include "serve/engine_text_model.h"

namespace tlm::serve {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// What every handler shares.
struct Shared {
  const LoadedModel& lm;
  const ServerOptions& opt;
  ServerMetrics metrics;
  Engine engine;
  EngineTextModel text_model;
  ApiContext ctx;
  std::mutex rng_mu;
  std::mt19937_64 rng{std::random_device{}()};

  Shared(const LoadedModel& m, const ServerOptions& o)
      : lm(m), opt(o), metrics(o.engine.parallel), engine(*m.model, m.tokenizer, o.engine, metrics),
        text_model(engine, *m.model, m.tokenizer) {
    ctx.tok = &m.tokenizer;
    ctx.model_id = o.model_id;
    ctx.context = engine.context();  // per slot (--ctx-size), at most the model's
    ctx.max_tokens = o.max_tokens;
  }
  uint64_t random() {
    std::lock_guard lock(rng_mu);
    return rng();
  }
  std::string new_id(const char* prefix) { return prefix + strprintf("%016llx", (unsigned long long)random()); }
};

int64_t unix_time() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void send_json(httplib::Response& res, int status, const json& j) {
  res.status = status;
  res.set_content(dump(j), "application/json");
}

void send_error(httplib::Response& res, const ApiError& e) {
  if (e.status == 503) res.set_header("Retry-After", "1");
  send_json(res, e.status, e.body());
}

json parse_body(const httplib::Request& req) {
  try {
    return json::parse(req.body);
  } catch (const json::parse_error& e) {
    throw ApiError(400, strprintf("the request body is not valid JSON: %s", e.what()));
  }
}

// Runs `fn`, turning every failure into an OpenAI-shaped error, and counts the request.
template <typename Fn>
httplib::Server::Handler route(Shared& sh, const char* name, Fn fn) {
  return [&sh, name, fn](const httplib::Request& req, httplib::Response& res) {
    const auto t0 = Clock::now();
    try {
      fn(req, res);
    } catch (const ApiError& e) {
      send_error(res, e);
    } catch (const json::exception& e) {
      send_error(res, ApiError(400, strprintf("bad request: %s", e.what())));
    } catch (const std::exception& e) {
      log_error("serve: %s failed: %s", name, e.what());
      send_error(res, ApiError(500, strprintf("internal error: %s", e.what())));
    }
    sh.metrics.request_done(name, res.status);
    // A chunked response (generation) observes its duration when it ends (see handle_generate).
    if (!res.is_chunked_content_provider_)
      sh.metrics.request_duration(std::chrono::duration<double>(Clock::now() - t0).count());
  };
}

// Adds one event of a whole (non-streaming) generation to its choice's result.
void add_event(std::vector<ChoiceResult>& out, const Event& e) {
  ChoiceResult& r = out[size_t(e.choice)];
  r.text += e.text;
  r.logprobs.insert(r.logprobs.end(), e.logprobs.begin(), e.logprobs.end());
  if (!e.finish.empty()) {
    r.finish = e.finish;
    r.prompt_tokens = e.prompt_tokens;
    r.completion_tokens = e.completion_tokens;
  }
}

void handle_generate(Shared& sh, Kind kind, const httplib::Request& req, httplib::Response& res) {
  const auto t0 = Clock::now();
  const json body = parse_body(req);
  auto parsed = std::make_shared<ParsedGenerate>(parse_generate(body, kind, sh.ctx, sh.random()));
  const int n_choices = int(parsed->spec.prompts.size()) * parsed->spec.n;
  auto stream = std::make_shared<RequestStream>(n_choices);
  if (!sh.engine.submit(parsed->spec, stream))
    throw ApiError(503, strprintf("the server is busy (%d requests queued); retry shortly", sh.opt.engine.queue_size),
                   "", "server_busy", "queue_full");
  const std::string id = sh.new_id(kind == Kind::chat ? "chatcmpl-" : "cmpl-");
  const int64_t created = unix_time();
  const Tokenizer& tok = sh.lm.tokenizer;
  if (!parsed->stream) {
    // One JSON body at the end. Until then (queued, or generating) a space goes out every
    // 250 ms, which JSON allows before the value: a client that has hung up makes that write
    // fail, and its generation is cancelled as a stream's would be.
    res.status = 200;
    auto results = std::make_shared<std::vector<ChoiceResult>>(static_cast<size_t>(n_choices));
    const std::string model = sh.opt.model_id;
    res.set_chunked_content_provider(
        "application/json",
        [stream, parsed, results, id, created, model, kind, &tok](size_t, httplib::DataSink& sink) {
          auto last_write = Clock::now();
          while (!stream->finished()) {
            if (std::optional<Event> e = stream->next(250)) add_event(*results, *e);
            if (!stream->finished() && Clock::now() - last_write >= std::chrono::milliseconds(250)) {
              if (!sink.write(" ", 1)) {
                stream->cancel();
                return false;
              }
              last_write = Clock::now();
            }
          }
          const std::string body = dump(completion_response(kind, id, model, created, *results, *parsed, tok));
          if (!sink.write(body.data(), body.size())) return false;
          sink.done();
          return true;
        },
        [stream, &metrics = sh.metrics, t0](bool success) {
          metrics.request_duration(std::chrono::duration<double>(Clock::now() - t0).count());
          if (!success) stream->cancel();
        });
    return;
  }
  // Server-Sent Events: one chunk per event, then (if asked) a usage chunk, then [DONE]. A
  // failed write means the client is gone: cancel, and the engine frees the slots.
  res.status = 200;
  res.set_header("Cache-Control", "no-cache");
  auto started = std::make_shared<std::vector<bool>>(size_t(n_choices), false);
  auto usage = std::make_shared<std::pair<int, int>>(0, 0);
  const std::string model = sh.opt.model_id;
  res.set_chunked_content_provider(
      "text/event-stream",
      [stream, parsed, started, usage, id, created, model, kind, &tok](size_t, httplib::DataSink& sink) {
        auto write = [&](const std::string& s) { return sink.write(s.data(), s.size()); };
        std::optional<Event> e = stream->next(2000);
        if (!e) {
          if (stream->finished()) {
            if (parsed->include_usage) {
              json u = {{"id", id}, {"object", kind == Kind::chat ? "chat.completion.chunk" : "text_completion"},
                        {"created", created}, {"model", model}, {"choices", json::array()},
                        {"usage", usage_json(usage->first, usage->second)}};
              if (!write("data: " + dump(u) + "\n\n")) return false;
            }
            write("data: [DONE]\n\n");
            sink.done();
            return true;
          }
          // Idle (a long prefill or a queue wait): an SSE comment keeps proxies from timing out
          // and finds a closed connection.
          if (!write(": keep-alive\n\n")) {
            stream->cancel();
            return false;
          }
          return true;
        }
        if (e->finish == "cancelled") return true;
        if (!e->finish.empty()) {
          if (size_t(e->choice) % size_t(parsed->spec.n) == 0) usage->first += e->prompt_tokens;
          usage->second += e->completion_tokens;
        }
        const bool first = !(*started)[size_t(e->choice)];
        (*started)[size_t(e->choice)] = true;
        json chunk = stream_chunk(kind, id, model, created, *e, first, *parsed, tok);
        if (!write("data: " + dump(chunk) + "\n\n")) {
          stream->cancel();
          return false;
        }
        return true;
      },
      [stream, &metrics = sh.metrics, t0](bool success) {
        metrics.request_duration(std::chrono::duration<double>(Clock::now() - t0).count());
        if (!success) stream->cancel();
      });
}

void handle_embeddings(Shared& sh, const httplib::Request& req, httplib::Response& res) {
  const json body = parse_body(req);
  bool base64 = false;
  EmbedSpec spec = parse_embeddings(body, sh.ctx, base64);
  const int n = int(spec.inputs.size());
  auto stream = std::make_shared<RequestStream>(n);
  if (!sh.engine.submit(spec, stream))
    throw ApiError(503, "the server is busy; retry shortly", "", "server_busy", "queue_full");
  json data = json::array();
  std::vector<json> items(static_cast<size_t>(n));
  int tokens = 0;
  while (!stream->finished()) {
    std::optional<Event> e = stream->next(1000);
    if (!e) continue;
    if (!e->error.empty()) throw ApiError(503, e->error);
    tokens += e->prompt_tokens;
    items[size_t(e->choice)] = {{"object", "embedding"}, {"index", e->choice}};
    if (base64) items[size_t(e->choice)]["embedding"] = base64_floats(e->embedding);
    else items[size_t(e->choice)]["embedding"] = e->embedding;
  }
  for (auto& it : items) data.push_back(std::move(it));
  send_json(res, 200, {{"object", "list"}, {"data", data}, {"model", sh.opt.model_id},
                       {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}});
}

void handle_tokenize(Shared& sh, const httplib::Request& req, httplib::Response& res) {
  const json body = parse_body(req);
  if (!body.is_object() || !body.contains("content") || !body["content"].is_string())
    throw ApiError(400, "'content' (a string) is required", "content");
  const bool add_special = body.value("add_special", false), pieces = body.value("with_pieces", false);
  std::vector<uint32_t> ids;
  if (add_special) ids.push_back(uint32_t(sh.lm.tokenizer.eos_id()));
  sh.lm.tokenizer.encode_ordinary(body["content"].get<std::string>(), ids);
  json out = json::array();
  for (uint32_t id : ids) {
    if (pieces) out.push_back({{"id", id}, {"piece", sh.lm.tokenizer.token_bytes(id)}});
    else out.push_back(id);
  }
  send_json(res, 200, {{"tokens", out}});
}

void handle_detokenize(Shared& sh, const httplib::Request& req, httplib::Response& res) {
  const json body = parse_body(req);
  if (!body.is_object() || !body.contains("tokens") || !body["tokens"].is_array())
    throw ApiError(400, "'tokens' (an array of token ids) is required", "tokens");
  std::vector<uint32_t> ids;
  for (const json& t : body["tokens"]) {
    if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() >= int64_t(sh.lm.tokenizer.vocab_size()))
      throw ApiError(400, strprintf("'tokens' must hold token ids in [0, %zu)", sh.lm.tokenizer.vocab_size()), "tokens");
    ids.push_back(t.get<uint32_t>());
  }
  send_json(res, 200, {{"content", sh.lm.tokenizer.decode(ids)}});
}

json model_json(Shared& sh) {
  const ModelConfig& c = sh.lm.model->config();
  return {{"id", sh.opt.model_id}, {"object", "model"}, {"created", unix_time()}, {"owned_by", "tweetlm"},
          {"meta", {{"n_ctx", sh.engine.context()}, {"n_ctx_train", c.max_seq_len},
                    {"n_vocab", sh.lm.tokenizer.vocab_size()}, {"n_embd", c.dim},
                    {"n_layer", c.n_layers}, {"n_params", c.num_params()}, {"slots", sh.opt.engine.parallel}}}};
}

// Constant-time comparison, so response timing does not reveal how much of a key matched.
bool same_key(const std::string& a, const std::string& b) {
  unsigned diff = unsigned(a.size() ^ b.size());
  for (size_t i = 0; i < a.size(); i++) diff |= unsigned(uint8_t(a[i]) ^ uint8_t(b[i % (b.empty() ? 1 : b.size())]));
  return diff == 0 && !b.empty();
}

}  // namespace

void run_server(const LoadedModel& lm, const ServerOptions& opt, const std::atomic<bool>& stop,
                const std::function<void(int)>& on_listening) {
  Shared sh(lm, opt);
  httplib::Server svr;
  const int threads = std::max(opt.http_threads, 2);
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(size_t(threads)); };
  svr.set_payload_max_length(opt.max_body);
  svr.set_read_timeout(30, 0);
  svr.set_write_timeout(30, 0);
  svr.set_keep_alive_max_count(1000);

  svr.set_pre_routing_handler([&](const httplib::Request& req, httplib::Response& res) {
    if (opt.api_key.empty() || req.path == "/health" || req.path == "/" || req.path == "/index.html" ||
        req.path == "/apps.js")
      return httplib::Server::HandlerResponse::Unhandled;
    const std::string auth = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    if (auth.compare(0, prefix.size(), prefix) == 0 && same_key(auth.substr(prefix.size()), opt.api_key))
      return httplib::Server::HandlerResponse::Unhandled;
    send_error(res, ApiError(401, auth.empty() ? "missing API key: send the header 'Authorization: Bearer KEY'"
                                               : "incorrect API key",
                             "", "invalid_request_error", "invalid_api_key"));
    sh.metrics.request_done("unauthorized", 401);
    return httplib::Server::HandlerResponse::Handled;
  });
  // Errors httplib produces itself (no route, body too large, malformed HTTP) get a JSON body.
  svr.set_error_handler([&](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    std::string msg = res.status == 404   ? strprintf("no route %s %s", req.method.c_str(), req.path.c_str())
                      : res.status == 413 ? strprintf("the request body is over the limit of %zu bytes", opt.max_body)
                                          : strprintf("HTTP error %d", res.status);
    send_json(res, res.status, ApiError(res.status, msg).body());
  });

  svr.Get("/", [](const httplib::Request&, httplib::Response& res) { res.set_content(web_page(), "text/html; charset=utf-8"); });
  svr.Get("/apps.js", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(web_apps_script(), "text/javascript; charset=utf-8");
  });
  svr.Get("/health", route(sh, "/health", [](const httplib::Request&, httplib::Response& res) {
            send_json(res, 200, {{"status", "ok"}});
          }));
  svr.Get("/metrics", route(sh, "/metrics", [&](const httplib::Request&, httplib::Response& res) {
            res.set_content(sh.metrics.prometheus(), "text/plain; version=0.0.4");
          }));
  svr.Get("/v1/models", route(sh, "/v1/models", [&](const httplib::Request&, httplib::Response& res) {
            send_json(res, 200, {{"object", "list"}, {"data", json::array({model_json(sh)})}});
          }));
  svr.Get(R"(/v1/models/(.+))", route(sh, "/v1/models/{id}", [&](const httplib::Request& req, httplib::Response& res) {
            if (req.matches[1] != opt.model_id)
              throw ApiError(404, strprintf("The model '%s' does not exist", std::string(req.matches[1]).c_str()),
                             "model", "invalid_request_error", "model_not_found");
            send_json(res, 200, model_json(sh));
          }));
  svr.Post("/v1/completions", route(sh, "/v1/completions", [&](const httplib::Request& req, httplib::Response& res) {
             handle_generate(sh, Kind::completion, req, res);
           }));
  svr.Post("/v1/chat/completions",
           route(sh, "/v1/chat/completions", [&](const httplib::Request& req, httplib::Response& res) {
             handle_generate(sh, Kind::chat, req, res);
           }));
  svr.Post("/v1/embeddings", route(sh, "/v1/embeddings", [&](const httplib::Request& req, httplib::Response& res) {
             handle_embeddings(sh, req, res);
           }));
  svr.Post("/tokenize", route(sh, "/tokenize", [&](const httplib::Request& req, httplib::Response& res) {
             handle_tokenize(sh, req, res);
           }));
  svr.Post("/detokenize", route(sh, "/detokenize", [&](const httplib::Request& req, httplib::Response& res) {
             handle_detokenize(sh, req, res);
           }));
  svr.Get("/v1/training/metrics", route(sh, "/v1/training/metrics", [&](const httplib::Request&, httplib::Response& res) {
            const std::string path = opt.run_dir.empty() ? "" : (std::filesystem::path(opt.run_dir) / "metrics.jsonl").string();
            if (path.empty() || !path_exists(path))
              throw ApiError(404, opt.run_dir.empty() ? "no training run given (start the server with --run DIR)"
                                                      : strprintf("%s does not exist", path.c_str()));
            res.set_content(read_file(path), "application/x-ndjson");
          }));

  for (const AppRoute& r : opt.app_routes)
    svr.Post(r.path, route(sh, r.path.c_str(), [&sh, &r](const httplib::Request& req, httplib::Response& res) {
               const json body = parse_body(req);
               json out;
               try {
                 out = r.handler(body, sh.text_model);
               } catch (const UserError& e) {
                 throw ApiError(400, e.what());
               }
               send_json(res, 200, out);
             }));
  svr.Get("/v1/apps", route(sh, "/v1/apps", [&](const httplib::Request&, httplib::Response& res) {
            json routes = json::array();
            for (const AppRoute& r : opt.app_routes) routes.push_back(r.path);
            send_json(res, 200, {{"routes", routes}, {"info", opt.app_info}});
          }));

  svr.Get("/v1/eval/tweeteval", route(sh, "/v1/eval/tweeteval", [&](const httplib::Request&, httplib::Response& res) {
            if (opt.eval_file.empty() || !path_exists(opt.eval_file))
              throw ApiError(404, opt.eval_file.empty() ? "no TweetEval scores given (start the server with --eval FILE)"
                                                        : strprintf("%s does not exist", opt.eval_file.c_str()));
            res.set_content(read_file(opt.eval_file), "application/json");
          }));

  int port = opt.port;
  if (port == 0) {
    port = svr.bind_to_any_port(opt.host.c_str());
    if (port < 0) throw user_error(opt.host, "cannot listen on any port");
  } else if (!svr.bind_to_port(opt.host.c_str(), port)) {
    throw user_error(strprintf("%s:%d", opt.host.c_str(), port), "cannot listen (address in use or not local?)");
  }
  std::atomic<bool> listening_ended{false};
  std::thread watcher([&] {
    while (!stop.load() && !listening_ended.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    sh.engine.stop();
    svr.stop();
  });
  on_listening(port);
  svr.listen_after_bind();
  listening_ended.store(true);  // also when listening failed on its own (a socket error)
  watcher.join();
  sh.engine.stop();
}

}  // namespace tlm::serve
