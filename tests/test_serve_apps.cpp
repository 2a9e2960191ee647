// The applications' routes of `tweetlm serve` (POST /v1/search, /v1/ads/*, GET /v1/apps): the
// server answers what the CLI answers for the same index, model and request (the app code runs
// over the engine-backed TextModel there and over the in-process model in the CLI, so equal
// results also check that the engine's embeddings and features are the session's), bad bodies
// are 400s naming the field, and a server without an index says so with a 404.
#include <gtest/gtest.h>

#include <sstream>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "apps_fixture.h"
#include "fixtures.h"
#include "serve_fixture.h"
#include "train_fixture.h"

namespace tlm {
namespace {

using nlohmann::json;

class ServeApps : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new testing::TempDir();
    const std::string d = tmp_->path();
    err_ = testing::train_tiny_run(d);
    if (!err_.empty()) return;
    err_ = testing::make_app_files(d);
  }
  // The JSON lines a CLI command prints.
  static std::vector<json> cli_json(const std::vector<std::string>& args) {
    auto r = testing::run_program(testing::tweetlm(args), tmp_->path());
    EXPECT_EQ(r.rc, 0) << r.err;
    std::vector<json> out;
    std::istringstream s(r.out);
    for (std::string line; std::getline(s, line);)
      if (!line.empty()) out.push_back(json::parse(line));
    return out;
  }
  static void TearDownTestSuite() { delete tmp_; }
  static std::vector<json> cli_search(const std::string& query, const std::string& mode, int k) {
    return cli_json({"-q", "search", "-x", *tmp_ / "idx", "-m", *tmp_ / "run", query, "--mode", mode, "-k",
                     std::to_string(k), "--json"});
  }
  // Each server its own log folder: ServerProcess reads its port from the log.
  static std::string log_dir(const std::string& name) {
    std::filesystem::create_directories(*tmp_ / name);
    return *tmp_ / name;
  }
  static inline testing::TempDir* tmp_ = nullptr;
  static inline std::string err_;
};

httplib::Result post(httplib::Client& c, const std::string& path, const json& body) {
  return c.Post(path, body.dump(), "application/json");
}

