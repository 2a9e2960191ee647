// TweetEval: loading the tasks, the linear probe and the TF-IDF baseline, the table (see
// tweeteval.h). Model selection never looks at a test split: features and L2 are chosen by the
// val score (or 5-fold cross-validation on val for sentiment) and test is predicted once.
#include "apps/eval/tweeteval.h"

#include <algorithm>
#include <cmath>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>

#include "apps/classify/tfidf.h"
#include "apps/eval/scores.h"
#include "core/check.h"
#include "core/file.h"
#include "core/log.h"
#include "core/progress.h"

namespace tlm::apps {

namespace fs = std::filesystem;

const std::vector<std::string>& tweeteval_tasks() {
  static const std::vector<std::string> t = {"emoji", "emotion", "hate", "irony", "offensive", "sentiment", "stance"};
  return t;
}

namespace {

// The lines of a TweetEval file, or one error that says what --data should be.
std::vector<std::string> read_lines(const std::string& path) {
  if (!path_exists(path)) throw user_error(path, "no such file (is --data a TweetEval folder?)");
  return tlm::read_lines(path);
}

// The class names of mapping.txt ("id<TAB>name" lines, ids 0..K-1 in order).
std::vector<std::string> read_mapping(const std::string& path) {
  std::vector<std::string> names;
  for (const std::string& line : read_lines(path)) {
    if (line.empty()) continue;
    const size_t tab = line.find('\t');
    if (tab == std::string::npos || line.substr(0, tab) != std::to_string(names.size()))
      throw user_error(path, "line %zu is not '%zu<TAB>name'", names.size() + 1, names.size());
    names.push_back(line.substr(tab + 1));
  }
  if (names.size() < 2) throw user_error(path, "fewer than two classes");
  return names;
}

}  // namespace

LabeledTexts read_tweeteval_split(const std::string& dir, const std::string& split, int n_classes, bool required) {
  LabeledTexts s;
  const std::string tp = dir + "/" + split + "_text.txt", lp = dir + "/" + split + "_labels.txt";
  if (!required && !fs::exists(tp) && !fs::exists(lp)) return s;
  s.text = read_lines(tp);
  const std::vector<std::string> labels = read_lines(lp);
  while (!s.text.empty() && s.text.back().empty() && s.text.size() > labels.size()) s.text.pop_back();
  if (s.text.size() != labels.size())
    throw user_error(lp, "%zu labels for the %zu lines of %s", labels.size(), s.text.size(), tp.c_str());
  for (size_t i = 0; i < labels.size(); i++) {
    char* end = nullptr;
    const long v = std::strtol(labels[i].c_str(), &end, 10);
    if (labels[i].empty() || *end != '\0' || v < 0 || v >= n_classes)
      throw user_error(lp, "line %zu: '%s' is not a label in [0, %d)", i + 1, labels[i].c_str(), n_classes);
    s.label.push_back(int(v));
  }
  return s;
}

namespace {

struct Timer {
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); }
};

// The features of one group for one candidate representation.
struct GroupFeatures {
  FeatureMatrix fit, val, test;    // fit: train (or val when the task trains on val)
  std::vector<int> y_fit, y_val, y_test;
};

// Predictions on the val rows for one L2: trained on fit; with `cv`, fit and val are the same
// rows, predicted by 5-fold cross-validation.
std::vector<int> predict_val(const GroupFeatures& g, int K, double l2, bool cv, const TweetEvalOptions& opt) {
  LogRegOptions lo;
  lo.l2 = l2, lo.max_iter = opt.max_iter;
  if (!cv) return LogisticRegression::train(g.fit, g.y_fit, K, lo).predict(g.val);
  const size_t n = g.fit.rows, folds = 5;
  std::vector<int> out(n);
  for (size_t f = 0; f < folds; f++) {
    std::vector<size_t> tr, te;
    for (size_t i = 0; i < n; i++) (i % folds == f ? te : tr).push_back(i);
    std::vector<int> ytr;
    for (size_t i : tr) ytr.push_back(g.y_fit[i]);
    const std::vector<int> p = LogisticRegression::train(g.fit.select_rows(tr), ytr, K, lo).predict(g.fit.select_rows(te));
    for (size_t k = 0; k < te.size(); k++) out[te[k]] = p[k];
  }
  return out;
}

