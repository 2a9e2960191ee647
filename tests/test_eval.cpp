// The evaluation layer of the apps: metrics against hand-computed values, the logistic regression
// against a known generating model and its own invariants (dense == sparse, save/load, class
// weights), TF-IDF terms and weights by hand, TweetEval loading errors, the benchmark on a
// synthetic task whose answer is known, and `tweetlm eval tweeteval` / `eval ppl --text` end to
// end (a real TweetEval task from ../shared when present).
#include <gtest/gtest.h>

#include <sstream>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "apps/classify/logreg.h"
#include "apps/classify/tfidf.h"
#include "apps/eval/scores.h"
#include "apps/eval/tweeteval.h"
#include "core/check.h"
#include "core/rng.h"
#include "fixtures.h"
#include "store/model_loader.h"
#include "train_fixture.h"

using namespace tlm;
using namespace tlm::apps;
using tlm::testing::TempDir;

TEST(Metrics, HandComputedConfusion) {
  // class 0: tp 1, fp 1, fn 1 -> P 1/2, R 1/2, F1 1/2
  // class 1: tp 2, fp 1, fn 0 -> P 2/3, R 1,   F1 4/5
  // class 2: tp 1, fp 0, fn 1 -> P 1,   R 1/2, F1 2/3
  const std::vector<int> truth = {0, 0, 1, 1, 2, 2}, pred = {0, 1, 1, 1, 2, 0};
  const Confusion c(truth, pred, 3);
  EXPECT_DOUBLE_EQ(c.precision(1), 2.0 / 3);
  EXPECT_DOUBLE_EQ(c.recall(2), 0.5);
  EXPECT_NEAR(c.f1(0), 0.5, 1e-12);
  EXPECT_NEAR(c.f1(1), 0.8, 1e-12);
  EXPECT_NEAR(c.f1(2), 2.0 / 3, 1e-12);
  EXPECT_NEAR(c.macro_f1(), (0.5 + 0.8 + 2.0 / 3) / 3, 1e-12);
  EXPECT_NEAR(c.macro_recall(), 2.0 / 3, 1e-12);
  EXPECT_NEAR(c.accuracy(), 4.0 / 6, 1e-12);
  EXPECT_NEAR(tweeteval_score("stance", truth, pred, 3), (0.8 + 2.0 / 3) / 2, 1e-12);
  EXPECT_NEAR(tweeteval_score("sentiment", truth, pred, 3), 2.0 / 3, 1e-12);
  EXPECT_NEAR(tweeteval_score("emotion", truth, pred, 3), c.macro_f1(), 1e-12);
  // irony: F1 of class 1 only. truth 1 1 0 0 1, pred 1 0 0 1 1: tp 2, fp 1, fn 1 -> 2/3
  EXPECT_NEAR(tweeteval_score("irony", {1, 1, 0, 0, 1}, {1, 0, 0, 1, 1}, 2), 2.0 / 3, 1e-12);
  // A class never predicted and never true scores 0, not NaN.
  EXPECT_EQ(Confusion({0, 0}, {0, 0}, 2).f1(1), 0.0);
  EXPECT_THROW(tweeteval_score("nope", truth, pred, 3), UserError);
}

namespace {

// n rows from a known multinomial model: x ~ N(0, 1)^D, p(y | x) = softmax(x W + b).
void sample_softmax(size_t n, size_t D, int K, const std::vector<double>& W, const std::vector<double>& b,
                    uint64_t seed, FeatureMatrix& X, std::vector<int>& y) {
  Rng rng(seed);
  X = FeatureMatrix{};
  X.rows = n, X.cols = D;
  y.clear();
  for (size_t i = 0; i < n; i++) {
    std::vector<double> z(b);
    for (size_t j = 0; j < D; j++) {
      const float v = rng.normal();
      X.dense.push_back(v);
      for (int k = 0; k < K; k++) z[size_t(k)] += v * W[j * K + size_t(k)];
    }
    double mx = *std::max_element(z.begin(), z.end()), sum = 0;
    for (double& v : z) sum += (v = std::exp(v - mx));
    double u = rng.uniform() * sum;
    int k = 0;
    while (k < K - 1 && (u -= z[size_t(k)]) > 0) k++;
    y.push_back(k);
  }
}

FeatureMatrix to_sparse(const FeatureMatrix& d) {
  FeatureMatrix s;
  s.sparse = true, s.rows = d.rows, s.cols = d.cols;
  s.indptr.push_back(0);
  for (size_t i = 0; i < d.rows; i++) {
    for (size_t j = 0; j < d.cols; j++)
      if (d.dense[i * d.cols + j] != 0) s.indices.push_back(uint32_t(j)), s.values.push_back(d.dense[i * d.cols + j]);
    s.indptr.push_back(s.values.size());
  }
  return s;
}

}  // namespace

