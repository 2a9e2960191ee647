// Classification metrics and the official score of each TweetEval task (Barbieri et al. 2020,
// and the data README of the TweetEval release): emoji, emotion, hate, offensive: macro-F1;
// irony: F1 of class 1 (ironic); sentiment: macro-recall; stance: the mean of the F1 of
// "against" (1) and "favor" (2), over all five targets pooled. Scores are fractions in [0, 1];
// tables print them x 100.
#pragma once

#include <string>
#include <vector>

namespace tlm::apps {

struct Confusion {
  int K = 0;
  std::vector<long> m;  // [true][predicted]
  Confusion(const std::vector<int>& truth, const std::vector<int>& pred, int n_classes);
  long at(int t, int p) const { return m[size_t(t) * K + p]; }
  double precision(int k) const;  // 0 when nothing was predicted k
  double recall(int k) const;     // 0 when no row is truly k
  double f1(int k) const;         // 0 when precision + recall is 0
  double accuracy() const;
  double macro_f1() const;
  double macro_recall() const;
};

// The official score of `task` ("emoji", ..., "stance"); a UserError for an unknown task.
double tweeteval_score(const std::string& task, const std::vector<int>& truth, const std::vector<int>& pred,
                       int n_classes);
const char* tweeteval_metric_name(const std::string& task);  // "macro-F1", "F1 (ironic)", ...

}  // namespace tlm::apps