// Chooses the L2 strength for one representation on val (pooled over the groups) and returns
// its val score and chosen L2 in `best`; the test score too when `score_test`.
void choose_l2(const std::string& task, const std::vector<GroupFeatures>& groups, int K, bool cv,
               const std::vector<double>& grid, const TweetEvalOptions& opt, ProbeResult& best) {
  best.val = -1;
  for (double l2 : grid) {
    std::vector<int> truth, pred;
    for (const GroupFeatures& g : groups) {
      const std::vector<int> p = predict_val(g, K, l2, cv, opt);
      pred.insert(pred.end(), p.begin(), p.end());
      truth.insert(truth.end(), g.y_val.begin(), g.y_val.end());
    }
    const double s = tweeteval_score(task, truth, pred, K);
    log_debug("tweeteval %s: %s l2 %g: val %.4f", task.c_str(), best.features.c_str(), l2, s);
    if (s > best.val) best.val = s, best.l2 = l2;
  }
}

double test_score(const std::string& task, const std::vector<GroupFeatures>& groups, int K, double l2,
                  const TweetEvalOptions& opt) {
  LogRegOptions lo;
  lo.l2 = l2, lo.max_iter = opt.max_iter;
  std::vector<int> truth, pred;
  for (const GroupFeatures& g : groups) {
    const std::vector<int> p = LogisticRegression::train(g.fit, g.y_fit, K, lo).predict(g.test);
    pred.insert(pred.end(), p.begin(), p.end());
    truth.insert(truth.end(), g.y_test.begin(), g.y_test.end());
  }
  return tweeteval_score(task, truth, pred, K);
}

const LabeledTexts& fit_split(const TweetEvalTask& t, const TweetEvalTask::Group& g) {
  return t.train_is_val ? g.val : g.train;
}

// Columns of the model's features: per text [layers][mean, last][C].
struct Representation {
  std::string name;
  std::vector<std::pair<size_t, size_t>> spans;  // (offset, length) into a feature row
};

FeatureMatrix pick(const std::vector<std::vector<float>>& rows, const Representation& r) {
  FeatureMatrix m;
  m.rows = rows.size();
  for (auto [o, n] : r.spans) m.cols += n;
  m.dense.reserve(m.rows * m.cols);
  for (const auto& row : rows)
    for (auto [o, n] : r.spans) m.dense.insert(m.dense.end(), row.begin() + long(o), row.begin() + long(o + n));
  return m;
}

