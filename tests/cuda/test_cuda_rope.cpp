// CUDA RoPE (ops/cuda/rope.cu) against the CPU op (ops/cpu/rope.cpp), forward and backward, on
// fused qkv rows as the model holds them: H query heads and KVH key heads rotated in place in
// rows of (H + 2 KVH) * D (grouped-query attention), the value heads left alone. Positions
// restart at every document (tweet) of the batch, as the trainer gives them.
//
// Tolerance: both sides do the same fp32 arithmetic on the same bf16 inputs with the same
// tables; the GPU rounds each result to bf16 once (and may fuse a multiply-add), so the error
// is that of one bf16 rounding: kNmseOut. The value heads must keep their bits exactly.
#include <gtest/gtest.h>

#include <ostream>

#include "cuda/cuda_test.h"
#include "ops/rope.h"

namespace tlm::testing {
namespace {

struct Case {
  int N, H, KVH, D;
  friend std::ostream& operator<<(std::ostream& o, const Case& c) {
    return o << "N " << c.N << " H " << c.H << " KVH " << c.KVH << " D " << c.D;
  }
};

constexpr int kMaxPos = 64;

// Positions of N tokens packed from documents of varying lengths: 0, 1, .., len-1, 0, 1, ...
std::vector<int32_t> packed_positions(int N) {
  const int lengths[] = {5, 1, 13, 3, 40, 2};
  std::vector<int32_t> pos(N);
  int doc = 0, p = 0;
  for (int n = 0; n < N; n++) {
    pos[n] = p++;
    if (p == lengths[doc % 6]) p = 0, doc++;
  }
  return pos;
}

// Rotates the q and k heads of every qkv row with `rotate` (the CPU or CUDA op, forward or backward).
template <class T, class Rotate>
void rotate_qk(T* qkv, int stride, const Case& c, Rotate rotate) {
  rotate(qkv, stride, c.H);                 // q heads
  rotate(qkv + c.H * c.D, stride, c.KVH);  // k heads
}

class CudaRope : public ::testing::TestWithParam<Case> {};

TEST_P(CudaRope, MatchesCpu) {
  TLM_REQUIRE_CUDA();
  const Case c = GetParam();
  const auto [N, H, KVH, D] = c;
  const int stride = (H + 2 * KVH) * D, half = D / 2;
  std::vector<float> cos(size_t(kMaxPos) * half), sin(size_t(kMaxPos) * half);
  ops::rope_table(cos.data(), sin.data(), kMaxPos, D, 10000.0f);
  const std::vector<int32_t> pos = packed_positions(N);
  const std::vector<float> x0 = round_bf16(randn_f(size_t(N) * stride, 21 + N)),
                           dx0 = round_bf16(randn_f(size_t(N) * stride, 22 + N));

  std::vector<float> x = x0, dx = dx0;
  rotate_qk(x.data(), stride, c, [&](float* p, int s, int heads) {
    ops::rope_forward(p, s, pos.data(), cos.data(), sin.data(), N, heads, D);
  });
  rotate_qk(dx.data(), stride, c, [&](float* p, int s, int heads) {
    ops::rope_backward(p, s, pos.data(), cos.data(), sin.data(), N, heads, D);
  });

  DeviceArray<int32_t> gpos(pos);
  DeviceArray<float> gcos(cos), gsin(sin);
  DeviceArray<bf16> gx(to_bf16(x0)), gdx(to_bf16(dx0));
  rotate_qk(gx.ptr(), stride, c, [&](bf16* p, int s, int heads) {
    ops::cuda::rope_forward(p, s, gpos.ptr(), gcos.ptr(), gsin.ptr(), N, heads, D);
  });
  rotate_qk(gdx.ptr(), stride, c, [&](bf16* p, int s, int heads) {
    ops::cuda::rope_backward(p, s, gpos.ptr(), gcos.ptr(), gsin.ptr(), N, heads, D);
  });

  const std::vector<float> got = get_bf16(gx), dgot = get_bf16(gdx);
  EXPECT_LT(nmse(got, x), kNmseOut);
  EXPECT_LT(nmse(dgot, dx), kNmseOut);
  // The value heads (the last KVH * D of every row) are not touched.
  for (int n = 0; n < N; n++)
    for (int j = (H + KVH) * D; j < stride; j++) {
      const size_t i = size_t(n) * stride + j;
      ASSERT_EQ(got[i], x0[i]) << "row " << n << " col " << j;
      ASSERT_EQ(dgot[i], dx0[i]) << "row " << n << " col " << j;
    }
  for (bool ok : {gx.guards_intact(), gdx.guards_intact(), gpos.guards_intact(), gcos.guards_intact(),
                  gsin.guards_intact()})
    EXPECT_TRUE(ok);
}

INSTANTIATE_TEST_SUITE_P(Shapes, CudaRope,
                         ::testing::Values(Case{1, 1, 1, 2}, Case{7, 3, 1, 6}, Case{37, 4, 2, 16},
                                           Case{64, 8, 2, 64}, Case{130, 2, 2, 128}));

// Backward undoes forward (the rotation is orthogonal), up to two bf16 roundings.
TEST(CudaRopeInverse, BackwardUndoesForward) {
  TLM_REQUIRE_CUDA();
  const int N = 50, H = 4, D = 32, half = D / 2;
  std::vector<float> cos(size_t(kMaxPos) * half), sin(size_t(kMaxPos) * half);
  ops::rope_table(cos.data(), sin.data(), kMaxPos, D, 500000.0f);
  const std::vector<float> x0 = round_bf16(randn_f(size_t(N) * H * D, 31));
  DeviceArray<int32_t> gpos(packed_positions(N));
  DeviceArray<float> gcos(cos), gsin(sin);
  DeviceArray<bf16> gx(to_bf16(x0));
  ops::cuda::rope_forward(gx.ptr(), H * D, gpos.ptr(), gcos.ptr(), gsin.ptr(), N, H, D);
  ops::cuda::rope_backward(gx.ptr(), H * D, gpos.ptr(), gcos.ptr(), gsin.ptr(), N, H, D);
  EXPECT_LT(nmse(get_bf16(gx), x0), 2 * kNmseOut);
  EXPECT_TRUE(gx.guards_intact());
}

}  // namespace
}  // namespace tlm::testing
