// Gradient checks of the element-wise and row-wise CPU ops (embedding, RMSNorm, matmul, RoPE,
// SwiGLU, residual, cross-entropy): every backward against central finite differences of the
// same op run in double (ops/cpu/f64.h), every forward against a naive formula, the float
// instantiation against the double one, accumulation (+=) into gradients that already hold
// values, and thread-count independence of the reductions. Tolerances: test_ops_common.h.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "core/check.h"
#include "ops/cpu/f64.h"
#include "ops/cpu/fast_math.h"
#include "ops/cross_entropy.h"
#include "ops/embedding.h"
#include "ops/matmul.h"
#include "ops/residual.h"
#include "ops/rmsnorm.h"
#include "ops/rope.h"
#include "ops/swiglu.h"
#include "test_ops_common.h"

namespace tlm::testing {
namespace {

namespace f64 = tlm::ops::f64;
using V = std::vector<double>;

V minus(const V& a, const V& b) {
  V r(a.size());
  for (size_t i = 0; i < a.size(); ++i) r[i] = a[i] - b[i];
  return r;
}

std::vector<int32_t> random_ids(int n, int below, uint64_t seed) {
  Rng rng(seed, 3);
  std::vector<int32_t> ids(n);
  for (auto& t : ids) t = int32_t(rng.below(uint32_t(below)));
  return ids;
}

// ---------------------------------------------------------------------------- fast math

TEST(OpsFastMath, ExpWithinTwoUlpAndSpecialValues) {
  double worst = 0;
  for (float x = -87.3f; x < 88.37f; x += 0.000731f) {
    double want = std::exp(double(x));
    worst = std::max(worst, std::fabs(ops::cpu::fast_exp(x) - want) / want);
  }
  EXPECT_LT(worst, 2 * 5.97e-8);  // 2 ulp of float (measured: 1.4 ulp)
  EXPECT_EQ(ops::cpu::fast_exp(0.0f), 1.0f);
  EXPECT_EQ(ops::cpu::fast_exp(-100.0f), 0.0f);
  EXPECT_EQ(ops::cpu::fast_exp(-std::numeric_limits<float>::infinity()), 0.0f);
  EXPECT_EQ(ops::cpu::fast_exp(100.0f), std::numeric_limits<float>::infinity());
  EXPECT_EQ(ops::cpu::fast_exp(std::numeric_limits<float>::infinity()), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(ops::cpu::fast_exp(std::numeric_limits<float>::quiet_NaN())));
}

TEST(OpsFastMath, SqrtInplaceIsCorrectlyRounded) {
  auto x = to_float(randn(37, 1));
  for (auto& v : x) v = v * v;
  auto y = x;
  ops::cpu::sqrt_inplace(y.data(), int(y.size()));
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(y[i], std::sqrt(x[i])) << i;
}

// ---------------------------------------------------------------------------- embedding

struct EmbShape {
  int N, C, V;
};

class OpsEmbedding : public ::testing::TestWithParam<EmbShape> {};

TEST_P(OpsEmbedding, ForwardBackwardFiniteDifferencesAndFloat) {
  auto [N, C, Vocab] = GetParam();
  // few distinct ids, so rows repeat and the backward has to accumulate them
  auto tokens = random_ids(N, Vocab, 11);
  V wte = randn(size_t(Vocab) * C, 1), R = randn(size_t(N) * C, 2), out(size_t(N) * C);
  f64::embedding_forward(out.data(), tokens.data(), wte.data(), N, C);
  for (int n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c) ASSERT_EQ(out[n * C + c], wte[tokens[n] * C + c]);

  V g0 = randn(wte.size(), 3), dwte = g0;
  f64::embedding_backward(dwte.data(), R.data(), tokens.data(), N, C);
  expect_fd_grad("dwte", wte, minus(dwte, g0), [&] {
    f64::embedding_forward(out.data(), tokens.data(), wte.data(), N, C);
    return dot(out, R);
  });

  auto wte_f = to_float(wte), R_f = to_float(R);
  std::vector<float> out_f(out.size()), dwte_f(wte.size());
  ops::embedding_forward(out_f.data(), tokens.data(), wte_f.data(), N, C);
  ops::embedding_backward(dwte_f.data(), R_f.data(), tokens.data(), N, C);
  V dwte_d(wte.size());
  f64::embedding_backward(dwte_d.data(), R.data(), tokens.data(), N, C);
  expect_f32_close("dwte float", dwte_f, dwte_d);
}

INSTANTIATE_TEST_SUITE_P(Shapes, OpsEmbedding,
                         ::testing::Values(EmbShape{1, 5, 3}, EmbShape{7, 33, 5}, EmbShape{17, 64, 4},
                                           EmbShape{40, 5, 2}));

TEST(OpsEmbedding, BackwardIndependentOfThreadCount) {
  const int N = 300, C = 100, Vocab = 7;  // C not a multiple of a cache line of floats
  auto tokens = random_ids(N, Vocab, 5);
  auto dout = to_float(randn(size_t(N) * C, 6));
  std::vector<std::vector<float>> results;
  for (int threads : {1, 2, 3}) {
    auto dwte = to_float(randn(size_t(Vocab) * C, 7));
    with_threads(threads, [&] { ops::embedding_backward(dwte.data(), dout.data(), tokens.data(), N, C); });
    results.push_back(dwte);
  }
  expect_bits_equal("dwte 1 vs 2 threads", results[0], results[1]);
  expect_bits_equal("dwte 1 vs 3 threads", results[0], results[2]);
}

// ---------------------------------------------------------------------------- rmsnorm

struct RowShape {
  int N, C;
};

class OpsRmsnorm : public ::testing::TestWithParam<RowShape> {};

TEST_P(OpsRmsnorm, ForwardBackwardFiniteDifferencesAndFloat) {
  auto [N, C] = GetParam();
  const double eps = 1e-5;
  V x = randn(size_t(N) * C, 1), w = randn(C, 2, 0.5), R = randn(size_t(N) * C, 3);
  for (auto& v : w) v = double(float(v + 1.0));
  V out(x.size()), rstd(N);
  f64::rmsnorm_forward(out.data(), rstd.data(), x.data(), w.data(), N, C, eps);
  for (int n = 0; n < N; ++n) {
    double ss = 0;
    for (int c = 0; c < C; ++c) ss += x[n * C + c] * x[n * C + c];
    double r = 1 / std::sqrt(ss / C + eps);
    EXPECT_NEAR(rstd[n], r, 1e-12 * r);
    for (int c = 0; c < C; ++c) EXPECT_NEAR(out[n * C + c], x[n * C + c] * r * w[c], 1e-12);
  }

  V dx0 = randn(x.size(), 4), dw0 = randn(C, 5), dx = dx0, dw = dw0;
  f64::rmsnorm_backward(dx.data(), dw.data(), R.data(), x.data(), w.data(), rstd.data(), N, C);
  auto loss = [&] {
    f64::rmsnorm_forward(out.data(), rstd.data(), x.data(), w.data(), N, C, eps);
    return dot(out, R);
  };
  expect_fd_grad("dinp", x, minus(dx, dx0), loss);
  expect_fd_grad("dweight", w, minus(dw, dw0), loss);

  auto x_f = to_float(x), w_f = to_float(w), R_f = to_float(R);
  std::vector<float> out_f(x.size()), rstd_f(N), dx_f(x.size()), dw_f(C);
  ops::rmsnorm_forward(out_f.data(), rstd_f.data(), x_f.data(), w_f.data(), N, C, float(eps));
  ops::rmsnorm_backward(dx_f.data(), dw_f.data(), R_f.data(), x_f.data(), w_f.data(), rstd_f.data(), N, C);
  f64::rmsnorm_forward(out.data(), rstd.data(), x.data(), w.data(), N, C, eps);
  V dx_d(x.size()), dw_d(C);
  f64::rmsnorm_backward(dx_d.data(), dw_d.data(), R.data(), x.data(), w.data(), rstd.data(), N, C);
  expect_f32_close("out float", out_f, out);
  expect_f32_close("rstd float", rstd_f, rstd);
  expect_f32_close("dinp float", dx_f, dx_d);
  expect_f32_close("dweight float", dw_f, dw_d);
}

// N = 70 and 100 cover several row chunks of the weight gradient, with a partial last one.
INSTANTIATE_TEST_SUITE_P(Shapes, OpsRmsnorm,
                         ::testing::Values(RowShape{1, 5}, RowShape{3, 33}, RowShape{7, 64}, RowShape{17, 5},
                                           RowShape{70, 33}, RowShape{100, 3}));

TEST(OpsRmsnorm, BackwardIndependentOfThreadCount) {
  const int N = 333, C = 70;
  auto x = to_float(randn(size_t(N) * C, 1)), w = to_float(randn(C, 2)), dout = to_float(randn(size_t(N) * C, 3));
  std::vector<float> out(x.size()), rstd(N);
  ops::rmsnorm_forward(out.data(), rstd.data(), x.data(), w.data(), N, C, 1e-5f);
  std::vector<std::vector<float>> dxs, dws;
  for (int threads : {1, 2, 3}) {
    std::vector<float> dx(x.size(), 0.5f), dw(C, 0.25f);
    with_threads(threads, [&] {
      ops::rmsnorm_backward(dx.data(), dw.data(), dout.data(), x.data(), w.data(), rstd.data(), N, C);
    });
    dxs.push_back(dx);
    dws.push_back(dw);
  }
  for (int k : {1, 2}) {
    expect_bits_equal("dweight", dws[0], dws[k]);
    expect_bits_equal("dinp", dxs[0], dxs[k]);
  }
}

// ---------------------------------------------------------------------------- matmul

struct MatShape {
  int N, IC, OC;
};

class OpsMatmul : public ::testing::TestWithParam<MatShape> {};

TEST_P(OpsMatmul, ForwardBackwardFiniteDifferencesAndFloat) {
  auto [N, IC, OC] = GetParam();
  V x = randn(size_t(N) * IC, 1), w = randn(size_t(OC) * IC, 2), R = randn(size_t(N) * OC, 3), out(size_t(N) * OC);
  f64::matmul_forward(out.data(), x.data(), w.data(), N, IC, OC);
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < OC; ++o) {
      double s = 0;
      for (int i = 0; i < IC; ++i) s += x[n * IC + i] * w[o * IC + i];
      EXPECT_NEAR(out[n * OC + o], s, 1e-12 * (1 + std::fabs(s)));
    }

