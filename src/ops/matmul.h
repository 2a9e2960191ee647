// Matrix products of the linear layers, through cblas sgemm (OpenBLAS). Weights use the PyTorch
// nn.Linear layout [out, in], the layout of the HF checkpoints, so nothing is transposed on I/O.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tlm::ops {

// out[N, OC] = inp[N, IC] @ weight[OC, IC]^T.
void matmul_forward(float* out, const float* inp, const float* weight, int N, int IC, int OC);

// dinp[N, IC] += dout[N, OC] @ weight (skipped when dinp is null),
// dweight[OC, IC] += dout^T @ inp (skipped when dweight is null).
void matmul_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                     int N, int IC, int OC);


// CUDA (ops/cuda/matmul.cu): cuBLASLt with bf16 operands and fp32 accumulation, same [OC, IC]
// weight layout. Algorithms come from cuBLASLt's heuristic, cached per shape.
namespace cuda {
using bf16 = uint16_t;
// out[N, OC] (bf16) = inp[N, IC] @ weight[OC, IC]^T.
void matmul_forward(bf16* out, const bf16* inp, const bf16* weight, int N, int IC, int OC);
// out[N, OC] (fp32) = residual[N, OC] + inp @ weight^T: the residual connection fused into the
// product's epilogue (out may alias residual).
void matmul_forward_residual(float* out, const float* residual, const bf16* inp, const bf16* weight, int N, int IC,
                             int OC);
// dinp[N, IC] (bf16) = dout @ weight, overwritten (skipped when null);
// dweight[OC, IC] (fp32) += dout^T @ inp, accumulated across micro-batches (skipped when null).
void matmul_backward(bf16* dinp, float* dweight, const bf16* dout, const bf16* inp, const bf16* weight, int N,
                     int IC, int OC);
// dst[i] = src[i] rounded to bf16 (nearest even): the bf16 copy of fp32 tensors.
void cast_to_bf16(bf16* dst, const float* src, size_t n);
}  // namespace cuda

}  // namespace tlm::ops
