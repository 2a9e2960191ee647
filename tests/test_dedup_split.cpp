// Unit tests for data/dedup (HashSet64, MinHash/LSH parameters, band keys, near-duplicate
// detection rates over random pairs) and data/split (hash split fractions, stability, parsing).
// Random inputs come from fixed seeds, so every run sees the same pairs; the tolerances below
// say how far a rate may sit from the MinHash theory before the test calls it a bug.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/check.h"
#include "data/dedup.h"
#include "data/split.h"

namespace tlm {
namespace {

TEST(HashSet64, InsertContainsAndKeyZero) {
  HashSet64 s(16);
  EXPECT_EQ(s.size(), 0u);
  EXPECT_FALSE(s.contains(0));
  EXPECT_TRUE(s.insert(0));
  EXPECT_FALSE(s.insert(0));
  EXPECT_TRUE(s.contains(0));
  EXPECT_EQ(s.size(), 1u);
  EXPECT_TRUE(s.insert(42));
  EXPECT_FALSE(s.insert(42));
  EXPECT_TRUE(s.contains(42));
  EXPECT_FALSE(s.contains(43));
  EXPECT_TRUE(s.insert(~0ULL));
  EXPECT_TRUE(s.contains(~0ULL));
  EXPECT_EQ(s.size(), 3u);
}

TEST(HashSet64, GrowsAndKeepsEveryKey) {
  HashSet64 s(1);  // starts at the minimum and grows many times
  std::mt19937_64 rng(99);
  std::vector<uint64_t> keys;
  std::set<uint64_t> distinct;
  for (int i = 0; i < 100000; ++i) {
    uint64_t k = rng() | 1;  // odd keys are inserted, even keys are probed as absent
    keys.push_back(k);
    distinct.insert(k);
  }
  // Keys that differ only in high bits stress the probe sequence.
  for (uint64_t i = 1; i <= 1000; ++i) {
    keys.push_back((i << 40) | 1);
    distinct.insert((i << 40) | 1);
  }
  size_t previous_memory = s.memory_bytes();
  for (uint64_t k : keys) EXPECT_EQ(s.insert(k), true);
  EXPECT_EQ(s.size(), distinct.size());
  EXPECT_GT(s.memory_bytes(), previous_memory);
  // Load factor stays at or below three quarters, and the table is a power of two.
  size_t slots = s.memory_bytes() / sizeof(uint64_t);
  EXPECT_GE(slots * 3, 4 * s.size());
  EXPECT_EQ(slots & (slots - 1), 0u);
  for (uint64_t k : keys) ASSERT_TRUE(s.contains(k));
  for (uint64_t k : keys) ASSERT_FALSE(s.insert(k));
  int false_hits = 0;
  for (int i = 0; i < 100000; ++i) false_hits += s.contains(rng() & ~1ULL);
  EXPECT_EQ(false_hits, 0);
  EXPECT_FALSE(s.contains(0));
  EXPECT_TRUE(s.insert(0));
  EXPECT_EQ(s.size(), distinct.size() + 1);
}

TEST(MinHashParams, ForThresholdPointEight) {
  MinHashParams p = MinHashParams::for_threshold(0.8);
  EXPECT_DOUBLE_EQ(p.threshold, 0.8);
  EXPECT_GE(p.bands, 1);
  EXPECT_LE(p.bands, 8);
  EXPECT_GE(p.rows, 1);
  EXPECT_LE(p.bands * p.rows, 64);
  EXPECT_GT(p.candidate_probability(0.9), 0.8) << p.bands << "x" << p.rows;
  EXPECT_LT(p.candidate_probability(0.5), 0.2) << p.bands << "x" << p.rows;
}

TEST(MinHashParams, CandidateProbabilityShape) {
  for (double t : {0.5, 0.7, 0.8, 0.9}) {
    MinHashParams p = MinHashParams::for_threshold(t);
    EXPECT_DOUBLE_EQ(p.candidate_probability(0.0), 0.0);
    EXPECT_DOUBLE_EQ(p.candidate_probability(1.0), 1.0);
    double prev = 0;
    for (int i = 1; i <= 100; ++i) {
      double pr = p.candidate_probability(i / 100.0);
      EXPECT_GE(pr, prev);
      prev = pr;
    }
    // The S-curve is steep around t: far below it pairs are rarely candidates, far above usually.
    EXPECT_LT(p.candidate_probability(t - 0.3), 0.2) << t;
    EXPECT_GT(p.candidate_probability(std::min(1.0, t + 0.15)), 0.6) << t;
  }
  MinHashParams fixed{4, 8, 0.8};
  EXPECT_NEAR(fixed.candidate_probability(0.9), 1 - std::pow(1 - std::pow(0.9, 8), 4), 1e-12);
}

TEST(MinHashParams, RespectsLimitsAndRejectsBadThresholds) {
  MinHashParams p = MinHashParams::for_threshold(0.8, 16, 2);
  EXPECT_LE(p.bands, 2);
  EXPECT_LE(p.bands * p.rows, 16);
  EXPECT_THROW(MinHashParams::for_threshold(0.0), InternalError);
  EXPECT_THROW(MinHashParams::for_threshold(1.0), InternalError);
}

TEST(ShingleJaccard, KnownValues) {
  EXPECT_DOUBLE_EQ(shingle_jaccard("hello world", "hello world"), 1.0);
  EXPECT_DOUBLE_EQ(shingle_jaccard("abcdefgh", "stuvwxyz"), 0.0);
  EXPECT_DOUBLE_EQ(shingle_jaccard("abc", "abc"), 1.0);  // shorter than a shingle: the whole text
  EXPECT_DOUBLE_EQ(shingle_jaccard("abc", "abd"), 0.0);
  EXPECT_DOUBLE_EQ(shingle_jaccard("", ""), 1.0);
  // "abcdef" has {abcde, bcdef}; "abcdefg" adds cdefg: 2 of 3.
  EXPECT_NEAR(shingle_jaccard("abcdef", "abcdefg"), 2.0 / 3.0, 1e-12);
  // Shingles are code points, not bytes: 5 emoji are one shingle, 6 are two.
  EXPECT_NEAR(shingle_jaccard("😀😀😀😀😀", "😀😀😀😀😀😀"), 1.0, 1e-12);
  EXPECT_NEAR(shingle_jaccard("😀😁😂🤣😃", "😀😁😂🤣😃😄"), 0.5, 1e-12);
}

TEST(MinHashBandKeys, DeterministicAndTextSensitive) {
  MinHashParams p = MinHashParams::for_threshold(0.8);
  std::vector<uint64_t> a(p.bands), b(p.bands), c(p.bands);
  minhash_band_keys("the quick brown fox jumps over the lazy dog", p, a.data());
  minhash_band_keys("the quick brown fox jumps over the lazy dog", p, b.data());
  minhash_band_keys("a completely different sentence about cats", p, c.data());
  EXPECT_EQ(a, b);
  for (int i = 0; i < p.bands; ++i) EXPECT_NE(a[i], c[i]) << "band " << i;
  std::set<uint64_t> distinct(a.begin(), a.end());
  EXPECT_EQ(distinct.size(), a.size()) << "bands of one text must differ from each other";
}

// Random tweet-length texts from a random vocabulary.
class TextGen {
 public:
  explicit TextGen(uint64_t seed) : rng_(seed) {
    for (int i = 0; i < 3000; ++i) {
      std::string w;
      int len = 3 + static_cast<int>(rng_() % 6);
      for (int k = 0; k < len; ++k) w.push_back(static_cast<char>('a' + rng_() % 26));
      vocab_.push_back(w);
    }
  }
  std::vector<std::string> words(int n) {
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) out.push_back(vocab_[rng_() % vocab_.size()]);
    return out;
  }
  static std::string join(const std::vector<std::string>& w) {
    std::string s;
    for (const auto& x : w) s += (s.empty() ? "" : " ") + x;
    return s;
  }
  // An edited copy: a few characters, a suffix, or k replaced words.
  std::string variant(std::vector<std::string> w) {
    switch (rng_() % 6) {
      case 0: return join(w) + "!!";
      case 1: w[rng_() % w.size()][0] = 'Z'; return join(w);
      default: {
        int k = 1 << (rng_() % 4);  // 1, 2, 4 or 8 words
        for (int i = 0; i < k; ++i) w[rng_() % w.size()] = vocab_[rng_() % vocab_.size()];
        return join(w);
      }
    }
  }
  uint64_t next() { return rng_(); }

