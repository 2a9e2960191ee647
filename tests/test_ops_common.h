// Helpers of the op tests (test_ops_*.cpp): random inputs that are exactly representable in
// float (so the float and double instantiations of an op see the same numbers), a central
// finite-difference gradient check in double precision, and a float-vs-double comparison.
//
// Tolerances, used by every op test unless it says otherwise:
//  - finite differences: step h = 1e-5 in double; an analytic gradient a passes against the
//    numeric n when |a - n| <= 1e-6 * max(|a|, |n|, 0.1). The step balances the truncation
//    error (~h^2 * f''' ~ 1e-10) against cancellation (~1e-16 * sum|terms| / h ~ 1e-9); the
//    floor 0.1 keeps entries that are exactly or nearly 0 from failing on that noise.
//  - float vs double: |f - d| <= 1e-5 * (|d| + rms(d)), rms over the whole tensor, so an
//    entry that is small through cancellation is judged at the scale of its tensor.
#pragma once

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "core/rng.h"

namespace tlm::testing {

constexpr double kFdStep = 1e-5;
constexpr double kFdTol = 1e-6;
constexpr double kFdFloor = 0.1;
constexpr double kF32Tol = 1e-5;

// n standard-normal values times `scale`, rounded to float and stored as double.
inline std::vector<double> randn(size_t n, uint64_t seed, double scale = 1.0) {
  Rng rng(seed, 7);
  std::vector<double> v(n);
  for (auto& x : v) x = double(float(rng.normal() * scale));
  return v;
}

inline std::vector<float> to_float(const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); }

inline double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Checks analytic[k] = d loss / d x[k] by central differences for every k (or every `stride`-th
// one). loss() must read x, which is perturbed in place and restored.
inline void expect_fd_grad(const std::string& what, std::vector<double>& x, const std::vector<double>& analytic,
                           const std::function<double()>& loss, size_t stride = 1) {
  ASSERT_EQ(x.size(), analytic.size()) << what;
  double worst = 0;
  int failures = 0;
  for (size_t k = 0; k < x.size(); k += stride) {
    double x0 = x[k];
    x[k] = x0 + kFdStep;
    double lp = loss();
    x[k] = x0 - kFdStep;
    double lm = loss();
    x[k] = x0;
    double num = (lp - lm) / (2 * kFdStep), a = analytic[k];
    double err = std::fabs(a - num) / std::max({std::fabs(a), std::fabs(num), kFdFloor});
    worst = std::max(worst, err);
    if (err > kFdTol && ++failures <= 5)
      ADD_FAILURE() << what << "[" << k << "]: analytic " << a << " vs finite difference " << num << " (rel err "
                    << err << ")";
  }
  EXPECT_EQ(failures, 0) << what << ": worst relative error " << worst;
}

inline void expect_f32_close(const std::string& what, const float* f, const double* d, size_t n,
                             double tol = kF32Tol) {
  double ss = 0;
  for (size_t i = 0; i < n; ++i) ss += d[i] * d[i];
  double rms = n ? std::sqrt(ss / n) : 0;
  int failures = 0;
  for (size_t i = 0; i < n; ++i) {
    if (std::fabs(double(f[i]) - d[i]) > tol * (std::fabs(d[i]) + rms) && ++failures <= 5)
      ADD_FAILURE() << what << "[" << i << "]: float " << f[i] << " vs double " << d[i];
  }
  EXPECT_EQ(failures, 0) << what;
}

inline void expect_f32_close(const std::string& what, const std::vector<float>& f, const std::vector<double>& d,
                             double tol = kF32Tol) {
  ASSERT_EQ(f.size(), d.size()) << what;
  expect_f32_close(what, f.data(), d.data(), f.size(), tol);
}

inline void expect_bits_equal(const std::string& what, const std::vector<float>& a, const std::vector<float>& b) {
  ASSERT_EQ(a.size(), b.size()) << what;
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << what << " differs between thread counts";
}

// Runs fn with the OpenMP thread count set to n, then restores the previous count.
template <typename Fn>
void with_threads(int n, Fn&& fn) {
  int before = omp_get_max_threads();
  omp_set_num_threads(n);
  fn();
  omp_set_num_threads(before);
}

}  // namespace tlm::testing
