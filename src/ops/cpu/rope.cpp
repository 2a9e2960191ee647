// RoPE in the Hugging Face rotate-half convention: within each head of D, element i pairs with
// element i + D/2 and the pair turns by pos * inv_freq[i].
//
// The float table reproduces PyTorch's float32 arithmetic (LlamaRotaryEmbedding): inv_freq =
// 1 / theta^(float(2i) / D) and the angle pos * inv_freq are float operations, exactly as
// PyTorch does them; only cos and sin are then evaluated in double and rounded once, which is
// within PyTorch's own cos/sin error (~1 ulp). Computing the angle in double instead would be
// more accurate but would differ from PyTorch by up to ~1e-5 at large positions.
#include "ops/rope.h"

#include <cmath>

#include "ops/cpu/f64.h"

namespace tlm::ops {
namespace {

// In place: every head of every row turned by +angle (sign = 1) or -angle (sign = -1).
template <typename T>
void rotate(T* x, int row_stride, const int32_t* pos, const T* cos, const T* sin, int N, int n_heads, int D,
            T sign) {
  int half = D / 2;
#pragma omp parallel for schedule(static) if (long(N) * n_heads * D > 16384)
  for (int n = 0; n < N; ++n) {
    const T* __restrict c = cos + long(pos[n]) * half;  // [D/2]
    const T* __restrict s = sin + long(pos[n]) * half;  // [D/2]
    for (int h = 0; h < n_heads; ++h) {
      T* __restrict x1 = x + long(n) * row_stride + long(h) * D;  // first half of the head
      T* __restrict x2 = x1 + half;                                 // second half
#pragma omp simd
      for (int i = 0; i < half; ++i) {
        T a = x1[i], b = x2[i], si = sign * s[i];
        x1[i] = a * c[i] - b * si;
        x2[i] = b * c[i] + a * si;
      }
    }
  }
}

}  // namespace

void rope_table(float* cos, float* sin, int max_pos, int D, float theta) {
  int half = D / 2;
  for (int i = 0; i < half; ++i) {
    // PyTorch: 1.0 / (theta ** (torch.arange(0, D, 2).float() / D)), all in float32
    float expo = float(2 * i) / float(D);
    float inv_freq = 1.0f / float(std::pow(double(theta), double(expo)));
    for (int p = 0; p < max_pos; ++p) {
      float angle = float(p) * inv_freq;
      cos[long(p) * half + i] = float(std::cos(double(angle)));
      sin[long(p) * half + i] = float(std::sin(double(angle)));
    }
  }
}

void rope_forward(float* x, int row_stride, const int32_t* pos, const float* cos, const float* sin, int N,
                  int n_heads, int D) {
  rotate(x, row_stride, pos, cos, sin, N, n_heads, D, 1.0f);
}
void rope_backward(float* dx, int row_stride, const int32_t* pos, const float* cos, const float* sin, int N,
                   int n_heads, int D) {
  rotate(dx, row_stride, pos, cos, sin, N, n_heads, D, -1.0f);
}

namespace f64 {
void rope_table(double* cos, double* sin, int max_pos, int D, double theta) {
  int half = D / 2;
  for (int i = 0; i < half; ++i) {
    double inv_freq = std::pow(theta, -double(2 * i) / double(D));
    for (int p = 0; p < max_pos; ++p) {
      cos[long(p) * half + i] = std::cos(p * inv_freq);
      sin[long(p) * half + i] = std::sin(p * inv_freq);
    }
  }
}
void rope_forward(double* x, int row_stride, const int32_t* pos, const double* cos, const double* sin, int N,
                  int n_heads, int D) {
  rotate(x, row_stride, pos, cos, sin, N, n_heads, D, 1.0);
}
void rope_backward(double* dx, int row_stride, const int32_t* pos, const double* cos, const double* sin, int N,
                   int n_heads, int D) {
  rotate(dx, row_stride, pos, cos, sin, N, n_heads, D, -1.0);
}
}  // namespace f64

}  // namespace tlm::ops