TEST(LogReg, RecoversTheGeneratingModel) {
  // Softmax is invariant to adding a constant per row of W, so compare centred weights.
  const size_t D = 3;
  const int K = 3;
  const std::vector<double> W = {1.5, -1.0, -0.5, 0.0, 2.0, -2.0, -1.0, 0.5, 0.5}, b = {0.3, -0.2, -0.1};
  FeatureMatrix X;
  std::vector<int> y;
  sample_softmax(20000, D, K, W, b, 3, X, y);
  LogRegOptions opt;
  opt.l2 = 1e-6, opt.balanced = false, opt.standardize = false, opt.max_iter = 500;
  const LogisticRegression m = LogisticRegression::train(X, y, K, opt);
  const nlohmann::json j = m.to_json();
  const auto w = j["weights"].get<std::vector<float>>();
  for (size_t r = 0; r < D; r++) {
    double mt = 0, me = 0;
    for (int k = 0; k < K; k++) mt += W[r * K + size_t(k)] / K, me += w[r * K + size_t(k)] / K;
    for (int k = 0; k < K; k++) EXPECT_NEAR(w[r * K + size_t(k)] - me, W[r * K + size_t(k)] - mt, 0.08) << r << "," << k;
  }
  EXPECT_GT(m.iterations(), 2);
}

TEST(LogReg, DenseAndSparseAgreeAndSaveLoadRoundTrips) {
  const size_t D = 6;
  const int K = 4;
  std::vector<double> W(D * K), b(K, 0.0);
  Rng rng(9);
  for (double& v : W) v = 2 * rng.normal();
  FeatureMatrix X;
  std::vector<int> y;
  sample_softmax(600, D, K, W, b, 4, X, y);
  for (size_t i = 0; i < X.dense.size(); i += 3) X.dense[i] = 0;  // make the sparse form sparse
  LogRegOptions opt;
  opt.standardize = false;
  const LogisticRegression dense = LogisticRegression::train(X, y, K, opt);
  const LogisticRegression sparse = LogisticRegression::train(to_sparse(X), y, K, opt);
  const auto pd = dense.predict_proba(X), ps = sparse.predict_proba(to_sparse(X));
  ASSERT_EQ(pd.size(), X.rows * K);
  double sum0 = 0;
  for (size_t i = 0; i < pd.size(); i++) EXPECT_NEAR(pd[i], ps[i], 2e-3) << i;
  for (int k = 0; k < K; k++) sum0 += pd[size_t(k)];
  EXPECT_NEAR(sum0, 1.0, 1e-5);

  TempDir tmp;
  dense.save(tmp / "lr.json");
  const LogisticRegression back = LogisticRegression::load(tmp / "lr.json");
  EXPECT_EQ(back.predict(X), dense.predict(X));
  // Truncated, wrong type, wrong sizes: one clear error naming the file.
  const std::string text = tlm::read_file(tmp / "lr.json");
  tlm::testing::write_file(tmp / "cut.json", text.substr(0, text.size() / 2));
  EXPECT_THROW(LogisticRegression::load(tmp / "cut.json"), UserError);
  tlm::testing::write_file(tmp / "other.json", R"({"type": "svm"})");
  EXPECT_THROW(LogisticRegression::load(tmp / "other.json"), UserError);
  nlohmann::json j = dense.to_json();
  j["bias"] = {1.0};
  EXPECT_THROW(LogisticRegression::from_json(j, "x"), UserError);
  EXPECT_THROW(LogisticRegression::load(tmp / "missing.json"), UserError);
  // Bad training input.
  EXPECT_THROW(LogisticRegression::train(X, std::vector<int>(X.rows, 7), K), UserError);
  EXPECT_THROW(LogisticRegression::train(FeatureMatrix{}, {}, K), UserError);
}

