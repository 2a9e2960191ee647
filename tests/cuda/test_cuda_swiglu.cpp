// CUDA SwiGLU (ops/cuda/swiglu.cu) against the CPU op (ops/cpu/swiglu.cpp), forward and
// backward, on the same bf16-rounded inputs, over odd widths and row counts. The CPU backward
// accumulates into dgateup, the CUDA one overwrites it: the CPU op gets zeros, the CUDA one an
// uninitialised (NaN-filled, on the emulator) buffer, so an element it fails to write shows.
//
// Tolerance: the same fp32 formulas on the same inputs; the exponentials differ by ~1 ulp
// (CPU fast_exp, GPU expf) and the GPU rounds each result to bf16: kNmseOut.
#include <gtest/gtest.h>

#include "cuda/cuda_test.h"
#include "ops/swiglu.h"

namespace tlm::testing {
namespace {

class CudaSwiglu : public ::testing::TestWithParam<std::pair<int, int>> {};

TEST_P(CudaSwiglu, MatchesCpu) {
  TLM_REQUIRE_CUDA();
  const auto [N, F] = GetParam();
  // Scale 3: gates well into both saturated ends of the sigmoid.
  const std::vector<float> gu = round_bf16(randn_f(size_t(N) * 2 * F, 51 + N, 3.0f)),
                           dy = round_bf16(randn_f(size_t(N) * F, 52 + N));
  std::vector<float> y(size_t(N) * F), dgu(size_t(N) * 2 * F, 0.f);
  ops::swiglu_forward(y.data(), gu.data(), N, F);
  ops::swiglu_backward(dgu.data(), dy.data(), gu.data(), N, F);

  DeviceArray<bf16> ggu(to_bf16(gu)), gdy(to_bf16(dy)), gy(size_t(N) * F), gdgu(size_t(N) * 2 * F);
  ops::cuda::swiglu_forward(gy.ptr(), ggu.ptr(), N, F);
  ops::cuda::swiglu_backward(gdgu.ptr(), gdy.ptr(), ggu.ptr(), N, F);

  EXPECT_LT(nmse(get_bf16(gy), y), kNmseOut);
  const std::vector<float> got = get_bf16(gdgu);
  EXPECT_LT(nmse(got, dgu), kNmseOut);
  // The gate and up halves separately: a swap or a half left unwritten fails here.
  std::vector<float> got_g, got_u, want_g, want_u;
  for (size_t i = 0; i < got.size(); i++) {
    bool gate = (i / F) % 2 == 0;
    (gate ? got_g : got_u).push_back(got[i]);
    (gate ? want_g : want_u).push_back(dgu[i]);
  }
  EXPECT_LT(nmse(got_g, want_g), kNmseOut);
  EXPECT_LT(nmse(got_u, want_u), kNmseOut);
  for (bool ok : {ggu.guards_intact(), gdy.guards_intact(), gy.guards_intact(), gdgu.guards_intact()})
    EXPECT_TRUE(ok);
}

INSTANTIATE_TEST_SUITE_P(Shapes, CudaSwiglu,
                         ::testing::Values(std::pair{1, 1}, std::pair{7, 33}, std::pair{64, 96},
                                           std::pair{130, 200}, std::pair{3, 1000}));

}  // namespace
}  // namespace tlm::testing
