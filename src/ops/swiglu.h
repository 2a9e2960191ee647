// SwiGLU (Shazeer 2020), the Llama MLP non-linearity: out = silu(gate) * up. gate and up come
// from one fused projection (gate_proj and up_proj are adjacent in the parameter buffer), so
// the input row is [gate (F) | up (F)].
#pragma once

namespace tlm::ops {

// out[N, F] = silu(gateup[:, :F]) * gateup[:, F:].
void swiglu_forward(float* out, const float* gateup, int N, int F);

// dgateup[N, 2F] += gradient w.r.t. gate and up.
void swiglu_backward(float* dgateup, const float* dout, const float* gateup, int N, int F);

}  // namespace tlm::ops
