// Helpers of the CUDA op tests (tests/cuda/test_*.cpp). Each test source builds twice: on the
// CUDA backend, where it needs a device ("skipped: no CUDA device" otherwise), and on the CPU
// emulator (tests/cuda_emu), where it always runs. A test compares a CUDA op with the CPU op
// (the reference, ops/cpu) on the same inputs.
//
// Tolerances are normalised mean squared errors, as ggml's test-backend-ops states them:
// nmse = sum (got - want)^2 / sum want^2. One bf16 rounding is a relative error of at most
// 2^-9, so an op whose only error is rounding its output to bf16 has nmse < ~4e-6; kNmseOut
// = 1e-5 is for those, kNmseProduct = 1e-4 for products over bf16 operands (errors add up
// over the reduced dimension, partly cancelling).
//
// Device arrays carry sentinels: kGuard elements before and after the data, filled with a
// pattern and checked after the op, so an out-of-bounds write fails the test.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/rng.h"
#include "ops/cuda_device.h"
#include "ops/matmul_bf16.h"

namespace tlm::testing {

constexpr double kNmseOut = 1e-5;
constexpr double kNmseProduct = 1e-4;

#define TLM_REQUIRE_CUDA()                                                      \
  do {                                                                          \
    if (::tlm::cuda::device_count() == 0) GTEST_SKIP() << "skipped: no CUDA device"; \
  } while (0)

using bf16 = uint16_t;

inline std::vector<float> randn_f(size_t n, uint64_t seed, float scale = 1.0f) {
  Rng rng(seed, 11);
  std::vector<float> v(n);
  for (auto& x : v) x = float(rng.normal()) * scale;
  return v;
}
inline std::vector<bf16> to_bf16(const std::vector<float>& v) {
  std::vector<bf16> b(v.size());
  ops::to_bf16(b.data(), v.data(), v.size());
  return b;
}
inline std::vector<float> from_bf16(const std::vector<bf16>& b) {
  std::vector<float> v(b.size());
  ops::from_bf16(v.data(), b.data(), b.size());
  return v;
}
// The values a bf16 tensor holds: v rounded to bf16 and back.
inline std::vector<float> round_bf16(const std::vector<float>& v) { return from_bf16(to_bf16(v)); }

inline double nmse(const std::vector<float>& got, const std::vector<float>& want) {
  EXPECT_EQ(got.size(), want.size());
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size() && i < got.size(); i++) {
    double d = double(got[i]) - double(want[i]);
    num += d * d;
    den += double(want[i]) * double(want[i]);
  }
  if (!std::isfinite(num)) return INFINITY;
  return den > 0 ? num / den : num;
}

// A device copy of a host array with sentinels on both sides.
template <class T>
class DeviceArray {
 public:
  static constexpr size_t kGuard = 64;
  explicit DeviceArray(const std::vector<T>& host) : n_(host.size()), buf_(host.size() + 2 * kGuard) {
    std::vector<T> all(n_ + 2 * kGuard);
    std::memset(all.data(), kPattern, kGuard * sizeof(T));
    std::memset(all.data() + kGuard + n_, kPattern, kGuard * sizeof(T));
    std::copy(host.begin(), host.end(), all.begin() + kGuard);
    buf_.upload(all.data(), all.size());
  }
  // n elements, uninitialised on the device (the emulator fills them with NaN bytes).
  explicit DeviceArray(size_t n) : DeviceArray(std::vector<T>(n)) {
    tlm::cuda::fill_zero(ptr(), 0);
    std::vector<unsigned char> junk(n * sizeof(T), 0xff);
    tlm::cuda::copy_to_device(ptr(), junk.data(), junk.size());
  }
  T* ptr() { return buf_.data() + kGuard; }
  const T* ptr() const { return buf_.data() + kGuard; }
  size_t size() const { return n_; }
  std::vector<T> get() const {
    std::vector<T> all(n_ + 2 * kGuard);
    buf_.download(all.data(), all.size());
    return std::vector<T>(all.begin() + kGuard, all.begin() + kGuard + n_);
  }
  // Whether the sentinels are untouched.
  bool guards_intact() const {
    std::vector<T> all(n_ + 2 * kGuard);
    buf_.download(all.data(), all.size());
    const unsigned char* b = reinterpret_cast<const unsigned char*>(all.data());
    for (size_t i = 0; i < kGuard * sizeof(T); i++)
      if (b[i] != kPattern || b[(kGuard + n_) * sizeof(T) + i] != kPattern) return false;
    return true;
  }

 private:
  static constexpr unsigned char kPattern = 0xA5;
  size_t n_;
  tlm::cuda::DeviceBuffer<T> buf_;
};

// A float tensor as the device sees it after a bf16 op: download and widen.
inline std::vector<float> get_bf16(const DeviceArray<bf16>& a) { return from_bf16(a.get()); }

}  // namespace tlm::testing
