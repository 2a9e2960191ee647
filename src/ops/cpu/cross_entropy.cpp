// Fused softmax + cross-entropy over the vocabulary. Forward: one pass for the row maximum, one
// for sum(exp(x - max)); only lse = max + log(sum) is kept. Backward recomputes
// softmax = exp(x - lse) and writes the gradient, possibly over the logits themselves (in place:
// every element is read before its own slot is written, and the target logit is read first).
#include "ops/cross_entropy.h"

#include <cmath>

#include "core/check.h"
#include "ops/cpu/f64.h"
#include "ops/cpu/fast_math.h"

namespace tlm::ops {
namespace {

void check_targets(const int32_t* targets, int N, int V) {
  for (int n = 0; n < N; ++n)
    TLM_CHECK(targets[n] < V, "target %d of row %d is outside the vocabulary of %d", targets[n], n, V);
}

template <typename T>
void forward(T* losses, T* lse, const T* logits, const int32_t* targets, int N, int V) {
  check_targets(targets, N, V);
#pragma omp parallel for schedule(static) if (long(N) * V > 16384)
  for (int n = 0; n < N; ++n) {
    const T* __restrict x = logits + long(n) * V;  // [V]
    T m = -INFINITY;
#pragma omp simd reduction(max : m)
    for (int v = 0; v < V; ++v) m = x[v] > m ? x[v] : m;
    T sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int v = 0; v < V; ++v) sum += cpu::fast_exp(x[v] - m);
    T log_sum = std::log(sum);
    lse[n] = m + log_sum;
    // (max - x_t) + log(sum) rather than lse - x_t: as PyTorch's log_softmax, exact to the
    // float precision of the loss even when the logits are large (lse carries ulp(max))
    losses[n] = targets[n] >= 0 ? (m - x[targets[n]]) + log_sum : T(0);
  }
}

template <typename T>
void backward(T* dlogits, const T* logits, const T* lse, const int32_t* targets, const T* dlosses, int N, int V) {
  check_targets(targets, N, V);
#pragma omp parallel for schedule(static) if (long(N) * V > 16384)
  for (int n = 0; n < N; ++n) {
    const T* x = logits + long(n) * V;  // [V]; may be the same memory as dx
    T* dx = dlogits + long(n) * V;      // [V]
    const int t = targets[n];
    if (t < 0) {
      for (int v = 0; v < V; ++v) dx[v] = 0;
      continue;
    }
    const T d = dlosses[n], l = lse[n];
    const T pt = cpu::fast_exp(x[t] - l);  // read before the loop can overwrite it
#pragma omp simd
    for (int v = 0; v < V; ++v) dx[v] = d * cpu::fast_exp(x[v] - l);
    dx[t] = d * (pt - T(1));
  }
}

}  // namespace

void cross_entropy_forward(float* losses, float* lse, const float* logits, const int32_t* targets, int N, int V) {
  forward(losses, lse, logits, targets, N, V);
}
void cross_entropy_backward(float* dlogits, const float* logits, const float* lse, const int32_t* targets,
                            const float* dlosses, int N, int V) {
  backward(dlogits, logits, lse, targets, dlosses, N, V);
}

namespace f64 {
void cross_entropy_forward(double* losses, double* lse, const double* logits, const int32_t* targets, int N, int V) {
  forward(losses, lse, logits, targets, N, V);
}
void cross_entropy_backward(double* dlogits, const double* logits, const double* lse, const int32_t* targets,
                            const double* dlosses, int N, int V) {
  backward(dlogits, logits, lse, targets, dlosses, N, V);
}
}  // namespace f64

}  // namespace tlm::ops
