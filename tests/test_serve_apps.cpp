// The applications' routes of `tweetlm serve` (POST /v1/search, /v1/ads/*, GET /v1/apps): the
// server answers what the CLI answers for the same index, model and request (the app code runs
// over the engine-backed TextModel there and over the in-process model in the CLI, so equal
// results also check that the engine's embeddings and features are the session's), bad bodies
// are 400s naming the field, and a server without an index says so with a 404.
#include <gtest/gtest.h>

#include <sstream>

#include <httplib.h>
#include <nlohmann/json.hpp>

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
    auto r = testing::run_program(testing::tweetlm({"-q", "index", "-i", d + "/prep", "-m", d + "/run", "-o", d + "/idx"}), d);
    if (r.rc != 0) err_ = "index failed: " + r.err;
  }
  static void TearDownTestSuite() { delete tmp_; }
  static std::vector<json> cli_search(const std::string& query, const std::string& mode, int k) {
    auto r = testing::run_program(testing::tweetlm({"-q", "search", "-x", *tmp_ / "idx", "-m", *tmp_ / "run", query,
                                                    "--mode", mode, "-k", std::to_string(k), "--json"}),
                                  tmp_->path());
    EXPECT_EQ(r.rc, 0) << r.err;
    std::vector<json> out;
    std::istringstream s(r.out);
    for (std::string line; std::getline(s, line);)
      if (!line.empty()) out.push_back(json::parse(line));
    return out;
  }
  static inline testing::TempDir* tmp_ = nullptr;
  static inline std::string err_;
};

httplib::Result post(httplib::Client& c, const std::string& path, const json& body) {
  return c.Post(path, body.dump(), "application/json");
}

TEST_F(ServeApps, SearchAnswersWhatTheCliAnswers) {
  ASSERT_EQ(err_, "");
  testing::ServerProcess server(*tmp_ / "run", {"--index", *tmp_ / "idx", "--parallel", "2"}, tmp_->path());
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

TEST_F(ServeApps, WithoutAnIndexSearchIsA404AndABadIndexStopsTheStart) {
  ASSERT_EQ(err_, "");
  {
    testing::ServerProcess server(*tmp_ / "run", {}, tmp_->path());
    ASSERT_TRUE(server.ok()) << server.log();
    httplib::Client c(server.url());
    auto res = post(c, "/v1/search", {{"query", "cat"}});
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 404) << res->body;
    EXPECT_NE(res->body.find("--index"), std::string::npos) << res->body;
    EXPECT_EQ(server.stop(), 0) << server.log();
  }
  auto r = testing::run_program(testing::tweetlm({"serve", "-m", *tmp_ / "run", "--port", "0", "--index", *tmp_ / "nope"}),
                                tmp_->path());
  EXPECT_EQ(r.rc, 2) << r.err;
  EXPECT_NE(r.err.find("nope"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace tlm
