// Causal self-attention with grouped-query heads and document masking, FlashAttention-2 style:
// the work is cut into query tiles of at most kTile rows of one document and one head; a tile's
// scores against the keys it may see (the document's tokens up to the tile's last row) go into
// a per-thread [kTile, T] buffer, never a T x T matrix per head. The tile products are small
// gemms (sgemm, single-threaded inside our parallel region), the softmax in between is a
// two-pass one (row max, then exp and sum), and only each row's log-sum-exp is kept for
// backward, which recomputes the probabilities from it. attention_bf16.cpp runs the same tiles
// with bf16 products; what lies between the products is shared (attention_tiles.h).
//
// Documents never see each other, so a (document, head) pair is an independent unit of work.
// Backward units are (document, KV head): the group of query heads sharing a KV head all write
// its dK/dV rows, so one unit handles them in a fixed order; no two units write the same rows,
// and the result does not depend on the thread count.
#include "ops/attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/check.h"
#include "ops/cpu/attention_tiles.h"
#include "ops/cpu/f64.h"
#include "ops/cpu/gemm.h"
#include "ops/cpu/scratch.h"

namespace tlm::ops {
namespace {

namespace attn = cpu::attn;
using attn::Doc;
using attn::kTile;

template <typename T>
void forward(T* out, T* lse, const T* qkv, const int32_t* doc_start, int B, int TT, int H, int KVH, int D) {
  TLM_CHECK(KVH > 0 && H % KVH == 0, "H = %d is not a multiple of KVH = %d", H, KVH);
  const auto& docs = attn::find_docs(doc_start, B, TT);
  const int S = (H + 2 * KVH) * D, HD = H * D;  // row strides of qkv and out
  const int group = H / KVH, n_units = int(docs.size()) * H;
  const T scale = T(1) / std::sqrt(T(D));
  T* buf = cpu::scratch<T>(size_t(omp_get_max_threads()) * kTile * TT);
#pragma omp parallel if (attn::work(docs, H, D) > attn::kMinParallelWork)
  {
    T* __restrict P = buf + long(omp_get_thread_num()) * kTile * TT;  // [m, n] scores, then probabilities
#pragma omp for schedule(dynamic)
    for (int u = 0; u < n_units; ++u) {
      const Doc doc = docs[u / H];
      const int h = u % H, kvh = h / group;
      const T* seq = qkv + long(doc.b) * TT * S;
      const T* K = seq + long(doc.lo) * S + (H + kvh) * D;        // [n, D], row stride S
      const T* V = seq + long(doc.lo) * S + (H + KVH + kvh) * D;  // [n, D], row stride S
      for (int i0 = doc.lo; i0 < doc.hi; i0 += kTile) {
        const int i1 = std::min(doc.hi, i0 + kTile), m = i1 - i0, n = i1 - doc.lo;
        // P[m, n] = scale * Q[i0:i1] @ K[lo:i1]^T
        cpu::gemm(false, true, m, n, D, scale, seq + long(i0) * S + h * D, S, K, S, T(0), P, n);
        for (int r = 0; r < m; ++r)  // keys lo..i visible to query i = i0 + r
          lse[(long(doc.b) * H + h) * TT + i0 + r] = attn::softmax_row(P + long(r) * n, i0 + r - doc.lo + 1, n);
        // out[i0:i1, head h] = P[m, n] @ V[lo:i1]
        cpu::gemm(false, false, m, D, n, T(1), P, n, V, S, T(0), out + (long(doc.b) * TT + i0) * HD + h * D, HD);
      }
    }
  }
}

template <typename T>
void backward(T* dqkv, const T* dout, const T* qkv, const T* out, const T* lse, const int32_t* doc_start, int B,
              int TT, int H, int KVH, int D) {
  TLM_CHECK(KVH > 0 && H % KVH == 0, "H = %d is not a multiple of KVH = %d", H, KVH);
  const auto& docs = attn::find_docs(doc_start, B, TT);
  const int S = (H + 2 * KVH) * D, HD = H * D;
  const int group = H / KVH, n_units = int(docs.size()) * KVH;
  const T scale = T(1) / std::sqrt(T(D));
  T* buf = cpu::scratch<T>(size_t(omp_get_max_threads()) * 2 * kTile * TT);
#pragma omp parallel if (attn::work(docs, H, D) > attn::kMinParallelWork)
  {
    T* __restrict P = buf + long(omp_get_thread_num()) * 2 * kTile * TT;  // [m, n] probabilities
    T* __restrict dS = P + long(kTile) * TT;                              // [m, n] dP, then dScores
#pragma omp for schedule(dynamic)
    for (int u = 0; u < n_units; ++u) {
      const Doc doc = docs[u / KVH];
      const int kvh = u % KVH;
      const long seq_off = long(doc.b) * TT * S, kv_row = long(doc.lo) * S;
      const T* K = qkv + seq_off + kv_row + (H + kvh) * D;  // [n, D], row stride S
      const T* V = qkv + seq_off + kv_row + (H + KVH + kvh) * D;
      T* dK = dqkv + seq_off + kv_row + (H + kvh) * D;
      T* dV = dqkv + seq_off + kv_row + (H + KVH + kvh) * D;
      for (int h = kvh * group; h < (kvh + 1) * group; ++h) {
        for (int i0 = doc.lo; i0 < doc.hi; i0 += kTile) {
          const int i1 = std::min(doc.hi, i0 + kTile), m = i1 - i0, n = i1 - doc.lo;
          const T* Q = qkv + seq_off + long(i0) * S + h * D;                // [m, D], stride S
          T* dQ = dqkv + seq_off + long(i0) * S + h * D;                    // [m, D], stride S
          const T* dO = dout + (long(doc.b) * TT + i0) * HD + h * D;        // [m, D], stride HD
          const T* O = out + (long(doc.b) * TT + i0) * HD + h * D;          // [m, D], stride HD
          cpu::gemm(false, true, m, n, D, scale, Q, S, K, S, T(0), P, n);   // scores
          cpu::gemm(false, true, m, n, D, T(1), dO, HD, V, S, T(0), dS, n);  // dP = dO @ V^T
          for (int r = 0; r < m; ++r)
            attn::dscore_row(P + long(r) * n, dS + long(r) * n, dO + long(r) * HD, O + long(r) * HD,
                             lse[(long(doc.b) * H + h) * TT + i0 + r], scale, D, i0 + r - doc.lo + 1, n);
          cpu::gemm(true, false, n, D, m, T(1), P, n, dO, HD, T(1), dV, S);   // dV += P^T @ dO
          cpu::gemm(true, false, n, D, m, T(1), dS, n, Q, S, T(1), dK, S);    // dK += dS^T @ Q
          cpu::gemm(false, false, m, D, n, T(1), dS, n, K, S, T(1), dQ, S);   // dQ += dS @ K
        }
      }
    }
  }
}

}  // namespace

void attention_forward(float* out, float* lse, const float* qkv, const int32_t* doc_start, int B, int T, int H,
                       int KVH, int D) {
  forward(out, lse, qkv, doc_start, B, T, H, KVH, D);
}
void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* out, const float* lse,
                        const int32_t* doc_start, int B, int T, int H, int KVH, int D) {
  backward(dqkv, dout, qkv, out, lse, doc_start, B, T, H, KVH, D);
}

namespace f64 {
void attention_forward(double* out, double* lse, const double* qkv, const int32_t* doc_start, int B, int T, int H,
                       int KVH, int D) {
  forward(out, lse, qkv, doc_start, B, T, H, KVH, D);
}
void attention_backward(double* dqkv, const double* dout, const double* qkv, const double* out, const double* lse,
                        const int32_t* doc_start, int B, int T, int H, int KVH, int D) {
  backward(dqkv, dout, qkv, out, lse, doc_start, B, T, H, KVH, D);
}
}  // namespace f64

}  // namespace tlm::ops
