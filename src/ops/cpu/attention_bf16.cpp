// Attention with bf16 tile products for mixed-precision training: the tiles, units and fp32
// softmax / score-gradient rows of attention.cpp (shared through attention_tiles.h), with the
// seven products of a tile (Q K^T and P V forward; Q K^T, dO V^T, P^T dO, dS^T Q, dS K backward)
// run on AVX512-BF16 instead of sgemm. The kernel is written here rather than called from a
// library: the products are small (at most 64 query rows x T keys x head dim), each operand is
// rounded once per tile (or per unit for K and V) straight into the layout the kernel reads,
// and whole blocks of the causal triangle are skipped.
//
// The kernel: C[M, N] (+)= alpha * A @ B with operands as 32-bit words holding two bf16 that are
// neighbours along the reduction (vdpbf16ps multiplies the pairs and adds both products into one
// fp32 lane). B is stored [K/2][N] words ("VNNI" layout), read 16 columns per vector; A is read
// one word at a time and broadcast, so any (row, k) strides serve: a product with a transposed
// A (P^T dO, dS^T Q) reads P and dS packed in pairs across rows, as a B is, with no transpose.
// Register block: 6 rows x 64 columns, 24 fp32 accumulators. Rounding is to nearest even, into
// per-thread scratch. Only whole blocks of zeros are skipped (the causal triangle of a tile);
// what is computed inside a block is never masked, since the probabilities past a row's last
// visible key are exact zeros.
//
// Backward takes delta_i = sum_j p_ij dp_ij from the tile's rows (dscore_row_from_row) rather
// than as dout . out like the fp32 op: the rows are in cache, a row of out is not (reading it
// cost 10% of backward), and it is the delta of the very dP the products gave, so the gradient
// of a one-token document comes out exactly 0 instead of bf16 rounding noise.
//
// Measured (B 8, T 256, H 8, D 64, one document per sequence, 2 threads): forward + backward
// 9.6 ms against 17.5 ms for the fp32 op; the products run at ~195 GFLOP/s per core on data in
// cache and take ~60% of the time, the fp32 rows ~17%, packing the rest.
//
// The kernels are compiled for AVX512-BF16 by a target attribute and run only after a runtime
// check, so a -march=native build on a CPU without it still builds and falls back to the fp32
// ops. Same units as the fp32 op ((document, head) forward, (document, KV head) backward), so
// the result does not depend on the thread count.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>
#include <vector>

#include "core/check.h"
#include "ops/attention.h"
#include "ops/cpu/attention_tiles.h"
#include "ops/cpu/scratch.h"

#define TLM_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

namespace tlm::ops {
namespace {

namespace attn = cpu::attn;
using attn::Doc;
using attn::kTile;

constexpr int kMR = 6;        // rows of the register block
constexpr int kNV = 4;        // 16-lane column vectors of the register block
constexpr int kNC = 16 * kNV;  // its columns

constexpr long round16(long n) { return (n + 15) / 16 * 16; }
inline __mmask16 lanes(int n) { return __mmask16(n >= 16 ? 0xffff : (1u << std::max(n, 0)) - 1); }

// Which part of a tile's product is structurally zero (the causal triangle); diag = i0 - lo is
// the tile's first query row counted in keys of its document, so query row r sees keys
// 0 .. diag + r.
enum class Tri {
  cols,     // C = scores [query, key]: the columns past the block's last visible key are unused
  k_end,    // reduction over keys (P V, dS K): past the block's last visible key, A is zero
  k_start,  // reduction over query rows (P^T dO, dS^T Q): rows before key row j - diag are zero
};

// C[0:MR, 0:16 NV] (+)= alpha * sum_{k0 <= k < k1} A(r, k) B[k], last vector masked by tail.
template <int MR, int NV>
TLM_BF16_TARGET void block(int k0, int k1, const uint32_t* A, long ars, long aks, const uint32_t* B, long ldb,
                           float* C, long ldc, float alpha, bool accumulate, __mmask16 tail) {
  __m512 acc[MR][NV];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  for (int k = k0; k < k1; ++k) {
    const uint32_t* b = B + k * ldb;
    __m512bh bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV - 1; ++v) bv[v] = (__m512bh)_mm512_loadu_si512(b + 16 * v);
    bv[NV - 1] = (__m512bh)_mm512_maskz_loadu_epi32(tail, b + 16 * (NV - 1));
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m512bh a = (__m512bh)_mm512_set1_epi32(int(A[r * ars + k * aks]));
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], a, bv[v]);
    }
  }
  const __m512 va = _mm512_set1_ps(alpha);
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    float* c = C + r * ldc;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const __mmask16 m = v == NV - 1 ? tail : __mmask16(0xffff);
      __m512 x = _mm512_mul_ps(acc[r][v], va);
      if (accumulate) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, c + 16 * v));
      _mm512_mask_storeu_ps(c + 16 * v, m, x);
    }
  }
}