  V dx0 = randn(x.size(), 4), dw0 = randn(w.size(), 5), dx = dx0, dw = dw0;
  f64::matmul_backward(dx.data(), dw.data(), R.data(), x.data(), w.data(), N, IC, OC);
  auto loss = [&] {
    f64::matmul_forward(out.data(), x.data(), w.data(), N, IC, OC);
    return dot(out, R);
  };
  expect_fd_grad("dinp", x, minus(dx, dx0), loss);
  expect_fd_grad("dweight", w, minus(dw, dw0), loss);

  // null gradients are skipped, and the other one is still right
  V dx_only = dx0, dw_only = dw0;
  f64::matmul_backward(dx_only.data(), nullptr, R.data(), x.data(), w.data(), N, IC, OC);
  f64::matmul_backward(nullptr, dw_only.data(), R.data(), x.data(), w.data(), N, IC, OC);
  EXPECT_EQ(dx_only, dx);
  EXPECT_EQ(dw_only, dw);

  auto x_f = to_float(x), w_f = to_float(w), R_f = to_float(R);
  std::vector<float> out_f(out.size()), dx_f(x.size()), dw_f(w.size());
  ops::matmul_forward(out_f.data(), x_f.data(), w_f.data(), N, IC, OC);
  ops::matmul_backward(dx_f.data(), dw_f.data(), R_f.data(), x_f.data(), w_f.data(), N, IC, OC);
  V dx_d(x.size()), dw_d(w.size());
  f64::matmul_forward(out.data(), x.data(), w.data(), N, IC, OC);
  f64::matmul_backward(dx_d.data(), dw_d.data(), R.data(), x.data(), w.data(), N, IC, OC);
  expect_f32_close("out float", out_f, out);
  expect_f32_close("dinp float", dx_f, dx_d);
  expect_f32_close("dweight float", dw_f, dw_d);
}

INSTANTIATE_TEST_SUITE_P(Shapes, OpsMatmul,
                         ::testing::Values(MatShape{1, 5, 3}, MatShape{7, 33, 17}, MatShape{17, 64, 5},
                                           MatShape{3, 1, 4}, MatShape{4, 37, 11}, MatShape{3, 40, 37},
                                           MatShape{1, 64, 16}));

// ---------------------------------------------------------------------------- rope

struct RopeShape {
  int N, n_heads, D, extra;  // extra: columns after the heads that rope must not touch
};

class OpsRope : public ::testing::TestWithParam<RopeShape> {};

TEST_P(OpsRope, ForwardBackwardFiniteDifferencesAndFloat) {
  auto [N, n_heads, D, extra] = GetParam();
  const int max_pos = 50, stride = n_heads * D + extra;
  const double theta = 10000;
  auto pos = random_ids(N, max_pos, 9);
  V cos(size_t(max_pos) * D / 2), sin(cos.size());
  f64::rope_table(cos.data(), sin.data(), max_pos, D, theta);
  V x = randn(size_t(N) * stride, 1), R = randn(x.size(), 2);
  V y = x;
  f64::rope_forward(y.data(), stride, pos.data(), cos.data(), sin.data(), N, n_heads, D);
  for (int n = 0; n < N; ++n)
    for (int h = 0; h < n_heads; ++h)
      for (int i = 0; i < D / 2; ++i) {
        double ang = pos[n] * std::pow(theta, -2.0 * i / D), c = std::cos(ang), s = std::sin(ang);
        long a = long(n) * stride + h * D + i, b = a + D / 2;
        EXPECT_NEAR(y[a], x[a] * c - x[b] * s, 1e-12);
        EXPECT_NEAR(y[b], x[b] * c + x[a] * s, 1e-12);
      }
  for (int n = 0; n < N; ++n)
    for (int e = n_heads * D; e < stride; ++e) EXPECT_EQ(y[long(n) * stride + e], x[long(n) * stride + e]);

  V dx = R;  // in place: the gradient arrives in the buffer and leaves rotated back
  f64::rope_backward(dx.data(), stride, pos.data(), cos.data(), sin.data(), N, n_heads, D);
  expect_fd_grad("dx", x, dx, [&] {
    y = x;
    f64::rope_forward(y.data(), stride, pos.data(), cos.data(), sin.data(), N, n_heads, D);
    return dot(y, R);
  });

  std::vector<float> cos_f(cos.size()), sin_f(cos.size());
  ops::rope_table(cos_f.data(), sin_f.data(), max_pos, D, float(theta));
  // the float table takes the angle in float as PyTorch does: error ~ pos * 2^-24 radians
  expect_f32_close("cos table float", cos_f, cos, 1e-5);
  expect_f32_close("sin table float", sin_f, sin, 1e-5);
  auto y_f = to_float(x), dx_f = to_float(R);
  ops::rope_forward(y_f.data(), stride, pos.data(), cos_f.data(), sin_f.data(), N, n_heads, D);
  ops::rope_backward(dx_f.data(), stride, pos.data(), cos_f.data(), sin_f.data(), N, n_heads, D);
  y = x;
  f64::rope_forward(y.data(), stride, pos.data(), cos.data(), sin.data(), N, n_heads, D);
  expect_f32_close("rope forward float", y_f, y);
  expect_f32_close("rope backward float", dx_f, dx);
  // backward undoes forward
  ops::rope_backward(y_f.data(), stride, pos.data(), cos_f.data(), sin_f.data(), N, n_heads, D);
  expect_f32_close("backward(forward(x))", y_f, x);
}

INSTANTIATE_TEST_SUITE_P(Shapes, OpsRope,
                         ::testing::Values(RopeShape{1, 1, 2, 0}, RopeShape{7, 3, 8, 5}, RopeShape{17, 2, 64, 0},
                                           RopeShape{5, 4, 6, 3}));

// PyTorch 1.13 values of LlamaRotaryEmbedding's float32 tables (inv_freq = 1 / theta ** (arange(0,
// D, 2).float() / D); freqs = outer(arange(T).float(), inv_freq); cos/sin in float32), D = 64,
// theta = 10000. Over the whole 1024 x 32 table ours differs from PyTorch's by at most 1 ulp
// (PyTorch's vectorised cos/sin are within 1 ulp, ours are correctly rounded), hence 1.2e-7.
TEST(OpsRope, TableMatchesPytorchFloat32) {
  const int D = 64, max_pos = 1024;
  std::vector<float> cos(size_t(max_pos) * D / 2), sin(cos.size());
  ops::rope_table(cos.data(), sin.data(), max_pos, D, 10000.0f);
  struct Entry {
    int pos, i;
    float c, s;
  };
  const Entry golden[] = {  // printed by PyTorch with %.9g
      {1, 0, 0.540302336f, 0.841470957f},     {1, 1, 0.731760979f, 0.681561351f},
      {7, 5, -0.0890471488f, 0.99602741f},    {100, 3, -0.239498988f, -0.970896602f},
      {255, 31, 0.999421895f, 0.0339982472f}, {511, 17, -0.771012485f, -0.636820078f},
      {1000, 1, -0.584592879f, 0.811326802f}, {1023, 0, 0.400068194f, -0.916485369f},
      {1023, 10, 0.557979226f, 0.829854906f},
  };
  for (const auto& e : golden) {
    EXPECT_NEAR(cos[e.pos * D / 2 + e.i], e.c, 1.2e-7) << "pos " << e.pos << " i " << e.i;
    EXPECT_NEAR(sin[e.pos * D / 2 + e.i], e.s, 1.2e-7) << "pos " << e.pos << " i " << e.i;
  }
  EXPECT_EQ(cos[0], 1.0f);
  EXPECT_EQ(sin[0], 0.0f);
}

// ---------------------------------------------------------------------------- swiglu

class OpsSwiglu : public ::testing::TestWithParam<RowShape> {};

TEST_P(OpsSwiglu, ForwardBackwardFiniteDifferencesAndFloat) {
  auto [N, F] = GetParam();
  V gu = randn(size_t(N) * 2 * F, 1, 2.0), R = randn(size_t(N) * F, 2), out(size_t(N) * F);
  f64::swiglu_forward(out.data(), gu.data(), N, F);
  for (int n = 0; n < N; ++n)
    for (int f = 0; f < F; ++f) {
      double g = gu[n * 2 * F + f], u = gu[n * 2 * F + F + f];
      EXPECT_NEAR(out[n * F + f], g / (1 + std::exp(-g)) * u, 1e-12);
    }
  V d0 = randn(gu.size(), 3), d = d0;
  f64::swiglu_backward(d.data(), R.data(), gu.data(), N, F);
  expect_fd_grad("dgateup", gu, minus(d, d0), [&] {
    f64::swiglu_forward(out.data(), gu.data(), N, F);
    return dot(out, R);
  });

  auto gu_f = to_float(gu), R_f = to_float(R);
  std::vector<float> out_f(out.size()), d_f(gu.size());
  ops::swiglu_forward(out_f.data(), gu_f.data(), N, F);
  ops::swiglu_backward(d_f.data(), R_f.data(), gu_f.data(), N, F);
  f64::swiglu_forward(out.data(), gu.data(), N, F);
  V d_d(gu.size());
  f64::swiglu_backward(d_d.data(), R.data(), gu.data(), N, F);
  expect_f32_close("out float", out_f, out);
  expect_f32_close("dgateup float", d_f, d_d);
}

INSTANTIATE_TEST_SUITE_P(Shapes, OpsSwiglu,
                         ::testing::Values(RowShape{1, 5}, RowShape{3, 33}, RowShape{7, 64}, RowShape{17, 1}));

TEST(OpsSwiglu, SaturatesWithoutNan) {
  // silu(g) -> g for large g, -> 0 for very negative g; exp overflow must not give NaN
  std::vector<float> gu = {-1000, -100, -20, 0, 20, 100, 1000, 1, 1, 1, 1, 1, 1, 1};
  std::vector<float> out(7), dgu(14, 0.0f), dout(7, 1.0f);
  ops::swiglu_forward(out.data(), gu.data(), 1, 7);
  ops::swiglu_backward(dgu.data(), dout.data(), gu.data(), 1, 7);
  const float want[] = {0, -100 * 3.7200760e-44f, -20 * 2.0611537e-09f, 0, 20, 100, 1000};
  for (int f = 0; f < 7; ++f) {
    EXPECT_NEAR(out[f], want[f], 1e-6f * (1 + std::fabs(want[f]))) << f;
    EXPECT_TRUE(std::isfinite(dgu[f]) && std::isfinite(dgu[7 + f])) << f;
  }
  EXPECT_NEAR(dgu[6], 1.0f, 1e-6f);   // d silu / dg at g = 1000
  EXPECT_NEAR(dgu[0], 0.0f, 1e-6f);   // at g = -1000
  EXPECT_NEAR(dgu[3], 0.5f, 1e-6f);   // at g = 0
}

// ---------------------------------------------------------------------------- residual

TEST(OpsResidual, ForwardAliasingAndBackward) {
  const size_t n = 100003;  // above the parallel threshold, odd
  auto a = to_float(randn(n, 1)), b = to_float(randn(n, 2)), dout = to_float(randn(n, 3));
  std::vector<float> out(n);
  ops::residual_forward(out.data(), a.data(), b.data(), n);
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(out[i], a[i] + b[i]);
  auto a2 = a;
  ops::residual_forward(a2.data(), a2.data(), b.data(), n);  // in place, as the model uses it
  EXPECT_EQ(a2, out);

  auto da = a, db = b;
  ops::residual_backward(da.data(), db.data(), dout.data(), n);
  ops::residual_backward(nullptr, nullptr, dout.data(), n);  // nothing to do, must not crash
  for (size_t i = 0; i < n; ++i) {
    ASSERT_EQ(da[i], a[i] + dout[i]);
    ASSERT_EQ(db[i], b[i] + dout[i]);
  }
  auto db_only = b;
  ops::residual_backward(nullptr, db_only.data(), dout.data(), n);
  EXPECT_EQ(db_only, db);

  V ad = randn(7, 4), bd = randn(7, 5), od(7), dd = randn(7, 6), da_d(7), db_d(7, 1.0);
  f64::residual_forward(od.data(), ad.data(), bd.data(), 7);
  f64::residual_backward(da_d.data(), db_d.data(), dd.data(), 7);
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(od[i], ad[i] + bd[i]);
    EXPECT_EQ(da_d[i], dd[i]);
    EXPECT_EQ(db_d[i], 1.0 + dd[i]);
  }
}

