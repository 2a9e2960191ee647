// CUDA token embedding against the CPU op (ops/cpu/embedding.cpp): the forward gather (16-byte
// and scalar paths), the host index of the backward, and the backward scatter-add, including
// one token repeated many times and a run twice. Tolerance: none, bits are compared. The
// forward copies floats; the backward adds the same floats to the same starting value in the
// same order (positions ascending) as the CPU, and float additions cannot be contracted into
// FMAs, so any difference is a bug.
#include <gtest/gtest.h>

#include <algorithm>
#include <tuple>

#include "cuda/cuda_test.h"
#include "ops/embedding.h"

namespace tlm::testing {
namespace {

std::vector<int32_t> random_tokens(int N, int V, uint64_t seed) {
  Rng rng(seed, 3);
  std::vector<int32_t> t(N);
  for (auto& x : t) x = int32_t(rng.below(uint32_t(V)));
  return t;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// dwte after the GPU backward of dout over tokens, starting from dwte0.
std::vector<float> gpu_backward(const std::vector<float>& dwte0, const std::vector<float>& dout,
                                const std::vector<int32_t>& tokens, int C) {
  std::vector<int32_t> uniq, offsets, positions;
  ops::cuda::embedding_backward_index(uniq, offsets, positions, tokens.data(), int(tokens.size()));
  DeviceArray<float> gdwte(dwte0), gdout(dout);
  DeviceArray<int32_t> gu(uniq), go(offsets), gp(positions);
  ops::cuda::embedding_backward(gdwte.ptr(), gdout.ptr(), gu.ptr(), go.ptr(), gp.ptr(), int(uniq.size()), C);
  EXPECT_TRUE(gdwte.guards_intact());
  return gdwte.get();
}

// (N, C, V)
class CudaEmbedding : public ::testing::TestWithParam<std::tuple<int, int, int>> {};

TEST_P(CudaEmbedding, MatchesCpu) {
  TLM_REQUIRE_CUDA();
  const auto [N, C, V] = GetParam();
  auto tokens = random_tokens(N, V, uint64_t(N) * 131 + C);
  auto wte = randn_f(size_t(V) * C, 1), dout = randn_f(size_t(N) * C, 2), dwte0 = randn_f(size_t(V) * C, 3);

  std::vector<float> out(size_t(N) * C), dwte = dwte0;
  ops::embedding_forward(out.data(), tokens.data(), wte.data(), N, C);
  ops::embedding_backward(dwte.data(), dout.data(), tokens.data(), N, C);

  DeviceArray<float> gout(size_t(N) * C), gwte(wte);
  DeviceArray<int32_t> gtok(tokens);
  ops::cuda::embedding_forward(gout.ptr(), gtok.ptr(), gwte.ptr(), N, C);
  EXPECT_TRUE(same_bits(gout.get(), out));
  EXPECT_TRUE(gout.guards_intact());
  EXPECT_TRUE(same_bits(gpu_backward(dwte0, dout, tokens, C), dwte));
}

INSTANTIATE_TEST_SUITE_P(Shapes, CudaEmbedding,
                         ::testing::Values(std::tuple{1, 1, 1}, std::tuple{1, 4, 3}, std::tuple{7, 33, 11},
                                           std::tuple{64, 64, 50}, std::tuple{130, 100, 5},
                                           std::tuple{33, 1030, 40}, std::tuple{9, 77, 1000}));

// The 16-byte path needs aligned rows: a table or output one float off its allocation must take
// the scalar path and still be right.
TEST(CudaEmbeddingUnaligned, ScalarFallback) {
  TLM_REQUIRE_CUDA();
  const int N = 10, C = 8, V = 6;
  auto tokens = random_tokens(N, V, 4);
  auto wte = randn_f(size_t(V) * C + 1, 5), dout = randn_f(size_t(N) * C + 1, 6), dwte0 = randn_f(size_t(V) * C + 1, 7);
  std::vector<float> out(size_t(N) * C), dwte = dwte0;
  ops::embedding_forward(out.data(), tokens.data(), wte.data() + 1, N, C);
  ops::embedding_backward(dwte.data() + 1, dout.data() + 1, tokens.data(), N, C);

  DeviceArray<float> gout(size_t(N) * C + 1), gwte(wte), gdout(dout), gdwte(dwte0);
  DeviceArray<int32_t> gtok(tokens);
  ops::cuda::embedding_forward(gout.ptr() + 1, gtok.ptr(), gwte.ptr() + 1, N, C);
  auto got = gout.get();
  EXPECT_TRUE(same_bits(std::vector<float>(got.begin() + 1, got.end()), out));

  std::vector<int32_t> uniq, offsets, positions;
  ops::cuda::embedding_backward_index(uniq, offsets, positions, tokens.data(), N);
  DeviceArray<int32_t> gu(uniq), go(offsets), gp(positions);
  ops::cuda::embedding_backward(gdwte.ptr() + 1, gdout.ptr() + 1, gu.ptr(), go.ptr(), gp.ptr(), int(uniq.size()), C);
  EXPECT_TRUE(same_bits(gdwte.get(), dwte));
  EXPECT_TRUE(gout.guards_intact() && gdwte.guards_intact());
}

TEST(CudaEmbeddingIndex, GroupsPositionsByToken) {
  const std::vector<int32_t> tokens = {5, 3, 5, 0, 3, 5, 9};
  std::vector<int32_t> uniq, offsets, positions;
  ops::cuda::embedding_backward_index(uniq, offsets, positions, tokens.data(), int(tokens.size()));
  EXPECT_EQ(uniq, (std::vector<int32_t>{0, 3, 5, 9}));
  EXPECT_EQ(offsets, (std::vector<int32_t>{0, 1, 3, 6, 7}));
  EXPECT_EQ(positions, (std::vector<int32_t>{3, 1, 4, 0, 2, 5, 6}));

  ops::cuda::embedding_backward_index(uniq, offsets, positions, tokens.data(), 0);  // reused vectors emptied
  EXPECT_TRUE(uniq.empty());
  EXPECT_EQ(offsets, (std::vector<int32_t>{0}));
  EXPECT_TRUE(positions.empty());
}

TEST(CudaEmbeddingIndex, LargeBatchIsSortedAndComplete) {
  const int N = 65536;
  auto tokens = random_tokens(N, 50257, 8);
  std::vector<int32_t> uniq, offsets, positions;
  ops::cuda::embedding_backward_index(uniq, offsets, positions, tokens.data(), N);
  ASSERT_EQ(offsets.size(), uniq.size() + 1);
  ASSERT_EQ(offsets.back(), N);
  EXPECT_TRUE(std::is_sorted(uniq.begin(), uniq.end()));
  EXPECT_TRUE(std::adjacent_find(uniq.begin(), uniq.end()) == uniq.end());
  std::vector<int> seen(N, 0);
  for (size_t i = 0; i < uniq.size(); i++)
    for (int k = offsets[i]; k < offsets[i + 1]; k++) {
      EXPECT_EQ(tokens[positions[k]], uniq[i]);
      if (k > offsets[i]) {
        EXPECT_LT(positions[k - 1], positions[k]);
      }
      seen[positions[k]]++;
    }
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), N);
}

TEST(CudaEmbeddingBackward, NoTokensIsANoOp) {
  TLM_REQUIRE_CUDA();
  auto dwte0 = randn_f(12, 9);
  DeviceArray<float> gdwte(dwte0);
  ops::cuda::embedding_backward(gdwte.ptr(), nullptr, nullptr, nullptr, nullptr, 0, 4);
  EXPECT_TRUE(same_bits(gdwte.get(), dwte0));
  EXPECT_TRUE(gdwte.guards_intact());
}

// Most positions hold one token, so one block sums ~2000 rows: the same bits twice, and the CPU's.
TEST(CudaEmbeddingDeterminism, RepeatedTokenSameBitsTwice) {
  TLM_REQUIRE_CUDA();
  const int N = 2000, C = 36, V = 16;
  auto tokens = random_tokens(N, V, 10);
  for (int n = 0; n < N; n++)
    if (n % 10 != 0) tokens[n] = 7;
  auto dout = randn_f(size_t(N) * C, 11), dwte0 = randn_f(size_t(V) * C, 12);
  std::vector<float> dwte = dwte0;
  ops::embedding_backward(dwte.data(), dout.data(), tokens.data(), N, C);
  auto first = gpu_backward(dwte0, dout, tokens, C), second = gpu_backward(dwte0, dout, tokens, C);
  EXPECT_TRUE(same_bits(first, second));
  EXPECT_TRUE(same_bits(first, dwte));
}

}  // namespace
}  // namespace tlm::testing