using BlockFn = void (*)(int, int, const uint32_t*, long, long, const uint32_t*, long, float*, long, float, bool,
                         __mmask16);

template <int MR, int... NV>
constexpr std::array<BlockFn, sizeof...(NV)> row_of_blocks(std::integer_sequence<int, NV...>) {
  return {&block<MR, NV + 1>...};
}
template <int... MR>
constexpr std::array<std::array<BlockFn, kNV>, sizeof...(MR)> table_of_blocks(std::integer_sequence<int, MR...>) {
  return {row_of_blocks<MR + 1>(std::make_integer_sequence<int, kNV>())...};
}
// kBlocks[mr - 1][nv - 1]: the kernel for a block of mr rows and nv vectors (edges of C).
constexpr auto kBlocks = table_of_blocks(std::make_integer_sequence<int, kMR>());

// C[M, N] (+)= alpha * A @ B over K2 word pairs, A(r, k) = A[r * ars + k * aks], B [K2][ldb],
// skipping the zero blocks `tri` names.
TLM_BF16_TARGET void gemm_words(int M, int N, int K2, const uint32_t* A, long ars, long aks, const uint32_t* B,
                                long ldb, float* C, long ldc, float alpha, bool accumulate, Tri tri, int diag) {
  for (int r0 = 0; r0 < M; r0 += kMR) {
    const int mr = std::min(kMR, M - r0);
    int n_end = N, k_lo = 0, k_hi = K2;
    if (tri == Tri::cols) n_end = std::min(N, diag + r0 + mr);
    if (tri == Tri::k_end) k_hi = std::min(K2, (diag + r0 + mr + 1) / 2);
    if (tri == Tri::k_start) k_lo = std::max(0, r0 - diag) / 2;
    for (int c0 = 0; c0 < n_end; c0 += kNC) {
      const int nc = std::min(kNC, n_end - c0), nv = (nc + 15) / 16;
      kBlocks[mr - 1][nv - 1](k_lo, k_hi, A + r0 * ars, ars, aks, B + c0, ldb, C + long(r0) * ldc + c0, ldc, alpha,
                              accumulate, lanes(nc - 16 * (nv - 1)));
    }
  }
}

// --- packing: fp32 -> bf16 word pairs (vcvtne2ps2bf16 rounds to nearest even) -----------------

