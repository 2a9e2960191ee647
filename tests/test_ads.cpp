// The advertising apps (src/apps/ads) on a tiny trained model (train_fixture.h): keyword words,
// the input reader, campaign validation, targeting on campaigns and tweets whose right answer
// is clear, brand safety trained on a synthetic task whose answer is known (a word decides the
// label), ad copy (a scripted model for the filters, the real one for seeds), the JSON API
// (field errors; several threads at once) and the CLI contract through the real binary.
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <mutex>
#include <thread>

#include "apps/ads/ad_copy.h"
#include "apps/ads/ad_text.h"
#include "apps/ads/ads_api.h"
#include "apps/ads/safety.h"
#include "apps/ads/targeting.h"
#include "apps/ads/tweet_length.h"
#include "core/check.h"
#include "core/rng.h"
#include "fixtures.h"
#include "store/model_loader.h"
#include "train_fixture.h"

using namespace tlm;
using namespace tlm::apps;
using nlohmann::json;
using tlm::testing::TempDir;
using tlm::testing::user_error_of;

namespace {

void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// A LocalTextModel behind a mutex: what the server's engine-backed model offers (any thread).
class LockedModel : public TextModel {
 public:
  explicit LockedModel(TextModel& m) : m_(m) {}
  const Tokenizer& tokenizer() const override { return m_.tokenizer(); }
  int dim() const override { return m_.dim(); }
  int context() const override { return m_.context(); }
  int n_layers() const override { return m_.n_layers(); }
  std::vector<std::vector<float>> embed(const std::vector<std::string>& t) override {
    std::lock_guard<std::mutex> l(mu_);
    return m_.embed(t);
  }
  std::vector<std::vector<float>> features(const std::vector<std::string>& t, const std::vector<int>& ls) override {
    std::lock_guard<std::mutex> l(mu_);
    return m_.features(t, ls);
  }
  std::vector<TextSample> sample(const std::string& p, int n, int mt, const SamplerOptions& s) override {
    std::lock_guard<std::mutex> l(mu_);
    return m_.sample(p, n, mt, s);
  }

 private:
  TextModel& m_;
  std::mutex mu_;
};

// Synthetic brand-safety task: tweets of the tiny corpus's words; label 1 exactly when `word`
// occurs.
BinarySplit synthetic_split(const std::string& word, int n, uint64_t seed) {
  const char* words[] = {"the", "cat", "sat", "on", "a", "mat", "happy", "day", "for", "coffee", "rain", "sun",
                         "we", "love", "new", "music", "game", "tonight", "so", "good", "lol"};
  Rng rng(seed);
  BinarySplit s;
  for (int i = 0; i < n; i++) {
    const bool pos = i % 3 == 0;
    std::string text;
    const int len = 4 + int(rng.below(6));
    const int at = int(rng.below(uint64_t(len)));
    for (int k = 0; k < len; k++) {
      std::string w = words[rng.below(21)];
      if (w == word) w = "day";
      if (pos && k == at) w = word;
      text += (k ? " " : "") + w;
    }
    s.text.push_back(text);
    s.label.push_back(pos ? 1 : 0);
  }
  return s;
}

SafetyTask synthetic_task(const std::string& name, const std::string& word) {
  SafetyTask t;
  t.name = name;
  t.train = synthetic_split(word, 240, 1);
  t.val = synthetic_split(word, 90, 2);
  t.test = synthetic_split(word, 90, 3);
  return t;
}

void write_task_dir(const std::string& dir, const SafetyTask& t) {
  make_dirs(dir + "/" + t.name);
  for (auto [split, s] : {std::pair<const char*, const BinarySplit*>{"train", &t.train}, {"val", &t.val}, {"test", &t.test}}) {
    std::string text, labels;
    for (size_t i = 0; i < s->text.size(); i++) {
      text += s->text[i] + "\n";
      labels += std::to_string(s->label[i]) + "\n";
    }
    write(dir + "/" + t.name + "/" + split + "_text.txt", text);
    write(dir + "/" + t.name + "/" + split + "_labels.txt", labels);
  }
}

const char* kCampaigns = R"([
  {"name": "coffee", "description": "Fresh coffee and latte for your morning", "keywords": ["coffee", "latte"],
   "language": "en", "min_safety": 0},
  {"name": "football", "description": "Football tickets for the big game tonight", "keywords": ["football", "goal"],
   "excluded_topics": ["politics"], "min_safety": 0},
  {"name": "family", "description": "A happy day with the cat", "keywords": ["happy", "cat"], "min_safety": 0.5}
])";

