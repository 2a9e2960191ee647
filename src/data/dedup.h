// De-duplication with memory bounded by the number of unique tweets, never by their text:
//  - exact: a flat open-addressing set of 64-bit hashes of the normalized text (8 bytes a slot);
//  - near-duplicate: MinHash over character 5-gram shingles with LSH banding (Broder 1997;
//    Leskovec et al., "Mining of Massive Datasets" ch. 3). A tweet is a near-duplicate when one
//    of its band keys was seen before. The bands b and rows r are chosen for the threshold t by
//    minimising false positive + false negative area, as datasketch does. Only band keys are
//    stored (b keys of 8 bytes per kept tweet, b <= 8), so 10 M tweets stay under 2 GB
//    (bench/prepare_memory.sh measures it).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace tlm {

// A set of 64-bit keys (open addressing, linear probing, grows past 75% load: with a strong
// mixer, probes stay within a cache line or two, and memory is what bounds a 10 M-tweet run). Key 0 is stored
// out of band so it needs no sentinel juggling by callers.
class HashSet64 {
 public:
  explicit HashSet64(size_t initial_capacity = 1 << 16);
  // Inserts `key`; returns true if it was not present.
  bool insert(uint64_t key);
  bool contains(uint64_t key) const;
  size_t size() const { return size_ + (has_zero_ ? 1 : 0); }
  size_t memory_bytes() const { return slots_.size() * sizeof(uint64_t); }

 private:
  void grow();
  std::vector<uint64_t> slots_;
  size_t size_ = 0, mask_;
  bool has_zero_ = false;
};

struct MinHashParams {
  int bands = 0, rows = 0;
  double threshold = 0;
  // Chooses bands x rows <= max_perm (bands <= max_bands) for Jaccard threshold t in (0, 1).
  static MinHashParams for_threshold(double t, int max_perm = 64, int max_bands = 8);
  // Probability that two texts with Jaccard similarity s share at least one band.
  double candidate_probability(double s) const;
};

// Computes the band keys (params.bands values) of `text` from its character 5-gram shingles.
void minhash_band_keys(std::string_view text, const MinHashParams& params, uint64_t* keys);

// Exact Jaccard similarity of the character 5-gram shingle sets (for tests and diagnostics).
double shingle_jaccard(std::string_view a, std::string_view b);

class NearDupIndex {
 public:
  explicit NearDupIndex(const MinHashParams& params) : params_(params) {}
  // True if any band key of this text was seen; otherwise records its keys and returns false.
  bool check_and_insert(const uint64_t* keys);
  size_t memory_bytes() const { return seen_.memory_bytes(); }
  const MinHashParams& params() const { return params_; }

 private:
  MinHashParams params_;
  HashSet64 seen_;
};

}  // namespace tlm