// dst[r][k] = (src[r][2k], src[r][2k+1]): pairs along rows, zero-padded to an even count.
TLM_BF16_TARGET void pack_rows(uint32_t* dst, long ld, const float* src, long src_ld, int rows, int cols) {
  for (int r = 0; r < rows; ++r) {
    const float* s = src + r * src_ld;
    uint32_t* d = dst + r * ld;
    for (int c = 0; c < cols; c += 32) {
      const int left = cols - c;
      const __m512 lo = _mm512_maskz_loadu_ps(lanes(left), s + c);
      const __m512 hi = _mm512_maskz_loadu_ps(lanes(left - 16), s + c + 16);
      _mm512_mask_storeu_epi32(d + c / 2, lanes((left + 1) / 2), (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
    }
  }
}

// dst[k][c] = (src[2k][c], src[2k+1][c]): pairs across rows, a zero row past an odd count.
TLM_BF16_TARGET void pack_pairs(uint32_t* dst, long ld, const float* src, long src_ld, int rows, int cols) {
  // Interleaves the 16 bf16 of row 2k (low half) with the 16 of row 2k+1 (high half).
  const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6,
                                       21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  for (int k = 0; 2 * k < rows; ++k) {
    const float* a = src + 2 * k * src_ld;
    const bool has_b = 2 * k + 1 < rows;
    for (int c = 0; c < cols; c += 16) {
      const __mmask16 m = lanes(cols - c);
      const __m512 va = _mm512_maskz_loadu_ps(m, a + c);
      const __m512 vb = has_b ? _mm512_maskz_loadu_ps(m, a + src_ld + c) : _mm512_setzero_ps();
      const __m512i both = (__m512i)_mm512_cvtne2ps_pbh(vb, va);
      _mm512_mask_storeu_epi32(dst + k * ld + c, m, _mm512_permutexvar_epi16(idx, both));
    }
  }
}

// dst[k][r] = (src[r][2k], src[r][2k+1]) for k < ceil(cols / 2), r < round16(rows) (zeros past
// rows): K^T or V^T in the B layout of a product that reduces over the head dimension. Packs
// rows into tmp [rows][ceil(cols / 2)], then gathers its columns.
TLM_BF16_TARGET void pack_transposed(uint32_t* dst, long ld, uint32_t* tmp, const float* src, long src_ld, int rows,
                                     int cols) {
  const int k2 = (cols + 1) / 2;
  pack_rows(tmp, k2, src, src_ld, rows, cols);
  const __m512i step = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                          _mm512_set1_epi32(k2));
  for (int r0 = 0; r0 < rows; r0 += 16) {
    const __mmask16 m = lanes(rows - r0);
    const __m512i base = _mm512_add_epi32(step, _mm512_set1_epi32(r0 * k2));
    for (int k = 0; k < k2; ++k) {
      const __m512i w = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m,
                                                    _mm512_add_epi32(base, _mm512_set1_epi32(k)), tmp, 4);
      _mm512_storeu_si512(dst + k * ld + r0, w);
    }
  }
}

// --- per-thread scratch ------------------------------------------------------------------------

// One thread's buffers for sequences of T tokens and head dimension D: the packed operands in
// words, and the fp32 tiles P and dS in a float scratch of their own. Every size is a multiple
// of 16 elements, so each buffer starts on a 64-byte boundary.
struct Layout {
  long ldt, ldd, d2;  // keys (padded), head dimension (padded), its pairs
  long kt, vt, kp, tmp, rows_q, rows_do, rows_p, pairs_p, pairs_ds, pairs_q, pairs_do, words;
  long p, ds, floats;  // fp32 [kTile][ldt] each
  Layout(int T, int D) {
    ldt = round16(T), ldd = round16(D), d2 = (D + 1) / 2;
    long at = 0;
    auto take = [&](long n) {
      long off = at;
      at += round16(n);
      return off;
    };
    kt = take(d2 * ldt), vt = take(d2 * ldt);        // [D/2][ldt]: K^T, V^T (B of Q K^T, dO V^T)
    kp = take((ldt / 2 + 1) * ldd);                  // [T/2][ldd]: V forward, K backward (B of P V, dS K)
    tmp = take(ldt * d2);                            // pack_transposed's rows
    rows_q = take(kTile * d2), rows_do = take(kTile * d2);  // [m][D/2]: A of Q K^T, dO V^T
    rows_p = take(kTile * ldt / 2);                         // [m][n/2]: A of P V, dS K
    pairs_p = take(kTile / 2 * ldt), pairs_ds = take(kTile / 2 * ldt);  // [m/2][ldt]: A of P^T dO, dS^T Q
    pairs_q = take(kTile / 2 * ldd), pairs_do = take(kTile / 2 * ldd);  // [m/2][ldd]: B of dS^T Q, P^T dO
    words = at;
    p = 0, ds = kTile * ldt, floats = 2 * kTile * ldt;
  }
};

struct Shape {
  int TT, H, KVH, D, S, HD;
  float scale;
};

