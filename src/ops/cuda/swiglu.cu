// SwiGLU on the GPU (reference: ops/cpu/swiglu.cpp): rows of the fused [gate (F) | up (F)]
// projection in bf16, fp32 arithmetic, bf16 results. One thread per (row, f): consecutive
// threads read consecutive gate and up elements, so every access is coalesced. silu(g) is
// written g / (1 + exp(-g)) as in the CPU op and PyTorch's F.silu; expf rather than __expf keeps
// it within ~1 ulp of the CPU op's exp. The backward overwrites dgateup (see ops/swiglu.h).
#include "ops/cuda/common.cuh"
#include "ops/swiglu.h"

namespace tlm::ops::cuda {

namespace {

constexpr int kThreads = 256;

__global__ void swiglu_forward_kernel(bf16_t* out, const bf16_t* gateup, int N, int F) {
  const size_t idx = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= size_t(N) * F) return;
  const size_t n = idx / F, f = idx % F;
  const bf16_t* g = gateup + n * 2 * F;
  const float gv = to_float(g[f]), uv = to_float(g[F + f]);
  out[idx] = to_bf16(gv / (1.0f + expf(-gv)) * uv);
}

// d/dg silu(g) = sig(g) * (1 + g * (1 - sig(g))); d/du = silu(g).
__global__ void swiglu_backward_kernel(bf16_t* dgateup, const bf16_t* dout, const bf16_t* gateup, int N, int F) {
  const size_t idx = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= size_t(N) * F) return;
  const size_t n = idx / F, f = idx % F;
  const size_t o = n * 2 * F + f;
  const float gv = to_float(gateup[o]), uv = to_float(gateup[o + F]), dy = to_float(dout[idx]);
  const float sig = 1.0f / (1.0f + expf(-gv)), silu = gv * sig;
  dgateup[o] = to_bf16(dy * uv * sig * (1.0f + gv * (1.0f - sig)));
  dgateup[o + F] = to_bf16(dy * silu);
}

void check_shape(const char* op, int N, int F) { TLM_CHECK(N > 0 && F > 0, "%s: N %d, F %d", op, N, F); }

}  // namespace

void swiglu_forward(bf16* out, const bf16* gateup, int N, int F) {
  check_shape("swiglu_forward", N, F);
  launch("swiglu_forward", swiglu_forward_kernel, ceil_div(size_t(N) * F, kThreads), kThreads, 0,
         reinterpret_cast<bf16_t*>(out), reinterpret_cast<const bf16_t*>(gateup), N, F);
}

void swiglu_backward(bf16* dgateup, const bf16* dout, const bf16* gateup, int N, int F) {
  check_shape("swiglu_backward", N, F);
  launch("swiglu_backward", swiglu_backward_kernel, ceil_div(size_t(N) * F, kThreads), kThreads, 0,
         reinterpret_cast<bf16_t*>(dgateup), reinterpret_cast<const bf16_t*>(dout),
         reinterpret_cast<const bf16_t*>(gateup), N, F);
}

}  // namespace tlm::ops::cuda
