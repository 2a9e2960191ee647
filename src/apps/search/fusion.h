// Reciprocal rank fusion (Cormack, Clarke and Buettcher, SIGIR 2009), the "hybrid" search mode:
// each document scores sum over the ranked lists of 1 / (k + rank), rank counted from 1, k = 60.
// RRF needs no score calibration between BM25 (unbounded) and cosine similarity (-1..1), which is
// why it, not a weighted sum of scores, combines the keyword and dense lists.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tlm::apps {

struct FusedHit {
  int64_t label = 0;
  double score = 0;
  std::vector<int> ranks;  // the document's rank in each input list, 1-based; 0 when absent
};

// The fused ranking of `lists` (each: labels best first, no repeats), best first, at most `limit`.
// Ties (equal score) go to the document with the better best rank, then to the earlier list's
// order, then to the smaller label, so the order is fully determined.
std::vector<FusedHit> reciprocal_rank_fusion(const std::vector<std::vector<int64_t>>& lists, double k = 60,
                                             size_t limit = SIZE_MAX);

}  // namespace tlm::apps
