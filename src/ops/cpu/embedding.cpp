// Token embedding. Backward is a scatter-add; to keep it free of atomics and independent of the
// thread count, every thread owns a slice of the channels and walks all tokens in order, so each
// dwte element receives its contributions in token order whatever the number of threads.
#include "ops/embedding.h"

#include <omp.h>

#include <algorithm>
#include <cstring>

#include "ops/cpu/f64.h"

namespace tlm::ops {
namespace {

template <typename T>
void forward(T* out, const int32_t* tokens, const T* wte, int N, int C) {
  // out[N, C] = wte[tokens[n], :]
#pragma omp parallel for schedule(static) if (long(N) * C > 16384)
  for (int n = 0; n < N; ++n) std::memcpy(out + long(n) * C, wte + long(tokens[n]) * C, sizeof(T) * C);
}

template <typename T>
void backward(T* dwte, const T* dout, const int32_t* tokens, int N, int C) {
  // dwte[tokens[n], c] += dout[n, c]; channels split in slices of whole cache lines.
  constexpr int kLine = 64 / sizeof(T);
#pragma omp parallel if (long(N) * C > 16384)
  {
    int nt = omp_get_num_threads(), tid = omp_get_thread_num();
    int lines = (C + kLine - 1) / kLine;
    int c0 = std::min(C, lines * tid / nt * kLine), c1 = std::min(C, lines * (tid + 1) / nt * kLine);
    for (int n = 0; n < N && c0 < c1; ++n) {
      T* __restrict d = dwte + long(tokens[n]) * C;
      const T* __restrict g = dout + long(n) * C;
#pragma omp simd
      for (int c = c0; c < c1; ++c) d[c] += g[c];
    }
  }
}

}  // namespace

void embedding_forward(float* out, const int32_t* tokens, const float* wte, int N, int C) {
  forward(out, tokens, wte, N, C);
}
void embedding_backward(float* dwte, const float* dout, const int32_t* tokens, int N, int C) {
  backward(dwte, dout, tokens, N, C);
}

namespace f64 {
void embedding_forward(double* out, const int32_t* tokens, const double* wte, int N, int C) {
  forward(out, tokens, wte, N, C);
}
void embedding_backward(double* dwte, const double* dout, const int32_t* tokens, int N, int C) {
  backward(dwte, dout, tokens, N, C);
}
}  // namespace f64

}  // namespace tlm::ops
