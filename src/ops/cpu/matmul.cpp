// Linear layers through cblas (OpenBLAS, OpenMP build: it shares our OpenMP thread pool), and our
// own weight-streaming loop for a few rows (decoding), where sgemm's packing dominates.
// Weights are [out, in] (nn.Linear), so the forward is inp @ W^T; both backward products
// accumulate (beta = 1) because the gradients of a step are summed over micro-batches.
#include "ops/matmul.h"

#include <type_traits>

#include "ops/cpu/f64.h"
#include "ops/cpu/gemm.h"

namespace tlm::ops {
namespace {

// Few rows (decoding: one row per sequence): sgemm packs the whole weight matrix into its
// blocked layout on every call, which for one row reads and writes every weight before the
// kernel reads them again (OpenBLAS 0.3.21 has no gemv shortcut; its copy routine took ~60%
// of batch-1 decode). Decoding is bound by reading the weights, so this path streams each
// weight row once: blocks of weight rows are dotted with every input row while they are in
// cache. Each output is one thread's fixed-order sum, so results depend neither on the thread
// count nor on the other rows of the call (up to kFewRows rows).
constexpr int kFewRows = 4;

// o[r] = dot(x, w + r * IC) for r < kBlock, 16 partial sums per row (GCC vectorises this without
// -ffast-math: a single running sum is a serial dependency it may not reorder). 16 weight rows
// per block keep 16 streams in flight: on the 2-core EPYC, config-B batch-1 decode (bench/serve)
// ran 211-230 tokens/s with 16 rows, 199-205 with 8.
constexpr int kBlock = 16;

inline void dot_block(float* o, const float* x, const float* w, int IC) {
  float a[kBlock][16] = {};
  int i = 0;
  for (; i + 16 <= IC; i += 16)
    for (int u = 0; u < 16; u++) {
      const float xv = x[i + u];
      for (int r = 0; r < kBlock; r++) a[r][u] += w[size_t(r) * IC + i + u] * xv;
    }
  for (int r = 0; r < kBlock; r++) {
    float s = 0;
    for (int u = 0; u < 16; u++) s += a[r][u];
    for (int k = i; k < IC; k++) s += w[size_t(r) * IC + k] * x[k];
    o[r] = s;
  }
}

inline float dot1(const float* x, const float* w, int IC) {
  float a[16] = {};
  int i = 0;
  for (; i + 16 <= IC; i += 16)
    for (int u = 0; u < 16; u++) a[u] += w[i + u] * x[i + u];
  float s = 0;
  for (int u = 0; u < 16; u++) s += a[u];
  for (; i < IC; i++) s += w[i] * x[i];
  return s;
}

void forward_few_rows(float* out, const float* inp, const float* weight, int N, int IC, int OC) {
  const int blocks = OC / kBlock;
#pragma omp parallel for schedule(static)
  for (int b = 0; b < blocks; b++) {
    const int o = kBlock * b;
    float r[kBlock];
    for (int n = 0; n < N; n++) {
      dot_block(r, inp + size_t(n) * IC, weight + size_t(o) * IC, IC);
      for (int k = 0; k < kBlock; k++) out[size_t(n) * OC + o + k] = r[k];
    }
  }
  for (int o = kBlock * blocks; o < OC; o++)
    for (int n = 0; n < N; n++) out[size_t(n) * OC + o] = dot1(inp + size_t(n) * IC, weight + size_t(o) * IC, IC);
}

template <typename T>
void forward(T* out, const T* inp, const T* weight, int N, int IC, int OC) {
  if (N == 0 || OC == 0) return;
  if (IC == 0) {  // an empty sum (BLAS may not touch C when K = 0)
    for (long i = 0; i < long(N) * OC; ++i) out[i] = T(0);
    return;
  }
  if constexpr (std::is_same_v<T, float>) {
    if (N <= kFewRows) {
      forward_few_rows(out, inp, weight, N, IC, OC);
      return;
    }
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