// pack_kv: false when this thread's previous unit had the same document and KV head (the next
// query head of a GQA group), whose packed K and V are still in its scratch.
TLM_BF16_TARGET void forward_unit(float* out, float* lse, const float* qkv, const Doc& doc, int h, bool pack_kv,
                                  const Shape& s, const Layout& L, uint32_t* w, float* f) {
  const int n_doc = doc.hi - doc.lo, kvh = h / (s.H / s.KVH), D = s.D;
  const float* seq = qkv + long(doc.b) * s.TT * s.S;
  const float* K = seq + long(doc.lo) * s.S + (s.H + kvh) * D;
  const float* V = seq + long(doc.lo) * s.S + (s.H + s.KVH + kvh) * D;
  uint32_t *Kt = w + L.kt, *Vp = w + L.kp, *Qw = w + L.rows_q, *Pw = w + L.rows_p;
  float* P = f + L.p;
  if (pack_kv) {
    pack_transposed(Kt, L.ldt, w + L.tmp, K, s.S, n_doc, D);
    pack_pairs(Vp, L.ldd, V, s.S, n_doc, D);
  }
  for (int i0 = doc.lo; i0 < doc.hi; i0 += kTile) {
    const int i1 = std::min(doc.hi, i0 + kTile), m = i1 - i0, n = i1 - doc.lo, diag = i0 - doc.lo;
    pack_rows(Qw, L.d2, seq + long(i0) * s.S + h * D, s.S, m, D);
    gemm_words(m, n, L.d2, Qw, L.d2, 1, Kt, L.ldt, P, L.ldt, s.scale, false, Tri::cols, diag);
    for (int r = 0; r < m; ++r)
      lse[(long(doc.b) * s.H + h) * s.TT + i0 + r] = attn::softmax_row(P + r * L.ldt, diag + r + 1, int(round16(n)));
    pack_rows(Pw, L.ldt / 2, P, L.ldt, m, n);
    gemm_words(m, D, (n + 1) / 2, Pw, L.ldt / 2, 1, Vp, L.ldd, out + (long(doc.b) * s.TT + i0) * s.HD + h * D,
               s.HD, 1.0f, false, Tri::k_end, diag);
  }
}

TLM_BF16_TARGET void backward_unit(float* dqkv, const float* dout, const float* qkv, const float* lse, const Doc& doc,
                                   int kvh, const Shape& s, const Layout& L, uint32_t* w, float* f) {
  const int n_doc = doc.hi - doc.lo, group = s.H / s.KVH, D = s.D;
  const long seq_off = long(doc.b) * s.TT * s.S, kv_row = long(doc.lo) * s.S;
  const float* K = qkv + seq_off + kv_row + (s.H + kvh) * D;
  const float* V = qkv + seq_off + kv_row + (s.H + s.KVH + kvh) * D;
  float* dK = dqkv + seq_off + kv_row + (s.H + kvh) * D;
  float* dV = dqkv + seq_off + kv_row + (s.H + s.KVH + kvh) * D;
  uint32_t *Kt = w + L.kt, *Vt = w + L.vt, *Kp = w + L.kp, *Qw = w + L.rows_q, *dOw = w + L.rows_do;
  uint32_t *dSw = w + L.rows_p, *Pp = w + L.pairs_p, *dSp = w + L.pairs_ds, *Qp = w + L.pairs_q,
           *dOp = w + L.pairs_do;
  float *P = f + L.p, *dS = f + L.ds;
  pack_transposed(Kt, L.ldt, w + L.tmp, K, s.S, n_doc, D);
  pack_transposed(Vt, L.ldt, w + L.tmp, V, s.S, n_doc, D);
  pack_pairs(Kp, L.ldd, K, s.S, n_doc, D);
  for (int h = kvh * group; h < (kvh + 1) * group; ++h) {
    for (int i0 = doc.lo; i0 < doc.hi; i0 += kTile) {
      const int i1 = std::min(doc.hi, i0 + kTile), m = i1 - i0, n = i1 - doc.lo, diag = i0 - doc.lo;
      const int m2 = (m + 1) / 2, n2 = (n + 1) / 2;
      const float* Q = qkv + seq_off + long(i0) * s.S + h * D;          // [m, D], stride S
      float* dQ = dqkv + seq_off + long(i0) * s.S + h * D;              // [m, D], stride S
      const float* dO = dout + (long(doc.b) * s.TT + i0) * s.HD + h * D;  // [m, D], stride HD
      pack_rows(Qw, L.d2, Q, s.S, m, D);
      pack_rows(dOw, L.d2, dO, s.HD, m, D);
      gemm_words(m, n, L.d2, Qw, L.d2, 1, Kt, L.ldt, P, L.ldt, s.scale, false, Tri::cols, diag);  // scores
      gemm_words(m, n, L.d2, dOw, L.d2, 1, Vt, L.ldt, dS, L.ldt, 1.0f, false, Tri::cols, diag);   // dP
      for (int r = 0; r < m; ++r)
        attn::dscore_row_from_row(P + r * L.ldt, dS + r * L.ldt, lse[(long(doc.b) * s.H + h) * s.TT + i0 + r],
                                  s.scale, diag + r + 1, int(round16(n)));
      pack_pairs(Pp, L.ldt, P, L.ldt, m, n);
      pack_pairs(dSp, L.ldt, dS, L.ldt, m, n);
      pack_rows(dSw, L.ldt / 2, dS, L.ldt, m, n);
      pack_pairs(Qp, L.ldd, Q, s.S, m, D);
      pack_pairs(dOp, L.ldd, dO, s.HD, m, D);
      // dV += P^T dO, dK += dS^T Q: A is P^T / dS^T, read from their pairs across query rows
      gemm_words(n, D, m2, Pp, 1, L.ldt, dOp, L.ldd, dV, s.S, 1.0f, true, Tri::k_start, diag);
      gemm_words(n, D, m2, dSp, 1, L.ldt, Qp, L.ldd, dK, s.S, 1.0f, true, Tri::k_start, diag);
      gemm_words(m, D, n2, dSw, L.ldt / 2, 1, Kp, L.ldd, dQ, s.S, 1.0f, true, Tri::k_end, diag);  // dQ += dS K
    }
  }
}

