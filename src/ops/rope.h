// Rotary position embedding (Su et al. 2021) in the Hugging Face "rotate half" convention: the
// pair (x[i], x[i + D/2]) of every head is rotated by pos * theta^(-2i/D). Positions restart at
// every tweet (document masking), so they come in per token rather than as 0..T-1.
#pragma once

#include <cstdint>

namespace tlm::ops {

// cos/sin tables [max_pos, D/2] for head dimension D (even) and base theta.
void rope_table(float* cos, float* sin, int max_pos, int D, float theta);

// In place on x: N rows of `row_stride` floats whose first `n_heads * D` floats are heads of D.
// Row n is rotated by the angle of position pos[n] (< max_pos of the table).
void rope_forward(float* x, int row_stride, const int32_t* pos, const float* cos, const float* sin, int N,
                  int n_heads, int D);

// The rotation is orthogonal, so backward rotates the gradient (in place) by the opposite angle.
void rope_backward(float* dx, int row_stride, const int32_t* pos, const float* cos, const float* sin, int N,
                   int n_heads, int D);


// CUDA (ops/cuda/rope.cu): the same rotation in place on bf16 rows (q and k of the fused qkv
// projection), fp32 tables and arithmetic; pos, cos, sin on the device.
namespace cuda {
using bf16 = uint16_t;
void rope_forward(bf16* x, int row_stride, const int32_t* pos, const float* cos, const float* sin, int N,
                  int n_heads, int D);
void rope_backward(bf16* dx, int row_stride, const int32_t* pos, const float* cos, const float* sin, int N,
                   int n_heads, int D);
}  // namespace cuda

}  // namespace tlm::ops
