// CUDA matmul (cuBLASLt, ops/cuda/matmul.cu) against the CPU op (ops/cpu/matmul.cpp) on the
// same bf16-rounded operands, over shapes with N = 1 and odd IC/OC (layout mistakes between
// row- and column-major show up as shape errors or wrong values there), plus cast_to_bf16.
//
// Tolerances: both sides form exact products of bf16 values and sum them in fp32; only the
// summation order differs (relative error ~1e-7, nmse ~1e-14). So the fp32 outputs (the
// residual forward, dweight accumulated onto a nonzero start) must be within nmse 1e-8, and
// the bf16 outputs (forward, dinp) within kNmseOut, the error of one bf16 rounding.
#include <gtest/gtest.h>

#include <limits>
#include <ostream>

#include "core/check.h"
#include "cuda/cuda_test.h"
#include "ops/matmul.h"

namespace tlm::testing {
namespace {

constexpr double kNmseFp32 = 1e-8;

struct Case {
  int N, IC, OC;
  friend std::ostream& operator<<(std::ostream& o, const Case& c) {
    return o << "N " << c.N << " IC " << c.IC << " OC " << c.OC;
  }
};

// Operands of one shape: what the GPU holds (bf16 bits) and the same values as floats.
struct Operands {
  std::vector<float> inp, w, dout, res, dw0;
  Operands(int N, int IC, int OC, uint64_t seed)
      : inp(round_bf16(randn_f(size_t(N) * IC, seed))),
        w(round_bf16(randn_f(size_t(OC) * IC, seed + 1, 0.2f))),
        dout(round_bf16(randn_f(size_t(N) * OC, seed + 2))),
        res(randn_f(size_t(N) * OC, seed + 3)),
        dw0(randn_f(size_t(OC) * IC, seed + 4)) {}
};

class CudaMatmul : public ::testing::TestWithParam<Case> {};

TEST_P(CudaMatmul, MatchesCpu) {
  TLM_REQUIRE_CUDA();
  const auto [N, IC, OC] = GetParam();
  const Operands op(N, IC, OC, 100 + N);

  // CPU reference in fp32 on the rounded operands.
  std::vector<float> y(size_t(N) * OC), yres(size_t(N) * OC), dinp(size_t(N) * IC, 0.f), dw = op.dw0;
  ops::matmul_forward(y.data(), op.inp.data(), op.w.data(), N, IC, OC);
  for (size_t i = 0; i < y.size(); i++) yres[i] = op.res[i] + y[i];
  ops::matmul_backward(dinp.data(), dw.data(), op.dout.data(), op.inp.data(), op.w.data(), N, IC, OC);

  DeviceArray<bf16> ginp(to_bf16(op.inp)), gw(to_bf16(op.w)), gdout(to_bf16(op.dout)), gy(size_t(N) * OC),
      gdinp(size_t(N) * IC);
  DeviceArray<float> gres(op.res), gres_inplace(op.res), gout(size_t(N) * OC), gdw(op.dw0);
  ops::cuda::matmul_forward(gy.ptr(), ginp.ptr(), gw.ptr(), N, IC, OC);
  ops::cuda::matmul_forward_residual(gout.ptr(), gres.ptr(), ginp.ptr(), gw.ptr(), N, IC, OC);
  // out aliasing residual: the model's residual stream updated in place.
  ops::cuda::matmul_forward_residual(gres_inplace.ptr(), gres_inplace.ptr(), ginp.ptr(), gw.ptr(), N, IC, OC);
  ops::cuda::matmul_backward(gdinp.ptr(), gdw.ptr(), gdout.ptr(), ginp.ptr(), gw.ptr(), N, IC, OC);

  EXPECT_LT(nmse(get_bf16(gy), y), kNmseOut);
  EXPECT_LT(nmse(gout.get(), yres), kNmseFp32);
  EXPECT_LT(nmse(gres_inplace.get(), yres), kNmseFp32);
  EXPECT_EQ(gres.get(), op.res);  // an input: untouched
  EXPECT_LT(nmse(get_bf16(gdinp), dinp), kNmseOut);
  EXPECT_LT(nmse(gdw.get(), dw), kNmseFp32);
  for (bool ok : {ginp.guards_intact(), gw.guards_intact(), gdout.guards_intact(), gy.guards_intact(),
                  gdinp.guards_intact(), gres.guards_intact(), gres_inplace.guards_intact(), gout.guards_intact(),
                  gdw.guards_intact()})
    EXPECT_TRUE(ok);
}

INSTANTIATE_TEST_SUITE_P(Shapes, CudaMatmul,
                         ::testing::Values(Case{1, 3, 5}, Case{7, 33, 17}, Case{64, 96, 80}, Case{130, 64, 200},
                                           Case{1, 64, 128}, Case{5, 1, 9}, Case{3, 17, 1}));

// A null dinp or dweight skips that product and leaves nothing else written.
TEST(CudaMatmulBackward, NullOutputsAreSkipped) {
  TLM_REQUIRE_CUDA();
  const int N = 9, IC = 24, OC = 40;
  const Operands op(N, IC, OC, 7);
  std::vector<float> dinp(size_t(N) * IC, 0.f), dw = op.dw0;
  ops::matmul_backward(dinp.data(), dw.data(), op.dout.data(), op.inp.data(), op.w.data(), N, IC, OC);

  DeviceArray<bf16> ginp(to_bf16(op.inp)), gw(to_bf16(op.w)), gdout(to_bf16(op.dout)), gdinp(size_t(N) * IC);
  DeviceArray<float> gdw(op.dw0);
  ops::cuda::matmul_backward(nullptr, gdw.ptr(), gdout.ptr(), ginp.ptr(), gw.ptr(), N, IC, OC);
  EXPECT_LT(nmse(gdw.get(), dw), kNmseFp32);
  const std::vector<float> dw_once = gdw.get();
  ops::cuda::matmul_backward(gdinp.ptr(), nullptr, gdout.ptr(), ginp.ptr(), gw.ptr(), N, IC, OC);
  EXPECT_LT(nmse(get_bf16(gdinp), dinp), kNmseOut);
  EXPECT_EQ(gdw.get(), dw_once);
  ops::cuda::matmul_backward(nullptr, nullptr, gdout.ptr(), ginp.ptr(), gw.ptr(), N, IC, OC);
  EXPECT_TRUE(gdinp.guards_intact());
  EXPECT_TRUE(gdw.guards_intact());
}

TEST(CudaMatmulErrors, BadShapeThrows) {
  TLM_REQUIRE_CUDA();
  DeviceArray<bf16> a(16), b(16), c(16);
  EXPECT_THROW(ops::cuda::matmul_forward(c.ptr(), a.ptr(), b.ptr(), 0, 4, 4), InternalError);
  EXPECT_THROW(ops::cuda::matmul_forward(c.ptr(), a.ptr(), b.ptr(), 4, -1, 4), InternalError);
}

// Same inputs, same bits: the algorithm is cached per shape and cuBLASLt is deterministic for
// a fixed algorithm on one stream.
TEST(CudaMatmulDeterminism, SameBitsTwice) {
  TLM_REQUIRE_CUDA();
  const int N = 256, IC = 192, OC = 160;
  const Operands op(N, IC, OC, 42);
  std::vector<bf16> y[2], dinp[2];
  std::vector<float> out[2], dw[2];
  for (int r = 0; r < 2; r++) {
    DeviceArray<bf16> ginp(to_bf16(op.inp)), gw(to_bf16(op.w)), gdout(to_bf16(op.dout)), gy(size_t(N) * OC),
        gdinp(size_t(N) * IC);
    DeviceArray<float> gres(op.res), gout(size_t(N) * OC), gdw(op.dw0);
    ops::cuda::matmul_forward(gy.ptr(), ginp.ptr(), gw.ptr(), N, IC, OC);
    ops::cuda::matmul_forward_residual(gout.ptr(), gres.ptr(), ginp.ptr(), gw.ptr(), N, IC, OC);
    ops::cuda::matmul_backward(gdinp.ptr(), gdw.ptr(), gdout.ptr(), ginp.ptr(), gw.ptr(), N, IC, OC);
    y[r] = gy.get();
    dinp[r] = gdinp.get();
    out[r] = gout.get();
    dw[r] = gdw.get();
  }
  EXPECT_EQ(0, std::memcmp(y[0].data(), y[1].data(), y[0].size() * sizeof(bf16)));
  EXPECT_EQ(0, std::memcmp(dinp[0].data(), dinp[1].data(), dinp[0].size() * sizeof(bf16)));
  EXPECT_EQ(0, std::memcmp(out[0].data(), out[1].data(), out[0].size() * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(dw[0].data(), dw[1].data(), dw[0].size() * sizeof(float)));
}

// cast_to_bf16 rounds to nearest even exactly as the CPU's ops::to_bf16: same bits, including
// ties, infinities, overflow to infinity, subnormals and signed zeros.
TEST(CudaCastToBf16, SameBitsAsCpu) {
  TLM_REQUIRE_CUDA();
  for (size_t n : {size_t(1), size_t(255), size_t(4099)}) {
    std::vector<float> x = randn_f(n, 9 + n, 100.f);
    const float special[] = {0.f, -0.f, 1.0f + 1.0f / 256, 1.0f + 3.0f / 256,  // ties to even, both ways
                             std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                             std::numeric_limits<float>::max(), std::numeric_limits<float>::denorm_min(),
                             -1e-40f, 3.3895314e38f};
    for (size_t i = 0; i < n && i < std::size(special); i++) x[i] = special[i];
    DeviceArray<float> gx(x);
    DeviceArray<bf16> gb(n);
    ops::cuda::cast_to_bf16(gb.ptr(), gx.ptr(), n);
    EXPECT_EQ(gb.get(), to_bf16(x)) << "n " << n;
    EXPECT_TRUE(gb.guards_intact());
  }
}

}  // namespace
}  // namespace tlm::testing
