// Multinomial logistic regression with L2 regularisation, trained by us (L-BFGS on the full
// batch: the objective is smooth and convex, so a few hundred iterations reach the optimum and
// the result does not depend on batch order or a learning rate). It is the classifier of the
// TweetEval linear probe, the TF-IDF baseline and brand safety (src/apps).
//
// Features are a FeatureMatrix: dense rows (model features, z-scored with statistics of the
// training rows, stored in the model so predictions standardise the same way) or sparse CSR
// rows (TF-IDF, used as they are). The objective is the class-weighted mean cross-entropy plus
// l2/2 * |W|^2 (biases are not penalised); class weights n / (K * n_k) ("balanced", as
// scikit-learn) make rare classes count as much as common ones.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tlm::apps {

struct FeatureMatrix {
  size_t rows = 0, cols = 0;
  bool sparse = false;
  std::vector<float> dense;       // dense: rows x cols, row-major
  std::vector<uint64_t> indptr;   // sparse (CSR): rows + 1 offsets into indices/values
  std::vector<uint32_t> indices;  // column of each stored value (sorted within a row)
  std::vector<float> values;

  static FeatureMatrix from_rows(const std::vector<std::vector<float>>& rows);  // dense
  const float* row(size_t i) const { return dense.data() + i * cols; }          // dense only
  FeatureMatrix select_rows(const std::vector<size_t>& which) const;             // dense or sparse
};

struct LogRegOptions {
  double l2 = 1e-3;           // L2 strength (per the mean loss)
  int max_iter = 300;         // L-BFGS iterations
  double tol = 1e-6;          // stop when the gradient's max |g| falls below tol
  bool balanced = true;       // class weights n / (K * n_k)
  bool standardize = true;    // dense features: z-score with the training statistics
};

class LogisticRegression {
 public:
  // Trains on X (rows) with labels y in [0, n_classes). Throws a UserError on empty input or a
  // label out of range.
  static LogisticRegression train(const FeatureMatrix& X, const std::vector<int>& y, int n_classes,
                                  const LogRegOptions& opt = {});

  int n_classes() const { return K_; }
  size_t n_features() const { return D_; }
  // Class probabilities of each row: [X.rows, K], row-major.
  std::vector<float> predict_proba(const FeatureMatrix& X) const;
  std::vector<int> predict(const FeatureMatrix& X) const;  // argmax (lowest class on ties)
  double final_loss() const { return loss_; }              // training objective at the end
  int iterations() const { return iters_; }

  // Saved as JSON (weights as float arrays; small: K x D). save() writes atomically; load()
  // throws a UserError naming the file when it is missing or malformed.
  nlohmann::json to_json() const;
  static LogisticRegression from_json(const nlohmann::json& j, const std::string& what);
  void save(const std::string& path) const;
  static LogisticRegression load(const std::string& path);

 private:
  int K_ = 0;
  size_t D_ = 0;
  std::vector<float> W_;            // [D, K]
  std::vector<float> b_;            // [K]
  std::vector<float> mean_, scale_; // dense standardisation (empty: none)
  double loss_ = 0;
  int iters_ = 0;
};

}  // namespace tlm::apps
