// `tweetlm serve` end to end, as a separate process on a random port:
//   - the official OpenAI Node client (tests/node/openai_client.js): models, completions and chat
//     whole and streamed, logprobs, n, embeddings (base64 and float), errors; the greedy text
//     equals the library's generate() on the same model, the embeddings InferenceSession::embed;
//   - a load test (tests/node/serve_load.js): 64 concurrent clients mixing good requests,
//     malformed ones and abandoned streams; every answer right, every bad request its 4xx, and
//     afterwards every slot idle and the queue empty;
//   - HTTP-level errors (401, 404, 413, 400) as OpenAI-shaped JSON, from a plain HTTP client;
//   - a client that hangs up cancels its generation, streamed or queued for a whole answer;
//   - a full queue answers 503 with Retry-After, and the server stops cleanly on SIGTERM.
// The models are random (greedy text varies token to token) with a 4096-token context, so an
// abandoned generation would run for thousands of tokens if it were not cancelled; the tests
// that need one request to hold a slot for a while use the slower of the two.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "fixtures.h"
#include "infer/generate.h"
#include "store/model_loader.h"
#include "infer/session.h"
#include "model_fixture.h"
#include "serve_fixture.h"
#include "tokenizer/bpe_train.h"

namespace tlm {
namespace {

using nlohmann::json;
const char* kKey = "test-key-123";

// Text as it travels in JSON: invalid UTF-8 (a random model emits any bytes) becomes U+FFFD.
std::string as_json_text(const std::string& s) {
  return json::parse(json(s).dump(-1, ' ', false, json::error_handler_t::replace)).get<std::string>();
}

// Polls GET /metrics until the sample `name` satisfies `ok` (30 s at most); its last value.
double wait_metric(httplib::Client& cli, const std::string& name, const std::function<bool(double)>& ok) {
  double v = NAN;
  for (int i = 0; i < 300; i++) {
    auto r = cli.Get("/metrics", {{"Authorization", std::string("Bearer ") + kKey}});
    if (r && r->status == 200) {
      for (const std::string& line : testing::split_lines(r->body))
        if (line.compare(0, name.size() + 1, name + " ") == 0) v = std::stod(line.substr(name.size() + 1));
      if (ok(v)) return v;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return v;
}

class Serve : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new testing::TempDir();
    std::string text;
    for (int r = 0; r < 60; r++) text += "the cat sat on the mat, good morning, rain tonight, we love new music " + std::to_string(r % 9) + "\n";
    testing::write_file(tmp_->path() + "/t.txt", text);
    BpeTrainOptions o;
    o.vocab_size = 300;
    Tokenizer tok = train_bpe(std::vector<std::string>{tmp_->path() + "/t.txt"}, o);
    testing::write_random_model(model_dir(), tok,
                                {.dim = 32, .heads = 4, .kv_heads = 2, .head_dim = 8, .ffn = 40, .context = 4096});
    // A wider, deeper model for the test that needs one generation to hold the only slot for
    // seconds (~1 ms per token here, 4000 tokens).
    testing::write_random_model(tmp_->path() + "/slow", tok,
                                {.dim = 256, .heads = 8, .kv_heads = 8, .head_dim = 32, .ffn = 512, .layers = 4,
                                 .context = 4096});
    server_ = new testing::ServerProcess(model_dir(), {"--api-key", kKey, "--parallel", "4", "--max-body", "65536",
                                                       "--queue", "256", "--alias", "tiny"},
                                         tmp_->path());
  }
  static void TearDownTestSuite() {
    delete server_;
    delete tmp_;
  }
  static std::string model_dir() { return tmp_->path() + "/model"; }
  void SetUp() override { ASSERT_TRUE(server_->ok()) << server_->log(); }
  static httplib::Headers auth() { return {{"Authorization", std::string("Bearer ") + kKey}}; }

  static testing::TempDir* tmp_;
  static testing::ServerProcess* server_;
};
testing::TempDir* Serve::tmp_ = nullptr;
testing::ServerProcess* Serve::server_ = nullptr;

TEST_F(Serve, OpenAIClientGetsTheLibrarysGenerationAndEmbeddings) {
  ASSERT_EQ(testing::node_client_problem("openai"), "");
  const std::string prompt = "the cat";
  const int max_tokens = 12;
  auto r = testing::run_program({"node", testing::repo_root() + "/tests/node/openai_client.js", server_->url(), kKey,
                                 prompt, std::to_string(max_tokens)},
                                tmp_->path());
  ASSERT_EQ(r.rc, 0) << r.err;
  const json out = json::parse(r.out);

  // The library's greedy generation on the same model.
  LoadedModel lm = load_model(model_dir());
  std::vector<uint32_t> ids = lm.tokenizer.encode(prompt);
  GenerateOptions go;
  go.sampling.temperature = 0;
  go.max_new_tokens = max_tokens;
  go.n_vocab = int(lm.tokenizer.vocab_size());
  go.eos_id = int32_t(lm.tokenizer.eos_id());
  std::vector<Generation> g = generate(*lm.model, {std::vector<int32_t>(ids.begin(), ids.end())}, go);
  const std::string want = as_json_text(lm.tokenizer.decode(std::vector<uint32_t>(g[0].tokens.begin(), g[0].tokens.end())));
  const std::string finish = g[0].stop == StopReason::eos ? "stop" : "length";

  EXPECT_EQ(out["models"], json::array({"tiny"}));
  EXPECT_EQ(out["completion"]["text"], want);
  EXPECT_EQ(out["completion"]["finish_reason"], finish);
  EXPECT_EQ(out["completion"]["usage"]["completion_tokens"], g[0].tokens.size());
  EXPECT_EQ(out["completion"]["usage"]["prompt_tokens"], ids.size() + 1);  // + the leading <|endoftext|>
  EXPECT_EQ(out["completion_stream"]["text"], want);
  EXPECT_EQ(out["completion_stream"]["finish_reason"], finish);
  EXPECT_GE(out["completion_stream"]["chunks"].get<int>(), 2);

  // Logprobs: greedy picks the most likely token, so its logprob is the best of the top 3. The
  // legacy format keys alternatives by their text, and byte tokens that are not valid UTF-8 on
  // their own all become "\ufffd", so fewer than 3 keys may remain (as with OpenAI).
  const json& lp = out["logprobs"];
  ASSERT_EQ(lp["tokens"].size(), lp["token_logprobs"].size());
  ASSERT_GE(lp["tokens"].size(), 1u);
  for (size_t i = 0; i < lp["token_logprobs"].size(); i++) {
    const double l = lp["token_logprobs"][i];
    EXPECT_LE(l, 0.0);
    ASSERT_GE(lp["top_logprobs"][i].size(), 1u);
    ASSERT_LE(lp["top_logprobs"][i].size(), 3u);
    double best = -INFINITY;
    for (auto& [tok, v] : lp["top_logprobs"][i].items()) best = std::max(best, v.get<double>());
    EXPECT_NEAR(l, best, 1e-6);
  }
  ASSERT_EQ(out["n2"].size(), 2u);
  EXPECT_EQ(out["n2"][0]["index"], 0);
  EXPECT_EQ(out["n2"][1]["index"], 1);

  EXPECT_EQ(out["chat"]["role"], "assistant");
  EXPECT_EQ(out["chat_stream"]["content"], out["chat"]["content"]);
  EXPECT_EQ(out["chat_stream"]["role"], "assistant");
  EXPECT_EQ(out["chat_stream"]["usage"]["prompt_tokens"], out["chat"]["usage"]["prompt_tokens"]);
  EXPECT_EQ(out["chat_stream"]["usage"]["completion_tokens"], out["chat"]["usage"]["completion_tokens"]);

  // Embeddings: base64 (the client's default) and float are the same numbers, unit length, and
  // the library's pooled hidden states.
  const json& e = out["embeddings"];
  ASSERT_EQ(e["float"].size(), 2u);
  EXPECT_EQ(e["base64"], e["float"]);
  InferenceSession sess(*lm.model, 1);
  const std::vector<std::string> inputs = {"the cat sat on the mat", "rain tonight"};
  for (size_t i = 0; i < 2; i++) {
    std::vector<uint32_t> t = lm.tokenizer.encode(inputs[i]);
    std::vector<int32_t> seq = {int32_t(lm.tokenizer.eos_id())};
    seq.insert(seq.end(), t.begin(), t.end());
    SeqInput in{0, seq.data(), int(seq.size())};
    const float* p = sess.embed({&in, 1});
    const int C = lm.model->config().dim;
    double norm = 0;
    for (int c = 0; c < C; c++) norm += double(p[c]) * p[c];
    ASSERT_EQ(e["float"][i].size(), size_t(C));
    for (int c = 0; c < C; c++) EXPECT_NEAR(e["float"][i][c].get<double>(), p[c] / std::sqrt(norm), 1e-6);
  }
  EXPECT_NE(e["float"][0], e["float"][1]);

  EXPECT_EQ(out["errors"]["wrong_key"], 401);
  EXPECT_EQ(out["errors"]["unknown_model"], 404);
  EXPECT_EQ(out["errors"]["negative_max_tokens"], 400);
  EXPECT_EQ(out["errors"]["empty_messages"], 400);
  EXPECT_EQ(out["errors"]["bad_role"], 400);
  EXPECT_EQ(out["errors"]["temperature"], 400);
}

TEST_F(Serve, LoadTestOf64ClientsWithMalformedRequestsLeavesNoSlotBusy) {
  ASSERT_EQ(testing::node_client_problem("openai"), "");  // node itself; the script needs no package
  auto r = testing::run_program({"node", testing::repo_root() + "/tests/node/serve_load.js", server_->url(), kKey,
                                 "65536", "64", "3"},
                                tmp_->path());
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  const json s = json::parse(r.out);
  EXPECT_EQ(s["failures"].size(), 0u) << s.dump(1);
  EXPECT_GT(s["good"].get<int>(), 64);
  EXPECT_GT(s["bad"].get<int>(), 16);
  EXPECT_GT(s["abandoned"].get<int>(), 0);
  EXPECT_GE(s["cancelled"].get<double>(), 1.0);  // the abandoned streams were cancelled, not run out
}

TEST_F(Serve, HttpErrorsAreOpenAIShapedJson) {
  httplib::Client cli(server_->url());
  auto health = cli.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);  // no key needed
  auto page = cli.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("<html"), std::string::npos);
  auto expect_error = [](const httplib::Result& r, int status, const std::string& what) {
    ASSERT_TRUE(r) << what;
    EXPECT_EQ(r->status, status) << what << ": " << r->body;
    const json j = json::parse(r->body, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << what << ": " << r->body;
    EXPECT_TRUE(j["error"]["message"].is_string()) << what;
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json") << what;
  };
  expect_error(cli.Get("/v1/models"), 401, "no key");
  expect_error(cli.Get("/v1/models", {{"Authorization", "Bearer wrong"}}), 401, "wrong key");
  expect_error(cli.Get("/metrics"), 401, "metrics without key");
  expect_error(cli.Get("/v1/nothing", auth()), 404, "unknown route");
  expect_error(cli.Post("/v1/completions", auth(), std::string(70000, ' ') + "{}", "application/json"), 413, "oversize");
  expect_error(cli.Post("/v1/completions", auth(), json{{"prompt", std::string(9000, 'q')}}.dump(), "application/json"),
               400, "prompt over the context");
  expect_error(cli.Post("/v1/completions", auth(), "{\"prompt\": \"\xff\"}", "application/json"), 400, "invalid UTF-8");
  expect_error(cli.Post("/v1/embeddings", auth(), json{{"input", "x"}, {"dimensions", 8}}.dump(), "application/json"),
               400, "dimensions");
  expect_error(cli.Get("/v1/training/metrics", auth()), 404, "no --run");

  // tokenize / detokenize round trip.
  auto tk = cli.Post("/tokenize", auth(), json{{"content", "the cat sat"}}.dump(), "application/json");
  ASSERT_TRUE(tk);
  ASSERT_EQ(tk->status, 200) << tk->body;
  const json ids = json::parse(tk->body)["tokens"];
  EXPECT_GT(ids.size(), 0u);
  auto dt = cli.Post("/detokenize", auth(), json{{"tokens", ids}}.dump(), "application/json");
  ASSERT_TRUE(dt);
  EXPECT_EQ(json::parse(dt->body)["content"], "the cat sat");
  expect_error(cli.Post("/detokenize", auth(), json{{"tokens", {1, -1}}}.dump(), "application/json"), 400, "bad id");
}

// Sends a chat request on a raw socket and hangs up: after the first streamed bytes of the
// answer (stream), or at once (a whole response it never waits for).
void send_and_hang_up(int port, const std::string& body, bool stream) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string req = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + std::string(kKey) +
                          "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                          "\r\n\r\n" + body;
  ASSERT_EQ(::send(fd, req.data(), req.size(), 0), ssize_t(req.size()));
  std::string got;
  char buf[4096];
  while (stream && got.find("data: ") == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    ASSERT_GT(n, 0) << got;
    got.append(buf, size_t(n));
  }
  if (stream) {
    EXPECT_NE(got.find("200 OK"), std::string::npos) << got;
  }
  ::close(fd);
}

