// CUDA fused softmax + cross-entropy against the CPU op (ops/cpu/cross_entropy.cpp), over
// vocabularies from 1 to 5000 (odd ones take the scalar path, multiples of 8 the 16-byte one),
// rows without a target, the in-place backward, and a run twice. The CPU op gets the logits
// rounded to bf16, as the GPU reads them.
// Tolerances: lse and losses are fp32 on both sides and differ only by the exp implementations
// (~1 ulp each) and the order of the sum, so nmse 1e-10 (relative error ~1e-5 per value) is
// far above what a correct kernel shows and far below any indexing or reduction mistake. The
// bf16 gradient's only extra error is its output rounding: kNmseOut.
#include <gtest/gtest.h>

#include <utility>

#include "cuda/cuda_test.h"
#include "ops/cross_entropy.h"

namespace tlm::testing {
namespace {

// Targets in [0, V), every fourth row without one (-1).
std::vector<int32_t> make_targets(int N, int V, uint64_t seed) {
  Rng rng(seed, 5);
  std::vector<int32_t> t(N);
  for (int n = 0; n < N; n++) t[n] = n % 4 == 2 ? -1 : int32_t(rng.below(uint32_t(V)));
  return t;
}

bool same_bits(const std::vector<bf16>& a, const std::vector<bf16>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(bf16)) == 0;
}

// (N, V)
class CudaCrossEntropy : public ::testing::TestWithParam<std::pair<int, int>> {};

TEST_P(CudaCrossEntropy, MatchesCpu) {
  TLM_REQUIRE_CUDA();
  const auto [N, V] = GetParam();
  const float dloss = 0.37f;
  auto logits = round_bf16(randn_f(size_t(N) * V, uint64_t(N) * 7 + V, 3.0f));
  auto targets = make_targets(N, V, V);

  std::vector<float> losses(N), lse(N), dlogits(size_t(N) * V), dlosses(N, dloss);
  ops::cross_entropy_forward(losses.data(), lse.data(), logits.data(), targets.data(), N, V);
  ops::cross_entropy_backward(dlogits.data(), logits.data(), lse.data(), targets.data(), dlosses.data(), N, V);

  DeviceArray<bf16> glogits(to_bf16(logits)), gdlogits(size_t(N) * V), ginplace(to_bf16(logits));
  DeviceArray<float> glosses{size_t(N)}, glse{size_t(N)};
  DeviceArray<int32_t> gtargets(targets);
  ops::cuda::cross_entropy_forward(glosses.ptr(), glse.ptr(), glogits.ptr(), gtargets.ptr(), N, V);
  ops::cuda::cross_entropy_backward(gdlogits.ptr(), glogits.ptr(), glse.ptr(), gtargets.ptr(), dloss, N, V);
  ops::cuda::cross_entropy_backward(ginplace.ptr(), ginplace.ptr(), glse.ptr(), gtargets.ptr(), dloss, N, V);

  EXPECT_LT(nmse(glse.get(), lse), 1e-10);
  const auto got_losses = glosses.get();
  EXPECT_LT(nmse(got_losses, losses), 1e-10);
  for (int n = 0; n < N; n++) {
    if (targets[n] < 0) {
      EXPECT_EQ(got_losses[n], 0.0f) << "row " << n;
    }
  }
  const auto got = get_bf16(gdlogits);
  EXPECT_LT(nmse(got, dlogits), kNmseOut);
  for (int n = 0; n < N; n++) {
    if (targets[n] >= 0) continue;
    for (int v = 0; v < V; v++) ASSERT_EQ(got[size_t(n) * V + v], 0.0f) << "row " << n << ", v " << v;
  }
  // In place: the same computation on the same values, so the same bits.
  EXPECT_TRUE(same_bits(ginplace.get(), gdlogits.get()));
  // The logits are untouched by the out-of-place backward.
  EXPECT_TRUE(same_bits(glogits.get(), to_bf16(logits)));
  for (bool ok : {glogits.guards_intact(), gdlogits.guards_intact(), ginplace.guards_intact(),
                  glosses.guards_intact(), glse.guards_intact()})
    EXPECT_TRUE(ok);
}

INSTANTIATE_TEST_SUITE_P(Shapes, CudaCrossEntropy,
                         ::testing::Values(std::pair{1, 1}, std::pair{3, 2}, std::pair{5, 7}, std::pair{4, 8},
                                           std::pair{9, 1000}, std::pair{6, 333}, std::pair{2, 4999},
                                           std::pair{3, 5000}, std::pair{1, 4104}));

// Large logits: the loss keeps its precision ((max - x_t) + log sum, not lse - x_t).
TEST(CudaCrossEntropyLarge, LargeLogits) {
  TLM_REQUIRE_CUDA();
  const int N = 4, V = 256;
  auto logits = randn_f(size_t(N) * V, 13, 2.0f);
  for (auto& x : logits) x += 1000.0f;
  logits = round_bf16(logits);
  auto targets = make_targets(N, V, 14);
  std::vector<float> losses(N), lse(N);
  ops::cross_entropy_forward(losses.data(), lse.data(), logits.data(), targets.data(), N, V);
  DeviceArray<bf16> glogits(to_bf16(logits));
  DeviceArray<float> glosses{size_t(N)}, glse{size_t(N)};
  DeviceArray<int32_t> gtargets(targets);
  ops::cuda::cross_entropy_forward(glosses.ptr(), glse.ptr(), glogits.ptr(), gtargets.ptr(), N, V);
  EXPECT_LT(nmse(glosses.get(), losses), 1e-10);
  EXPECT_LT(nmse(glse.get(), lse), 1e-10);
}

TEST(CudaCrossEntropyDeterminism, SameBitsTwice) {
  TLM_REQUIRE_CUDA();
  const int N = 5, V = 3000;
  auto logits = to_bf16(randn_f(size_t(N) * V, 15, 2.0f));
  auto targets = make_targets(N, V, 16);
  std::vector<float> results[2];
  for (auto& res : results) {
    DeviceArray<bf16> glogits(logits);
    DeviceArray<float> glosses{size_t(N)}, glse{size_t(N)};
    DeviceArray<int32_t> gtargets(targets);
    ops::cuda::cross_entropy_forward(glosses.ptr(), glse.ptr(), glogits.ptr(), gtargets.ptr(), N, V);
    res = glse.get();
    auto l = glosses.get();
    res.insert(res.end(), l.begin(), l.end());
  }
  EXPECT_EQ(0, std::memcmp(results[0].data(), results[1].data(), results[0].size() * sizeof(float)));
}

}  // namespace
}  // namespace tlm::testing