// ---------------------------------------------------------------------------- cross-entropy

struct CeShape {
  int N, V;
};

class OpsCrossEntropy : public ::testing::TestWithParam<CeShape> {};

TEST_P(OpsCrossEntropy, ForwardBackwardFiniteDifferencesAndFloat) {
  auto [N, Vocab] = GetParam();
  V logits = randn(size_t(N) * Vocab, 1, 3.0), R = randn(N, 2), losses(N), lse(N);
  auto targets = random_ids(N, Vocab, 3);
  for (int n = 1; n < N; n += 3) targets[n] = -1;  // ignored rows
  f64::cross_entropy_forward(losses.data(), lse.data(), logits.data(), targets.data(), N, Vocab);
  for (int n = 0; n < N; ++n) {
    long double s = 0;
    for (int v = 0; v < Vocab; ++v) s += std::exp((long double)logits[n * Vocab + v]);
    double want_lse = double(std::log(s));
    EXPECT_NEAR(lse[n], want_lse, 1e-12 * (1 + std::fabs(want_lse)));
    EXPECT_NEAR(losses[n], targets[n] < 0 ? 0.0 : want_lse - logits[n * Vocab + targets[n]], 1e-12);
  }

  V dlogits(logits.size(), 123.0);  // overwritten, not accumulated
  f64::cross_entropy_backward(dlogits.data(), logits.data(), lse.data(), targets.data(), R.data(), N, Vocab);
  for (int n = 1; n < N; n += 3)
    for (int v = 0; v < Vocab; ++v) EXPECT_EQ(dlogits[n * Vocab + v], 0.0);
  expect_fd_grad("dlogits", logits, dlogits, [&] {
    f64::cross_entropy_forward(losses.data(), lse.data(), logits.data(), targets.data(), N, Vocab);
    return dot(losses, R);
  });

  auto logits_f = to_float(logits), R_f = to_float(R);
  std::vector<float> losses_f(N), lse_f(N), d_f(logits.size());
  ops::cross_entropy_forward(losses_f.data(), lse_f.data(), logits_f.data(), targets.data(), N, Vocab);
  ops::cross_entropy_backward(d_f.data(), logits_f.data(), lse_f.data(), targets.data(), R_f.data(), N, Vocab);
  f64::cross_entropy_forward(losses.data(), lse.data(), logits.data(), targets.data(), N, Vocab);
  expect_f32_close("losses float", losses_f, losses);
  expect_f32_close("lse float", lse_f, lse);
  expect_f32_close("dlogits float", d_f, dlogits);

  // in place over the logits, as the model calls it: the same bits as out of place
  ops::cross_entropy_backward(logits_f.data(), logits_f.data(), lse_f.data(), targets.data(), R_f.data(), N, Vocab);
  expect_bits_equal("in-place dlogits", logits_f, d_f);
}

