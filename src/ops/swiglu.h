// SwiGLU (Shazeer 2020), the Llama MLP non-linearity: out = silu(gate) * up. gate and up come
// from one fused projection (gate_proj and up_proj are adjacent in the parameter buffer), so
// the input row is [gate (F) | up (F)].
#pragma once

#include <cstdint>

namespace tlm::ops {

// out[N, F] = silu(gateup[:, :F]) * gateup[:, F:].
void swiglu_forward(float* out, const float* gateup, int N, int F);

// dgateup[N, 2F] += gradient w.r.t. gate and up.
void swiglu_backward(float* dgateup, const float* dout, const float* gateup, int N, int F);


// CUDA (ops/cuda/swiglu.cu), bf16 in and out, fp32 arithmetic. The backward overwrites
// dgateup (the model has no other source of that gradient).
namespace cuda {
using bf16 = uint16_t;
void swiglu_forward(bf16* out, const bf16* gateup, int N, int F);
void swiglu_backward(bf16* dgateup, const bf16* dout, const bf16* gateup, int N, int F);
}  // namespace cuda

}  // namespace tlm::ops