TEST_F(ServeApps, SearchAnswersWhatTheCliAnswers) {
  ASSERT_EQ(err_, "");
  testing::ServerProcess server(*tmp_ / "run", {"--index", *tmp_ / "idx", "--parallel", "2"}, log_dir("search"));
  ASSERT_TRUE(server.ok()) << server.log();
  httplib::Client c(server.url());
  c.set_read_timeout(60, 0);
  for (const char* mode : {"bm25", "dense", "hybrid"}) {
    SCOPED_TRACE(mode);
    const std::vector<json> cli = cli_search("happy coffee", mode, 5);
    auto res = post(c, "/v1/search", {{"query", "happy coffee"}, {"mode", mode}, {"k", 5}});
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    const json j = json::parse(res->body);
    EXPECT_EQ(j["object"], "search.results");
    ASSERT_EQ(j["results"].size(), cli.size());
    ASSERT_FALSE(cli.empty());
    for (size_t i = 0; i < cli.size(); i++) {
      EXPECT_EQ(j["results"][i]["id"], cli[i]["id"]) << i;
      EXPECT_NEAR(j["results"][i]["score"].get<double>(), cli[i]["score"].get<double>(), 1e-5) << i;
      EXPECT_EQ(j["results"][i]["snippet"], cli[i]["snippet"]) << i;
    }
  }
  // Bad bodies: 400 with an OpenAI-shaped error naming the field.
  for (const json& bad : {json{{"mode", "bm25"}}, json{{"query", "x"}, {"k", 0}}, json{{"query", "x"}, {"mode", "magic"}},
                          json{{"query", 3}}}) {
    auto res = post(c, "/v1/search", bad);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << bad << " -> " << res->body;
    EXPECT_TRUE(json::parse(res->body)["error"]["message"].is_string()) << res->body;
  }
  auto res = c.Post("/v1/search", "{not json", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  res = c.Get("/v1/apps");
  ASSERT_TRUE(res);
  EXPECT_NE(json::parse(res->body)["info"]["search"].get<std::string>().find("tweets"), std::string::npos) << res->body;
  EXPECT_EQ(server.stop(), 0) << server.log();
}

TEST_F(ServeApps, AdsAnswerWhatTheCliAnswers) {
  ASSERT_EQ(err_, "");
  const std::vector<std::string> tweets = {"the cat sat on a mat", "zebra on the day", "we love the xylophone",
                                           "happy coffee day"};
  std::string lines;
  for (const auto& t : tweets) lines += t + "\n";
  testing::write_file(*tmp_ / "tweets.txt", lines);
  const json campaigns = json::array(
      {{{"name", "coffee"}, {"description", "coffee and latte"}, {"keywords", {"coffee"}}, {"min_safety", 0.5}},
       {{"name", "cats"}, {"description", "cat food"}, {"keywords", {"cat", "mat"}}, {"min_safety", 0.0}}});
  testing::write_file(*tmp_ / "campaigns.json", campaigns.dump());

  testing::ServerProcess server(*tmp_ / "run", {"--safety", *tmp_ / "safety.json", "--parallel", "2", "--eval",
                                               *tmp_ / "eval.json"},
                                log_dir("ads"));
  ASSERT_TRUE(server.ok()) << server.log();
  httplib::Client c(server.url());
  c.set_read_timeout(60, 0);

  // The --eval scores, as written.
  auto got = c.Get("/v1/eval/tweeteval");
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200) << got->body;
  EXPECT_EQ(json::parse(got->body), json::parse(testing::slurp(*tmp_ / "eval.json")));

  // Safety: the engine's features give the risks of the in-process model.
  const std::vector<json> cli = cli_json({"-q", "ads", "safety", "-m", *tmp_ / "run", "--classifier", *tmp_ / "safety.json",
                                          "-i", *tmp_ / "tweets.txt", "--json"});
  auto res = post(c, "/v1/ads/safety", {{"input", tweets}});
  ASSERT_TRUE(res) << httplib::to_string(res.error()) << "\n" << server.log();
  ASSERT_EQ(res->status, 200) << res->body;
  json j = json::parse(res->body);
  ASSERT_EQ(j["results"].size(), tweets.size());
  ASSERT_EQ(cli.size(), tweets.size());
  for (size_t i = 0; i < tweets.size(); i++) {
    EXPECT_NEAR(j["results"][i]["risk"].get<double>(), cli[i]["risk"].get<double>(), 1e-5) << i;
    EXPECT_EQ(j["results"][i]["labels"], cli[i]["labels"]) << i;
  }
  // The deciding words were learnt: "zebra" offensive, "xylophone" hate.
  EXPECT_EQ(j["results"][1]["labels"], json::array({"offensive"})) << j.dump();
  EXPECT_EQ(j["results"][2]["labels"], json::array({"hate"})) << j.dump();
  EXPECT_EQ(j["results"][0]["labels"], json::array({"safe"})) << j.dump();

  // Targeting: the same ranking and exclusions as the CLI.
  const std::vector<json> cli_match = cli_json({"-q", "ads", "match", "-m", *tmp_ / "run", "--classifier", *tmp_ / "safety.json",
                                                "--campaigns", *tmp_ / "campaigns.json", "-i", *tmp_ / "tweets.txt", "--json"});
  res = post(c, "/v1/ads/match", {{"campaigns", campaigns}, {"input", tweets}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  j = json::parse(res->body);
  ASSERT_EQ(cli_match.size(), tweets.size());
  for (size_t i = 0; i < tweets.size(); i++) {
    const json& a = j["results"][i]["campaigns"];
    const json& b = cli_match[i]["campaigns"];
    ASSERT_EQ(a.size(), b.size()) << i << ": " << j.dump() << " vs " << cli_match[i].dump();
    for (size_t k = 0; k < a.size(); k++) {
      EXPECT_EQ(a[k]["campaign"], b[k]["campaign"]) << i;
      EXPECT_NEAR(a[k]["score"].get<double>(), b[k]["score"].get<double>(), 1e-5) << i;
    }
  }
  // The cat tweet gets the cat campaign first; the offensive one gets no coffee ad (min_safety).
  ASSERT_FALSE(j["results"][0]["campaigns"].empty());
  EXPECT_EQ(j["results"][0]["campaigns"][0]["campaign"], "cats");
  for (const json& cs : j["results"][1]["campaigns"]) EXPECT_NE(cs["campaign"], "coffee");

  // Ad copy through the engine: at most n, within 280 weighted characters, best first.
  res = post(c, "/v1/ads/copy", {{"product", "cat coffee"}, {"n", 2}, {"seed", 3}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  j = json::parse(res->body);
  ASSERT_LE(j["ads"].size(), 2u);
  for (size_t k = 0; k < j["ads"].size(); k++) {
    EXPECT_LE(j["ads"][k]["length"].get<int>(), 280);
    if (k) EXPECT_GE(j["ads"][k - 1]["score"].get<double>(), j["ads"][k]["score"].get<double>());
  }
  for (const auto& [path, bad] : std::vector<std::pair<std::string, json>>{{"/v1/ads/safety", {{"input", 5}}},
                                                                            {"/v1/ads/match", {{"input", "x"}}},
                                                                            {"/v1/ads/copy", {{"n", 2}}},
                                                                            {"/v1/ads/copy", {{"product", "x"}, {"n", -1}}}}) {
    res = post(c, path, bad);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << path << " " << bad << " -> " << res->body;
  }
  EXPECT_EQ(server.stop(), 0) << server.log();
}

TEST_F(ServeApps, WithoutAnIndexSearchIsA404AndABadIndexStopsTheStart) {
  ASSERT_EQ(err_, "");
  {
    testing::ServerProcess server(*tmp_ / "run", {}, log_dir("plain"));
    ASSERT_TRUE(server.ok()) << server.log();
    httplib::Client c(server.url());
    auto res = post(c, "/v1/search", {{"query", "cat"}});
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 404) << res->body;
    EXPECT_NE(res->body.find("--index"), std::string::npos) << res->body;
    auto got = c.Get("/v1/eval/tweeteval");
    ASSERT_TRUE(got);
    EXPECT_EQ(got->status, 404) << got->body;
    EXPECT_EQ(server.stop(), 0) << server.log();
  }
  auto r = testing::run_program(testing::tweetlm({"serve", "-m", *tmp_ / "run", "--port", "0", "--index", *tmp_ / "nope"}),
                                tmp_->path());
  EXPECT_EQ(r.rc, 2) << r.err;
  EXPECT_NE(r.err.find("nope"), std::string::npos) << r.err;
  r = testing::run_program(testing::tweetlm({"serve", "-m", *tmp_ / "run", "--port", "0", "--eval", *tmp_ / "safety.json"}),
                           tmp_->path());
  EXPECT_EQ(r.rc, 2) << r.err;
  EXPECT_NE(r.err.find("--eval"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace tlm