TEST(LogReg, BalancedWeightsLiftTheRareClass) {
  // One noisy feature; class 1 is 5% of rows. Unweighted, the optimum predicts class 0 almost
  // everywhere; balanced weights move the boundary so most class-1 rows are found.
  Rng rng(1);
  FeatureMatrix X;
  X.cols = 1;
  std::vector<int> y;
  for (int i = 0; i < 4000; i++) {
    const int c = i % 20 == 0;
    X.dense.push_back(float(c * 1.0 + rng.normal()));
    y.push_back(c);
  }
  X.rows = y.size();
  LogRegOptions off, on;
  off.balanced = false;
  const double r_off = Confusion(y, LogisticRegression::train(X, y, 2, off).predict(X), 2).recall(1);
  const double r_on = Confusion(y, LogisticRegression::train(X, y, 2, on).predict(X), 2).recall(1);
  EXPECT_LT(r_off, 0.2);
  EXPECT_GT(r_on, 0.5);
}

TEST(Tfidf, TermsAndWeightsByHand) {
  EXPECT_EQ(tfidf_words("Café #Hashtag @user, it's 2 GOOD!! 😂😂 http"),
            (std::vector<std::string>{"café", "#hashtag", "@user", "it's", "2", "good", "😂", "😂", "http"}));
  EXPECT_EQ(tfidf_words("# @ ... "), std::vector<std::string>{});
  TfidfVectorizer::Options o;
  o.min_df = 1, o.max_ngram = 1;
  const TfidfVectorizer v = TfidfVectorizer::fit({"a b", "a c", "a a d"}, o);
  ASSERT_EQ(v.size(), 4u);  // a b c d
  const FeatureMatrix m = v.transform({"a a b", "zzz"});
  ASSERT_TRUE(m.sparse);
  ASSERT_EQ(m.indptr, (std::vector<uint64_t>{0, 2, 2}));  // unknown terms give an empty row
  // a: tf 2 -> 1 + ln 2, idf ln(4/4) + 1 = 1; b: tf 1, idf ln(4/2) + 1
  const double wa = 1 + std::log(2.0), wb = std::log(2.0) + 1, n = std::sqrt(wa * wa + wb * wb);
  EXPECT_NEAR(m.values[0], wa / n, 1e-6);  // "a" is the most frequent term: column 0
  EXPECT_NEAR(m.values[1], wb / n, 1e-6);
  o.max_ngram = 2;
  EXPECT_EQ(TfidfVectorizer::fit({"x y", "x y"}, o).size(), 3u);  // x, y, "x y"
}

namespace {

// A TweetEval-shaped folder: task "irony" whose label is 1 exactly when the tweet has "coffee"
// (a word of the tiny model's corpus), "sentiment" without a train split, and "stance" with two
// targets. Words come from the tiny corpus's list so the tiny model knows them.
void write_task(const std::string& dir, int n_train, int n_val, int n_test, bool train, uint64_t seed, int classes) {
  const char* words[] = {"the", "cat", "sat", "on", "a", "mat", "happy", "day", "rain", "sun", "we", "love"};
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/mapping.txt") << (classes == 2 ? "0\tnot\n1\tyes\n" : "0\tnone\n1\tagainst\n2\tfavor\n");
  Rng rng(seed);
  for (auto [split, n] : {std::pair<const char*, int>{"train", n_train}, {"val", n_val}, {"test", n_test}}) {
    if (std::string(split) == "train" && !train) continue;
    std::ofstream t(dir + "/" + split + "_text.txt"), l(dir + "/" + split + "_labels.txt");
    for (int i = 0; i < n; i++) {
      const int label = int(rng.below(uint64_t(classes)));
      std::string text;
      for (int k = 0; k < 6; k++) text += std::string(k ? " " : "") + words[rng.below(12)];
      if (label == 1) text += " coffee";
      if (label == 2) text += " music";
      t << text << "\n";
      l << label << "\n";
    }
  }
}

void write_synthetic_tweeteval(const std::string& root) {
  write_task(root + "/irony", 300, 100, 100, true, 1, 2);
  write_task(root + "/sentiment", 0, 200, 100, false, 2, 3);
  write_task(root + "/stance/cats", 150, 60, 60, true, 3, 3);
  write_task(root + "/stance/dogs", 150, 60, 60, true, 4, 3);
  std::ofstream(root + "/stance/mapping.txt") << "0\tnone\n1\tagainst\n2\tfavor\n";
}

}  // namespace