class Ads : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    const std::string err = tlm::testing::train_tiny_run(dir_->path());
    ASSERT_EQ(err, "");
    lm_ = new LoadedModel(load_model(dir_->path() + "/run"));
    model_ = new LocalTextModel(*lm_->model, lm_->tokenizer);
    SafetyTrainOptions opt;
    opt.l2_grid = {1e-3, 1e-1};
    opt.max_iter = 200;
    classifier_ = new SafetyClassifier(
        train_safety(*model_, {synthetic_task("offensive", "rain"), synthetic_task("hate", "music")}, opt, "tiny"));
  }
  static void TearDownTestSuite() {
    delete classifier_;
    delete model_;
    delete lm_;
    delete dir_;
  }
  static TempDir* dir_;
  static LoadedModel* lm_;
  static LocalTextModel* model_;
  static SafetyClassifier* classifier_;
};
TempDir* Ads::dir_ = nullptr;
LoadedModel* Ads::lm_ = nullptr;
LocalTextModel* Ads::model_ = nullptr;
SafetyClassifier* Ads::classifier_ = nullptr;

// A model whose samples are given: the copy filters on known candidates.
class ScriptedModel : public TextModel {
 public:
  ScriptedModel(const Tokenizer& tok, std::vector<TextSample> s) : tok_(tok), samples_(std::move(s)) {}
  const Tokenizer& tokenizer() const override { return tok_; }
  int dim() const override { return 4; }
  int context() const override { return 512; }
  int n_layers() const override { return 1; }
  std::vector<std::vector<float>> embed(const std::vector<std::string>& t) override {
    return std::vector<std::vector<float>>(t.size(), std::vector<float>{1, 0, 0, 0});
  }
  std::vector<std::vector<float>> features(const std::vector<std::string>& t, const std::vector<int>& ls) override {
    return std::vector<std::vector<float>>(t.size(), std::vector<float>(ls.size() * 8, 0.0f));
  }
  std::vector<TextSample> sample(const std::string&, int n, int, const SamplerOptions&) override {
    EXPECT_EQ(size_t(n), samples_.size());
    return samples_;
  }

 private:
  const Tokenizer& tok_;
  std::vector<TextSample> samples_;
};

}  // namespace

TEST(AdText, WordsAreFoldedAndWhole) {
  EXPECT_EQ(match_words("#Latte time! CAFE\u0301 don't"), (std::vector<std::string>{"latte", "time", "caf\u00e9", "don", "t"}));
  const auto words = match_words("Best #LATTE in town, café au lait");
  EXPECT_EQ(keyword_hits(words, {"latte", "Café", "lat", "in town", "town in", "lattes"}),
            (std::vector<std::string>{"latte", "Café", "in town"}));
  EXPECT_EQ(dedup_key("Hello,  WORLD!"), dedup_key("hello world"));
}

TEST(AdText, ReadsTextAndJsonLines) {
  TempDir d;
  write(d / "t.txt", "first tweet\n\nsecond tweet\n");
  auto t = read_ad_tweets(d / "t.txt");
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[1].text, "second tweet");
  write(d / "t.jsonl", "{\"text\": \"hola\", \"lang\": \"es\", \"id\": 7}\n{\"text\": \"x\", \"lang\": \"und\"}\n");
  t = read_ad_tweets(d / "t.jsonl");
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].lang, "es");
  EXPECT_EQ(t[0].id, "7");
  EXPECT_EQ(t[1].lang, "");
  write(d / "bad.jsonl", "{\"text\": \"ok\"}\n{\"txt\": \"no\"}\n");
  EXPECT_EQ(user_error_of([&] { read_ad_tweets(d / "bad.jsonl"); }),
            d / "bad.jsonl" + ":2: no \"text\" string (expected {\"id\":..,\"text\":..,\"lang\":..} per line)");
  write(d / "empty.txt", "\n\n");
  EXPECT_NE(user_error_of([&] { read_ad_tweets(d / "empty.txt"); }).find("no tweets"), std::string::npos);
  EXPECT_NE(user_error_of([&] { read_ad_tweets(d / "missing.txt"); }).find("no such file"), std::string::npos);
}