Shape make_shape(int T, int H, int KVH, int D) {
  TLM_CHECK(KVH > 0 && H % KVH == 0, "H = %d is not a multiple of KVH = %d", H, KVH);
  return {T, H, KVH, D, (H + 2 * KVH) * D, H * D, 1.0f / std::sqrt(float(D))};
}

// What forward and backward set up before their parallel region: the shape, the documents and
// every thread's scratch.
struct Setup {
  Shape s;
  const std::vector<Doc>& docs;
  Layout L;
  uint32_t* words;
  float* floats;
  Setup(const int32_t* doc_start, int B, int T, int H, int KVH, int D)
      : s(make_shape(T, H, KVH, D)), docs(attn::find_docs(doc_start, B, T)), L(T, D) {
    const size_t threads = size_t(omp_get_max_threads());
    words = cpu::scratch<uint32_t>(threads * L.words);
    floats = cpu::scratch<float, 1>(threads * L.floats);
  }
  bool parallel() const { return attn::work(docs, s.H, s.D) > attn::kMinParallelWork; }
  uint32_t* words_of(int thread) const { return words + thread * L.words; }
  float* floats_of(int thread) const { return floats + thread * L.floats; }
};

}  // namespace

bool have_bf16_attention() {
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16");
  return ok;
}

void attention_forward_bf16(float* out, float* lse, const float* qkv, const int32_t* doc_start, int B, int T, int H,
                            int KVH, int D) {
  if (!have_bf16_attention()) return attention_forward(out, lse, qkv, doc_start, B, T, H, KVH, D);
  const Setup x(doc_start, B, T, H, KVH, D);
  const int n_units = int(x.docs.size()) * H, group = H / KVH;
#pragma omp parallel if (x.parallel())
  {
    const int t = omp_get_thread_num();
    int packed = -1;  // the (document, KV head) whose K and V this thread's scratch holds
#pragma omp for schedule(dynamic)
    for (int u = 0; u < n_units; ++u) {
      const int kv_unit = u / group;  // = document * KVH + KV head, as u = document * H + head
      forward_unit(out, lse, qkv, x.docs[u / H], u % H, kv_unit != packed, x.s, x.L, x.words_of(t), x.floats_of(t));
      packed = kv_unit;
    }
  }
}

void attention_backward_bf16(float* dqkv, const float* dout, const float* qkv, const float* out, const float* lse,
                             const int32_t* doc_start, int B, int T, int H, int KVH, int D) {
  if (!have_bf16_attention()) return attention_backward(dqkv, dout, qkv, out, lse, doc_start, B, T, H, KVH, D);
  const Setup x(doc_start, B, T, H, KVH, D);
  const int n_units = int(x.docs.size()) * KVH;
#pragma omp parallel for schedule(dynamic) if (x.parallel())
  for (int u = 0; u < n_units; ++u) {
    const int t = omp_get_thread_num();
    backward_unit(dqkv, dout, qkv, lse, x.docs[u / KVH], u % KVH, x.s, x.L, x.words_of(t), x.floats_of(t));
  }
}

}  // namespace tlm::ops