TEST_F(Serve, AClientThatHangsUpMidStreamFreesItsSlot) {
  httplib::Client cli(server_->url());
  const std::string metric = "tweetlm_choices_total{finish=\"cancelled\"}";
  const double before = wait_metric(cli, metric, [](double v) { return !std::isnan(v); });
  // No max_tokens and ignore_eos: the generation would run ~4000 tokens unless cancelled.
  send_and_hang_up(server_->port(), json{{"messages", {{{"role", "user"}, {"content", "hi"}}}},
                                         {"stream", true}, {"ignore_eos", true}}.dump(), true);
  EXPECT_EQ(wait_metric(cli, metric, [&](double v) { return v >= before + 1; }), before + 1);
  EXPECT_EQ(wait_metric(cli, "tweetlm_slots_busy", [](double v) { return v == 0; }), 0);
}

TEST_F(Serve, AFullQueueAnswers503AndTheServerStopsCleanly) {
  testing::TempDir dir;
  testing::ServerProcess one(tmp_->path() + "/slow", {"--api-key", kKey, "--parallel", "1", "--queue", "1"}, dir.path());
  ASSERT_TRUE(one.ok()) << one.log();
  httplib::Client cli(one.url());
  // A holds the only slot (a long stream we hang up on later), B waits in the queue, C is refused.
  const json long_chat = {{"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"stream", true}, {"ignore_eos", true}};
  std::thread a([&] {
    httplib::Client c(one.url());
    c.set_read_timeout(120, 0);
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/chat/completions";
    req.headers = auth();
    req.body = long_chat.dump();
    req.set_header("Content-Type", "application/json");
    httplib::Client m(one.url());
    req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) {
      // Keep the stream open until B is queued and C refused, then hang up.
      return wait_metric(m, "tweetlm_requests_total{route=\"/v1/completions\",code=\"503\"}",
                         [](double v) { return v >= 1; }) < 1;
    };
    c.send(req);
  });
  ASSERT_EQ(wait_metric(cli, "tweetlm_slots_busy", [](double v) { return v == 1; }), 1);
  int b_status = 0;
  std::thread b([&] {
    httplib::Client c(one.url());
    c.set_read_timeout(120, 0);
    auto r = c.Post("/v1/completions", auth(), json{{"prompt", "the"}, {"max_tokens", 3}}.dump(), "application/json");
    b_status = r ? r->status : -1;
  });
  ASSERT_EQ(wait_metric(cli, "tweetlm_queue_depth", [](double v) { return v == 1; }), 1);
  auto c = cli.Post("/v1/completions", auth(), json{{"prompt", "the"}, {"max_tokens", 3}}.dump(), "application/json");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status, 503) << c->body;
  EXPECT_EQ(c->get_header_value("Retry-After"), "1");
  EXPECT_EQ(json::parse(c->body)["error"]["code"], "queue_full");
  a.join();  // A hangs up once C was refused: its slot goes to B
  b.join();
  EXPECT_EQ(b_status, 200);
  EXPECT_EQ(one.stop(), 0) << one.log();
}

