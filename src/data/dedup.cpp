// De-duplication (see dedup.h).
#include "data/dedup.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_set>

#include "core/check.h"
#include "core/hash.h"
#include "core/utf8.h"

namespace tlm {

HashSet64::HashSet64(size_t initial_capacity) {
  size_t cap = 16;
  while (cap < initial_capacity) cap <<= 1;
  slots_.assign(cap, 0);
  mask_ = cap - 1;
}

bool HashSet64::insert(uint64_t key) {
  if (key == 0) {
    bool fresh = !has_zero_;
    has_zero_ = true;
    return fresh;
  }
  if ((size_ + 1) * 4 > slots_.size() * 3) grow();  // at most 3/4 full
  size_t i = mix64(key) & mask_;
  for (;;) {
    uint64_t s = slots_[i];
    if (s == key) return false;
    if (s == 0) {
      slots_[i] = key;
      ++size_;
      return true;
    }
    i = (i + 1) & mask_;
  }
}

bool HashSet64::contains(uint64_t key) const {
  if (key == 0) return has_zero_;
  for (size_t i = mix64(key) & mask_;; i = (i + 1) & mask_) {
    if (slots_[i] == key) return true;
    if (slots_[i] == 0) return false;
  }
}

void HashSet64::grow() {
  std::vector<uint64_t> old;
  old.swap(slots_);
  slots_.assign(old.size() * 2, 0);
  mask_ = slots_.size() - 1;
  size_ = 0;
  for (uint64_t k : old)
    if (k) insert(k);
}

double MinHashParams::candidate_probability(double s) const {
  return 1.0 - std::pow(1.0 - std::pow(s, rows), bands);
}

MinHashParams MinHashParams::for_threshold(double t, int max_perm, int max_bands) {
  TLM_CHECK(t > 0 && t < 1, "threshold %g outside (0, 1)", t);
  // Integrate the false-positive area (below t) and false-negative area (above t) numerically.
  auto area = [](const MinHashParams& p, double a, double b, bool fp) {
    const int steps = 200;
    double h = (b - a) / steps, sum = 0;
    for (int i = 0; i < steps; ++i) {
      double s = a + (i + 0.5) * h, pr = p.candidate_probability(s);
      sum += (fp ? pr : 1.0 - pr) * h;
    }
    return sum;
  };
  MinHashParams best;
  double best_err = std::numeric_limits<double>::infinity();
  for (int b = 1; b <= max_bands; ++b) {
    for (int r = 1; b * r <= max_perm; ++r) {
      MinHashParams p{b, r, t};
      double err = 0.5 * area(p, 0.0, t, true) + 0.5 * area(p, t, 1.0, false);
      if (err < best_err) {
        best_err = err;
        best = p;
      }
    }
  }
  return best;
}

// Shingles are 5 code points long (short texts give one shingle, the whole text). Each
// shingle is hashed once; the permutations are derived from it by mixing with a per-row salt.
static void for_each_shingle(std::string_view text, auto&& fn) {
  constexpr int k = 5;
  size_t i = 0;
  std::vector<size_t> offs;  // start offset of every code point, plus the end
  offs.reserve(text.size() + 1);
  while (i < text.size()) {
    offs.push_back(i);
    unsigned char c = static_cast<unsigned char>(text[i]);
    i += c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
  }
  offs.push_back(text.size());
  size_t ncp = offs.size() - 1;
  if (ncp < static_cast<size_t>(k)) {
    fn(hash64(text, 0x5eed));
    return;
  }
  for (size_t s = 0; s + k <= ncp; ++s) fn(hash64(text.substr(offs[s], offs[s + k] - offs[s]), 0x5eed));
}

void minhash_band_keys(std::string_view text, const MinHashParams& p, uint64_t* keys) {
  const int n = p.bands * p.rows;
  uint64_t mins[64];
  TLM_CHECK(n <= 64, "at most 64 permutations (got %d)", n);
  std::fill(mins, mins + n, std::numeric_limits<uint64_t>::max());
  for_each_shingle(text, [&](uint64_t h) {
    for (int j = 0; j < n; ++j) mins[j] = std::min(mins[j], mix64(h ^ (0x9E3779B97F4A7C15ULL * (j + 1))));
  });
  for (int b = 0; b < p.bands; ++b) keys[b] = hash64(mins + b * p.rows, sizeof(uint64_t) * p.rows, 0xBA4D + b);
}

double shingle_jaccard(std::string_view a, std::string_view b) {
  std::unordered_set<uint64_t> sa, sb;
  for_each_shingle(a, [&](uint64_t h) { sa.insert(h); });
  for_each_shingle(b, [&](uint64_t h) { sb.insert(h); });
  size_t inter = 0;
  for (uint64_t h : sa) inter += sb.count(h);
  size_t uni = sa.size() + sb.size() - inter;
  return uni ? double(inter) / double(uni) : 1.0;
}

bool NearDupIndex::check_and_insert(const uint64_t* keys) {
  for (int b = 0; b < params_.bands; ++b)
    if (seen_.contains(keys[b])) return true;
  for (int b = 0; b < params_.bands; ++b) seen_.insert(keys[b]);
  return false;
}

}  // namespace tlm
