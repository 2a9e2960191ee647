// Residual add. Element-wise, so any split over threads gives the same bits.
#include "ops/residual.h"

#include "ops/cpu/f64.h"

namespace tlm::ops {
namespace {

constexpr long kMinParallel = 1 << 15;

template <typename T>
void forward(T* out, const T* a, const T* b, size_t n) {
  // out may alias a or b (element i reads only index i before writing it), so no restrict here
#pragma omp parallel for simd schedule(static) if (long(n) > kMinParallel)
  for (size_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

template <typename T>
void accumulate(T* __restrict d, const T* __restrict dout, size_t n) {
#pragma omp parallel for simd schedule(static) if (long(n) > kMinParallel)
  for (size_t i = 0; i < n; ++i) d[i] += dout[i];
}

template <typename T>
void backward(T* da, T* db, const T* dout, size_t n) {
  if (da) accumulate(da, dout, n);
  if (db) accumulate(db, dout, n);
}

}  // namespace

void residual_forward(float* out, const float* a, const float* b, size_t n) { forward(out, a, b, n); }
void residual_backward(float* da, float* db, const float* dout, size_t n) { backward(da, db, dout, n); }

namespace f64 {
void residual_forward(double* out, const double* a, const double* b, size_t n) { forward(out, a, b, n); }
void residual_backward(double* da, double* db, const double* dout, size_t n) { backward(da, db, dout, n); }
}  // namespace f64

}  // namespace tlm::ops
