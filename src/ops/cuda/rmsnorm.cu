// RMSNorm on the GPU (reference: ops/cpu/rmsnorm.cpp). One warp per row for the row-wise
// parts; the weight gradient, a sum over all rows, is reduced in two passes (partial sums over
// fixed chunks of rows, then over the chunks) so it is the same on every run.
#include "ops/cuda/common.cuh"
#include "ops/cuda/workspace.h"
#include "ops/rmsnorm.h"

namespace tlm::ops::cuda {

namespace {

constexpr int kRowsPerBlock = 8;  // warps per block, one row each
constexpr int kChunk = 256;       // rows per partial sum of dweight

__global__ void rmsnorm_forward_kernel(bf16_t* out, float* rstd, const float* inp, const float* weight, int N, int C,
                                       float eps) {
  const int row = blockIdx.x * kRowsPerBlock + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (row >= N) return;  // whole warps leave together; no block barrier follows
  const float* x = inp + size_t(row) * C;
  float ss = 0;
  for (int c = lane; c < C; c += 32) ss += x[c] * x[c];
  const float r = rsqrtf(warp_sum(ss) / float(C) + eps);
  bf16_t* y = out + size_t(row) * C;
  for (int c = lane; c < C; c += 32) y[c] = to_bf16(x[c] * r * weight[c]);
  if (lane == 0) rstd[row] = r;
}

// dx = r * (w*dy) - x * r^3 * mean(w*dy*x), added into dinp.
__global__ void rmsnorm_backward_kernel(float* dinp, bf16_t* dinp_bf16, const bf16_t* dout, const float* inp,
                                        const float* weight, const float* rstd, int N, int C) {
  const int row = blockIdx.x * kRowsPerBlock + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (row >= N) return;
  const size_t o = size_t(row) * C;
  const float r = rstd[row];
  float dot = 0;
  for (int c = lane; c < C; c += 32) dot += to_float(dout[o + c]) * weight[c] * inp[o + c];
  dot = warp_sum(dot) / float(C);
  for (int c = lane; c < C; c += 32) {
    float d = dinp[o + c] + r * to_float(dout[o + c]) * weight[c] - inp[o + c] * r * r * r * dot;
    dinp[o + c] = d;
    if (dinp_bf16) dinp_bf16[o + c] = to_bf16(d);
  }
}

// partial[chunk, c] = sum over the chunk's rows of dout * x * rstd.
__global__ void rmsnorm_dweight_partial_kernel(float* partial, const bf16_t* dout, const float* inp,
                                               const float* rstd, int N, int C) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x, chunk = blockIdx.y;
  if (c >= C) return;
  const int n0 = chunk * kChunk, n1 = min(N, n0 + kChunk);
  float s = 0;
  for (int n = n0; n < n1; n++) s += to_float(dout[size_t(n) * C + c]) * inp[size_t(n) * C + c] * rstd[n];
  partial[size_t(chunk) * C + c] = s;
}

__global__ void rmsnorm_dweight_reduce_kernel(float* dweight, const float* partial, int chunks, int C) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  float s = 0;
  for (int k = 0; k < chunks; k++) s += partial[size_t(k) * C + c];
  dweight[c] += s;
}

}  // namespace

void rmsnorm_forward(bf16* out, float* rstd, const float* inp, const float* weight, int N, int C, float eps) {
  TLM_CHECK(N > 0 && C > 0, "rmsnorm_forward: N %d, C %d", N, C);
  launch("rmsnorm_forward", rmsnorm_forward_kernel, ceil_div(N, kRowsPerBlock), 32 * kRowsPerBlock, 0,
         reinterpret_cast<bf16_t*>(out), rstd, inp, weight, N, C, eps);
}

void rmsnorm_backward(float* dinp, bf16* dinp_bf16, float* dweight, const bf16* dout, const float* inp,
                      const float* weight, const float* rstd, int N, int C) {
  TLM_CHECK(N > 0 && C > 0, "rmsnorm_backward: N %d, C %d", N, C);
  const bf16_t* dy = reinterpret_cast<const bf16_t*>(dout);
  const int chunks = int(ceil_div(N, kChunk));
  float* partial = static_cast<float*>(workspace(size_t(chunks) * C * sizeof(float)));
  launch("rmsnorm_dweight_partial", rmsnorm_dweight_partial_kernel, dim3(ceil_div(C, 128), chunks), 128, 0, partial,
         dy, inp, rstd, N, C);
  launch("rmsnorm_dweight_reduce", rmsnorm_dweight_reduce_kernel, ceil_div(C, 128), 128, 0, dweight,
         static_cast<const float*>(partial), chunks, C);
  launch("rmsnorm_backward", rmsnorm_backward_kernel, ceil_div(N, kRowsPerBlock), 32 * kRowsPerBlock, 0, dinp,
         reinterpret_cast<bf16_t*>(dinp_bf16), dy, inp, weight, rstd, N, C);
}

}  // namespace tlm::ops::cuda
