// Brand safety: is a tweet offensive or hateful? Two linear probes over the language model's
// features, trained on TweetEval's `offensive` and `hate` tasks (both 0/1), so an advertiser
// can keep ads away from tweets they would not want to appear next to.
//
// Each probe is chosen on the val split, never on test: the feature variant (the last layer's
// mean, its last token, both, or a middle layer's mean), the L2 strength of the logistic
// regression (apps/classify/logreg.h, balanced class weights) and the decision threshold that
// maximises val macro-F1. Balanced weights make the raw probabilities over-estimate the rare
// class, so each probe also carries a Platt calibration fitted on val (p = sigmoid(a * logit(q)
// + b), q the probe's probability): its output is a probability at the data's own rates, and
// the risk of a tweet is the largest calibrated probability of the probes. The labels use the
// per-probe thresholds (chosen for F1, in calibrated units). Test scores are measured once,
// with everything already fixed, and stored with the classifier.
//
// The classifier is one JSON file (atomic write) and is immutable after loading, so one loaded
// classifier serves any number of threads.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/classify/logreg.h"
#include "apps/eval/tweeteval.h"
#include "infer/text_model.h"

namespace tlm::apps {

// Which features a probe reads: one layer's mean and/or last-token row (TextModel::features).
struct FeatureVariant {
  std::string name;
  int layer = 0;  // 1..L
  bool mean = true, last = false;
};
// The variants tried for a model of `n_layers` layers (a middle layer only when L > 1).
std::vector<FeatureVariant> safety_variants(int n_layers);

struct ProbeScores {
  double macro_f1 = 0, f1_positive = 0, accuracy = 0;
  long n = 0;
};

struct SafetyProbe {
  std::string task;  // "offensive" | "hate"; the label it gives for class 1
  FeatureVariant variant;
  double l2 = 0;
  LogisticRegression model;
  double calib_a = 1, calib_b = 0;  // Platt scaling on val
  double threshold = 0.5;           // label when the calibrated probability >= threshold
  ProbeScores val, test;
  nlohmann::json selection;  // every (variant, l2) tried and its val macro-F1
};

struct SafetyVerdict {
  double risk = 0;                    // max calibrated probability over the probes, in [0, 1]
  std::vector<std::pair<std::string, double>> probability;  // per probe: task, calibrated probability
  std::vector<std::string> labels;    // probes over their threshold; {"safe"} when none
  bool safe() const { return labels.size() == 1 && labels[0] == "safe"; }
};

class SafetyClassifier {
 public:
  std::vector<SafetyProbe> probes;
  int dim = 0;       // the model's width the features came from
  int n_layers = 0;  // the model's depth
  std::string model; // the model it was trained with (information only)

  // Verdicts for texts (normalised as training data, ad_text.h model_text). Throws a UserError
  // naming `what` if the model does not fit the classifier (other width or too few layers).
  std::vector<SafetyVerdict> classify(TextModel& model, const std::vector<std::string>& texts,
                                      const std::string& what = "classifier") const;
  std::vector<int> layers() const;  // the layers any probe reads, ascending

  nlohmann::json to_json() const;
  static SafetyClassifier from_json(const nlohmann::json& j, const std::string& what);
  void save(const std::string& path) const;  // atomic
  static SafetyClassifier load(const std::string& path);
};

// A labelled split: texts and 0/1 labels.
using BinarySplit = LabeledTexts;  // labels 0 and 1
struct SafetyTask {
  std::string name;
  BinarySplit train, val, test;  // test may be empty (no test score then)
};

// TweetEval's DIR/<task>/{train,val,test}_{text,labels}.txt; UserError naming the file that is
// missing, has a label other than 0/1, or a line count that differs from its texts'.
SafetyTask load_safety_task(const std::string& tweeteval_dir, const std::string& task);

struct SafetyTrainOptions {
  std::vector<double> l2_grid = {1e-4, 1e-3, 1e-2, 1e-1};
  int max_iter = 300;
  size_t max_train = 0;  // 0: all; otherwise the first max_train training tweets (quick runs)
  int batch = 256;       // texts per features() call (progress granularity)
};

// Trains one probe per task (the features of all variants are computed once per text).
SafetyClassifier train_safety(TextModel& model, const std::vector<SafetyTask>& tasks, const SafetyTrainOptions& opt,
                              const std::string& model_name = "");

// Published TweetEval test scores of RoBERTa-base (macro-F1 x 100), for the report.
double roberta_base_score(const std::string& task);

}  // namespace tlm::apps
