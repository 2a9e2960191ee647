// Softmax + cross-entropy over the vocabulary, fused: no probability tensor is stored. Forward
// keeps one log-sum-exp per row; backward recomputes softmax from the logits and writes the
// gradient, which may overwrite the logits in place (the model does that, so the only [N, V]
// buffer of a step is the logits one).
#pragma once

#include <cstdint>

namespace tlm::ops {

// losses[N] = lse[n] - logits[n, targets[n]], lse[N] = log sum_v exp(logits[n, v]).
// targets[n] < 0 means "no target here": loss 0 (lse is still written).
void cross_entropy_forward(float* losses, float* lse, const float* logits, const int32_t* targets, int N, int V);

// dlogits[n, v] = dlosses[n] * (softmax(logits[n])[v] - [v == targets[n]]); rows with a
// negative target get 0. dlogits may be the same pointer as logits (in place). This one
// overwrites rather than accumulates: the logits gradient has no other source.
void cross_entropy_backward(float* dlogits, const float* logits, const float* lse, const int32_t* targets,
                            const float* dlosses, int N, int V);


// CUDA (ops/cuda/cross_entropy.cu), device pointers: bf16 logits, fp32 arithmetic and losses.
// The backward writes the bf16 logits gradient, in place when dlogits == logits, so a step has
// one [N, V] buffer. dloss is d(loss)/d(losses[n]) for every row with a target (the model's
// loss_scale / count); rows with a negative target get 0.
namespace cuda {
using bf16 = uint16_t;
void cross_entropy_forward(float* losses, float* lse, const bf16* logits, const int32_t* targets, int N, int V);
void cross_entropy_backward(bf16* dlogits, const bf16* logits, const float* lse, const int32_t* targets, float dloss,
                            int N, int V);
}  // namespace cuda

}  // namespace tlm::ops
