// Sampler tests: each stage of the chain on hand-made distributions whose surviving sets are
// known, the repetition-penalty arithmetic, determinism by seed and stream, and the sampling
// frequencies against the exact softmax (chi-square over 20k draws).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

#include "core/check.h"
#include "infer/sampler.h"
#include "infer/text_stream.h"

namespace tlm {
namespace {

using Candidates = std::vector<Sampler::Candidate>;

Candidates candidates(const std::vector<float>& logits) {
  Candidates c;
  for (size_t i = 0; i < logits.size(); i++) c.push_back({logits[i], int32_t(i)});
  return c;
}

std::set<int32_t> ids(const Candidates& c) {
  std::set<int32_t> s;
  for (const auto& x : c) s.insert(x.id);
  return s;
}

// Logits whose softmax is exactly `probs` (up to float rounding).
std::vector<float> logits_of(const std::vector<double>& probs) {
  std::vector<float> l;
  for (double p : probs) l.push_back(float(std::log(p)));
  return l;
}

SamplerOptions no_filters(float temperature) {
  SamplerOptions o;
  o.temperature = temperature, o.top_k = 0, o.top_p = 1.0f, o.min_p = 0.0f, o.repeat_penalty = 1.0f;
  return o;
}

TEST(Sampler, GreedyIsArgmaxLowestIdOnTies) {
  std::vector<float> l = {0.1f, 2.0f, -1.0f, 2.0f, 1.9f};
  SamplerOptions o;  // default filters on: greedy ignores them
  o.temperature = 0.0f;
  Sampler s(o, int(l.size()));
  for (int i = 0; i < 5; i++) EXPECT_EQ(s.sample(l.data(), {}), 1);
  EXPECT_EQ(s.rng().position(), 0u) << "greedy must not draw random numbers";
  EXPECT_EQ(argmax(l.data(), 5), 1);
}

TEST(Sampler, OnlySamplesInsideTheVocabulary) {
  // Padding rows beyond the tokenizer's vocabulary have the largest logits here.
  std::vector<float> l = {0.0f, 1.0f, 0.5f, 9.0f, 9.0f};
  SamplerOptions o = no_filters(0.0f);
  EXPECT_EQ(Sampler(o, 3).sample(l.data(), {}), 1);
  o.temperature = 1.0f;
  Sampler s(o, 3);
  for (int i = 0; i < 200; i++) EXPECT_LT(s.sample(l.data(), {}), 3);
}

TEST(Sampler, TopKOneIsGreedy) {
  std::vector<float> l = {0.3f, -0.2f, 1.5f, 1.4f, 0.0f, 1.5f};
  SamplerOptions o = no_filters(1.5f);
  o.top_k = 1;
  Sampler s(o, int(l.size()));
  for (int i = 0; i < 100; i++) EXPECT_EQ(s.sample(l.data(), {}), 2);
}

TEST(Sampler, TopKKeepsTheKBestSorted) {
  Candidates c = candidates({0.5f, 3.0f, -1.0f, 2.0f, 2.0f, 1.0f});
  Sampler::apply_top_k(c, 3);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].id, 1);
  EXPECT_EQ(c[1].id, 3);  // tie with 4: the lower id first
  EXPECT_EQ(c[2].id, 4);
  Candidates all = candidates({0.5f, 3.0f});
  Sampler::apply_top_k(all, 0);
  EXPECT_EQ(all.size(), 2u);
  Sampler::apply_top_k(all, 10);
  EXPECT_EQ(all.size(), 2u);
}

TEST(Sampler, TopPKeepsTheSmallestSetReachingP) {
  // probabilities 0.5, 0.25, 0.15, 0.1 (given out of order)
  std::vector<float> l = logits_of({0.15, 0.5, 0.1, 0.25});
  auto top_p = [&](float p) {
    Candidates c = candidates(l);
    Sampler::apply_top_p(c, p);
    return ids(c);
  };
  EXPECT_EQ(top_p(0.4f), (std::set<int32_t>{1}));
  EXPECT_EQ(top_p(0.5f - 1e-4f), (std::set<int32_t>{1}));
  EXPECT_EQ(top_p(0.6f), (std::set<int32_t>{1, 3}));
  EXPECT_EQ(top_p(0.8f), (std::set<int32_t>{1, 3, 0}));
  EXPECT_EQ(top_p(0.95f), (std::set<int32_t>{0, 1, 2, 3}));
  EXPECT_EQ(top_p(1.0f), (std::set<int32_t>{0, 1, 2, 3}));
  EXPECT_EQ(top_p(0.0f), (std::set<int32_t>{1}));  // always at least one token
}