TEST(Campaigns, OneClearErrorPerProblem) {
  auto err = [](const char* text) { return user_error_of([&] { parse_campaigns(json::parse(text), "c.json"); }); };
  EXPECT_EQ(parse_campaigns(json::parse(kCampaigns), "c.json").size(), 3u);
  EXPECT_EQ(err("{}"), "c.json: expected a JSON array of campaigns");
  EXPECT_EQ(err("[]"), "c.json: no campaigns (the array is empty)");
  EXPECT_EQ(err(R"([{"description": "d", "min_safety": 0}])"),
            "c.json: campaign 1: \"name\" is missing or not a non-empty string");
  EXPECT_NE(err(R"([{"name": "a", "description": "d"}])").find("c.json: campaign \"a\": \"min_safety\" is missing"),
            std::string::npos);
  EXPECT_EQ(err(R"([{"name": "a", "description": "d", "min_safety": 1.5}])"),
            "c.json: campaign \"a\": \"min_safety\" 1.5 is outside 0..1");
  EXPECT_EQ(err(R"([{"name": "a", "description": "d", "min_safety": 0, "keywords": "coffee"}])"),
            "c.json: campaign \"a\": \"keywords\" must be an array of strings");
  EXPECT_EQ(err(R"([{"name": "a", "description": "d", "min_safety": 0, "keywords": ["ok", 3]}])"),
            "c.json: campaign \"a\": \"keywords\"[1] is not a string");
  EXPECT_NE(err(R"([{"name": "a", "description": "d", "min_safety": 0, "min_safty": 1}])")
                .find("campaign \"a\": unknown field \"min_safty\""),
            std::string::npos);
  EXPECT_EQ(err(R"([{"name": "a", "description": "d", "min_safety": 0}, {"name": "a", "description": "e", "min_safety": 0}])"),
            "c.json: campaign \"a\": the name is used by an earlier campaign");
  EXPECT_EQ(err(R"([{"name": "a", "description": "d", "min_safety": 0, "max_ads": -1}])"),
            "c.json: campaign \"a\": \"max_ads\" must be an integer >= 0");
  EXPECT_EQ(err(R"([{"name": "a", "description": "", "min_safety": 0}])"),
            "c.json: campaign \"a\": \"description\" is missing or not a non-empty string");
}

TEST_F(Ads, TargetingRanksExcludesAndExplains) {
  const auto campaigns = parse_campaigns(json::parse(kCampaigns), "c");
  std::vector<AdTweet> tweets = {{"i love a latte in the morning", "", ""},
                                 {"what a goal tonight, football is so good", "en", ""},
                                 {"un latte y coffee por favor", "es", ""},
                                 {"football and politics tonight", "", ""}};
  const auto m = match_campaigns(campaigns, tweets, *model_, nullptr, MatchOptions{});
  ASSERT_EQ(m.size(), 4u);
  ASSERT_FALSE(m[0].ranked.empty());
  EXPECT_EQ(campaigns[size_t(m[0].ranked[0].campaign)].name, "coffee");
  EXPECT_EQ(m[0].ranked[0].keyword_hits, std::vector<std::string>{"latte"});
  ASSERT_FALSE(m[1].ranked.empty());
  EXPECT_EQ(campaigns[size_t(m[1].ranked[0].campaign)].name, "football");
  EXPECT_EQ(m[1].ranked[0].keyword_hits, (std::vector<std::string>{"football", "goal"}));
  for (const auto& tm : m) {  // without a classifier the campaign that needs safety gets nothing
    for (const auto& s : tm.ranked) EXPECT_NE(campaigns[size_t(s.campaign)].name, "family");
    bool said = false;
    for (const auto& e : tm.excluded) said |= e.campaign == 2 && e.reason.find("needs a classifier") != std::string::npos;
    EXPECT_TRUE(said);
  }
  for (const auto& s : m[2].ranked) EXPECT_NE(campaigns[size_t(s.campaign)].name, "coffee") << "en-only ad on a Spanish tweet";
  EXPECT_NE(m[2].excluded[0].reason.find("language"), std::string::npos);
  for (const auto& s : m[3].ranked) EXPECT_NE(campaigns[size_t(s.campaign)].name, "football") << "excluded topic";
  bool topic = false;
  for (const auto& e : m[3].excluded) topic |= e.campaign == 1 && e.reason.find("excluded topic 'politics'") != std::string::npos;
  EXPECT_TRUE(topic);
  // The JSON form names campaigns and carries the score parts.
  const json j = match_json(campaigns, tweets[0], m[0]);
  EXPECT_EQ(j["campaigns"][0]["campaign"], "coffee");
  EXPECT_TRUE(j["campaigns"][0].contains("similarity"));
  EXPECT_EQ(j["campaigns"][0]["keyword_hits"], json::array({"latte"}));
  // max_ads: a budget of one placement.
  auto limited = campaigns;
  limited[0].max_ads = 1;
  const auto m2 = match_campaigns(limited, {tweets[0], tweets[0]}, *model_, nullptr, MatchOptions{});
  EXPECT_EQ(limited[size_t(m2[0].ranked[0].campaign)].name, "coffee");
  for (const auto& s : m2[1].ranked) EXPECT_NE(s.campaign, 0);
}

