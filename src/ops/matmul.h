// Matrix products of the linear layers, through cblas sgemm (OpenBLAS). Weights use the PyTorch
// nn.Linear layout [out, in], the layout of the HF checkpoints, so nothing is transposed on I/O.
#pragma once

namespace tlm::ops {

// out[N, OC] = inp[N, IC] @ weight[OC, IC]^T.
void matmul_forward(float* out, const float* inp, const float* weight, int N, int IC, int OC);

// dinp[N, IC] += dout[N, OC] @ weight (skipped when dinp is null),
// dweight[OC, IC] += dout^T @ inp (skipped when dweight is null).
void matmul_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                     int N, int IC, int OC);

}  // namespace tlm::ops
