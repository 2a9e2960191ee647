// The web page of `tweetlm serve`, in a real browser: headless Debian chromium driven by npm
// playwright-core (tests/node/web_page.js) types a prompt, streams a generation at temperature 0
// and reads the training charts of the server's --run. The streamed text must equal what a
// plain non-streaming POST /v1/completions returns for the same prompt (the page's SSE parsing
// neither drops nor repeats text), every metrics line with a loss must be a point of the loss
// chart, and the screenshot must be a PNG. The server runs with --api-key, so the page's key
// handling (localStorage, Authorization header on every request) is on the path too.
// The Search and Ads tabs (tests/node/web_apps.js) run a hybrid search, write ads, check brand
// safety and run the targeting example, each of which must show what the API answers.
// Without chromium or playwright-core the tests FAIL, naming scripts/setup.sh.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "apps_fixture.h"
#include "core/check.h"
#include "fixtures.h"
#include "serve_fixture.h"
#include "train_fixture.h"

namespace tlm {
namespace {

using nlohmann::json;

const char* kApiKey = "web-test-key";
const char* kPrompt = "the cat";
constexpr int kMaxTokens = 12;

// Why the browser test cannot run here; "" when it can.
std::string browser_problem() {
  std::string p = testing::node_client_problem("playwright-core");
  if (!p.empty()) return p;
  if (!std::filesystem::exists("/usr/bin/chromium")) return "/usr/bin/chromium is missing (Debian chromium): run scripts/setup.sh";
  return "";
}

// Lines of metrics.jsonl whose `key` is a finite number (what the page plots).
int count_with(const std::vector<json>& records, const char* key) {
  int n = 0;
  for (const json& r : records)
    if (r.contains(key) && r[key].is_number() && std::isfinite(r[key].get<double>())) n++;
  return n;
}

class ServeWeb : public ::testing::Test {
 protected:
  // A tiny trained run: its checkpoint is the served model and its metrics.jsonl (30 training
  // records, validation every 10 steps) the plotted run.
  static void SetUpTestSuite() {
    tmp_ = new testing::TempDir();
    const std::string d = tmp_->path();
    setup_error_ = testing::make_tiny_corpus(d);
    if (!setup_error_.empty()) return;
    auto r = testing::run_program(
        testing::tweetlm({"-q", "-t", "1", "train", "--data", d + "/shards", "--tokenizer", d + "/tok/tokenizer.json",
                          "--out", d + "/run", "--model", "tiny", "--dim", "64", "--layers", "2", "--heads", "4",
                          "--kv-heads", "2", "--ffn", "96", "-T", "32", "-b", "4", "--steps", "30", "--lr", "3e-3",
                          "--eval-every", "10", "--sample-every", "0"}),
        d);
    if (r.rc != 0) setup_error_ = "train failed: " + r.err;
  }
  static void TearDownTestSuite() {
    delete tmp_;
    tmp_ = nullptr;
  }
  static testing::TempDir* tmp_;
  static std::string setup_error_;
};

testing::TempDir* ServeWeb::tmp_ = nullptr;
std::string ServeWeb::setup_error_;

TEST_F(ServeWeb, PageStreamsTheSameTextAsTheApiAndPlotsTheRun) {
  const std::string problem = browser_problem();
  ASSERT_EQ(problem, "") << "the web page test needs chromium and playwright-core";
  ASSERT_EQ(setup_error_, "");
  const std::string d = tmp_->path(), run = d + "/run", shots = d + "/shots";
  const std::vector<json> records = testing::read_metrics(run);
  const int losses = count_with(records, "loss"), val_losses = count_with(records, "val_loss");
  ASSERT_EQ(losses, 30);
  ASSERT_GE(val_losses, 3);

  testing::ServerProcess server(run, {"--run", run, "--api-key", kApiKey, "--parallel", "2"}, d);
  ASSERT_TRUE(server.ok()) << server.log();

  // The reference: the same request, not streamed, from a plain HTTP client.
  httplib::Client client(server.url());
  client.set_read_timeout(60, 0);
  client.set_bearer_token_auth(kApiKey);
  const json req = {{"prompt", kPrompt}, {"max_tokens", kMaxTokens}, {"temperature", 0}};
  auto res = client.Post("/v1/completions", req.dump(), "application/json");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  ASSERT_EQ(res->status, 200) << res->body;
  const json reference = json::parse(res->body);
  const std::string expected = reference["choices"][0]["text"];
  const int expected_tokens = reference["usage"]["completion_tokens"];
  ASSERT_GT(expected_tokens, 0) << "the model stopped at once: nothing to compare";

  auto r = testing::run_program({"node", testing::repo_root() + "/tests/node/web_page.js", server.url(), shots,
                                 "--prompt", kPrompt, "--max-tokens", std::to_string(kMaxTokens), "--api-key", kApiKey,
                                 "--metrics-file", run + "/metrics.jsonl"},
                                d);
  ASSERT_EQ(r.rc, 0) << "web_page.js failed:\n" << r.err << r.out << "\nserver log:\n" << server.log();
  const json page = json::parse(r.out);
  std::printf("web page: %s -> %s (%s)\n", kPrompt, page["text"].dump().c_str(), page["stats"].dump().c_str());

  EXPECT_EQ(page["state"], "done");
  EXPECT_EQ(page["text"].get<std::string>(), expected);
  EXPECT_EQ(page["tokens"].get<int>(), expected_tokens) << page["stats"];
  EXPECT_EQ(page["server"]["model"], "run");
  EXPECT_TRUE(page["server"]["slots"].get<std::string>().ends_with(" / 2")) << page["server"];

  // Both sources of the run (the server's --run and the file input) draw every record.
  for (const char* source : {"charts", "file_charts"}) {
    SCOPED_TRACE(source);
    const json& c = page[source];
    ASSERT_TRUE(c.is_object()) << page.dump();
    EXPECT_EQ(c["chart-loss"]["loss"], losses);
    EXPECT_EQ(c["chart-loss"]["val_loss"], val_losses);
    EXPECT_EQ(c["chart-throughput"]["tokens_per_s"], count_with(records, "tokens_per_s"));
    EXPECT_EQ(c["chart-lr"]["lr"], count_with(records, "lr"));
  }

  const std::string png = shots + "/web_page.png";
  ASSERT_TRUE(std::filesystem::exists(png));
  const std::string bytes = testing::slurp(png);
  EXPECT_GT(bytes.size(), 1000u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));

