// The bf16 mixed-precision path (ops/matmul_bf16.h, Llama::set_precision): the fp32 -> bf16
// rounding, the bf16 matmul forward/backward against the fp32 ops::matmul, and a model's
// 10-step AdamW loss curve in bf16 against the same run in fp32.
//
// Tolerances (the products round both operands to bf16, 8 significant bits, relative error
// <= 2^-9 each, then accumulate in fp32):
//  - matmul: normalised MSE sum((bf16 - fp32)^2) / sum(fp32^2) <= 3e-5 for the output and for
//    each gradient. Rounding both operands of every product (relative std ~ 2^-9 / sqrt(3)
//    each, independent) predicts ~3e-6; measured 4-6e-6 on these shapes, so ~5x room. On
//    operands that are already bf16 (small integers) the products must be exact.
//  - model: loss curves (10 AdamW steps at lr 3e-3 on one batch, so the loss falls by > 1.5)
//    agree within |bf16 - fp32| <= 5e-3 at every step; measured <= 6.6e-4 with bf16 attention (printed), ~8x room.
//    (At lr 1e-2 this tiny model trains chaotically, its loss jumping up and down in fp32 too,
//    and any perturbation, bf16 or a different summation order, moves the curve by ~0.1.)
// Without oneDNN in the build the matmul and model tests skip with the reason printed; the
// rounding tests always run.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/buffer.h"
#include "core/check.h"
#include "core/rng.h"
#include "model/batch.h"
#include "model/llama.h"
#include "ops/adamw.h"
#include "ops/matmul.h"
#include "ops/matmul_bf16.h"

namespace tlm {
namespace {

using ops::bf16;

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
float widen(bf16 b) { return from_bits(uint32_t(b) << 16); }

// The nearest bf16 by comparing the two candidates in double (ties to the even one): an
// independent statement of what to_bf16 must compute for finite inputs.
bf16 nearest_bf16(float x) {
  uint32_t lo = bits(x) >> 16, hi = lo + 1;
  double dlo = std::fabs(double(widen(bf16(lo))) - x), dhi = std::fabs(double(widen(bf16(hi))) - x);
  if (dlo < dhi) return bf16(lo);
  if (dhi < dlo) return bf16(hi);
  return bf16(lo % 2 == 0 ? lo : hi);
}

TEST(Bf16, RoundsToNearestEven) {
  struct Case {
    float x;
    uint16_t want;
  } cases[] = {
      {1.0f, 0x3f80},
      {from_bits(0x3f808000), 0x3f80},  // 1 + 2^-8: a tie, the even neighbour is 1
      {from_bits(0x3f818000), 0x3f82},  // 1 + 3 * 2^-8: a tie, the even neighbour rounds up
      {from_bits(0x3f808001), 0x3f81},  // just above a tie
      {from_bits(0x3f807fff), 0x3f80},  // just below a tie
      {-2.5f, 0xc020},
      {-0.0f, 0x8000},
      {INFINITY, 0x7f80},
      {-INFINITY, 0xff80},
      {from_bits(0x7f7fffff), 0x7f80},  // FLT_MAX rounds up to infinity, as RNE must
      {from_bits(0x00000001), 0x0000},  // the smallest subnormal rounds to zero
  };
  for (const Case& c : cases) {
    bf16 got;
    ops::to_bf16(&got, &c.x, 1);
    EXPECT_EQ(got, c.want) << "x bits 0x" << std::hex << bits(c.x);
  }
  // NaNs stay NaN, whatever payload the dropped half held.
  for (uint32_t nan : {0x7fc00000u, 0x7f800001u, 0xff800001u, 0x7fffffffu}) {
    float x = from_bits(nan);
    bf16 got;
    ops::to_bf16(&got, &x, 1);
    EXPECT_TRUE(std::isnan(widen(got))) << std::hex << nan;
  }
}

TEST(Bf16, VectorConversionMatchesNearest) {
  // Large enough for the parallel, vectorised loop; mixed magnitudes, subnormals included.
  const size_t n = 100003;
  std::vector<float> x(n), back(n);
  Rng rng(11, 3);
  for (auto& v : x) v = from_bits(rng.next_u32() & 0xbfffffffu);  // exponents below 2^1: no NaN/inf
  std::vector<bf16> y(n);
  ops::to_bf16(y.data(), x.data(), n);
  size_t bad = 0;
  for (size_t i = 0; i < n; i++) bad += y[i] != nearest_bf16(x[i]);
  EXPECT_EQ(bad, 0u);
  ops::from_bf16(back.data(), y.data(), n);
  for (size_t i = 0; i < n; i += 97) EXPECT_EQ(bits(back[i]), uint32_t(y[i]) << 16);
}

// Each product test runs on both paths of ops/cpu/matmul_bf16.cpp: oneDNN's bf16 kernels
// ("onednn", skipped with the reason where this CPU or build has none) and the fp32 products
// of bf16-rounded operands ("fp32", what AVX2-only CPUs run), which every machine tests.
class Bf16Path : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    const bool fp32 = std::string(GetParam()) == "fp32";
    ops::use_fp32_bf16_products(fp32);
    if (!fp32 && !ops::have_bf16_matmul())
      GTEST_SKIP() << "oneDNN builds no bf16 matmul on this CPU (or this build has no oneDNN): the fp32 "
                      "variant tests what runs here";
    std::printf("bf16 products: %s\n", ops::bf16_matmul_isa());
  }
  void TearDown() override { ops::use_fp32_bf16_products(false); }
};

