// Token embedding on the GPU (reference: ops/cpu/embedding.cpp). The forward is a row gather,
// 16-byte copies when the rows allow it. The backward is a scatter-add made deterministic
// without atomics: the host groups the positions of every distinct token (the tokens of a
// batch are on the host anyway), then one block per distinct token owns that token's row of
// dwte and adds the gradient rows into it in position order, starting from the old value, as
// the CPU does; so the result is the CPU's bit for bit, whatever the grid.
// A very frequent token makes its block the longest (its rows are summed serially over
// positions, in parallel over channels); at tweet-sized batches that is a small cost.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "ops/cuda/common.cuh"
#include "ops/embedding.h"

namespace tlm::ops::cuda {

namespace {

constexpr int kThreads = 256;

// out[n, :] = wte[tokens[n], :], over C4 = C / 4 float4 per row.
__global__ void embedding_forward_vec_kernel(float4* out, const int32_t* tokens, const float4* wte, int N, int C4) {
  const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= size_t(N) * C4) return;
  const size_t n = i / C4, c = i % C4;
  out[i] = wte[size_t(tokens[n]) * C4 + c];
}

__global__ void embedding_forward_kernel(float* out, const int32_t* tokens, const float* wte, int N, int C) {
  const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= size_t(N) * C) return;
  const size_t n = i / C, c = i % C;
  out[i] = wte[size_t(tokens[n]) * C + c];
}

// Block b owns dwte[uniq[b], :]; every thread a set of channels, summed over the token's
// positions in increasing order.
__global__ void embedding_backward_kernel(float* dwte, const float* dout, const int32_t* uniq, const int32_t* offsets,
                                          const int32_t* positions, int C) {
  const int b = blockIdx.x;
  const int p0 = offsets[b], p1 = offsets[b + 1];
  float* d = dwte + size_t(uniq[b]) * C;
  for (int c = threadIdx.x; c < C; c += blockDim.x) {
    float s = d[c];
    for (int p = p0; p < p1; p++) s += dout[size_t(positions[p]) * C + c];
    d[c] = s;
  }
}

// The same over float4 (C4 = C / 4), each lane of the vector summed separately in the same order.
__global__ void embedding_backward_vec_kernel(float4* dwte, const float4* dout, const int32_t* uniq,
                                              const int32_t* offsets, const int32_t* positions, int C4) {
  const int b = blockIdx.x;
  const int p0 = offsets[b], p1 = offsets[b + 1];
  float4* d = dwte + size_t(uniq[b]) * C4;
  for (int c = threadIdx.x; c < C4; c += blockDim.x) {
    float4 s = d[c];
    for (int p = p0; p < p1; p++) {
      const float4 g = dout[size_t(positions[p]) * C4 + c];
      s.x += g.x;
      s.y += g.y;
      s.z += g.z;
      s.w += g.w;
    }
    d[c] = s;
  }
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }
// Threads for a block that loops over `width` items: whole warps, at most kThreads.
unsigned threads_for(int width) { return unsigned(std::min(kThreads, (width + 31) / 32 * 32)); }

}  // namespace

void embedding_forward(float* out, const int32_t* tokens, const float* wte, int N, int C) {
  TLM_CHECK(N >= 0 && C > 0, "embedding_forward: N %d, C %d", N, C);
  if (N == 0) return;
  if (C % 4 == 0 && aligned16(out) && aligned16(wte)) {
    const int C4 = C / 4;
    launch("embedding_forward_vec", embedding_forward_vec_kernel, ceil_div(size_t(N) * C4, kThreads), kThreads, 0,
           reinterpret_cast<float4*>(out), tokens, reinterpret_cast<const float4*>(wte), N, C4);
  } else {
    launch("embedding_forward", embedding_forward_kernel, ceil_div(size_t(N) * C, kThreads), kThreads, 0, out, tokens,
           wte, N, C);
  }
}

void embedding_backward_index(std::vector<int32_t>& uniq, std::vector<int32_t>& offsets,
                              std::vector<int32_t>& positions, const int32_t* tokens, int N) {
  TLM_CHECK(N >= 0, "embedding_backward_index: N %d", N);
  // (token, position) packed in one key: sorting the keys orders by token, then by position.
  std::vector<uint64_t> keys(N);
  for (int n = 0; n < N; n++) {
    TLM_CHECK(tokens[n] >= 0, "embedding_backward_index: token %d at position %d is negative", tokens[n], n);
    keys[n] = uint64_t(uint32_t(tokens[n])) << 32 | uint32_t(n);
  }
  std::sort(keys.begin(), keys.end());
  uniq.clear();
  offsets.clear();
  positions.resize(N);
  for (int i = 0; i < N; i++) {
    const int32_t token = int32_t(keys[i] >> 32);
    if (uniq.empty() || uniq.back() != token) {
      uniq.push_back(token);
      offsets.push_back(i);
    }
    positions[i] = int32_t(keys[i] & 0xffffffffu);
  }
  offsets.push_back(N);
}

void embedding_backward(float* dwte, const float* dout, const int32_t* uniq, const int32_t* offsets,
                        const int32_t* positions, int n_uniq, int C) {
  TLM_CHECK(n_uniq >= 0 && C > 0, "embedding_backward: n_uniq %d, C %d", n_uniq, C);
  if (n_uniq == 0) return;
  if (C % 4 == 0 && aligned16(dwte) && aligned16(dout)) {
    const int C4 = C / 4;
    launch("embedding_backward_vec", embedding_backward_vec_kernel, unsigned(n_uniq), threads_for(C4), 0,
           reinterpret_cast<float4*>(dwte), reinterpret_cast<const float4*>(dout), uniq, offsets, positions, C4);
  } else {
    launch("embedding_backward", embedding_backward_kernel, unsigned(n_uniq), threads_for(C), 0, dwte, dout,
           uniq, offsets, positions, C);
  }
}

}  // namespace tlm::ops::cuda