// The linear probe: chooses the representation and L2 on val; `chosen` gets the chosen
// representation's features (what lm+tfidf builds on).
ProbeResult run_probe(const TweetEvalTask& t, TextModel& model, const TweetEvalOptions& opt,
                      std::vector<GroupFeatures>& chosen) {
  // Every text of the task through the model once, in slices (progress line).
  const int L = model.n_layers(), C = model.dim();
  std::vector<int> layers = {std::max(1, L / 2), L};
  if (layers[0] == layers[1]) layers.pop_back();
  std::vector<const std::string*> texts;
  for (const auto& g : t.groups)
    for (const LabeledTexts* s : {&fit_split(t, g), &g.val, &g.test})
      for (const std::string& x : s->text) texts.push_back(&x);
  std::vector<std::vector<float>> feats;
  feats.reserve(texts.size());
  Progress progress("tweeteval " + t.name + ": features", double(texts.size()));
  for (size_t first = 0; first < texts.size(); first += 256) {
    std::vector<std::string> slice;
    for (size_t i = first; i < std::min(texts.size(), first + 256); i++) slice.push_back(*texts[i]);
    for (auto& f : model.features(slice, layers)) feats.push_back(std::move(f));
    progress.update(double(feats.size()));
  }
  progress.finish();

  std::vector<Representation> reps;
  for (size_t li = 0; li < layers.size(); li++) {
    const size_t base = li * 2 * size_t(C);
    const std::string layer = "layer " + std::to_string(layers[li]);
    reps.push_back({layer + " mean", {{base, size_t(C)}}});
    reps.push_back({layer + " last", {{base + size_t(C), size_t(C)}}});
    reps.push_back({layer + " mean+last", {{base, 2 * size_t(C)}}});
  }
  ProbeResult best;
  best.val = -1;
  std::vector<GroupFeatures> best_groups;
  for (const Representation& r : reps) {
    std::vector<GroupFeatures> groups;
    size_t row = 0;
    for (const auto& g : t.groups) {
      GroupFeatures gf;
      auto take = [&](const LabeledTexts& s, FeatureMatrix& X, std::vector<int>& y) {
        std::vector<std::vector<float>> part(feats.begin() + long(row), feats.begin() + long(row + s.text.size()));
        X = pick(part, r), y = s.label, row += s.text.size();
      };
      take(fit_split(t, g), gf.fit, gf.y_fit);
      take(g.val, gf.val, gf.y_val);
      take(g.test, gf.test, gf.y_test);
      if (t.train_is_val) gf.val = gf.fit, gf.y_val = gf.y_fit;  // cross-validated on val
      groups.push_back(std::move(gf));
    }
    ProbeResult pr;
    pr.features = r.name;
    choose_l2(t.name, groups, t.n_classes, t.train_is_val, opt.l2_grid, opt, pr);
    log_info("tweeteval %s: %-22s val %.1f (l2 %g)", t.name.c_str(), r.name.c_str(), 100 * pr.val, pr.l2);
    if (pr.val > best.val) best = pr, best.n_features = groups[0].fit.cols, best_groups = std::move(groups);
  }
  best.test = test_score(t.name, best_groups, t.n_classes, best.l2, opt);
  chosen = std::move(best_groups);
  return best;
}

// One sparse matrix: the TF-IDF terms, then the dense features z-scored with the fit rows'
// statistics (mean, sd) and scaled by 1/sqrt(D), so that the dense block of a row has a norm
// near 1, like the L2-normalised TF-IDF block.
FeatureMatrix lm_and_tfidf(const FeatureMatrix& tfidf, const FeatureMatrix& dense, const std::vector<float>& mean,
                           const std::vector<float>& inv_sd) {
  FeatureMatrix m;
  m.sparse = true;
  m.rows = tfidf.rows;
  m.cols = tfidf.cols + dense.cols;
  m.indptr.push_back(0);
  const float scale = 1.0f / std::sqrt(float(std::max<size_t>(dense.cols, 1)));
  for (size_t i = 0; i < m.rows; i++) {
    for (uint64_t k = tfidf.indptr[i]; k < tfidf.indptr[i + 1]; k++)
      m.indices.push_back(tfidf.indices[k]), m.values.push_back(tfidf.values[k]);
    const float* x = dense.row(i);
    for (size_t j = 0; j < dense.cols; j++)
      m.indices.push_back(uint32_t(tfidf.cols + j)), m.values.push_back((x[j] - mean[j]) * inv_sd[j] * scale);
    m.indptr.push_back(m.indices.size());
  }
  return m;
}

