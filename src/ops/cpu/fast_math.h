// Internal to the CPU ops: a vectorisable exp and sqrt.
//
// Without -ffast-math GCC does not call glibc's vector expf (libmvec) from a loop, so a loop
// over std::exp stays scalar, and the softmax of the cross-entropy alone evaluates N x V
// exponentials per step. fast_exp(float) is the Cephes expf polynomial (max relative error
// 1.4 ulp against the exact value) written with selects only, so GCC vectorises it to AVX-512.
// fast_exp(double) is std::exp: the double instantiations of the ops exist for the
// finite-difference tests, which need exp to full double precision and not speed.
//
// sqrt_inplace exists for a similar reason: std::sqrt may set errno, so GCC keeps a scalar call
// in every loop that uses it (and ignores optimize("no-math-errno") on a function). The vector
// instruction used instead is correctly rounded, as std::sqrt is, so the bits are the same.
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
  constexpr float kHi = 88.3762626f;   // 127.5 ln2: above it 2^n would need exponent 128; gives inf
  constexpr float kLo = -87.3365448f;  // log(FLT_MIN): below it the result is flushed to 0
  float xc = x < kLo ? kLo : x;
  xc = xc > kHi ? kHi : xc;
  // x = n ln2 + r with n = round(x / ln2), |r| <= ln2/2. Adding 1.5 * 2^23 rounds to an integer
  // and leaves n in the low mantissa bits of t (std::floor/nearbyint would not vectorise
  // without -fno-trapping-math, and no float -> int conversion is needed this way).
  constexpr float kRound = 12582912.0f;
  const float t = xc * 1.44269504088896341f + kRound;
  const float n = t - kRound;
  float r = xc - n * 0.693359375f;  // ln2 split in two (Cody-Waite): n * 0.693359375 is exact
  r = r + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  // 2^n: n + 127 shifted into the exponent field; the high bits of t shift out
  const float scale = std::bit_cast<float>((std::bit_cast<uint32_t>(t) + 127u) << 23);
  float y = p * scale;  // NaN in, NaN out: a NaN loss must stay visible
  y = x < kLo ? 0.0f : y;
  return x > kHi ? std::numeric_limits<float>::infinity() : y;
}

inline double fast_exp(double x) { return std::exp(x); }

inline void sqrt_inplace(float* x, int n) {
  int i = 0;
#if defined(__AVX512F__)
  // (maskz with a full mask: _mm512_sqrt_ps trips GCC 12's -Wmaybe-uninitialized)
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(x + i, _mm512_maskz_sqrt_ps(__mmask16(0xffff), _mm512_loadu_ps(x + i)));
#elif defined(__AVX__)
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_sqrt_ps(_mm256_loadu_ps(x + i)));
#endif
  for (; i < n; ++i) x[i] = std::sqrt(x[i]);
}

}  // namespace tlm::ops::cpu
