// ops::attention_decode (ops/attention.h): attention of new query rows against a KV cache, for
// generation. One sequence holding one document, so the mask is plain causal: query i (at cache
// position first + i) sees cache rows [0, first + i].
//
// Online softmax over blocks of kBlock keys: the scores of a block are computed into a small
// stack array (vectorisable dot products and exponentials), then the running maximum, sum and
// output are rescaled once per block. Memory is O(D) per (query, head) whatever the context
// length. Each (query, head) pair is computed by one thread in a fixed order, so the result does
// not depend on the number of threads.
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/check.h"
#include "ops/attention.h"
#include "ops/cpu/fast_math.h"

namespace tlm::ops {

namespace {

constexpr int kBlock = 64;

// 16 independent partial sums: GCC vectorises this without -ffast-math (a single running sum
// is a serial dependency it may not reorder).
inline float dot(const float* a, const float* b, int n) {
  float acc[16] = {};
  int d = 0;
  for (; d + 16 <= n; d += 16)
    for (int u = 0; u < 16; u++) acc[u] += a[d + u] * b[d + u];
  float s = 0;
  for (int u = 0; u < 16; u++) s += acc[u];
  for (; d < n; d++) s += a[d] * b[d];
  return s;
}

void decode_one(float* o, const float* q, const float* k, const float* v, int n_keys, int kv_stride, int D,
                float scale) {
  float s[kBlock];
  float m = -std::numeric_limits<float>::infinity(), l = 0.0f;
  std::fill(o, o + D, 0.0f);
  for (int j0 = 0; j0 < n_keys; j0 += kBlock) {
    const int jn = std::min(kBlock, n_keys - j0);
    float block_max = -std::numeric_limits<float>::infinity();
    for (int j = 0; j < jn; j++) {
      s[j] = dot(q, k + size_t(j0 + j) * kv_stride, D) * scale;
      block_max = std::max(block_max, s[j]);
    }
    const float m_new = std::max(m, block_max);
    // First block: m = -inf, so the correction is 0 on an all-zero state.
    const float corr = cpu::fast_exp(m - m_new);
    l *= corr;
    for (int d = 0; d < D; d++) o[d] *= corr;
    for (int j = 0; j < jn; j++) {
      s[j] = cpu::fast_exp(s[j] - m_new);
      l += s[j];
    }
    for (int j = 0; j < jn; j++) {
      const float p = s[j];
      const float* vj = v + size_t(j0 + j) * kv_stride;
      for (int d = 0; d < D; d++) o[d] += p * vj[d];
    }
    m = m_new;
  }
  const float inv = 1.0f / l;
  for (int d = 0; d < D; d++) o[d] *= inv;
}

}  // namespace

void attention_decode(float* out, const float* q, const float* k_cache, const float* v_cache, int first, int n,
                      int H, int KVH, int D) {
  TLM_CHECK(n >= 0 && first >= 0 && H > 0 && KVH > 0 && H % KVH == 0 && D > 0,
            "attention_decode: first %d n %d H %d KVH %d D %d", first, n, H, KVH, D);
  const int group = H / KVH, kv_stride = KVH * D, q_stride = H * D;
  const float scale = 1.0f / std::sqrt(float(D));
  // Later queries see more keys: dynamic scheduling balances a prefill's triangle.
#pragma omp parallel for collapse(2) schedule(dynamic, 1)
  for (int i = 0; i < n; i++)
    for (int h = 0; h < H; h++) {
      const int kvh = h / group;
      decode_one(out + size_t(i) * q_stride + size_t(h) * D, q + size_t(i) * q_stride + size_t(h) * D,
                 k_cache + size_t(kvh) * D, v_cache + size_t(kvh) * D, first + i + 1, kv_stride, D, scale);
    }
}

}  // namespace tlm::ops