TEST(TweetEval, LoadingErrorsNameTheFile) {
  TempDir tmp;
  write_synthetic_tweeteval(tmp.path());
  const TweetEvalTask stance = load_tweeteval_task(tmp.path(), "stance");
  ASSERT_EQ(stance.groups.size(), 2u);
  EXPECT_EQ(stance.groups[0].name, "cats");
  EXPECT_EQ(stance.n_classes, 3);
  EXPECT_TRUE(load_tweeteval_task(tmp.path(), "sentiment").train_is_val);
  EXPECT_FALSE(load_tweeteval_task(tmp.path(), "irony").train_is_val);
  std::ofstream(tmp / "irony/test_labels.txt", std::ios::app) << "1\n";
  try {
    load_tweeteval_task(tmp.path(), "irony");
    FAIL() << "mismatched line counts accepted";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("test_labels.txt"), std::string::npos) << e.what();
  }
  std::ofstream(tmp / "sentiment/val_labels.txt") << "9\n";
  EXPECT_THROW(load_tweeteval_task(tmp.path(), "sentiment"), UserError);
  EXPECT_THROW(load_tweeteval_task(tmp.path(), "emoji"), UserError);  // no folder
  EXPECT_THROW(load_tweeteval_task(tmp.path(), "chess"), UserError);  // no such task
}

class TweetEvalRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new TempDir();
    write_synthetic_tweeteval(*tmp_ / "te");
    err_ = tlm::testing::train_tiny_run(*tmp_ / "tiny");
  }
  static void TearDownTestSuite() { delete tmp_; }
  static inline TempDir* tmp_ = nullptr;
  static inline std::string err_;
};

TEST_F(TweetEvalRun, ProbeAndBaselineFindTheKnownAnswer) {
  ASSERT_EQ(err_, "");
  LoadedModel lm = load_model(*tmp_ / "tiny/run");
  LocalTextModel tm(*lm.model, lm.tokenizer, 8);
  TweetEvalOptions opt;
  opt.tasks = {"irony", "sentiment", "stance"};
  std::vector<std::string> seen;
  const auto rs = run_tweeteval(*tmp_ / "te", &tm, opt, [&](const TaskResult& r) { seen.push_back(r.task); });
  ASSERT_EQ(rs.size(), 3u);
  EXPECT_EQ(seen, opt.tasks);
  for (const TaskResult& r : rs) {
    // One word decides the label: the TF-IDF baseline is perfect, and the model's features
    // (its embedding of "coffee" / "music" flows into the mean) separate it nearly so.
    EXPECT_GT(r.baseline.test, 0.95) << r.task;
    EXPECT_GT(r.probe.test, 0.8) << r.task << " " << r.probe.features;
    EXPECT_FALSE(r.probe.features.empty());
  }
  EXPECT_TRUE(rs[1].train_is_val);
  EXPECT_EQ(rs[1].n_train, 0u);
  EXPECT_EQ(rs[2].n_test, 120u);  // stance: both targets pooled
  const nlohmann::json j = tweeteval_json(rs, "tiny");
  EXPECT_NEAR(j["tasks"]["irony"].get<double>(), 100 * rs[0].probe.test, 1e-9);
  EXPECT_NEAR(j["all"].get<double>(), 100 * (rs[0].probe.test + rs[1].probe.test + rs[2].probe.test) / 3, 1e-9);
  EXPECT_FALSE(j["complete"].get<bool>());
  const std::string table = tweeteval_table(rs, "tiny");
  EXPECT_NE(table.find("BERTweet (published)"), std::string::npos);
  EXPECT_NE(table.find("TF-IDF + logistic regression"), std::string::npos);
}

