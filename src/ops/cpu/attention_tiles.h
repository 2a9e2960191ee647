// Internal to the CPU attention ops (attention.cpp in fp32/fp64, attention_bf16.cpp with bf16
// tile products): what both cut the work by and compute in fp32 between the products, written
// once so the two stay the same op: the document list, the query tile size, the softmax of one
// row of scores and the score gradient of one row. Only the products differ between the files.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/check.h"
#include "ops/cpu/fast_math.h"

namespace tlm::ops::cpu::attn {

constexpr int kTile = 64;  // query rows per tile

// Below about this many multiply-adds a parallel region costs more than it saves.
constexpr double kMinParallelWork = 1 << 16;

struct Doc {
  int b, lo, hi;  // sequence b, tokens [lo, hi)
};

// The documents of all sequences, checking that doc_start describes contiguous documents: each
// sequence starts one at 0, and every token either starts a new document (doc_start[i] == i)
// or continues the previous token's.
inline const std::vector<Doc>& find_docs(const int32_t* doc_start, int B, int T) {
  thread_local std::vector<Doc> docs;
  docs.clear();
  for (int b = 0; b < B; ++b) {
    const int32_t* ds = doc_start + long(b) * T;
    for (int i = 0; i < T; ++i) {
      TLM_CHECK(ds[i] == i || (i > 0 && ds[i] == ds[i - 1]),
                "doc_start[%d] = %d in sequence %d: documents must be contiguous runs", i, ds[i], b);
      if (ds[i] == i) docs.push_back({b, i, i + 1});
      else docs.back().hi = i + 1;
    }
  }
  return docs;
}

// Multiply-adds of one pass over the visible (query, key) pairs, at most T^2 / 2 per head.
inline double work(const std::vector<Doc>& docs, int H, int D) {
  double w = 0;
  for (const Doc& d : docs) w += 0.5 * double(d.hi - d.lo) * (d.hi - d.lo) * H * D;
  return w;
}

// The row loops run over all n columns rather than stopping at the row's last visible key: n
// is the same for every row of a tile (a multiple of 16 in the bf16 op, and for whole tiles of
// long documents), so they have no remainder, where stopping at `visible` left a scalar
// remainder of up to 15 exponentials in every row. The columns past `visible` are first set to
// -inf (exp gives 0) and 0, whatever they held (uninitialised scratch in the bf16 op). Masking
// with a select on j < visible instead is slower: GCC splits such a loop in two at `visible`
// (-fsplit-loops, on at -O3) and leaves the second part scalar.

// p[0, n): the scores of one query row, of which keys [0, visible) are visible. Becomes the
// probabilities (0 past visible, the causal mask inside the tile); returns the log-sum-exp.
// Two passes (row max, then exp and sum): the scores of a row are all at hand.
template <typename T>
T softmax_row(T* __restrict p, int visible, int n) {
  for (int j = visible; j < n; ++j) p[j] = -INFINITY;
  T mx = -INFINITY;
#pragma omp simd reduction(max : mx)
  for (int j = 0; j < n; ++j) mx = p[j] > mx ? p[j] : mx;
  T sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int j = 0; j < n; ++j) {
    p[j] = fast_exp(p[j] - mx);
    sum += p[j];
  }
  const T inv = T(1) / sum;
#pragma omp simd
  for (int j = 0; j < n; ++j) p[j] *= inv;
  return mx + std::log(sum);
}

// One query row of backward: p holds its scores and ds its dP = dout . v_j. Recomputes the
// probabilities p = exp(score - lse) and turns ds into the score gradient p (dp - delta) times
// scale (the factor dq and dk carry), with delta = sum_j p_j dp_j computed as dout . out; both
// are 0 past visible.
template <typename T>
void dscore_row(T* __restrict p, T* __restrict ds, const T* __restrict go, const T* __restrict o, T lse, T scale,
                int D, int visible, int n) {
  for (int j = visible; j < n; ++j) p[j] = -INFINITY, ds[j] = 0;
  T delta = 0;
#pragma omp simd reduction(+ : delta)
  for (int d = 0; d < D; ++d) delta += go[d] * o[d];
#pragma omp simd
  for (int j = 0; j < n; ++j) {
    p[j] = fast_exp(p[j] - lse);
    ds[j] = p[j] * (ds[j] - delta) * scale;
  }
}

// dscore_row with delta = sum_j p_j dp_j summed over the row itself: one more pass over a row
// in cache instead of reading a row of out, which is long out of cache by backward.
template <typename T>
void dscore_row_from_row(T* __restrict p, T* __restrict ds, T lse, T scale, int visible, int n) {
  for (int j = visible; j < n; ++j) p[j] = -INFINITY, ds[j] = 0;
  T delta = 0;
#pragma omp simd reduction(+ : delta)
  for (int j = 0; j < n; ++j) {
    p[j] = fast_exp(p[j] - lse);
    delta += p[j] * ds[j];
  }
#pragma omp simd
  for (int j = 0; j < n; ++j) ds[j] = p[j] * (ds[j] - delta) * scale;
}

}  // namespace tlm::ops::cpu::attn