INSTANTIATE_TEST_SUITE_P(Shapes, OpsCrossEntropy,
                         ::testing::Values(CeShape{1, 5}, CeShape{3, 33}, CeShape{7, 257}, CeShape{17, 64},
                                           CeShape{4, 1}));

TEST(OpsCrossEntropy, LargeLogitsAndNan) {
  // shifted logits must not overflow; a NaN logit must surface as a NaN loss
  const int N = 3, Vocab = 4;
  std::vector<float> logits = {1000, 999, 998, 0, -1000, -1001, -1002, -5000, 1, NAN, 2, 3};
  std::vector<int32_t> targets = {1, 0, 2};
  std::vector<float> losses(N), lse(N);
  ops::cross_entropy_forward(losses.data(), lse.data(), logits.data(), targets.data(), N, Vocab);
  double s = 1 + std::exp(-1.0) + std::exp(-2.0);
  EXPECT_NEAR(losses[0], 1 + std::log(s), 2e-7);
  EXPECT_NEAR(losses[1], std::log(s), 1e-7);
  EXPECT_TRUE(std::isnan(losses[2]));
  std::vector<float> dl(logits.size()), dloss = {1, 1, 1};
  ops::cross_entropy_backward(dl.data(), logits.data(), lse.data(), targets.data(), dloss.data(), N, Vocab);
  // softmax = exp(x - lse) with lse ~ 1000 in float: relative error up to ulp(1000) ~ 6e-5
  EXPECT_NEAR(dl[0], 1 / s, 1e-4);
  EXPECT_NEAR(dl[1], std::exp(-1.0) / s - 1, 1e-4);
  EXPECT_EQ(dl[3], 0.0f);  // exp(-1000) underflows to exactly 0
}

TEST(OpsCrossEntropy, RejectsTargetOutsideVocabulary) {
  std::vector<float> logits(8), losses(2), lse(2);
  std::vector<int32_t> targets = {0, 4};
  EXPECT_THROW(ops::cross_entropy_forward(losses.data(), lse.data(), logits.data(), targets.data(), 2, 4),
               InternalError);
}

}  // namespace
}  // namespace tlm::testing
