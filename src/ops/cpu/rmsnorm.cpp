// RMSNorm, forward and backward, one row per loop iteration. The weight gradient is a sum over
// all rows: rows are grouped in chunks of a fixed size, each chunk sums its rows in order into
// its own partial vector, and the partials are added in chunk order, so the result is the same
// for any number of threads.
#include "ops/rmsnorm.h"

#include <algorithm>
#include <cmath>

#include "ops/cpu/f64.h"
#include "ops/cpu/scratch.h"

namespace tlm::ops {
namespace {

constexpr int kChunkRows = 32;

template <typename T>
void forward(T* out, T* rstd, const T* inp, const T* weight, int N, int C, T eps) {
#pragma omp parallel for schedule(static) if (long(N) * C > 16384)
  for (int n = 0; n < N; ++n) {
    const T* __restrict x = inp + long(n) * C;  // [C]
    T* __restrict y = out + long(n) * C;        // [C]
    T ss = 0;
#pragma omp simd reduction(+ : ss)
    for (int c = 0; c < C; ++c) ss += x[c] * x[c];
    T r = T(1) / std::sqrt(ss / T(C) + eps);
    rstd[n] = r;
    // (x * rstd) * weight, in the order of the Hugging Face LlamaRMSNorm
#pragma omp simd
    for (int c = 0; c < C; ++c) y[c] = (x[c] * r) * weight[c];
  }
}

// One row: y = w * x * r with r = (mean(x^2) + eps)^-1/2, so
//   dx = r * (w * dy) - r^3 / C * x * sum(w * dy * x),  dw += dy * x * r.
template <typename T>
void backward_row(T* __restrict dx, T* __restrict dw, const T* __restrict dy, const T* __restrict x,
                  const T* __restrict w, T r, int C) {
  T dot = 0;
#pragma omp simd reduction(+ : dot)
  for (int c = 0; c < C; ++c) dot += dy[c] * w[c] * x[c];
  T k = r * r * r * dot / T(C);
#pragma omp simd
  for (int c = 0; c < C; ++c) {
    dx[c] += r * (w[c] * dy[c]) - k * x[c];
    dw[c] += dy[c] * x[c] * r;
  }
}

template <typename T>
void backward(T* dinp, T* dweight, const T* dout, const T* inp, const T* weight, const T* rstd, int N, int C) {
  int chunks = (N + kChunkRows - 1) / kChunkRows;
  if (chunks <= 1) {  // one chunk: no partials needed, and the order is the row order as well
    for (int n = 0; n < N; ++n) {
      long o = long(n) * C;
      backward_row(dinp + o, dweight, dout + o, inp + o, weight, rstd[n], C);
    }
    return;
  }
  T* partial = cpu::scratch<T>(size_t(chunks) * C);  // [chunks, C]
#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (int k = 0; k < chunks; ++k) {
      T* __restrict dw = partial + long(k) * C;
      std::fill(dw, dw + C, T(0));
      for (int n = k * kChunkRows; n < std::min(N, (k + 1) * kChunkRows); ++n) {
        long o = long(n) * C;
        backward_row(dinp + o, dw, dout + o, inp + o, weight, rstd[n], C);
      }
    }
    // dweight[c] += sum over chunks, in chunk order
#pragma omp for schedule(static)
    for (int c = 0; c < C; ++c) {
      T s = 0;
      for (int k = 0; k < chunks; ++k) s += partial[long(k) * C + c];
      dweight[c] += s;
    }
  }
}

}  // namespace

void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int N, int C, float eps) {
  forward(out, rstd, inp, weight, N, C, eps);
}
void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                      const float* rstd, int N, int C) {
  backward(dinp, dweight, dout, inp, weight, rstd, N, C);
}

namespace f64 {
void rmsnorm_forward(double* out, double* rstd, const double* inp, const double* weight, int N, int C, double eps) {
  forward(out, rstd, inp, weight, N, C, eps);
}
void rmsnorm_backward(double* dinp, double* dweight, const double* dout, const double* inp, const double* weight,
                      const double* rstd, int N, int C) {
  backward(dinp, dweight, dout, inp, weight, rstd, N, C);
}
}  // namespace f64

}  // namespace tlm::ops
