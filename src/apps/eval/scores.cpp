// Confusion-matrix metrics and the official TweetEval scores (see scores.h).
#include "apps/eval/scores.h"

#include "core/check.h"

namespace tlm::apps {

Confusion::Confusion(const std::vector<int>& truth, const std::vector<int>& pred, int n_classes)
    : K(n_classes), m(size_t(n_classes) * size_t(n_classes), 0) {
  TLM_CHECK(truth.size() == pred.size(), "%zu labels, %zu predictions", truth.size(), pred.size());
  for (size_t i = 0; i < truth.size(); i++) {
    TLM_CHECK(truth[i] >= 0 && truth[i] < K && pred[i] >= 0 && pred[i] < K, "label %d / %d out of [0, %d)", truth[i],
              pred[i], K);
    m[size_t(truth[i]) * K + pred[i]]++;
  }
}

double Confusion::precision(int k) const {
  long col = 0;
  for (int t = 0; t < K; t++) col += at(t, k);
  return col ? double(at(k, k)) / double(col) : 0.0;
}

double Confusion::recall(int k) const {
  long row = 0;
  for (int p = 0; p < K; p++) row += at(k, p);
  return row ? double(at(k, k)) / double(row) : 0.0;
}

double Confusion::f1(int k) const {
  const double p = precision(k), r = recall(k);
  return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
}

double Confusion::accuracy() const {
  long diag = 0, all = 0;
  for (int t = 0; t < K; t++)
    for (int p = 0; p < K; p++) all += at(t, p), diag += t == p ? at(t, p) : 0;
  return all ? double(diag) / double(all) : 0.0;
}

double Confusion::macro_f1() const {
  double s = 0;
  for (int k = 0; k < K; k++) s += f1(k);
  return s / K;
}

double Confusion::macro_recall() const {
  double s = 0;
  for (int k = 0; k < K; k++) s += recall(k);
  return s / K;
}

const char* tweeteval_metric_name(const std::string& task) {
  if (task == "emoji" || task == "emotion" || task == "hate" || task == "offensive") return "macro-F1";
  if (task == "irony") return "F1 (ironic)";
  if (task == "sentiment") return "macro-recall";
  if (task == "stance") return "F1 (against, favor)";
  throw user_error(task, "not a TweetEval task (emoji, emotion, hate, irony, offensive, sentiment, stance)");
}

double tweeteval_score(const std::string& task, const std::vector<int>& truth, const std::vector<int>& pred,
                       int n_classes) {
  tweeteval_metric_name(task);  // validates the name
  const Confusion c(truth, pred, n_classes);
  if (task == "irony") return c.f1(1);
  if (task == "sentiment") return c.macro_recall();
  if (task == "stance") {
    TLM_CHECK(n_classes == 3, "stance has 3 classes (none, against, favor), not %d", n_classes);
    return (c.f1(1) + c.f1(2)) / 2;
  }
  return c.macro_f1();
}

}  // namespace tlm::apps
