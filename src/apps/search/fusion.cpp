// Reciprocal rank fusion (see fusion.h).
#include "apps/search/fusion.h"

#include <algorithm>
#include <unordered_map>

namespace tlm::apps {

std::vector<FusedHit> reciprocal_rank_fusion(const std::vector<std::vector<int64_t>>& lists, double k, size_t limit) {
  std::unordered_map<int64_t, size_t> where;
  std::vector<FusedHit> hits;
  for (size_t l = 0; l < lists.size(); l++)
    for (size_t r = 0; r < lists[l].size(); r++) {
      auto [it, fresh] = where.emplace(lists[l][r], hits.size());
      if (fresh) {
        hits.push_back({lists[l][r], 0.0, std::vector<int>(lists.size(), 0)});
      }
      FusedHit& h = hits[it->second];
      if (h.ranks[l]) continue;  // a repeat inside one list counts once, at its first rank
      h.ranks[l] = int(r + 1);
      h.score += 1.0 / (k + double(r + 1));
    }
  auto best_rank = [](const FusedHit& h) {
    int b = 0;
    for (int r : h.ranks)
      if (r && (!b || r < b)) b = r;
    return b;
  };
  auto lexical = [](const FusedHit& h) {  // ranks in list order, absent = after every rank
    std::vector<int> v;
    for (int r : h.ranks) v.push_back(r ? r : INT32_MAX);
    return v;
  };
  std::stable_sort(hits.begin(), hits.end(), [&](const FusedHit& a, const FusedHit& b) {
    if (a.score != b.score) return a.score > b.score;
    int ra = best_rank(a), rb = best_rank(b);
    if (ra != rb) return ra < rb;
    auto la = lexical(a), lb = lexical(b);
    if (la != lb) return la < lb;
    return a.label < b.label;
  });
  if (hits.size() > limit) hits.resize(limit);
  return hits;
}

}  // namespace tlm::apps
