// RMSNorm (Zhang & Sennrich 2019), as Llama uses it: y = x / sqrt(mean(x^2) + eps) * weight,
// no mean subtraction, no bias. The reciprocal RMS of every row is saved for backward.
#pragma once

namespace tlm::ops {

// out[N, C], rstd[N] = 1 / sqrt(mean(inp[n]^2) + eps).
void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int N, int C, float eps);

// dinp[N, C] += d/dinp, dweight[C] += d/dweight (summed over rows in a fixed order, so the
// result does not depend on the thread count).
void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                      const float* rstd, int N, int C);

}  // namespace tlm::ops
