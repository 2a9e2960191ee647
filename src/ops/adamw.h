// AdamW (Loshchilov & Hutter 2019: weight decay decoupled from the gradient) and the global
// gradient norm for clipping. The optimizer works on one contiguous range at a time; the
// model's for_each_param visitor says which ranges get weight decay (matrices) and which do
// not (norm weights and, by default, embeddings).
#pragma once

#include <cstddef>
#include <cstdint>

namespace tlm::ops {

struct AdamWHyper {
  float lr = 3e-4f;
  float beta1 = 0.9f;
  float beta2 = 0.95f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;  // already 0 for ranges that are not decayed
};

// One update of n parameters at step t (1-based, for bias correction). The gradient is
// multiplied by grad_scale first (global-norm clipping and 1/accumulation fold into it):
//   g = grad * grad_scale; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2
//   param -= lr * (m / (1-b1^t) / (sqrt(v / (1-b2^t)) + eps) + wd * param)
// evaluated in torch.optim.AdamW's order: param *= 1 - lr*wd first, then
// param += -(lr / (1-b1^t)) * m / (sqrt(v) / sqrt(1-b2^t) + eps).
void adamw_update(float* param, const float* grad, float* m, float* v, size_t n, const AdamWHyper& h, int64_t t,
                  float grad_scale);

// sum(g^2) over n floats, in double, summed in fixed-size chunks in a fixed order (the result
// does not depend on the thread count).
double sum_squares(const float* g, size_t n);

// The factor that clips a gradient of global norm `norm` to `max_norm` (1 when within bound
// or max_norm <= 0), as torch.nn.utils.clip_grad_norm_ computes it.
float clip_scale(double norm, float max_norm);


// CUDA (ops/cuda/adamw.cu), device pointers: the same update on fp32 master weights and state
// (same formula and order as the CPU), also writing the bf16 copy the products read
// (param_bf16, skipped when null).
namespace cuda {
using bf16 = uint16_t;
void adamw_update(float* param, bf16* param_bf16, const float* grad, float* m, float* v, size_t n,
                  const AdamWHyper& h, int64_t t, float grad_scale);
// sum(g^2) over n device floats, returned to the host (synchronises); the same bits on every
// run (fixed grid, fixed order).
double sum_squares(const float* g, size_t n);
}  // namespace cuda

}  // namespace tlm::ops
