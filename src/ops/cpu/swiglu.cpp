// SwiGLU on the fused [gate | up] projection: out = silu(gate) * up, silu(g) = g * sigmoid(g),
// written g / (1 + exp(-g)) as PyTorch's F.silu does. exp is the vectorisable fast_exp.
#include "ops/swiglu.h"

#include "ops/cpu/f64.h"
#include "ops/cpu/fast_math.h"

namespace tlm::ops {
namespace {

template <typename T>
void forward(T* out, const T* gateup, int N, int F) {
#pragma omp parallel for schedule(static) if (long(N) * F > 16384)
  for (int n = 0; n < N; ++n) {
    const T* __restrict g = gateup + long(n) * 2 * F;  // [F] gate
    const T* __restrict u = g + F;                     // [F] up
    T* __restrict o = out + long(n) * F;               // [F]
#pragma omp simd
    for (int f = 0; f < F; ++f) o[f] = g[f] / (T(1) + cpu::fast_exp(-g[f])) * u[f];
  }
}

// d/dg silu(g) = sig(g) * (1 + g * (1 - sig(g))); d/du = silu(g).
template <typename T>
void backward(T* dgateup, const T* dout, const T* gateup, int N, int F) {
#pragma omp parallel for schedule(static) if (long(N) * F > 16384)
  for (int n = 0; n < N; ++n) {
    const T* __restrict g = gateup + long(n) * 2 * F;
    const T* __restrict u = g + F;
    const T* __restrict dy = dout + long(n) * F;
    T* __restrict dg = dgateup + long(n) * 2 * F;
    T* __restrict du = dg + F;
#pragma omp simd
    for (int f = 0; f < F; ++f) {
      T sig = T(1) / (T(1) + cpu::fast_exp(-g[f]));
      T silu = g[f] * sig;
      dg[f] += dy[f] * u[f] * sig * (T(1) + g[f] * (T(1) - sig));
      du[f] += dy[f] * silu;
    }
  }
}

}  // namespace

void swiglu_forward(float* out, const float* gateup, int N, int F) { forward(out, gateup, N, F); }
void swiglu_backward(float* dgateup, const float* dout, const float* gateup, int N, int F) {
  backward(dgateup, dout, gateup, N, F);
}

namespace f64 {
void swiglu_forward(double* out, const double* gateup, int N, int F) { forward(out, gateup, N, F); }
void swiglu_backward(double* dgateup, const double* dout, const double* gateup, int N, int F) {
  backward(dgateup, dout, gateup, N, F);
}
}  // namespace f64

}  // namespace tlm::ops