std::vector<float> randn(size_t n, uint64_t seed, float scale = 1.0f) {
  Rng rng(seed, 5);
  std::vector<float> v(n);
  for (auto& x : v) x = float(rng.normal()) * scale;
  return v;
}

double nmse(const std::vector<float>& got, const std::vector<float>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); i++) {
    double e = double(got[i]) - want[i];
    num += e * e, den += double(want[i]) * want[i];
  }
  return num / den;
}

std::vector<float> minus(const std::vector<float>& a, const std::vector<float>& b) {
  std::vector<float> d(a.size());
  for (size_t i = 0; i < a.size(); i++) d[i] = a[i] - b[i];
  return d;
}

struct Shape {
  int N, IC, OC;
};
const Shape kShapes[] = {{1, 1, 1}, {3, 5, 7}, {17, 33, 9}, {64, 96, 130}, {129, 257, 67}, {200, 48, 513}};

TEST_P(Bf16Path, MatmulMatchesFp32) {
  for (const Shape& s : kShapes) {
    const size_t nx = size_t(s.N) * s.IC, nw = size_t(s.OC) * s.IC, ny = size_t(s.N) * s.OC;
    std::vector<float> x = randn(nx, 1), w = randn(nw, 2, 0.1f), dy = randn(ny, 3);
    std::vector<bf16> x16(nx);
    AlignedBuffer<uint8_t> w16(ops::bf16_weight_bytes(s.IC, s.OC));
    ops::pack_bf16_weight(w16.data(), w.data(), s.IC, s.OC);
    // Backward accumulates: both gradients start from the same non-zero values.
    const std::vector<float> dx0 = randn(nx, 4), dw0 = randn(nw, 5);
    std::vector<float> y(ny), y_ref(ny), dx = dx0, dw = dw0, dx_ref = dx0, dw_ref = dw0;
    ops::matmul_bf16_forward(y.data(), x16.data(), x.data(), w16.data(), s.N, s.IC, s.OC);
    ops::matmul_bf16_backward(dx.data(), dw.data(), dy.data(), x16.data(), w16.data(), s.N, s.IC, s.OC);
    ops::matmul_forward(y_ref.data(), x.data(), w.data(), s.N, s.IC, s.OC);
    ops::matmul_backward(dx_ref.data(), dw_ref.data(), dy.data(), x.data(), w.data(), s.N, s.IC, s.OC);
    // Judge the accumulated products, not the start values (which would dilute the error).
    double ey = nmse(y, y_ref), edx = nmse(minus(dx, dx0), minus(dx_ref, dx0));
    double edw = nmse(minus(dw, dw0), minus(dw_ref, dw0));
    std::printf("N%d IC%d OC%d: nMSE out %.2e dinp %.2e dweight %.2e\n", s.N, s.IC, s.OC, ey, edx, edw);
    EXPECT_LE(ey, 3e-5) << s.N << "x" << s.IC << "x" << s.OC;
    EXPECT_LE(edx, 3e-5) << s.N << "x" << s.IC << "x" << s.OC;
    EXPECT_LE(edw, 3e-5) << s.N << "x" << s.IC << "x" << s.OC;
    // Null gradients are skipped, as in matmul_backward.
    std::vector<float> dx2(nx, 0.0f);
    ops::matmul_bf16_backward(dx2.data(), nullptr, dy.data(), x16.data(), w16.data(), s.N, s.IC, s.OC);
    ops::matmul_bf16_backward(nullptr, nullptr, dy.data(), x16.data(), w16.data(), s.N, s.IC, s.OC);
  }
}

// Small integers are exact in bf16 and their products and sums are exact in fp32 at these
// sizes, so any layout or transposition mistake shows as an inequality.
TEST_P(Bf16Path, MatmulExactOnBf16Operands) {
  for (const Shape& s : kShapes) {
    const size_t nx = size_t(s.N) * s.IC, nw = size_t(s.OC) * s.IC, ny = size_t(s.N) * s.OC;
    Rng rng(9, uint64_t(s.N));
    auto ints = [&](size_t n) {
      std::vector<float> v(n);
      for (auto& x : v) x = float(int(rng.below(9)) - 4);
      return v;
    };
    std::vector<float> x = ints(nx), w = ints(nw), dy = ints(ny), dx = ints(nx), dw = ints(nw);
    std::vector<float> dx_ref = dx, dw_ref = dw, y(ny), y_ref(ny);
    std::vector<bf16> x16(nx);
    AlignedBuffer<uint8_t> w16(ops::bf16_weight_bytes(s.IC, s.OC));
    ops::pack_bf16_weight(w16.data(), w.data(), s.IC, s.OC);
    ops::matmul_bf16_forward(y.data(), x16.data(), x.data(), w16.data(), s.N, s.IC, s.OC);
    ops::matmul_bf16_backward(dx.data(), dw.data(), dy.data(), x16.data(), w16.data(), s.N, s.IC, s.OC);
    ops::matmul_forward(y_ref.data(), x.data(), w.data(), s.N, s.IC, s.OC);
    ops::matmul_backward(dx_ref.data(), dw_ref.data(), dy.data(), x.data(), w.data(), s.N, s.IC, s.OC);
    EXPECT_EQ(y, y_ref) << s.N << "x" << s.IC << "x" << s.OC;
    EXPECT_EQ(dx, dx_ref) << s.N << "x" << s.IC << "x" << s.OC;
    EXPECT_EQ(dw, dw_ref) << s.N << "x" << s.IC << "x" << s.OC;
  }
}

