// RoPE on the GPU (reference: ops/cpu/rope.cpp), in place on the bf16 q and k heads of the
// fused qkv rows: element i of a head pairs with element i + D/2 ("rotate half") and turns by
// the angle of the row's position, read from the fp32 cos/sin tables [max_pos, D/2]. One thread
// per (row, head, pair): consecutive threads take consecutive pairs of a head, so the table
// reads and both halves of the head are coalesced. The arithmetic is the CPU op's, in fp32,
// rounded to bf16 once on the store. Positions are not range-checked (they live on the device):
// the caller keeps them below the table's max_pos.
#include "ops/cuda/common.cuh"
#include "ops/rope.h"

namespace tlm::ops::cuda {

namespace {

constexpr int kThreads = 256;

// sign = 1 rotates by +angle (forward), -1 by -angle (backward: the inverse rotation).
__global__ void rope_kernel(bf16_t* x, int row_stride, const int32_t* pos, const float* cos, const float* sin, int N,
                            int n_heads, int half, float sign) {
  const size_t idx = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= size_t(N) * n_heads * half) return;
  const int i = int(idx % half);
  const size_t head = idx / half;  // row * n_heads + h
  const int h = int(head % n_heads);
  const size_t row = head / n_heads;
  const size_t t = size_t(pos[row]) * half + i;
  const float c = cos[t], s = sign * sin[t];
  bf16_t* x1 = x + row * row_stride + size_t(h) * 2 * half + i;
  bf16_t* x2 = x1 + half;
  const float a = to_float(*x1), b = to_float(*x2);
  *x1 = to_bf16(a * c - b * s);
  *x2 = to_bf16(b * c + a * s);
}

void rotate(const char* name, bf16* x, int row_stride, const int32_t* pos, const float* cos, const float* sin, int N,
            int n_heads, int D, float sign) {
  TLM_CHECK(N > 0 && n_heads > 0 && D > 0 && D % 2 == 0 && row_stride >= n_heads * D,
            "%s: N %d, n_heads %d, D %d (even), row_stride %d", name, N, n_heads, D, row_stride);
  const size_t pairs = size_t(N) * n_heads * (D / 2);
  launch(name, rope_kernel, ceil_div(pairs, kThreads), kThreads, 0, reinterpret_cast<bf16_t*>(x), row_stride, pos,
         cos, sin, N, n_heads, D / 2, sign);
}

}  // namespace

void rope_forward(bf16* x, int row_stride, const int32_t* pos, const float* cos, const float* sin, int N, int n_heads,
                  int D) {
  rotate("rope_forward", x, row_stride, pos, cos, sin, N, n_heads, D, 1.0f);
}

void rope_backward(bf16* dx, int row_stride, const int32_t* pos, const float* cos, const float* sin, int N,
                   int n_heads, int D) {
  rotate("rope_backward", dx, row_stride, pos, cos, sin, N, n_heads, D, -1.0f);
}

}  // namespace tlm::ops::cuda
