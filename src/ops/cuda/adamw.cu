// AdamW and the gradient's sum of squares on the GPU (reference: ops/cpu/adamw.cpp).
//
// The update evaluates the CPU's formula (PyTorch's) in the CPU's order with the same float
// scalars (computed on the host in double, rounded once), every operation rounded on its own
// through the round-to-nearest intrinsics: nvcc would otherwise fuse a*b + c into FMAs where
// it sees fit, in particular the decayed parameter, which PyTorch rounds before the step is
// added. Division and square root are correctly rounded. The CPU build lets GCC contract some
// products into FMAs (-ffp-contract=fast, its C++ default), so the two agree to ~1 ulp, not
// bit for bit.
//
// sum_squares is deterministic by construction: a grid that depends only on n, a fixed
// grid-stride walk per thread (fp32), fixed-order block reductions into one partial per
// block, and the partials added on the host in double in block order.
#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/adamw.h"
#include "ops/cuda/common.cuh"
#include "ops/cuda/workspace.h"
#include "ops/cuda_device.h"

namespace tlm::ops::cuda {

namespace {

constexpr int kThreads = 256;
constexpr unsigned kSumBlocks = 256;  // partial sums of sum_squares (at most)

struct AdamWScalars {
  float beta1, beta2, omb1, omb2, decay, neg_step, bc2_sqrt, eps;
};

__global__ void adamw_kernel(float* param, bf16_t* param_bf16, const float* grad, float* m, float* v, size_t n,
                             AdamWScalars s, float grad_scale) {
  const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float g = __fmul_rn(grad[i], grad_scale);
  const float mi = __fadd_rn(__fmul_rn(m[i], s.beta1), __fmul_rn(s.omb1, g));
  const float vi = __fadd_rn(__fmul_rn(v[i], s.beta2), __fmul_rn(__fmul_rn(s.omb2, g), g));
  const float p = __fmul_rn(param[i], s.decay);
  const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), s.bc2_sqrt), s.eps);
  const float q = __fadd_rn(p, __fdiv_rn(__fmul_rn(s.neg_step, mi), denom));
  m[i] = mi;
  v[i] = vi;
  param[i] = q;
  if (param_bf16) param_bf16[i] = to_bf16(q);
}

__global__ void __launch_bounds__(kThreads) sum_squares_kernel(float* partial, const float* g, size_t n) {
  __shared__ float scratch[32];
  float s = 0.0f;
  for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    s += g[i] * g[i];
  s = block_sum(s, scratch);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

}  // namespace

void adamw_update(float* param, bf16* param_bf16, const float* grad, float* m, float* v, size_t n,
                  const AdamWHyper& h, int64_t t, float grad_scale) {
  TLM_CHECK(t >= 1, "adamw_update: step %lld (steps count from 1)", static_cast<long long>(t));
  if (n == 0) return;
  // The scalars exactly as ops::adamw_update computes them.
  const double lr = h.lr, b1 = h.beta1, b2 = h.beta2;
  const double bc1 = 1.0 - std::pow(b1, double(t)), bc2 = 1.0 - std::pow(b2, double(t));
  const AdamWScalars s{h.beta1,
                       h.beta2,
                       float(1.0 - b1),
                       float(1.0 - b2),
                       float(1.0 - lr * double(h.weight_decay)),
                       float(-(lr / bc1)),
                       float(std::sqrt(bc2)),
                       h.eps};
  launch("adamw_update", adamw_kernel, ceil_div(n, kThreads), kThreads, 0, param, reinterpret_cast<bf16_t*>(param_bf16),
         grad, m, v, n, s, grad_scale);
}

double sum_squares(const float* g, size_t n) {
  if (n == 0) return 0.0;
  const unsigned blocks = std::min<size_t>(kSumBlocks, ceil_div(n, kThreads));
  float* partial = static_cast<float*>(workspace(blocks * sizeof(float)));
  launch("sum_squares", sum_squares_kernel, blocks, kThreads, 0, partial, g, n);
  std::vector<float> host(blocks);
  tlm::cuda::copy_to_host(host.data(), partial, blocks * sizeof(float));  // synchronises
  double total = 0.0;
  for (float p : host) total += double(p);
  return total;
}

}  // namespace tlm::ops::cuda