TEST(Sampler, MinPKeepsTokensAboveAFractionOfTheBest) {
  // probabilities 0.4, 0.3, 0.2, 0.06, 0.04 (shuffled): the cut is min_p * 0.4, e.g. 0.196 for
  // 0.49 (0.4 0.3 0.2 survive), 0.24 for 0.6 (0.4 0.3), 0.056 for 0.14 (all but 0.04). Cuts are
  // kept away from the probabilities so float rounding of the logits cannot decide.
  std::vector<float> l = logits_of({0.06, 0.4, 0.2, 0.04, 0.3});
  auto min_p = [&](float m) {
    Candidates c = candidates(l);
    Sampler::apply_min_p(c, m);
    return ids(c);
  };
  EXPECT_EQ(min_p(0.49f), (std::set<int32_t>{1, 4, 2}));
  EXPECT_EQ(min_p(0.6f), (std::set<int32_t>{1, 4}));
  EXPECT_EQ(min_p(0.14f), (std::set<int32_t>{0, 1, 2, 4}));
  EXPECT_EQ(min_p(0.09f), (std::set<int32_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(min_p(1.0f), (std::set<int32_t>{1}));
  EXPECT_EQ(min_p(0.0f).size(), 5u);
}

TEST(Sampler, RepeatPenaltyDividesPositiveMultipliesNegativeOnce) {
  std::vector<float> l = {2.0f, -1.0f, 0.5f, 3.0f, -2.0f, 0.0f};
  std::vector<uint8_t> seen(l.size(), 0);
  // Window of the last 4: {3, 1, 1, 0}; token 4 is outside the window.
  std::vector<int32_t> history = {4, 3, 1, 1, 0};
  Sampler::apply_repeat_penalty(l.data(), int(l.size()), history, 2.0f, 4, seen);
  EXPECT_FLOAT_EQ(l[0], 1.0f);
  EXPECT_FLOAT_EQ(l[1], -2.0f);  // twice in the window, penalised once
  EXPECT_FLOAT_EQ(l[2], 0.5f);
  EXPECT_FLOAT_EQ(l[3], 1.5f);
  EXPECT_FLOAT_EQ(l[4], -2.0f);
  EXPECT_FLOAT_EQ(l[5], 0.0f);
  EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](uint8_t b) { return b == 0; }));
  // -1: the whole history; 0: off.
  std::vector<float> m = {2.0f, -1.0f, 0.5f, 3.0f, -2.0f, 0.0f};
  Sampler::apply_repeat_penalty(m.data(), int(m.size()), history, 2.0f, 0, seen);
  EXPECT_FLOAT_EQ(m[4], -2.0f);
  Sampler::apply_repeat_penalty(m.data(), int(m.size()), history, 2.0f, -1, seen);
  EXPECT_FLOAT_EQ(m[4], -4.0f);
}

TEST(Sampler, RepeatPenaltyChangesTheGreedyChoice) {
  std::vector<float> l = {1.0f, 1.5f, 0.2f};
  SamplerOptions o = no_filters(0.0f);
  o.repeat_penalty = 2.0f;
  o.repeat_last_n = 8;
  Sampler s(o, 3);
  std::vector<int32_t> history = {1};
  EXPECT_EQ(s.sample(l.data(), history), 0);  // 1.5 / 2 = 0.75 < 1.0
  EXPECT_EQ(s.sample(l.data(), {}), 1);
  EXPECT_FLOAT_EQ(l[1], 1.5f) << "the caller's logits are not modified";
}

TEST(Sampler, SameSeedAndStreamSameTokens) {
  std::vector<float> l(50);
  for (size_t i = 0; i < l.size(); i++) l[i] = float(std::sin(double(i) * 1.7));
  SamplerOptions o;
  o.temperature = 1.0f, o.top_k = 0, o.top_p = 1.0f, o.min_p = 0.0f, o.seed = 1234;
  auto run = [&](uint64_t seed, uint64_t stream) {
    SamplerOptions oo = o;
    oo.seed = seed;
    Sampler s(oo, int(l.size()), stream);
    std::vector<int32_t> out;
    for (int i = 0; i < 64; i++) out.push_back(s.sample(l.data(), out));
    return out;
  };
  EXPECT_EQ(run(1234, 0), run(1234, 0));
  EXPECT_EQ(run(1234, 3), run(1234, 3));
  EXPECT_NE(run(1234, 0), run(1234, 1));
  EXPECT_NE(run(1234, 0), run(1235, 0));
  // set_stream restarts exactly as a new sampler would.
  Sampler s(o, int(l.size()), 7);
  for (int i = 0; i < 10; i++) s.sample(l.data(), {});
  s.set_stream(3);
  std::vector<int32_t> again;
  for (int i = 0; i < 64; i++) again.push_back(s.sample(l.data(), again));
  EXPECT_EQ(again, run(1234, 3));
}

// Pearson's chi-square of counts against expected probabilities.
double chi_square(const std::vector<int>& counts, const std::vector<double>& p, int n) {
  double x2 = 0;
  for (size_t i = 0; i < counts.size(); i++) {
    double e = p[i] * n;
    x2 += (counts[i] - e) * (counts[i] - e) / e;
  }
  return x2;
}