ProbeResult run_lm_tfidf(const TweetEvalTask& t, const std::vector<GroupFeatures>& lm, const std::string& lm_name,
                         const TweetEvalOptions& opt) {
  std::vector<GroupFeatures> groups;
  for (size_t gi = 0; gi < t.groups.size(); gi++) {
    const auto& g = t.groups[gi];
    const LabeledTexts& fit = fit_split(t, g);
    const TfidfVectorizer v = TfidfVectorizer::fit(fit.text);
    const FeatureMatrix& d = lm[gi].fit;
    std::vector<float> mean(d.cols, 0), inv_sd(d.cols, 0);
    for (size_t i = 0; i < d.rows; i++)
      for (size_t j = 0; j < d.cols; j++) mean[j] += d.row(i)[j] / float(d.rows);
    for (size_t i = 0; i < d.rows; i++)
      for (size_t j = 0; j < d.cols; j++) inv_sd[j] += (d.row(i)[j] - mean[j]) * (d.row(i)[j] - mean[j]) / float(d.rows);
    for (float& s : inv_sd) s = s > 0 ? 1.0f / std::sqrt(s) : 0.0f;
    GroupFeatures gf;
    gf.fit = lm_and_tfidf(v.transform(fit.text), d, mean, inv_sd), gf.y_fit = fit.label;
    gf.val = t.train_is_val ? gf.fit : lm_and_tfidf(v.transform(g.val.text), lm[gi].val, mean, inv_sd);
    gf.y_val = g.val.label;
    gf.test = lm_and_tfidf(v.transform(g.test.text), lm[gi].test, mean, inv_sd), gf.y_test = g.test.label;
    groups.push_back(std::move(gf));
  }
  ProbeResult pr;
  pr.features = lm_name + " + tfidf 1-2 grams";
  pr.n_features = groups[0].fit.cols;
  choose_l2(t.name, groups, t.n_classes, t.train_is_val, opt.lm_tfidf_l2_grid, opt, pr);
  pr.test = test_score(t.name, groups, t.n_classes, pr.l2, opt);
  return pr;
}

ProbeResult run_baseline(const TweetEvalTask& t, const TweetEvalOptions& opt) {
  std::vector<GroupFeatures> groups;
  for (const auto& g : t.groups) {
    const LabeledTexts& fit = fit_split(t, g);
    const TfidfVectorizer v = TfidfVectorizer::fit(fit.text);
    GroupFeatures gf;
    gf.fit = v.transform(fit.text), gf.y_fit = fit.label;
    gf.val = t.train_is_val ? gf.fit : v.transform(g.val.text), gf.y_val = g.val.label;
    gf.test = v.transform(g.test.text), gf.y_test = g.test.label;
    groups.push_back(std::move(gf));
  }
  ProbeResult pr;
  pr.features = "tfidf 1-2 grams";
  pr.n_features = groups[0].fit.cols;
  choose_l2(t.name, groups, t.n_classes, t.train_is_val, opt.tfidf_l2_grid, opt, pr);
  pr.test = test_score(t.name, groups, t.n_classes, pr.l2, opt);
  return pr;
}

}  // namespace

TweetEvalTask load_tweeteval_task(const std::string& dir, const std::string& task) {
  tweeteval_metric_name(task);  // validates the name
  TweetEvalTask t;
  t.name = task;
  const std::string root = dir + "/" + task;
  if (!fs::is_directory(root)) throw user_error(root, "no such folder (is --data a TweetEval folder?)");
  t.class_names = read_mapping(root + "/mapping.txt");
  t.n_classes = int(t.class_names.size());
  std::vector<std::pair<std::string, std::string>> group_dirs;  // (name, folder)
  if (task == "stance") {
    for (const auto& e : fs::directory_iterator(root))
      if (e.is_directory()) group_dirs.emplace_back(e.path().filename().string(), e.path().string());
    std::sort(group_dirs.begin(), group_dirs.end());
    if (group_dirs.empty()) throw user_error(root, "no target folders (abortion, atheism, ...)");
  } else {
    group_dirs.emplace_back(task, root);
  }
  for (const auto& [name, gdir] : group_dirs) {
    TweetEvalTask::Group g;
    g.name = name;
    g.train = read_tweeteval_split(gdir, "train", t.n_classes, false);
    g.val = read_tweeteval_split(gdir, "val", t.n_classes, true);
    g.test = read_tweeteval_split(gdir, "test", t.n_classes, true);
    if (g.train.text.empty()) t.train_is_val = true;
    t.groups.push_back(std::move(g));
  }
  return t;
}