// A packed batch: random tokens with end-of-text (id 0) opening a few documents, next-token
// targets with every 7th masked.
Batch make_batch(int B, int T, int V, uint64_t seed) {
  Batch b;
  b.resize(B, T);
  Rng rng(seed, 1);
  for (auto& t : b.tokens) t = int32_t(1 + rng.below(uint32_t(V - 1)));
  for (int s = 0; s < B; s++) b.tokens[size_t(s) * T + (5 + 3 * s) % T] = 0;
  b.compute_documents(0);
  for (size_t i = 0; i < b.tokens.size(); i++) {
    bool last = (i + 1) % T == 0;
    b.targets[i] = last ? int32_t(rng.below(uint32_t(V))) : b.tokens[i + 1];
    if (i % 7 == 3) b.targets[i] = -1;
  }
  return b;
}

std::vector<float> loss_curve(const ModelConfig& cfg, const Batch& batch, Precision p, int steps) {
  const float lr = 3e-3f;
  Llama model(cfg, batch.B, batch.T);
  model.init(42);
  model.set_precision(p);
  const size_t P = model.num_params();
  std::vector<float> m(P, 0.0f), v(P, 0.0f), curve;
  for (int step = 1; step <= steps; step++) {
    model.zero_grad();
    curve.push_back(model.forward(batch));
    model.backward(batch);
    float scale = ops::clip_scale(std::sqrt(ops::sum_squares(model.grads(), P)), 1.0f);
    for_each_param(model.layout(), [&](const ParamInfo& pi) {
      ops::AdamWHyper h{lr, 0.9f, 0.95f, 1e-8f, pi.decay ? 0.1f : 0.0f};
      ops::adamw_update(model.params() + pi.offset, model.grads() + pi.offset, m.data() + pi.offset,
                        v.data() + pi.offset, pi.size, h, step, scale);
    });
  }
  return curve;
}

void expect_curves_agree(const char* name, const ModelConfig& cfg, int B, int T) {
  Batch batch = make_batch(B, T, cfg.vocab_size, 5);
  std::vector<float> f32 = loss_curve(cfg, batch, Precision::fp32, 10);
  std::vector<float> b16 = loss_curve(cfg, batch, Precision::bf16, 10);
  double worst = 0;
  for (size_t k = 0; k < f32.size(); k++) {
    double d = std::fabs(double(b16[k]) - f32[k]);
    worst = std::max(worst, d);
    std::printf("[%s] step %2zu: fp32 %.5f bf16 %.5f diff %.2e\n", name, k + 1, f32[k], b16[k], d);
    EXPECT_LE(d, 5e-3) << name << " step " << k + 1;
  }
  std::printf("[%s] worst |bf16 - fp32| %.2e\n", name, worst);
  EXPECT_GT(f32.front() - f32.back(), 1.5) << name << ": the fp32 run should learn the batch";
}

TEST_P(Bf16Path, LossCurveTracksFp32) {
  ModelConfig cfg;
  cfg.vocab_size = 97, cfg.max_seq_len = 24, cfg.dim = 64, cfg.n_layers = 2, cfg.n_heads = 4, cfg.n_kv_heads = 2;
  cfg.head_dim = 16, cfg.ffn_dim = 176;
  expect_curves_agree("gqa untied", cfg, 3, 24);
  cfg.tied_embeddings = true, cfg.n_kv_heads = 4, cfg.ffn_dim = 168;
  expect_curves_agree("tied", cfg, 2, 17);
}

INSTANTIATE_TEST_SUITE_P(Bf16, Bf16Path, ::testing::Values("onednn", "fp32"),
                         [](const auto& info) { return std::string(info.param); });

TEST(Bf16, PrecisionNames) {
  EXPECT_EQ(parse_precision("bf16", "--dtype"), Precision::bf16);
  EXPECT_EQ(parse_precision("fp32", "--dtype"), Precision::fp32);
  EXPECT_STREQ(precision_name(Precision::bf16), "bf16");
  EXPECT_THROW(parse_precision("fp16", "--dtype"), UserError);
}

}  // namespace
}  // namespace tlm
