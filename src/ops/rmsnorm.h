// RMSNorm (Zhang & Sennrich 2019), as Llama uses it: y = x / sqrt(mean(x^2) + eps) * weight,
// no mean subtraction, no bias. The reciprocal RMS of every row is saved for backward.
#pragma once

#include <cstdint>

namespace tlm::ops {

// out[N, C], rstd[N] = 1 / sqrt(mean(inp[n]^2) + eps).
void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int N, int C, float eps);

// dinp[N, C] += d/dinp, dweight[C] += d/dweight (summed over rows in a fixed order, so the
// result does not depend on the thread count).
void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                      const float* rstd, int N, int C);


// CUDA (ops/cuda/rmsnorm.cu), device pointers. The residual stream comes in fp32 and the
// normalised output goes out in bf16, the input of the next matrix product; weights, rstd and
// the weight gradient stay fp32.
namespace cuda {
using bf16 = uint16_t;  // bfloat16 bits (device __nv_bfloat16)
// out[N, C] (bf16), rstd[N] = 1 / sqrt(mean(inp[n]^2) + eps).
void rmsnorm_forward(bf16* out, float* rstd, const float* inp, const float* weight, int N, int C, float eps);
// dinp[N, C] += d/dinp (fp32), and dinp_bf16 (if not null) = the updated dinp rounded to bf16
// (the next matrix product reads it); dweight[C] += d/dweight, summed over rows in a fixed
// order (deterministic, no atomics). dout is bf16.
void rmsnorm_backward(float* dinp, bf16* dinp_bf16, float* dweight, const bf16* dout, const float* inp,
                      const float* weight, const float* rstd, int N, int C);
}  // namespace cuda

}  // namespace tlm::ops
