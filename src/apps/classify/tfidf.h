// TF-IDF features of tweets: the honest floor every TweetEval table is printed with (the
// classical baseline of the benchmark's paper is an SVM over such features). Words are case-
// folded runs of letters, digits, marks and '_' / '\'' (a leading '#' or '@' kept, so hashtags
// and mentions are their own terms); every other non-space, non-punctuation code point (emoji,
// symbols) is a term of its own. Terms are unigrams and bigrams seen in at least min_df training
// tweets; weights are sublinear tf (1 + ln tf) times smoothed idf ln((1 + N) / (1 + df)) + 1,
// rows L2-normalised, as scikit-learn's TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2)).
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "apps/classify/logreg.h"

namespace tlm::apps {

// The terms of one text, in order (unigrams only).
std::vector<std::string> tfidf_words(const std::string& text);

class TfidfVectorizer {
 public:
  struct Options {
    int min_df = 2;
    int max_ngram = 2;
    size_t max_features = 200000;  // most frequent terms kept
  };
  // Learns the vocabulary and idf from `texts` (the training split).
  static TfidfVectorizer fit(const std::vector<std::string>& texts, const Options& opt);
  static TfidfVectorizer fit(const std::vector<std::string>& texts) { return fit(texts, Options{}); }
  FeatureMatrix transform(const std::vector<std::string>& texts) const;  // sparse rows
  size_t size() const { return idf_.size(); }

 private:
  std::vector<std::string> terms(const std::string& text) const;  // unigrams + n-grams
  Options opt_;
  std::unordered_map<std::string, uint32_t> vocab_;
  std::vector<float> idf_;
};

}  // namespace tlm::apps