// --features lm+tfidf: the probe's chosen features next to the TF-IDF terms, in one sparse
// matrix. On the one-word tasks it is as perfect as the n-gram baseline it contains.
TEST_F(TweetEvalRun, LmPlusTfidfIsNeverBelowItsNgramBaselineHere) {
  ASSERT_EQ(err_, "");
  LoadedModel lm = load_model(*tmp_ / "tiny/run");
  LocalTextModel tm(*lm.model, lm.tokenizer, 8);
  TweetEvalOptions opt;
  opt.tasks = {"irony", "stance"};
  opt.lm_tfidf = true;
  const auto rs = run_tweeteval(*tmp_ / "te", &tm, opt);
  ASSERT_EQ(rs.size(), 2u);
  for (const TaskResult& r : rs) {
    EXPECT_EQ(r.combined.n_features, r.probe.n_features + r.baseline.n_features) << r.task;
    EXPECT_EQ(r.combined.features, r.probe.features + " + tfidf 1-2 grams");
    EXPECT_GE(r.combined.test, r.baseline.test - 0.02) << r.task;
    EXPECT_GT(r.combined.test, 0.95) << r.task;
  }
  const nlohmann::json j = tweeteval_json(rs, "tiny");
  EXPECT_NEAR(j["lm_tfidf"]["tasks"]["irony"].get<double>(), 100 * rs[0].combined.test, 1e-9);
  EXPECT_NE(tweeteval_table(rs, "tiny").find("(LM + TF-IDF probe)"), std::string::npos);
}

TEST_F(TweetEvalRun, CliOnARealTaskAndPplOnText) {
  ASSERT_EQ(err_, "");
  using tlm::testing::run_program;
  using tlm::testing::tweetlm;
  const std::string shared = std::string(TLM_SHARED_DIR) + "/data/tweeteval";
  ASSERT_TRUE(std::filesystem::exists(shared + "/irony/test_text.txt")) << shared << " is missing";
  // A real TweetEval task end to end: irony, training rows capped for time.
  auto r = run_program(tweetlm({"-q", "eval", "tweeteval", "-m", *tmp_ / "tiny/run", "--data", shared, "--tasks",
                                "irony", "--max-train", "600", "--json-out", *tmp_ / "irony.json"}),
                       tmp_->path());
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("RoBERTa-base (published)"), std::string::npos) << r.out;
  const nlohmann::json j = nlohmann::json::parse(tlm::read_file(*tmp_ / "irony.json"));
  const double probe = j["tasks"]["irony"].get<double>(), base = j["baseline"]["tasks"]["irony"].get<double>();
  EXPECT_GE(probe, 0.0);
  EXPECT_LE(probe, 100.0);
  EXPECT_GT(base, 30.0);  // the F1 of the ironic class; always predicting "ironic" gives ~56
  EXPECT_EQ(j["details"][0]["rows"]["train"].get<int>(), 600);

  // Bad input: one line, exit 2.
  r = run_program(tweetlm({"eval", "tweeteval", "--data", *tmp_ / "nowhere", "--tasks", "irony"}), tmp_->path());
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("nowhere/irony"), std::string::npos) << r.err;
  r = run_program(tweetlm({"eval", "tweeteval", "--data", shared, "--tasks", "chess"}), tmp_->path());
  EXPECT_EQ(r.rc, 2);

  // ppl on text: the model's own kind of text scores fewer bits per byte than scrambled letters.
  std::string own, scrambled;
  for (const char* line : {"the cat sat on a mat", "we love new music tonight", "so good for coffee lol",
                           "happy day for the sun", "rain on the mat tonight"}) {
    own += std::string(line) + "\n";
    std::string s = line;
    std::reverse(s.begin(), s.end());
    scrambled += s + "\n";
  }
  tlm::testing::write_file(*tmp_ / "own.txt", own);
  tlm::testing::write_file(*tmp_ / "scrambled.txt", scrambled);
  double bpb[2];
  int k = 0;
  for (const char* f : {"own.txt", "scrambled.txt"}) {
    r = run_program(tweetlm({"-q", "eval", "ppl", "-m", *tmp_ / "tiny/run", "--text", *tmp_ / f, "-T", "16", "--json"}),
                    tmp_->path());
    ASSERT_EQ(r.rc, 0) << r.err;
    const nlohmann::json p = nlohmann::json::parse(r.out);
    bpb[k++] = p["bits_per_byte"].get<double>();
    EXPECT_EQ(p["bytes"].get<uint64_t>() > 0, true);
  }
  EXPECT_LT(bpb[0], bpb[1]);
  tlm::testing::write_file(*tmp_ / "empty.txt", "\n\n");
  r = run_program(tweetlm({"eval", "ppl", "-m", *tmp_ / "tiny/run", "--text", *tmp_ / "empty.txt"}), tmp_->path());
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("empty.txt"), std::string::npos) << r.err;
}