TEST_F(Ads, SafetyLearnsTheDecidingWordAndRoundTrips) {
  ASSERT_EQ(classifier_->probes.size(), 2u);
  for (const SafetyProbe& p : classifier_->probes) {
    EXPECT_GT(p.val.macro_f1, 0.8) << p.task;
    EXPECT_GT(p.test.macro_f1, 0.8) << p.task;
    EXPECT_EQ(p.selection.size(), safety_variants(model_->n_layers()).size() * 2);
  }
  const std::vector<std::string> texts = {"the rain on a mat", "we love new music", "a happy cat sat"};
  const auto v = classifier_->classify(*model_, texts);
  EXPECT_EQ(v[0].labels, std::vector<std::string>{"offensive"});
  EXPECT_EQ(v[1].labels, std::vector<std::string>{"hate"});
  EXPECT_TRUE(v[2].safe());
  for (const auto& x : v) {
    EXPECT_GE(x.risk, 0.0);
    EXPECT_LE(x.risk, 1.0);
  }
  EXPECT_GT(v[0].risk, v[2].risk);
  TempDir d;
  classifier_->save(d / "safety.json");
  const SafetyClassifier back = SafetyClassifier::load(d / "safety.json");
  const auto w = back.classify(*model_, texts);
  for (size_t i = 0; i < texts.size(); i++) {
    EXPECT_EQ(w[i].labels, v[i].labels);
    EXPECT_NEAR(w[i].risk, v[i].risk, 1e-6);
  }
  EXPECT_EQ(back.probes[0].test.macro_f1, classifier_->probes[0].test.macro_f1);
  // Missing, corrupt, not a classifier: one clear error each.
  EXPECT_EQ(user_error_of([&] { SafetyClassifier::load(d / "nope.json"); }), d / "nope.json" + ": no such file");
  const std::string full = read_file(d / "safety.json");
  write(d / "cut.json", full.substr(0, full.size() / 2));
  EXPECT_NE(user_error_of([&] { SafetyClassifier::load(d / "cut.json"); }).find(d / "cut.json" + ": not valid JSON"),
            std::string::npos);
  write(d / "other.json", "{\"probes\": []}");
  EXPECT_NE(user_error_of([&] { SafetyClassifier::load(d / "other.json"); }).find("not a brand-safety classifier"),
            std::string::npos);
  json broken = json::parse(full);
  broken["probes"][0].erase("threshold");
  write(d / "broken.json", broken.dump());
  EXPECT_EQ(user_error_of([&] { SafetyClassifier::load(d / "broken.json"); }),
            d / "broken.json" + ": probes[0]: \"threshold\" is missing");
}

