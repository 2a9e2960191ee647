// Fused softmax + cross-entropy on the GPU (reference: ops/cpu/cross_entropy.cpp). One block
// per row of bf16 logits, fp32 arithmetic. Forward: the row maximum, then sum(exp(x - max)),
// both block reductions in a fixed order (so the same bits on every run); only
// lse = max + log(sum) is kept. Backward recomputes softmax = exp(x - lse) and writes the bf16
// gradient, in place when dlogits == logits: every element is read and then written by the
// same thread, and the target's indicator is applied in that same step, so no thread reads an
// element another one has written.
// Rows are read 16 bytes (8 bf16) at a time when V % 8 == 0 and the buffer is 16-byte aligned
// (GPT-2's padded vocabulary, 50304, is), element by element otherwise. The 16 bytes travel as
// a float4 whose bits are unpacked by hand: bf16 -> float is a shift, float -> bf16 the
// round-to-nearest-even of the bit pattern, as the device and ops::to_bf16 do.
#include "ops/cross_entropy.h"
#include "ops/cuda/common.cuh"

namespace tlm::ops::cuda {

namespace {

constexpr int kThreads = 512;

__device__ __forceinline__ float bf16_lo(unsigned w) { return __uint_as_float(w << 16); }
__device__ __forceinline__ float bf16_hi(unsigned w) { return __uint_as_float(w & 0xffff0000u); }
__device__ __forceinline__ unsigned bf16_bits(float f) {
  const unsigned u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (u >> 16) | 0x40u;  // NaN stays a quiet NaN
  return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

// f(x) for every logit of the row that this thread owns (kVec: 8 consecutive ones at a time).
template <bool kVec, class F>
__device__ __forceinline__ void for_each_logit(const bf16_t* x, int V, F f) {
  if constexpr (kVec) {
    const float4* x8 = reinterpret_cast<const float4*>(x);
    for (int i = threadIdx.x; i < V / 8; i += blockDim.x) {
      const float4 r = x8[i];
      const unsigned w[4] = {__float_as_uint(r.x), __float_as_uint(r.y), __float_as_uint(r.z), __float_as_uint(r.w)};
      for (int k = 0; k < 4; k++) {
        f(bf16_lo(w[k]));
        f(bf16_hi(w[k]));
      }
    }
  } else {
    for (int v = threadIdx.x; v < V; v += blockDim.x) f(to_float(x[v]));
  }
}

template <bool kVec>
__global__ void __launch_bounds__(kThreads)
    cross_entropy_forward_kernel(float* losses, float* lse, const bf16_t* logits, const int32_t* targets, int V) {
  __shared__ float scratch[32];
  const int n = blockIdx.x;
  const bf16_t* x = logits + size_t(n) * V;
  float m = -INFINITY;
  for_each_logit<kVec>(x, V, [&](float xv) { m = fmaxf(m, xv); });
  m = block_max(m, scratch);
  float s = 0.0f;
  for_each_logit<kVec>(x, V, [&](float xv) { s += expf(xv - m); });
  s = block_sum(s, scratch);
  if (threadIdx.x == 0) {
    const float log_sum = logf(s);
    lse[n] = m + log_sum;
    // (max - x_t) + log(sum), as the CPU op: exact to the loss's precision for large logits.
    // A target >= V (the caller validates them on the host) gives NaN, so it cannot go unseen.
    const int t = targets[n];
    losses[n] = t < 0 ? 0.0f : t < V ? (m - to_float(x[t])) + log_sum : NAN;
  }
}

template <bool kVec>
__global__ void __launch_bounds__(kThreads)
    cross_entropy_backward_kernel(bf16_t* dlogits, const bf16_t* logits, const float* lse, const int32_t* targets,
                                  float dloss, int V) {
  const int n = blockIdx.x, t = targets[n];
  const bf16_t* x = logits + size_t(n) * V;
  bf16_t* dx = dlogits + size_t(n) * V;
  const float l = lse[n];
  auto grad = [&](float xv, int v) { return dloss * (expf(xv - l) - (v == t ? 1.0f : 0.0f)); };
  // rows without a target write zeros, without reading their logits
  if constexpr (kVec) {
    const float4* x8 = reinterpret_cast<const float4*>(x);
    float4* dx8 = reinterpret_cast<float4*>(dx);
    for (int i = threadIdx.x; i < V / 8; i += blockDim.x) {
      if (t < 0) {
        dx8[i] = float4{0.0f, 0.0f, 0.0f, 0.0f};
        continue;
      }
      const float4 r = x8[i];
      unsigned w[4] = {__float_as_uint(r.x), __float_as_uint(r.y), __float_as_uint(r.z), __float_as_uint(r.w)};
      for (int k = 0; k < 4; k++) {
        const int v = 8 * i + 2 * k;
        w[k] = bf16_bits(grad(bf16_lo(w[k]), v)) | bf16_bits(grad(bf16_hi(w[k]), v + 1)) << 16;
      }
      dx8[i] = float4{__uint_as_float(w[0]), __uint_as_float(w[1]), __uint_as_float(w[2]), __uint_as_float(w[3])};
    }
  } else {
    for (int v = threadIdx.x; v < V; v += blockDim.x) dx[v] = to_bf16(t < 0 ? 0.0f : grad(to_float(x[v]), v));
  }
}

bool vectorised(const void* p, int V) { return V % 8 == 0 && reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

void cross_entropy_forward(float* losses, float* lse, const bf16* logits, const int32_t* targets, int N, int V) {
  TLM_CHECK(N >= 0 && V > 0, "cross_entropy_forward: N %d, V %d", N, V);
  if (N == 0) return;
  const bf16_t* x = reinterpret_cast<const bf16_t*>(logits);
  if (vectorised(logits, V))
    launch("cross_entropy_forward_vec", cross_entropy_forward_kernel<true>, unsigned(N), kThreads, 0, losses, lse, x,
           targets, V);
  else
    launch("cross_entropy_forward", cross_entropy_forward_kernel<false>, unsigned(N), kThreads, 0, losses, lse, x,
           targets, V);
}

void cross_entropy_backward(bf16* dlogits, const bf16* logits, const float* lse, const int32_t* targets, float dloss,
                            int N, int V) {
  TLM_CHECK(N >= 0 && V > 0, "cross_entropy_backward: N %d, V %d", N, V);
  if (N == 0) return;
  bf16_t* dx = reinterpret_cast<bf16_t*>(dlogits);
  const bf16_t* x = reinterpret_cast<const bf16_t*>(logits);
  if (vectorised(logits, V) && vectorised(dlogits, V))
    launch("cross_entropy_backward_vec", cross_entropy_backward_kernel<true>, unsigned(N), kThreads, 0, dx, x, lse,
           targets, dloss, V);
  else
    launch("cross_entropy_backward", cross_entropy_backward_kernel<false>, unsigned(N), kThreads, 0, dx, x, lse,
           targets, dloss, V);
}

}  // namespace tlm::ops::cuda
