// Causal self-attention with grouped-query heads and document masking, in the style of
// FlashAttention: scores are computed one tile of query rows at a time, so no T x T score matrix
// is ever stored; only the log-sum-exp of every query row is kept for backward (which recomputes
// the scores).
//
// Layout: one fused projection gives qkv[B*T, (H + 2*KVH) * D], each row = [q heads | k heads |
// v heads]; query head h reads KV head h / (H / KVH). Document masking: query i of a sequence
// sees key j iff doc_start[i] <= j <= i, where doc_start[i] is the index (within its sequence,
// 0..T-1) of the first token of i's document. Tweets packed into one sequence never see
// each other.
#pragma once

#include <cstdint>

namespace tlm::ops {

// out[B*T, H*D]; lse[B, H, T] = log sum_j exp(score_ij), score = q.k / sqrt(D).
void attention_forward(float* out, float* lse, const float* qkv, const int32_t* doc_start, int B, int T, int H,
                       int KVH, int D);

// dqkv[B*T, (H + 2*KVH) * D] += gradient w.r.t. q, k and v, given dout[B*T, H*D] and the
// forward's qkv, out and lse.
void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* out, const float* lse,
                        const int32_t* doc_start, int B, int T, int H, int KVH, int D);

// The same two ops with bf16 tile products (bf16 operands, fp32 accumulation) for
// mixed-precision training; inputs, outputs and everything between the products (softmax,
// lse, the score gradient) stay fp32. Backward sums delta = p . dp over each row instead of
// reading out (only the fp32 fallback reads it). On CPUs without AVX512-BF16 they are the fp32
// ops.
void attention_forward_bf16(float* out, float* lse, const float* qkv, const int32_t* doc_start, int B, int T, int H,
                            int KVH, int D);
void attention_backward_bf16(float* dqkv, const float* dout, const float* qkv, const float* out, const float* lse,
                             const int32_t* doc_start, int B, int T, int H, int KVH, int D);
// Whether the _bf16 ops run bf16 products on this CPU (false: they fall back to fp32).
bool have_bf16_attention();

// Inference with a KV cache: n new query rows q[n, H*D] at cache positions first..first+n-1
// attend causally to keys/values k_cache/v_cache[0 .. first+n) of shape [*, KVH*D] (already
// holding the new tokens' K and V). out[n, H*D]. One sequence, one document.
void attention_decode(float* out, const float* q, const float* k_cache, const float* v_cache, int first, int n,
                      int H, int KVH, int D);


// CUDA (ops/cuda/attention.cu): the same attention on bf16 qkv with fp32 softmax statistics, in
// the style of FlashAttention-2: tiles of 64 queries x 64 keys in shared memory, bf16 tensor-core
// products (wmma) with fp32 accumulation, key tiles skipped when document masking or causality
// hide them entirely. The backward is deterministic: one kernel for dq (per query tile) and one
// for dk/dv (per key tile, over the query heads of its KV group), so no atomics. It overwrites
// dqkv. D must be a multiple of 16, at most 128.
namespace cuda {
using bf16 = uint16_t;
void attention_forward(bf16* out, float* lse, const bf16* qkv, const int32_t* doc_start, int B, int T, int H, int KVH,
                       int D);
void attention_backward(bf16* dqkv, const bf16* dout, const bf16* qkv, const bf16* out, const float* lse,
                        const int32_t* doc_start, int B, int T, int H, int KVH, int D);
}  // namespace cuda

}  // namespace tlm::ops