TEST_F(Ads, RiskyTweetsNeverGetStrictCampaigns) {
  const auto campaigns = parse_campaigns(json::parse(kCampaigns), "c");
  const std::vector<AdTweet> tweets = {{"a happy cat in the rain", "", ""}, {"a happy cat sat on the mat", "", ""},
                                       {"happy cat music", "", ""}, {"the cat is happy today", "", ""}};
  const auto m = match_campaigns(campaigns, tweets, *model_, classifier_, MatchOptions{});
  const double limit = 1 - campaigns[2].min_safety;
  int risky = 0, placed = 0;
  for (const auto& tm : m) {
    ASSERT_TRUE(tm.has_safety);
    bool got = false;
    for (const auto& s : tm.ranked) got |= s.campaign == 2;
    if (tm.safety.risk > limit) {
      risky++;
      EXPECT_FALSE(got) << "risk " << tm.safety.risk;
      bool said = false;
      for (const auto& e : tm.excluded) said |= e.campaign == 2 && e.reason.find("brand safety: risk") != std::string::npos;
      EXPECT_TRUE(said);
    } else {
      placed += got;
    }
  }
  EXPECT_GE(risky, 2);   // the rain and the music tweets
  EXPECT_GE(placed, 1);  // and a safe one about a happy cat gets the family campaign
  EXPECT_EQ(campaigns[size_t(m[1].ranked[0].campaign)].name, "family");
}

TEST_F(Ads, CopyFiltersOnScriptedCandidates) {
  std::string long_words;
  while (tweet_length(long_words) < 400) long_words += " more words";
  const std::vector<TextSample> s = {
      {" is the best way to start the day", -3.5, 6, true},          // -0.5 per token
      {" is the BEST way to start the day!!", -1.0, 9, false},       // same words, more likely: kept instead
      {"  \n ", -0.1, 1, false},                                     // empty
      {long_words, -20.0, 80, false},                                // cut to fit
      {" " + std::string(400, 'x'), -1.0, 100, false},               // no word boundary: dropped
      {" tastes like sunshine", -2.0, 2, true},                      // -0.667
      {" rain everywhere", -0.2, 2, true},                           // -0.067: the best
  };
  ScriptedModel sm(lm_->tokenizer, s);
  CopyOptions opt;
  opt.product = "Acme coffee";
  opt.keywords = {"latte", "cold brew"};
  opt.n = 3;
  opt.candidates = int(s.size());
  const CopyResult r = generate_ad_copy(sm, nullptr, opt);
  EXPECT_EQ(r.prompt, "Acme coffee #latte #coldbrew");
  EXPECT_EQ(r.empty, 1);
  EXPECT_EQ(r.duplicates, 1);
  EXPECT_EQ(r.too_long, 1);
  ASSERT_EQ(r.ads.size(), 3u);
  EXPECT_EQ(r.ads[0].text, "Acme coffee #latte #coldbrew rain everywhere");
  EXPECT_NEAR(r.ads[0].score, -0.2 / 3, 1e-12);
  EXPECT_EQ(r.ads[1].text, "Acme coffee #latte #coldbrew is the BEST way to start the day!!");
  EXPECT_NEAR(r.ads[1].score, -1.0 / 9, 1e-12);
  EXPECT_TRUE(r.ads[2].truncated);  // -0.25 per token
  EXPECT_LE(r.ads[2].length, 280);
  EXPECT_GE(r.ads[2].length, 270);
  const std::string tail = r.ads[2].text.substr(r.ads[2].text.size() - 5);
  EXPECT_TRUE(tail == "words" || tail == " more") << "cut inside a word: " << tail;
  EXPECT_EQ(r.truncated, 1);
  opt.n = 10;
  const CopyResult all = generate_ad_copy(sm, nullptr, opt);
  ASSERT_EQ(all.ads.size(), 4u);
  EXPECT_EQ(all.ads[3].text, "Acme coffee #latte #coldbrew tastes like sunshine");
  EXPECT_EQ(user_error_of([&] {
              CopyOptions bad = opt;
              bad.product = std::string(300, 'p');
              generate_ad_copy(sm, nullptr, bad);
            }).rfind("product: ", 0),
            0u);
}

