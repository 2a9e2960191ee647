// bf16 matrix products of the linear layers for mixed-precision training: bf16 operands, fp32
// accumulation and fp32 outputs, through oneDNN's bf16 kernels where it has them for this CPU
// (AVX512-BF16, or emulated on AVX-512), else as fp32 sgemm on the bf16-rounded operands
// (AVX2-only CPUs, builds without oneDNN): the same numbers up to summation order. Same layout
// and semantics as matmul.h (weights [OC, IC] as nn.Linear; backward accumulates), but:
//  - the weights come packed: pack_bf16_weight rounds the fp32 master weights to bf16 and lays
//    them out the way the forward and the input-gradient kernels read them (oneDNN's blocked
//    formats), once per optimizer step; unpacked, every product would repack them (~5-10%);
//  - the forward keeps its input rounded to bf16, and the backward reads that copy instead of
//    converting the input again.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tlm::ops {

// A bfloat16 value: the upper 16 bits of an IEEE fp32 (the layout of oneDNN, PyTorch and the
// safetensors BF16 dtype).
using bf16 = uint16_t;

// Whether the products run on oneDNN's bf16 kernels (false: fp32 products of rounded operands,
// which train the same but no faster than fp32). Decided once per process; TLM_BF16_MATMUL=fp32
// in the environment forces the fp32 products.
bool have_bf16_matmul();
// What runs the products: oneDNN's instruction set ("avx512_core_bf16", ...) or the fp32 path.
const char* bf16_matmul_isa();
// Tests: on = the fp32 products from now on; off = decide again (oneDNN where it can). Call only
// with no packed weight alive: the packing differs between the two.
void use_fp32_bf16_products(bool on);

// dst[i] = src[i] rounded to the nearest bf16, ties to even; NaN stays a (quiet) NaN.
void to_bf16(bf16* dst, const float* src, size_t n);
// dst[i] = src[i] (exact).
void from_bf16(float* dst, const bf16* src, size_t n);

// Bytes of a weight [OC, IC] packed for both products (a multiple of 64).
size_t bf16_weight_bytes(int IC, int OC);
// Rounds w [OC, IC] to bf16 (nearest even) into `packed` (bf16_weight_bytes, 64-byte aligned).
void pack_bf16_weight(void* packed, const float* w, int IC, int OC);

// out[N, OC] = inp[N, IC] @ weight[OC, IC]^T with bf16 products and fp32 accumulation.
// inp is rounded to bf16 into inp_bf16 [N, IC] (the copy matmul_bf16_backward reads).
void matmul_bf16_forward(float* out, bf16* inp_bf16, const float* inp, const void* weight, int N, int IC, int OC);
// The same product for an input already in bf16.
void matmul_bf16_forward_rounded(float* out, const bf16* inp_bf16, const void* weight, int N, int IC, int OC);

// dinp[N, IC] += dout[N, OC] @ weight (skipped when dinp is null),
// dweight[OC, IC] += dout^T @ inp (skipped when dweight is null), with dout rounded to bf16,
// inp_bf16 the copy the forward kept, and fp32 accumulators.
void matmul_bf16_backward(float* dinp, float* dweight, const float* dout, const bf16* inp_bf16, const void* weight,
                          int N, int IC, int OC);

}  // namespace tlm::ops
