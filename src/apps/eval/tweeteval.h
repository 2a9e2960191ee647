// `tweetlm eval tweeteval`: does our model understand tweets as well as the published ones?
// For each TweetEval task (Barbieri et al. 2020) a linear probe over the model's features: the
// residual stream of a middle and the last layer, pooled by mean and by the last token (and
// both concatenated), a logistic regression (apps/classify/logreg.h) trained on the train split,
// with the features and the L2 strength chosen on val by the task's official metric, scored
// once on test. The same code trains a TF-IDF + logistic regression baseline in the same run,
// so every table has an honest floor.
//
// Sentiment has no train split here: it is trained on its val split, with the choices made by
// 5-fold cross-validation on val (its row is marked). Stance has five targets: one probe per
// target, predictions pooled for the official score.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/classify/logreg.h"
#include "infer/text_model.h"

namespace tlm::apps {

// The seven tasks in the benchmark's order.
const std::vector<std::string>& tweeteval_tasks();

struct LabeledTexts {
  std::vector<std::string> text;
  std::vector<int> label;
};

// One task, as folders of the TweetEval layout hold it: groups are stance's targets (one group
// for the other tasks).
struct TweetEvalTask {
  std::string name;
  int n_classes = 0;
  std::vector<std::string> class_names;
  bool train_is_val = false;  // no train split: trained on val (sentiment)
  struct Group {
    std::string name;
    LabeledTexts train, val, test;
  };
  std::vector<Group> groups;
};

// Reads DIR/<task>/{train,val,test}_{text,labels}.txt and mapping.txt (stance: DIR/stance/<target>/).
// Every problem (a missing file, line counts that differ, a label outside mapping.txt) is a
// UserError naming the file.
TweetEvalTask load_tweeteval_task(const std::string& dir, const std::string& task);
// One split of a task folder: DIR/<split>_text.txt and DIR/<split>_labels.txt, labels in
// [0, n_classes). Not required and both files absent: an empty split. (Brand safety reads its
// offensive and hate folders through it too.)
LabeledTexts read_tweeteval_split(const std::string& dir, const std::string& split, int n_classes, bool required);

struct TweetEvalOptions {
  std::vector<std::string> tasks;   // empty: all seven
  size_t max_train = 0;             // cap on training rows per group (0: all), for quick runs
  std::vector<double> l2_grid = {1e-4, 1e-3, 1e-2, 1e-1};             // the probe's choices
  std::vector<double> tfidf_l2_grid = {1e-5, 3e-5, 1e-4, 3e-4, 1e-3};  // the baseline's
  bool baseline = true;             // also the TF-IDF baseline
  // Also the probe over the model's features next to the TF-IDF n-grams (`--features lm+tfidf`):
  // a classifier that should never fall below its n-gram baseline.
  bool lm_tfidf = false;
  std::vector<double> lm_tfidf_l2_grid = {1e-5, 1e-4, 1e-3, 1e-2};
  int max_iter = 200;
};

struct ProbeResult {
  double test = 0, val = 0;   // official metric, as a fraction
  std::string features;       // "layer 4 mean", "tfidf", ...
  double l2 = 0;
  size_t n_features = 0;
};

struct TaskResult {
  std::string task, metric;
  bool train_is_val = false;
  size_t n_train = 0, n_val = 0, n_test = 0;
  ProbeResult probe;     // over the model's features (empty when no model)
  ProbeResult baseline;  // TF-IDF
  ProbeResult combined;  // the probe's features + TF-IDF (with lm_tfidf)
  double seconds = 0;
};

// Runs the benchmark. `model` may be null (the baseline only). `log` gets one line per finished
// task (besides the progress lines).
std::vector<TaskResult> run_tweeteval(const std::string& dir, TextModel* model, const TweetEvalOptions& opt,
                                      const std::function<void(const TaskResult&)>& on_task = {});

// The table printed beside the published rows (TweetEval paper), and the JSON of --json:
// {"tasks": {task: score}, "all": score, "baseline": {...}, "details": [...]} (scores x 100).
std::string tweeteval_table(const std::vector<TaskResult>& results, const std::string& model_name);
nlohmann::json tweeteval_json(const std::vector<TaskResult>& results, const std::string& model_name);

}  // namespace tlm::apps