TEST_F(Ads, CopyFromTheModelIsShortUniqueSortedAndSeeded) {
  CopyOptions opt;
  opt.product = "coffee";
  opt.keywords = {"sun"};
  opt.n = 4;
  opt.seed = 7;
  const CopyResult a = generate_ad_copy(*model_, classifier_, opt), b = generate_ad_copy(*model_, classifier_, opt);
  EXPECT_EQ(a.sampled, 16);
  ASSERT_FALSE(a.ads.empty());
  EXPECT_LE(a.ads.size(), 4u);
  std::set<std::string> keys;
  for (size_t i = 0; i < a.ads.size(); i++) {
    EXPECT_LE(tweet_length(a.ads[i].text), 280);
    EXPECT_EQ(a.ads[i].text.rfind("coffee #sun", 0), 0u);
    EXPECT_TRUE(keys.insert(dedup_key(a.ads[i].text)).second) << "duplicate " << a.ads[i].text;
    if (i) {
      EXPECT_GE(a.ads[i - 1].score, a.ads[i].score);
    }
    EXPECT_TRUE(a.ads[i].safety.safe());
    ASSERT_LT(i, b.ads.size());
    EXPECT_EQ(a.ads[i].text, b.ads[i].text);
    EXPECT_EQ(a.ads[i].score, b.ads[i].score);
  }
  EXPECT_EQ(a.ads.size(), b.ads.size());
  opt.seed = 8;
  const CopyResult c = generate_ad_copy(*model_, classifier_, opt);
  bool differs = c.ads.size() != a.ads.size();
  for (size_t i = 0; i < std::min(a.ads.size(), c.ads.size()); i++) differs |= a.ads[i].text != c.ads[i].text;
  EXPECT_TRUE(differs) << "another seed, the same ads";
}