TEST(Sampler, FrequenciesFollowTheTemperedSoftmax) {
  const std::vector<double> probs = {0.4, 0.25, 0.15, 0.1, 0.06, 0.04};
  const std::vector<float> l = logits_of(probs);
  const int n = 20000;
  for (float temp : {1.0f, 0.5f, 2.0f}) {
    // Expected: softmax(log p / T) = p^(1/T), normalised.
    std::vector<double> expect(probs.size());
    double z = 0;
    for (size_t i = 0; i < probs.size(); i++) z += expect[i] = std::pow(probs[i], 1.0 / temp);
    for (double& e : expect) e /= z;
    Sampler s(no_filters(temp), int(l.size()), 0);
    std::vector<int> counts(probs.size(), 0);
    for (int i = 0; i < n; i++) counts[s.sample(l.data(), {})]++;
    // 5 degrees of freedom: P(chi2 > 30) ~ 1.5e-5 for a correct sampler; a wrong temperature
    // or an off-by-one in the cumulative sum gives hundreds. The seed is fixed, so this is not
    // flaky: it fails only if the sampler changes.
    EXPECT_LT(chi_square(counts, expect, n), 30.0) << "temperature " << temp;
  }
}

TEST(Sampler, FrequenciesAfterFiltersFollowTheRenormalisedSurvivors) {
  // top-k 4 then top-p 0.8 over {0.4, 0.25, 0.15, 0.1}: cumulative 0.4/0.9 = 0.44, 0.65/0.9 =
  // 0.72, 0.8/0.9 = 0.89 >= 0.8: the three best survive with 0.4 : 0.25 : 0.15.
  const std::vector<double> probs = {0.4, 0.25, 0.15, 0.1, 0.06, 0.04};
  const std::vector<float> l = logits_of(probs);
  SamplerOptions o = no_filters(1.0f);
  o.top_k = 4, o.top_p = 0.8f, o.seed = 99;
  Sampler s(o, int(l.size()));
  const int n = 20000;
  std::vector<int> counts(3, 0);
  for (int i = 0; i < n; i++) {
    int32_t t = s.sample(l.data(), {});
    ASSERT_LT(t, 3) << "a filtered token was sampled";
    counts[t]++;
  }
  EXPECT_LT(chi_square(counts, {0.5, 0.3125, 0.1875}, n), 25.0);  // 2 dof: P(> 25) ~ 4e-6
}

TEST(Sampler, DrawIsTheInverseCdf) {
  Candidates c = candidates(logits_of({0.5, 0.3, 0.2}));
  EXPECT_EQ(Sampler::draw(c, 1.0f, 0.0f), 0);
  EXPECT_EQ(Sampler::draw(c, 1.0f, 0.49f), 0);
  EXPECT_EQ(Sampler::draw(c, 1.0f, 0.51f), 1);
  EXPECT_EQ(Sampler::draw(c, 1.0f, 0.79f), 1);
  EXPECT_EQ(Sampler::draw(c, 1.0f, 0.81f), 2);
  EXPECT_EQ(Sampler::draw(c, 1.0f, 0.99999994f), 2);
}

TEST(Sampler, BadOptionsAreUserErrors) {
  SamplerOptions o;
  o.temperature = -1.0f;
  EXPECT_THROW(o.validate(), UserError);
  o = SamplerOptions{};
  o.top_p = 1.5f;
  EXPECT_THROW(o.validate(), UserError);
  o = SamplerOptions{};
  o.repeat_penalty = 0.0f;
  EXPECT_THROW(o.validate(), UserError);
  o = SamplerOptions{};
  o.repeat_last_n = -2;
  EXPECT_THROW(o.validate(), UserError);
  EXPECT_NO_THROW(SamplerOptions{}.validate());
}

TEST(TextStream, HoldsBackUnfinishedCharacters) {
  EXPECT_EQ(utf8_complete_prefix(""), 0u);
  EXPECT_EQ(utf8_complete_prefix("abc"), 3u);
  EXPECT_EQ(utf8_complete_prefix("a\xC3"), 1u);              // é started
  EXPECT_EQ(utf8_complete_prefix("a\xC3\xA9"), 3u);          // é complete
  EXPECT_EQ(utf8_complete_prefix("a\xF0\x9F\x98"), 1u);      // 😀 missing its last byte
  EXPECT_EQ(utf8_complete_prefix("a\xF0\x9F\x98\x80"), 5u);  // complete
  EXPECT_EQ(utf8_complete_prefix("a\x80\x80"), 3u);          // stray continuations: never completable
  EXPECT_EQ(utf8_complete_prefix("a\xFF"), 2u);              // invalid lead: passed through
  EXPECT_EQ(utf8_complete_prefix("\xE2\x82"), 0u);           // € missing a byte
}

}  // namespace
}  // namespace tlm
