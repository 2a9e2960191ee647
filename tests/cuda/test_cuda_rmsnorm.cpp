// CUDA RMSNorm against the CPU op (ops/cpu/rmsnorm.cpp), forward and backward, over odd row
// counts and widths. Inputs are given to the CPU op as the GPU sees them (dout rounded to bf16).
#include <gtest/gtest.h>

#include "cuda/cuda_test.h"
#include "ops/rmsnorm.h"

namespace tlm::testing {
namespace {

class CudaRmsnorm : public ::testing::TestWithParam<std::pair<int, int>> {};

TEST_P(CudaRmsnorm, MatchesCpu) {
  TLM_REQUIRE_CUDA();
  const auto [N, C] = GetParam();
  const float eps = 1e-5f;
  auto x = randn_f(size_t(N) * C, 1), w = randn_f(C, 2, 0.5f), dy = round_bf16(randn_f(size_t(N) * C, 3));
  for (auto& v : w) v += 1.0f;
  auto dx0 = randn_f(size_t(N) * C, 4), dw0 = randn_f(C, 5);

  std::vector<float> y(size_t(N) * C), r(N), dx = dx0, dw = dw0;
  ops::rmsnorm_forward(y.data(), r.data(), x.data(), w.data(), N, C, eps);
  ops::rmsnorm_backward(dx.data(), dw.data(), dy.data(), x.data(), w.data(), r.data(), N, C);

  DeviceArray<float> gx(x), gw(w), gr{size_t(N)}, gdx(dx0), gdw(dw0);
  DeviceArray<bf16> gy(size_t(N) * C), gdy(to_bf16(dy)), gdxb(size_t(N) * C);
  ops::cuda::rmsnorm_forward(gy.ptr(), gr.ptr(), gx.ptr(), gw.ptr(), N, C, eps);
  ops::cuda::rmsnorm_backward(gdx.ptr(), gdxb.ptr(), gdw.ptr(), gdy.ptr(), gx.ptr(), gw.ptr(), gr.ptr(), N, C);

  EXPECT_LT(nmse(get_bf16(gy), y), kNmseOut);
  EXPECT_LT(nmse(gr.get(), r), 1e-10);
  EXPECT_LT(nmse(gdx.get(), dx), 1e-10);
  EXPECT_LT(nmse(get_bf16(gdxb), dx), kNmseOut);
  EXPECT_LT(nmse(gdw.get(), dw), 1e-10);
  for (bool ok : {gx.guards_intact(), gr.guards_intact(), gdx.guards_intact(), gdw.guards_intact(),
                  gy.guards_intact(), gdxb.guards_intact()})
    EXPECT_TRUE(ok);
}

INSTANTIATE_TEST_SUITE_P(Shapes, CudaRmsnorm,
                         ::testing::Values(std::pair{1, 1}, std::pair{7, 33}, std::pair{300, 64},
                                           std::pair{257, 768}, std::pair{9, 1000}));

TEST(CudaRmsnormDeterminism, SameBitsTwice) {
  TLM_REQUIRE_CUDA();
  const int N = 600, C = 96;
  auto x = randn_f(size_t(N) * C, 6), w = randn_f(C, 7), dy = randn_f(size_t(N) * C, 8);
  std::vector<float> results[2];
  for (auto& res : results) {
    DeviceArray<float> gx(x), gw(w), gr{size_t(N)}, gdx(std::vector<float>(size_t(N) * C, 0.f)),
        gdw(std::vector<float>(C, 0.f));
    DeviceArray<bf16> gy(size_t(N) * C), gdy(to_bf16(dy));
    ops::cuda::rmsnorm_forward(gy.ptr(), gr.ptr(), gx.ptr(), gw.ptr(), N, C, 1e-6f);
    ops::cuda::rmsnorm_backward(gdx.ptr(), nullptr, gdw.ptr(), gdy.ptr(), gx.ptr(), gw.ptr(), gr.ptr(), N, C);
    res = gdw.get();
  }
  EXPECT_EQ(0, std::memcmp(results[0].data(), results[1].data(), results[0].size() * sizeof(float)));
}

}  // namespace
}  // namespace tlm::testing