TEST_F(Ads, ApiValidatesFieldsAndServesThreads) {
  const json campaigns = json::parse(kCampaigns);
  auto field = [&](auto fn) {
    try {
      fn();
    } catch (const UserError& e) {
      return e.input();
    }
    return std::string("(no error)");
  };
  EXPECT_EQ(field([&] { ads_safety_api(json::array(), classifier_, *model_); }), "body");
  EXPECT_EQ(field([&] { ads_safety_api({{"input", 3}}, classifier_, *model_); }), "input");
  EXPECT_EQ(field([&] { ads_safety_api({{"input", json::array({"ok", 3})}}, classifier_, *model_); }), "input[1]");
  EXPECT_EQ(field([&] { ads_safety_api({{"input", "x"}}, nullptr, *model_); }), "classifier");
  EXPECT_EQ(field([&] { ads_safety_api({{"inputs", "x"}}, classifier_, *model_); }), "inputs");
  EXPECT_EQ(field([&] { ads_match_api({{"input", "x"}}, nullptr, *model_); }), "campaigns");
  EXPECT_EQ(field([&] { ads_match_api({{"campaigns", json::array({{{"name", "a"}}})}, {"input", "x"}}, nullptr, *model_); }),
            "campaigns");
  EXPECT_EQ(field([&] { ads_match_api({{"campaigns", campaigns}, {"input", "x"}, {"k", 0}}, nullptr, *model_); }), "k");
  EXPECT_EQ(field([&] { ads_match_api({{"campaigns", campaigns}}, nullptr, *model_); }), "input");
  EXPECT_EQ(field([&] { ads_copy_api({{"keywords", json::array({"a"})}}, nullptr, *model_); }), "product");
  EXPECT_EQ(field([&] { ads_copy_api({{"product", "p"}, {"n", "five"}}, nullptr, *model_); }), "n");
  EXPECT_EQ(field([&] { ads_copy_api({{"product", "p"}, {"temperature", -1}}, nullptr, *model_); }), "temperature");
  EXPECT_EQ(field([&] { ads_copy_api({{"product", "p"}, {"seed", -1}}, nullptr, *model_); }), "seed");

  const json safety_body = {{"input", json::array({"the rain on a mat", "a happy cat"})}};
  const json match_body = {{"campaigns", campaigns},
                           {"input", json::array({"i love a latte", {{"text", "un latte"}, {"lang", "es"}}})},
                           {"k", 2}};
  const json copy_body = {{"product", "coffee"}, {"n", 2}, {"seed", 3}};
  const json s1 = ads_safety_api(safety_body, classifier_, *model_);
  EXPECT_EQ(s1["results"][0]["labels"], json::array({"offensive"}));
  const json m1 = ads_match_api(match_body, classifier_, *model_);
  EXPECT_EQ(m1["results"][0]["campaigns"][0]["campaign"], "coffee");
  EXPECT_EQ(m1["results"][1]["lang"], "es");
  const json c1 = ads_copy_api(copy_body, nullptr, *model_);
  EXPECT_LE(c1["ads"].size(), 2u);
  // Several threads at once (the server's HTTP threads): the same answers.
  LockedModel locked(*model_);
  std::vector<std::thread> threads;
  std::vector<json> out(8);
  for (int t = 0; t < 8; t++)
    threads.emplace_back([&, t] {
      out[size_t(t)] = t % 3 == 0   ? ads_safety_api(safety_body, classifier_, locked)
                       : t % 3 == 1 ? ads_match_api(match_body, classifier_, locked)
                                    : ads_copy_api(copy_body, nullptr, locked);
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 8; t++) EXPECT_EQ(out[size_t(t)], t % 3 == 0 ? s1 : t % 3 == 1 ? m1 : c1) << t;
}

TEST_F(Ads, CommandLineContract) {
  using tlm::testing::run_program;
  using tlm::testing::tweetlm;
  TempDir d;
  const std::string model = dir_->path() + "/run";
  write(d / "tweets.txt", "i love a latte in the morning\nwhat a goal tonight\n");
  write(d / "bad.json", R"([{"name": "coffee", "description": "d", "min_safety": 2}])");
  auto r = run_program(tweetlm({"ads", "match", "--campaigns", d / "bad.json", "-m", model, "-i", d / "tweets.txt"}), d.path());
  EXPECT_EQ(r.rc, 2);
  EXPECT_EQ(r.err, "tweetlm: error: " + d / "bad.json" + ": campaign \"coffee\": \"min_safety\" 2 is outside 0..1\n");
  write(d / "c.json", kCampaigns);
  r = run_program(tweetlm({"-q", "ads", "match", "--campaigns", d / "c.json", "-m", model, "-i", d / "tweets.txt", "--json"}),
                  d.path());
  ASSERT_EQ(r.rc, 0) << r.err;
  std::vector<json> lines;
  std::istringstream in(r.out);
  for (std::string l; std::getline(in, l);) lines.push_back(json::parse(l));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["campaigns"][0]["campaign"], "coffee");
  r = run_program(tweetlm({"ads", "safety", "-m", model, "--classifier", d / "none.json", "-i", d / "tweets.txt"}), d.path());
  EXPECT_EQ(r.rc, 2);
  EXPECT_EQ(r.err, "tweetlm: error: " + d / "none.json" + ": no such file\n");
  // train-safety on a TweetEval-shaped directory, then safety with what it wrote.
  write_task_dir(d / "te", synthetic_task("offensive", "rain"));
  write_task_dir(d / "te", synthetic_task("hate", "music"));
  r = run_program(tweetlm({"-q", "ads", "train-safety", "--data", d / "te", "-m", model, "-o", d / "s.json", "--l2", "0.01",
                           "--max-iter", "100"}),
                  d.path());
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("RoBERTa-base"), std::string::npos);
  EXPECT_NE(r.out.find("79.5"), std::string::npos);
  r = run_program(tweetlm({"-q", "ads", "safety", "-m", model, "--classifier", d / "s.json", "-i", d / "tweets.txt", "--json"}),
                  d.path());
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2);
  r = run_program(tweetlm({"-q", "ads", "copy", "-m", model, "--product", "coffee", "-n", "2", "-s", "5"}), d.path());
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_LE(std::count(r.out.begin(), r.out.end(), '\n'), 2);
  r = run_program(tweetlm({"ads", "copy", "-m", model, "--product", "coffee", "-n", "0"}), d.path());
  EXPECT_EQ(r.rc, 2);
  EXPECT_EQ(r.err, "tweetlm: error: -n: must be from 1 to 100 (got 0)\n");
}