std::vector<TaskResult> run_tweeteval(const std::string& dir, TextModel* model, const TweetEvalOptions& opt,
                                      const std::function<void(const TaskResult&)>& on_task) {
  const std::vector<std::string> tasks = opt.tasks.empty() ? tweeteval_tasks() : opt.tasks;
  for (const std::string& name : tasks) tweeteval_metric_name(name);  // every name valid before any work
  std::vector<TaskResult> out;
  for (const std::string& name : tasks) {
    const Timer timer;
    TweetEvalTask t = load_tweeteval_task(dir, name);
    TaskResult r;
    r.task = name;
    r.metric = tweeteval_metric_name(name);
    r.train_is_val = t.train_is_val;
    for (auto& g : t.groups) {
      LabeledTexts& fit = t.train_is_val ? g.val : g.train;
      if (opt.max_train && fit.text.size() > opt.max_train) fit.text.resize(opt.max_train), fit.label.resize(opt.max_train);
      r.n_train += fit.text.size(), r.n_val += g.val.text.size(), r.n_test += g.test.text.size();
    }
    if (t.train_is_val) r.n_train = 0;
    std::vector<GroupFeatures> lm;
    if (model) r.probe = run_probe(t, *model, opt, lm);
    if (model && opt.lm_tfidf) r.combined = run_lm_tfidf(t, lm, r.probe.features, opt);
    if (opt.baseline) r.baseline = run_baseline(t, opt);
    r.seconds = timer.seconds();
    if (on_task) on_task(r);
    out.push_back(std::move(r));
  }
  return out;
}

namespace {

struct Published {
  const char* name;
  double score[7];
  double all;
};
// TweetEval paper (Barbieri et al., Findings of EMNLP 2020), test sets, the benchmark's metrics.
const Published kPublished[] = {
    {"SVM", {29.3, 64.7, 36.7, 61.7, 52.3, 62.9, 67.3}, 53.5},
    {"FastText", {25.8, 65.2, 50.6, 63.1, 73.4, 62.9, 65.4}, 58.1},
    {"RoBERTa-base", {30.9, 76.1, 46.6, 59.7, 79.5, 71.3, 68.0}, 61.3},
    {"BERTweet", {33.4, 79.3, 56.4, 82.1, 79.5, 73.4, 71.2}, 67.9},
};

// Mean over the tasks run (the benchmark's ALL when all seven ran).
double mean_score(const std::vector<TaskResult>& rs, ProbeResult TaskResult::*which) {
  double s = 0;
  for (const TaskResult& r : rs) s += (r.*which).test;
  return rs.empty() ? 0 : 100 * s / double(rs.size());
}

}  // namespace

std::string tweeteval_table(const std::vector<TaskResult>& rs, const std::string& model_name) {
  const auto& all = tweeteval_tasks();
  std::string head = strprintf("%-34s", "TweetEval (test)");
  for (const auto& t : all) head += strprintf(" %9s", t == "sentiment" ? "sentim.*" : t.c_str());
  head += strprintf(" %6s\n", "ALL");
  auto row = [&](const std::string& name, auto score_of, double allv) {
    std::string line = strprintf("%-34s", name.c_str());
    for (const auto& t : all) {
      auto it = std::find_if(rs.begin(), rs.end(), [&](const TaskResult& r) { return r.task == t; });
      line += it == rs.end() ? strprintf(" %9s", "-") : strprintf(" %9.1f", score_of(*it));
    }
    return line + strprintf(" %6.1f\n", allv);
  };
  std::string out = head;
  const bool have_probe = !rs.empty() && !rs[0].probe.features.empty();
  if (have_probe)
    out += row("tweetlm " + model_name + " (linear probe)", [](const TaskResult& r) { return 100 * r.probe.test; },
               mean_score(rs, &TaskResult::probe));
  if (!rs.empty() && !rs[0].combined.features.empty())
    out += row("tweetlm " + model_name + " (LM + TF-IDF probe)", [](const TaskResult& r) { return 100 * r.combined.test; },
               mean_score(rs, &TaskResult::combined));
  if (!rs.empty() && !rs[0].baseline.features.empty())
    out += row("TF-IDF + logistic regression", [](const TaskResult& r) { return 100 * r.baseline.test; },
               mean_score(rs, &TaskResult::baseline));
  for (const Published& p : kPublished) {
    std::string line = strprintf("%-34s", (std::string(p.name) + " (published)").c_str());
    for (double v : p.score) line += strprintf(" %9.1f", v);
    out += line + strprintf(" %6.1f\n", p.all);
  }
  if (rs.size() != all.size()) out += "ALL of our rows: the mean over the tasks run, not the benchmark's ALL.\n";
  if (std::any_of(rs.begin(), rs.end(), [](const TaskResult& r) { return r.train_is_val; }))
    out += "* sentiment has no train split here: trained on its val split (choices by 5-fold cross-validation).\n";
  out += "\nper task: metric | train/val/test rows | probe features, l2, val | baseline terms, l2, val | seconds\n";
  for (const TaskResult& r : rs) {
    out += strprintf("  %-9s %-19s %6zu/%5zu/%5zu", r.task.c_str(), r.metric.c_str(), r.n_train, r.n_val, r.n_test);
    if (have_probe) out += strprintf(" | %s (%zu), %g, %.1f", r.probe.features.c_str(), r.probe.n_features, r.probe.l2, 100 * r.probe.val);
    if (!r.baseline.features.empty()) out += strprintf(" | %zu, %g, %.1f", r.baseline.n_features, r.baseline.l2, 100 * r.baseline.val);
    out += strprintf(" | %.0f\n", r.seconds);
  }
  return out;
}

