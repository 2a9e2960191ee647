// Internal to the CPU ops: a vectorisable exp. Without -ffast-math GCC does not call glibc's
// vector expf (libmvec) from a loop, so a loop over std::exp stays scalar; the softmax of the
// cross-entropy alone evaluates N x V exponentials per step. fast_exp<float> is the Cephes expf
// polynomial (max relative error ~2 ulp against std::exp) written with selects only, so
// GCC vectorises it to AVX-512. fast_exp<double> is std::exp: the double instantiations exist for
// the finite-difference tests, which need exp to full double precision and not speed.
// sqrt_inplace exists for the same reason: std::sqrt may set errno, so GCC keeps a scalar call
// in every loop that uses it (and ignores optimize("no-math-errno") on a function); the vector
// instruction it uses instead is correctly rounded, as std::sqrt is, so the bits are the same.
#pragma once

#if defined(__AVX512F__) || defined(__AVX__)
#include <immintrin.h>
#endif

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace tlm::ops::cpu {

inline float fast_exp(float x) {
  constexpr float kHi = 88.7228317f;    // log(FLT_MAX)
  constexpr float kLo = -87.3365448f;   // log(FLT_MIN): below it the result is flushed to 0
  // Clamp with comparisons that send NaN to kLo, so the integer conversion below never sees NaN.
  float xc = x >= kLo ? x : kLo;
  xc = xc <= kHi ? xc : kHi;
  // x = n ln2 + r with |r| <= ln2/2; ln2 split in two so n * ln2 is exact enough (Cody-Waite).
  // n is rounded to nearest by adding and subtracting 1.5 * 2^23 (std::floor and std::nearbyint
  // do not vectorise without -fno-trapping-math).
  constexpr float kRound = 12582912.0f;
  float n = (xc * 1.44269504088896341f + kRound) - kRound;
  float r = xc - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  // 2^n built in the exponent field; n in [-126, 128], and 2^128 (only for x near kHi) is made
  // 2^127 * 2 so the bit pattern stays finite.
  int32_t ni = static_cast<int32_t>(n);
  int32_t big = ni > 127 ? 1 : 0;
  float scale = std::bit_cast<float>((ni - big + 127) << 23);
  float y = p * scale * (big ? 2.0f : 1.0f);
  y = x < kLo ? 0.0f : y;
  y = x > kHi ? std::numeric_limits<float>::infinity() : y;
  return x != x ? x : y;  // NaN in, NaN out (a NaN loss must stay visible)
}

inline double fast_exp(double x) { return std::exp(x); }

inline void sqrt_inplace(float* x, int n) {
  int i = 0;
#if defined(__AVX512F__)
  // (maskz with a full mask: _mm512_sqrt_ps trips GCC 12's -Wmaybe-uninitialized)
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, _mm512_maskz_sqrt_ps(__mmask16(0xffff), _mm512_loadu_ps(x + i)));
#elif defined(__AVX__)
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_sqrt_ps(_mm256_loadu_ps(x + i)));
#endif
  for (; i < n; ++i) x[i] = std::sqrt(x[i]);
}

}  // namespace tlm::ops::cpu