// A whole (non-streaming) request whose client hangs up while it waits in the queue: the
// server's keep-alive spaces find the closed connection, and the request is dropped when its
// turn comes instead of generating ~4000 tokens for nobody.
TEST_F(Serve, AClientThatHangsUpWhileQueuedIsCancelled) {
  testing::TempDir dir;
  testing::ServerProcess one(tmp_->path() + "/slow", {"--api-key", kKey, "--parallel", "1"}, dir.path());
  ASSERT_TRUE(one.ok()) << one.log();
  httplib::Client cli(one.url());
  const std::string cancelled = "tweetlm_choices_total{finish=\"cancelled\"}";
  const json long_chat = {{"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"ignore_eos", true}};
  // A holds the only slot until D has hung up.
  std::atomic<bool> release{false};
  std::thread a([&] {
    httplib::Client c(one.url());
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/chat/completions";
    req.headers = auth();
    json body = long_chat;
    body["stream"] = true;
    req.body = body.dump();
    req.set_header("Content-Type", "application/json");
    req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) { return !release.load(); };
    c.send(req);
  });
  ASSERT_EQ(wait_metric(cli, "tweetlm_slots_busy", [](double v) { return v == 1; }), 1);
  send_and_hang_up(one.port(), long_chat.dump(), false);
  ASSERT_EQ(wait_metric(cli, "tweetlm_queue_depth", [](double v) { return v == 1; }), 1);
  // Time for a few of D's 250 ms keep-alive writes to meet the closed socket (not a timing
  // assertion: if they had not, D would run and end "length", which the count below catches).
  std::this_thread::sleep_for(std::chrono::seconds(2));
  release.store(true);  // A hangs up at its next chunk: cancelled too
  a.join();
  EXPECT_EQ(wait_metric(cli, cancelled, [](double v) { return v >= 2; }), 2);
  EXPECT_EQ(wait_metric(cli, "tweetlm_slots_busy", [](double v) { return v == 0; }), 0);
  EXPECT_EQ(wait_metric(cli, "tweetlm_queue_depth", [](double v) { return v == 0; }), 0);
  EXPECT_EQ(wait_metric(cli, "tweetlm_choices_total{finish=\"length\"}", [](double v) { return !std::isnan(v); }), 0);
  EXPECT_EQ(one.stop(), 0) << one.log();
}

}  // namespace
}  // namespace tlm
