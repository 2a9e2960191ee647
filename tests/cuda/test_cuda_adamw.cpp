// CUDA AdamW and sum of squares against the CPU ops (ops/cpu/adamw.cpp).
// AdamW tolerance: nmse 1e-10 on param, m and v (relative ~1e-5 per value, three steps). The
// kernel evaluates the CPU's expression in the CPU's order, each operation rounded; the CPU
// build contracts some of them into FMAs (GCC's C++ default), so the two differ by ~1 ulp
// where a product meets a sum, and a mistake in the formula or order (a missing bias
// correction, decay applied after the step) is orders of magnitude above the bound. The bf16
// copy must be exactly to_bf16 of the GPU's new parameters.
// sum_squares: the GPU sums in fp32 per thread and per block where the CPU sums in double, so
// the two agree to a relative 1e-5 (a few fp32 roundings over short sums of positive terms);
// the GPU result must be the same bits on every run.
#include <gtest/gtest.h>

#include <cmath>
#include <tuple>

#include "cuda/cuda_test.h"
#include "ops/adamw.h"

namespace tlm::testing {
namespace {

// (n, weight decay, with bf16 copy)
class CudaAdamW : public ::testing::TestWithParam<std::tuple<int, float, bool>> {};

TEST_P(CudaAdamW, MatchesCpuOverSteps) {
  TLM_REQUIRE_CUDA();
  const auto [n, wd, with_bf16] = GetParam();
  ops::AdamWHyper h;
  h.lr = 1e-2f;
  h.weight_decay = wd;
  const float grad_scale = 0.7f;
  std::vector<float> p = randn_f(n, 1), m(n, 0.0f), v(n, 0.0f);
  DeviceArray<float> gp(p), gm(m), gv(v);
  DeviceArray<bf16> gpb{size_t(n)};
  for (int64_t t = 1; t <= 3; t++) {
    auto g = randn_f(n, 10 + uint64_t(t), 0.5f);
    g[0] = 0.0f;  // an exactly zero gradient (v stays 0 at step 1: denominator eps)
    ops::adamw_update(p.data(), g.data(), m.data(), v.data(), n, h, t, grad_scale);
    DeviceArray<float> gg(g);
    ops::cuda::adamw_update(gp.ptr(), with_bf16 ? gpb.ptr() : nullptr, gg.ptr(), gm.ptr(), gv.ptr(), n, h, t,
                            grad_scale);
    const auto got_p = gp.get();
    EXPECT_LT(nmse(got_p, p), 1e-10) << "step " << t;
    EXPECT_LT(nmse(gm.get(), m), 1e-10) << "step " << t;
    EXPECT_LT(nmse(gv.get(), v), 1e-10) << "step " << t;
    if (with_bf16) {
      EXPECT_EQ(gpb.get(), to_bf16(got_p)) << "step " << t;
    }
  }
  for (bool ok : {gp.guards_intact(), gm.guards_intact(), gv.guards_intact(), gpb.guards_intact()}) EXPECT_TRUE(ok);
  if (!with_bf16) {  // untouched: still the 0xFF bytes it was created with
    for (bf16 b : gpb.get()) ASSERT_EQ(b, 0xffff);
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, CudaAdamW,
                         ::testing::Values(std::tuple{1, 0.0f, true}, std::tuple{1000, 0.1f, true},
                                           std::tuple{4099, 0.0f, false}, std::tuple{4099, 0.1f, true},
                                           std::tuple{300, 0.5f, false}));

class CudaSumSquares : public ::testing::TestWithParam<int> {};

TEST_P(CudaSumSquares, MatchesCpuAndIsDeterministic) {
  TLM_REQUIRE_CUDA();
  const int n = GetParam();
  auto g = randn_f(n, 20, 0.3f);
  const double want = ops::sum_squares(g.data(), n);
  DeviceArray<float> gg(g);
  const double first = ops::cuda::sum_squares(gg.ptr(), n), second = ops::cuda::sum_squares(gg.ptr(), n);
  EXPECT_NEAR(first, want, 1e-5 * want);
  EXPECT_EQ(0, std::memcmp(&first, &second, sizeof first));
  EXPECT_TRUE(gg.guards_intact());
}

INSTANTIATE_TEST_SUITE_P(Sizes, CudaSumSquares, ::testing::Values(1, 255, 257, 10007, 300001));

TEST(CudaSumSquaresEmpty, IsZero) {
  TLM_REQUIRE_CUDA();
  EXPECT_EQ(ops::cuda::sum_squares(nullptr, 0), 0.0);
}

}  // namespace
}  // namespace tlm::testing
