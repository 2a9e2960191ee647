// Linear layers through cblas (OpenBLAS, OpenMP build: it shares our OpenMP thread pool).
// Weights are [out, in] (nn.Linear), so the forward is inp @ W^T; both backward products
// accumulate (beta = 1) because the gradients of a step are summed over micro-batches.
#include "ops/matmul.h"

#include "ops/cpu/f64.h"
#include "ops/cpu/gemm.h"

namespace tlm::ops {
namespace {

template <typename T>
void forward(T* out, const T* inp, const T* weight, int N, int IC, int OC) {
  if (N == 0 || OC == 0) return;
  if (IC == 0) {  // an empty sum (BLAS may not touch C when K = 0)
    for (long i = 0; i < long(N) * OC; ++i) out[i] = T(0);
    return;
  }
  // out[N, OC] = inp[N, IC] @ weight[OC, IC]^T
  cpu::gemm(false, true, N, OC, IC, T(1), inp, IC, weight, IC, T(0), out, OC);
}

template <typename T>
void backward(T* dinp, T* dweight, const T* dout, const T* inp, const T* weight, int N, int IC, int OC) {
  if (N == 0 || IC == 0 || OC == 0) return;
  // dinp[N, IC] += dout[N, OC] @ weight[OC, IC]
  if (dinp) cpu::gemm(false, false, N, IC, OC, T(1), dout, OC, weight, IC, T(1), dinp, IC);
  // dweight[OC, IC] += dout[N, OC]^T @ inp[N, IC]
  if (dweight) cpu::gemm(true, false, OC, IC, N, T(1), dout, OC, inp, IC, T(1), dweight, IC);
}

}  // namespace

void matmul_forward(float* out, const float* inp, const float* weight, int N, int IC, int OC) {
  forward(out, inp, weight, N, IC, OC);
}
void matmul_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight, int N,
                     int IC, int OC) {
  backward(dinp, dweight, dout, inp, weight, N, IC, OC);
}

namespace f64 {
void matmul_forward(double* out, const double* inp, const double* weight, int N, int IC, int OC) {
  forward(out, inp, weight, N, IC, OC);
}
void matmul_backward(double* dinp, double* dweight, const double* dout, const double* inp, const double* weight,
                     int N, int IC, int OC) {
  backward(dinp, dweight, dout, inp, weight, N, IC, OC);
}
}  // namespace f64

}  // namespace tlm::ops