// `eval ppl` takes several datasets in one run (one JSON line or table row each), reads text
// through the corpus reader (a .txt and a .jsonl of the same tweets score the same), and loads
// any model load_model reads: an HF export of the run scores exactly as the run.
TEST_F(TweetEvalRun, PplOnSeveralDatasetsAndOnAnHfExport) {
  using tlm::testing::run_program;
  using tlm::testing::tweetlm;
  std::string txt, jsonl;
  for (const char* line : {"the cat sat on a mat", "we love new music tonight", "so good for coffee lol"}) {
    txt += std::string(line) + "\n";
    jsonl += nlohmann::json{{"id", "1"}, {"text", line}}.dump() + "\n";
  }
  tlm::testing::write_file(*tmp_ / "few.txt", txt);
  tlm::testing::write_file(*tmp_ / "few.jsonl", jsonl);
  const std::string run = *tmp_ / "tiny/run";
  auto r = run_program(tweetlm({"-q", "eval", "ppl", "-m", run, "--data", *tmp_ / "tiny/shards", "--text",
                                *tmp_ / "few.txt", "--text", *tmp_ / "few.jsonl", "-T", "8", "--json"}),
                       tmp_->path());
  ASSERT_EQ(r.rc, 0) << r.err;
  std::vector<nlohmann::json> rows;
  std::istringstream lines(r.out);
  for (std::string l; std::getline(lines, l);) rows.push_back(nlohmann::json::parse(l));
  ASSERT_EQ(rows.size(), 3u) << r.out;
  EXPECT_EQ(rows[0]["data"], *tmp_ / "tiny/shards");
  EXPECT_EQ(rows[0]["split"], "val");
  EXPECT_EQ(rows[1]["data"], *tmp_ / "few.txt");
  EXPECT_FALSE(rows[1].contains("split"));
  EXPECT_EQ(rows[1]["loss"].get<double>(), rows[2]["loss"].get<double>());
  EXPECT_EQ(rows[1]["tokens"], rows[2]["tokens"]);
  EXPECT_NE(rows[0]["loss"].get<double>(), rows[1]["loss"].get<double>());

  r = run_program(tweetlm({"-q", "eval", "ppl", "-m", run, "--data", *tmp_ / "tiny/shards", "--text", *tmp_ / "few.txt",
                           "-T", "8"}),
                  tmp_->path());
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("perplexity"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(*tmp_ / "tiny/shards/val"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(*tmp_ / "few.txt"), std::string::npos) << r.out;

  r = run_program(tweetlm({"-q", "export", "-m", run, "--format", "hf", "-o", *tmp_ / "tiny_hf"}), tmp_->path());
  ASSERT_EQ(r.rc, 0) << r.err;
  r = run_program(tweetlm({"-q", "eval", "ppl", "-m", *tmp_ / "tiny_hf", "--text", *tmp_ / "few.txt", "-T", "8", "-b",
                           std::to_string(rows[1]["windows"].get<int>()), "--json"}),
                  tmp_->path());
  ASSERT_EQ(r.rc, 0) << r.err;
  const nlohmann::json hf = nlohmann::json::parse(r.out);
  EXPECT_TRUE(hf["step"].is_null());  // an HF directory has no training step
  EXPECT_EQ(hf["tokens"], rows[1]["tokens"]);
  EXPECT_NEAR(hf["loss"].get<double>(), rows[1]["loss"].get<double>(), 1e-6);
}