 private:
  std::mt19937_64 rng_;
  std::vector<std::string> vocab_;
};

bool detected(const MinHashParams& p, const std::string& a, const std::string& b) {
  NearDupIndex idx(p);
  std::vector<uint64_t> ka(p.bands), kb(p.bands);
  minhash_band_keys(a, p, ka.data());
  minhash_band_keys(b, p, kb.data());
  EXPECT_FALSE(idx.check_and_insert(ka.data()));
  return idx.check_and_insert(kb.data());
}

// 1000 edited pairs and 1000 unrelated pairs at threshold 0.8. Per similarity bin the observed
// detection rate must be within 0.08 of the mean candidate_probability (about 3 standard
// deviations for the bin sizes here); near-identical pairs are found, unrelated ones are not.
TEST(NearDup, DetectionRatesFollowTheory) {
  MinHashParams p = MinHashParams::for_threshold(0.8);
  TextGen gen(2024);
  struct Bin {
    double lo, hi;
    int n = 0, hits = 0;
    double predicted = 0;
  } bins[] = {{0.0, 0.5}, {0.5, 0.8}, {0.8, 0.9}, {0.9, 0.95}, {0.95, 1.01}};
  for (int i = 0; i < 1000; ++i) {
    auto w = gen.words(20 + static_cast<int>(gen.next() % 15));
    std::string a = TextGen::join(w), b = gen.variant(w);
    double j = shingle_jaccard(a, b);
    bool hit = detected(p, a, b);
    for (auto& bin : bins)
      if (j >= bin.lo && j < bin.hi) {
        bin.n++;
        bin.hits += hit;
        bin.predicted += p.candidate_probability(j);
      }
  }
  int checked = 0;
  for (const auto& bin : bins) {
    if (bin.n < 50) continue;  // too few pairs for a rate
    ++checked;
    double rate = double(bin.hits) / bin.n, predicted = bin.predicted / bin.n;
    EXPECT_NEAR(rate, predicted, 0.08) << "Jaccard [" << bin.lo << ", " << bin.hi << "): " << bin.n << " pairs";
  }
  EXPECT_GE(checked, 3);
  const auto& top = bins[4];
  ASSERT_GE(top.n, 100);
  EXPECT_GE(double(top.hits) / top.n, 0.9) << "pairs with Jaccard >= 0.95 must nearly all be found";
  const auto& low = bins[0];
  ASSERT_GE(low.n, 50);
  EXPECT_LE(double(low.hits) / low.n, 0.05) << "pairs with Jaccard < 0.5 must rarely be flagged";

  int false_positives = 0;
  for (int i = 0; i < 1000; ++i) {
    std::string a = TextGen::join(gen.words(25)), b = TextGen::join(gen.words(25));
    false_positives += detected(p, a, b);
  }
  EXPECT_LE(false_positives, 10) << "unrelated texts flagged as near-duplicates";
}

TEST(NearDup, IndexRemembersEveryKeptText) {
  MinHashParams p = MinHashParams::for_threshold(0.8);
  NearDupIndex idx(p);
  TextGen gen(7);
  std::vector<std::string> texts;
  for (int i = 0; i < 500; ++i) texts.push_back(TextGen::join(gen.words(25)));
  std::vector<uint64_t> k(p.bands);
  int flagged = 0;
  for (const auto& t : texts) {
    minhash_band_keys(t, p, k.data());
    flagged += idx.check_and_insert(k.data());
  }
  EXPECT_LE(flagged, 5);
  for (const auto& t : texts) {
    minhash_band_keys(t, p, k.data());
    EXPECT_TRUE(idx.check_and_insert(k.data())) << "an exact repeat is always a near-duplicate";
  }
  EXPECT_GT(idx.memory_bytes(), 0u);
}

TEST(AssignSplit, FractionsOnManyKeys) {
  const std::pair<SplitFractions, double> cases[] = {
      {SplitFractions{}, 0.003},                 // 0.98 / 0.01 / 0.01: sd ~0.0003 per fraction
      {SplitFractions{0.8, 0.1, 0.1}, 0.008},    // sd ~0.0013
      {SplitFractions{0.5, 0.25, 0.25}, 0.01}};  // sd ~0.0016
  for (const auto& [f, tol] : cases) {
    int counts[3] = {};
    const int n = 100000;
    for (int i = 0; i < n; ++i) counts[static_cast<int>(assign_split(std::to_string(11000000000LL + i), f))]++;
    EXPECT_NEAR(counts[0] / double(n), f.train, tol);
    EXPECT_NEAR(counts[1] / double(n), f.val, tol);
    EXPECT_NEAR(counts[2] / double(n), f.test, tol);
  }
}

TEST(AssignSplit, StableAndMonotone) {
  SplitFractions f{0.5, 0.25, 0.25}, more_train{0.9, 0.05, 0.05};
  for (int i = 0; i < 10000; ++i) {
    std::string key = "tweet-" + std::to_string(i);
    Split s = assign_split(key, f);
    ASSERT_EQ(assign_split(key, f), s);
    // Growing the train fraction never moves a train tweet out of train.
    if (s == Split::train) {
      ASSERT_EQ(assign_split(key, more_train), Split::train);
    }
  }
  for (int i = 0; i < 1000; ++i) {
    std::string key = std::to_string(i);
    EXPECT_EQ(assign_split(key, {1, 0, 0}), Split::train);
    EXPECT_EQ(assign_split(key, {0, 1, 0}), Split::val);
    EXPECT_EQ(assign_split(key, {0, 0, 1}), Split::test);
  }
}

// Splits are a fixed function of the key across versions: a tweet in test today must not land
// in train after an upgrade. These assignments were recorded from the implementation.
TEST(AssignSplit, GoldenAssignments) {
  SplitFractions f{0.5, 0.25, 0.25};
  std::string got;
  for (int i = 0; i < 32; ++i) got += "tvx"[static_cast<int>(assign_split("1050118621198921" + std::to_string(700 + i), f))];
  EXPECT_EQ(got, "txtvxvtvtxvtttttttvvvtttxtvttvtx");
}

TEST(SplitName, Names) {
  EXPECT_STREQ(split_name(Split::train), "train");
  EXPECT_STREQ(split_name(Split::val), "val");
  EXPECT_STREQ(split_name(Split::test), "test");
}

TEST(SplitFractions, Parse) {
  SplitFractions f = SplitFractions::parse("0.98,0.01,0.01");
  EXPECT_DOUBLE_EQ(f.train, 0.98);
  EXPECT_DOUBLE_EQ(f.val, 0.01);
  EXPECT_DOUBLE_EQ(f.test, 0.01);
  f = SplitFractions::parse("1,0,0");
  EXPECT_DOUBLE_EQ(f.train, 1.0);
  f = SplitFractions::parse("0.8,0.1,0.1");
  EXPECT_DOUBLE_EQ(f.val, 0.1);
}

TEST(SplitFractions, ParseErrors) {
  struct Case {
    const char* spec;
    const char* says;
  } cases[] = {
      {"", "three fractions"},           {"0.5,0.5", "expected three"},      {"0.5,0.5,0.5", "sums to"},
      {"a,b,c", "three fractions"},      {"-0.1,0.6,0.5", "three fractions"}, {"0.9,0.1,0,0", "expected three"},
      {"0.98,0.01,0.01,", "three fractions"}, {"nan,0,1", "three fractions"}, {"inf,0,0", "three fractions"},
      {"0.98;0.01;0.01", "three fractions"},  {"0.5,,0.5", "three fractions"}, {"0.2,0.2,0.2", "sums to"},
  };
  for (const auto& c : cases) {
    try {
      SplitFractions::parse(c.spec);
      ADD_FAILURE() << "'" << c.spec << "' was accepted";
    } catch (const UserError& e) {
      EXPECT_EQ(e.input(), "--split") << c.spec;
      EXPECT_NE(std::string(e.what()).find(c.says), std::string::npos) << c.spec << ": " << e.what();
    }
  }
}

}  // namespace
}  // namespace tlm