nlohmann::json tweeteval_json(const std::vector<TaskResult>& rs, const std::string& model_name) {
  nlohmann::ordered_json tasks = nlohmann::ordered_json::object(), base = nlohmann::ordered_json::object();
  nlohmann::ordered_json comb = nlohmann::ordered_json::object();
  nlohmann::ordered_json details = nlohmann::ordered_json::array();
  auto probe_json = [](const ProbeResult& p) {
    return nlohmann::ordered_json{{"test", 100 * p.test}, {"val", 100 * p.val}, {"features", p.features},
                                  {"n_features", p.n_features}, {"l2", p.l2}};
  };
  const bool have_probe = !rs.empty() && !rs[0].probe.features.empty();
  for (const TaskResult& r : rs) {
    if (have_probe) tasks[r.task] = 100 * r.probe.test;
    if (!r.baseline.features.empty()) base[r.task] = 100 * r.baseline.test;
    nlohmann::ordered_json d = {{"task", r.task}, {"metric", r.metric}, {"trained_on", r.train_is_val ? "val" : "train"},
                                {"rows", {{"train", r.n_train}, {"val", r.n_val}, {"test", r.n_test}}},
                                {"seconds", r.seconds}};
    if (have_probe) d["probe"] = probe_json(r.probe);
    if (!r.baseline.features.empty()) d["baseline"] = probe_json(r.baseline);
    if (!r.combined.features.empty()) d["lm_tfidf"] = probe_json(r.combined), comb[r.task] = 100 * r.combined.test;
    details.push_back(d);
  }
  nlohmann::ordered_json j = {{"model", model_name}};
  if (have_probe) j["tasks"] = tasks, j["all"] = mean_score(rs, &TaskResult::probe);
  if (!comb.empty()) j["lm_tfidf"] = {{"name", "LM + TF-IDF probe"}, {"tasks", comb}, {"all", mean_score(rs, &TaskResult::combined)}};
  if (!base.empty())
    j["baseline"] = {{"name", "TF-IDF + logistic regression"}, {"tasks", base}, {"all", mean_score(rs, &TaskResult::baseline)}};
  j["complete"] = rs.size() == tweeteval_tasks().size();
  j["details"] = details;
  nlohmann::ordered_json pub = nlohmann::ordered_json::object();
  for (const Published& p : kPublished) {
    nlohmann::ordered_json t = nlohmann::ordered_json::object();
    for (size_t k = 0; k < 7; k++) t[tweeteval_tasks()[k]] = p.score[k];
    pub[p.name] = {{"tasks", t}, {"all", p.all}};
  }
  j["published"] = pub;
  return j;
}

}  // namespace tlm::apps