  EXPECT_EQ(server.stop(), 0) << server.log();
}

TEST_F(ServeWeb, SearchAndAdsTabsShowWhatTheApiAnswers) {
  const std::string problem = browser_problem();
  ASSERT_EQ(problem, "") << "the web page test needs chromium and playwright-core";
  ASSERT_EQ(setup_error_, "");
  const std::string d = tmp_->path(), shots = d + "/shots-apps";
  ASSERT_EQ(testing::make_app_files(d), "");
  std::filesystem::create_directories(d + "/apps-log");
  testing::ServerProcess server(d + "/run", {"--index", d + "/idx", "--safety", d + "/safety.json", "--api-key", kApiKey,
                                             "--parallel", "2", "--run", d + "/run", "--eval", d + "/eval.json"},
                                d + "/apps-log");
  ASSERT_TRUE(server.ok()) << server.log();
  httplib::Client client(server.url());
  client.set_read_timeout(60, 0);
  client.set_bearer_token_auth(kApiKey);
  const json req = {{"query", "happy coffee"}, {"mode", "hybrid"}, {"k", 10}};
  auto res = client.Post("/v1/search", req.dump(), "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const json api = json::parse(res->body);
  ASSERT_FALSE(api["results"].empty());
  // What the Ads tab's copy form sends (web_apps.js: n 2, the page's temperature and seed).
  const json copy_req = {{"product", "cat coffee"}, {"n", 2}, {"temperature", 0.9}, {"seed", 1}};
  res = client.Post("/v1/ads/copy", copy_req.dump(), "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const json copy_api = json::parse(res->body);
  std::printf("ads copy: %s\n", copy_api.dump().c_str());

  auto r = testing::run_program({"node", testing::repo_root() + "/tests/node/web_apps.js", server.url(), shots, "--query",
                                 "happy coffee", "--product", "cat coffee", "--api-key", kApiKey},
                                d);
  ASSERT_EQ(r.rc, 0) << "web_apps.js failed:\n" << r.err << r.out << "\nserver log:\n" << server.log();
  const json page = json::parse(r.out);
  // The TweetEval table: our probe, the baseline and the four published rows; the probe's row
  // shows eval.json's scores.
  const json scores = json::parse(testing::slurp(d + "/eval.json"));
  ASSERT_EQ(page["evaluation"]["count"], 6) << page["evaluation"];
  const json& ours = page["evaluation"]["rows"][0];  // model, emoji, emotion, hate, ...
  EXPECT_EQ(ours[3], strprintf("%.1f", scores["tasks"]["hate"].get<double>())) << ours;
  EXPECT_EQ(ours[5], strprintf("%.1f", scores["tasks"]["offensive"].get<double>())) << ours;
  EXPECT_EQ(ours[1], "–");  // emoji did not run
  // The results list is the API's, in order, with the matched words marked.
  const json& s = page["search"];
  EXPECT_EQ(s["error"], "");
  ASSERT_EQ(s["count"].get<size_t>(), api["results"].size());
  for (size_t i = 0; i < api["results"].size(); i++) EXPECT_EQ(s["ids"][i], api["results"][i]["id"]) << i;
  bool marked = false;
  for (const json& m : s["marked"]) marked |= m == "happy" || m == "coffee";
  EXPECT_TRUE(marked) << s.dump();
  EXPECT_EQ(s["hash"], "#search");
  // Ads: two ads within 280; a risk per safety line (the page's example: 2 lines); the
  // targeting example's two tweets each get a row.
  EXPECT_EQ(page["ads_error"], "") << page.dump();
  ASSERT_EQ(page["copy"]["count"].get<size_t>(), copy_api["ads"].size()) << page.dump();
  for (size_t i = 0; i < copy_api["ads"].size(); i++) {
    EXPECT_EQ(page["copy"]["texts"][i], copy_api["ads"][i]["text"]) << i;
    EXPECT_LE(page["copy"]["lengths"][i].get<int>(), 280);
  }
  EXPECT_EQ(page["safety"]["count"], 2);
  for (const json& risk : page["safety"]["risks"]) {
    EXPECT_GE(risk.get<double>(), 0.0);
    EXPECT_LE(risk.get<double>(), 1.0);
  }
  EXPECT_EQ(page["match"]["count"], 2);
  for (const char* png : {"/web_search.png", "/web_ads.png"}) {
    const std::string bytes = testing::slurp(shots + png);
    EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << png;
  }
  EXPECT_EQ(server.stop(), 0) << server.log();
}

}  // namespace
}  // namespace tlm
