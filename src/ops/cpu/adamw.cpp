// AdamW as torch.optim.AdamW (PyTorch 1.13, single-tensor path) computes it, in the same order
// of float operations (up to the compiler's FMA contractions, ~1 ulp), so a run can be compared
// with PyTorch's:
//   p *= 1 - lr * wd                     (decoupled decay, applied to the old parameter first)
//   m = b1 * m + (1 - b1) * g;  v = b2 * v + (1 - b2) * g * g
//   p += -(lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps),  bc_k = 1 - b_k^t
// The scalar factors are computed in double (PyTorch computes them in Python) and rounded to
// float once, as PyTorch does when it hands them to its float kernels.
// sum_squares is the global gradient norm's building block: chunks of a fixed size are summed
// in double and the chunk sums added in chunk order, so the norm does not depend on threads.
#include "ops/adamw.h"

#include <algorithm>
#include <cmath>

#include "ops/cpu/fast_math.h"
#include "ops/cpu/scratch.h"

namespace tlm::ops {

void adamw_update(float* param, const float* grad, float* m, float* v, size_t n, const AdamWHyper& h, int64_t t,
                  float grad_scale) {
  const double lr = h.lr, b1 = h.beta1, b2 = h.beta2;
  const float decay = float(1.0 - lr * double(h.weight_decay));
  const float omb1 = float(1.0 - b1), omb2 = float(1.0 - b2);
  const double bc1 = 1.0 - std::pow(b1, double(t)), bc2 = 1.0 - std::pow(b2, double(t));
  const float neg_step = float(-(lr / bc1)), bc2_sqrt = float(std::sqrt(bc2)), eps = h.eps;
  const float beta1 = h.beta1, beta2 = h.beta2;
  // Blocks of a fixed size, so every element takes the same code path (vector body or scalar
  // remainder) whatever the number of threads; within a block, two vectorised passes with the
  // square roots in between (see cpu::sqrt_inplace). The decay is stored in the first pass so
  // that, as in PyTorch, p * (1 - lr*wd) is rounded before the Adam step is added (in one
  // expression the compiler would fuse the two into an FMA).
  constexpr size_t kBlock = 1024;
  const size_t blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (n > 65536)
  for (size_t k = 0; k < blocks; ++k) {
    const size_t off = k * kBlock;
    const int len = int(std::min(kBlock, n - off));
    float* __restrict p = param + off;
    const float* __restrict g = grad + off;
    float* __restrict mk = m + off;
    float* __restrict vk = v + off;
    alignas(64) float root[kBlock];
#pragma omp simd
    for (int i = 0; i < len; ++i) {
      float gi = g[i] * grad_scale;
      mk[i] = mk[i] * beta1 + omb1 * gi;
      vk[i] = vk[i] * beta2 + omb2 * gi * gi;
      root[i] = vk[i];
      p[i] = p[i] * decay;
    }
    cpu::sqrt_inplace(root, len);
#pragma omp simd
    for (int i = 0; i < len; ++i) {
      float denom = root[i] / bc2_sqrt + eps;
      p[i] = p[i] + neg_step * mk[i] / denom;
    }
  }
}

double sum_squares(const float* g, size_t n) {
  constexpr size_t kChunk = 16384;
  const size_t chunks = (n + kChunk - 1) / kChunk;
  double* partial = cpu::scratch<double>(chunks);
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (size_t k = 0; k < chunks; ++k) {
    const float* __restrict x = g + k * kChunk;
    const size_t len = std::min(kChunk, n - k * kChunk);
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (size_t i = 0; i < len; ++i) s += double(x[i]) * double(x[i]);
    partial[k] = s;
  }
  double total = 0;
  for (size_t k = 0; k < chunks; ++k) total += partial[k];
  return total;
}

float clip_scale(double norm, float max_norm) {
  if (max_norm <= 0) return 1.0f;
  // torch: clip_coef = max_norm / (total_norm + 1e-6), clamped to 1, with total_norm a float
  // (a NaN norm gives NaN, as in torch, so a broken gradient cannot pass as a clipped one)
  float coef = max_norm / (float(norm) + 1e-6f);
  return std::min(coef, 1.0f);
}

}  // namespace tlm::ops
