// Attention with bf16 tile products (ops::attention_forward_bf16 / attention_backward_bf16)
// against the fp32 op on the same inputs: odd T, T = 1, T past one and several 64-row query
// tiles, documents of 1..6 and 1..150 tokens, GQA and plain heads, D = 32 and 64 (and odd D, which
// the kernels pad); thread-count independence; no writes outside the outputs; exact scores on
// inputs that bf16 represents exactly.
//
// Tolerances (the products round both operands to bf16, 8 significant bits, relative error
// <= 2^-9 each, and accumulate in fp32; the softmax and score gradient stay fp32):
//  - normalised MSE, as ggml's test-backend-ops: nmse = sum (bf16 - fp32)^2 / sum fp32^2
//    <= 1e-4 for out, lse and the gradient of qkv. One rounded product predicts ~3e-6; the
//    gradient goes through two (P from rounded scores, then P^T dO); measured <= 2.1e-5 over
//    these shapes (the largest: lse of T = 1, a single rounded dot product), so ~5x room.
//  - max-abs: |bf16 - fp32| <= 0.2 * (|fp32| + rms(fp32)) everywhere, so no single entry can
//    be far off while the mean stays small (a lost or doubled contribution would be ~1 x rms).
//    Measured <= 0.038, at entries small by cancellation (judged at the scale of the tensor),
//    so ~5x room.
// On a CPU without AVX512-BF16 the _bf16 ops are the fp32 ones and must match them bit for bit.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "core/rng.h"
#include "ops/attention.h"
#include "test_ops_common.h"

namespace tlm::testing {
namespace {

constexpr double kNmseTol = 1e-4;
constexpr double kMaxAbsTol = 0.2;  // times |fp32| + rms(fp32)

struct Case {
  int B, T, H, KVH, D;
  int max_doc;  // documents of 1..max_doc tokens; 0: one document per sequence
};

std::vector<int32_t> doc_starts(const Case& c, uint64_t seed) {
  std::vector<int32_t> ds(size_t(c.B) * c.T);
  Rng rng(seed, 3);
  for (int b = 0; b < c.B; ++b)
    for (int i = 0, start = 0, end = 0; i < c.T; ++i) {
      if (i == end) start = i, end = c.max_doc ? i + 1 + int(rng.below(uint32_t(c.max_doc))) : c.T;
      ds[size_t(b) * c.T + i] = start;
    }
  return ds;
}

struct Result {
  std::vector<float> out, lse, grad;  // grad: what backward added to dqkv
};

// Runs forward then backward (onto a random dqkv, to check that backward accumulates).
Result run(bool bf16, const Case& c, const std::vector<float>& qkv, const std::vector<float>& dout,
           const std::vector<int32_t>& ds) {
  Result r{std::vector<float>(dout.size()), std::vector<float>(size_t(c.B) * c.H * c.T), {}};
  const std::vector<float> dqkv0 = to_float(randn(qkv.size(), 9));
  std::vector<float> dqkv = dqkv0;
  auto fwd = bf16 ? ops::attention_forward_bf16 : ops::attention_forward;
  auto bwd = bf16 ? ops::attention_backward_bf16 : ops::attention_backward;
  fwd(r.out.data(), r.lse.data(), qkv.data(), ds.data(), c.B, c.T, c.H, c.KVH, c.D);
  bwd(dqkv.data(), dout.data(), qkv.data(), r.out.data(), r.lse.data(), ds.data(), c.B, c.T, c.H, c.KVH, c.D);
  r.grad.resize(dqkv.size());
  for (size_t i = 0; i < dqkv.size(); ++i) r.grad[i] = dqkv[i] - dqkv0[i];
  return r;
}

void expect_same_bits(const std::string& what, const std::vector<float>& a, const std::vector<float>& b) {
  ASSERT_EQ(a.size(), b.size()) << what;
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << what << " is not bit for bit the same";
}

void expect_close(const std::string& what, const std::vector<float>& a, const std::vector<float>& ref) {
  ASSERT_EQ(a.size(), ref.size());
  double err = 0, norm = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = double(a[i]) - ref[i];
    err += d * d, norm += double(ref[i]) * ref[i];
  }
  ASSERT_TRUE(std::isfinite(err)) << what;
  const double nmse = norm > 0 ? err / norm : err, rms = std::sqrt(norm / double(a.size()));
  double worst = 0;  // max |a - ref| / (|ref| + rms)
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(double(a[i]) - ref[i]) / (std::fabs(ref[i]) + rms));
  std::printf("  %-5s nmse %.2e  max |diff| / (|fp32| + rms) %.2e\n", what.c_str(), nmse, worst);
  EXPECT_LE(nmse, kNmseTol) << what;
  EXPECT_LE(worst, kMaxAbsTol) << what;
}

class AttentionBf16 : public ::testing::TestWithParam<Case> {};

TEST_P(AttentionBf16, MatchesFp32) {
  const Case c = GetParam();
  const long S = long(c.H + 2 * c.KVH) * c.D;
  const auto qkv = to_float(randn(size_t(c.B) * c.T * S, 1)), dout = to_float(randn(size_t(c.B) * c.T * c.H * c.D, 2));
  const auto ds = doc_starts(c, 5);
  const Result want = run(false, c, qkv, dout, ds), got = run(true, c, qkv, dout, ds);
  if (!ops::have_bf16_attention()) {
    expect_same_bits("out (fp32 fallback)", got.out, want.out);
    expect_same_bits("grad (fp32 fallback)", got.grad, want.grad);
    GTEST_SKIP() << "no AVX512-BF16 on this CPU: checked that the bf16 ops fall back to fp32";
  }
  expect_close("out", got.out, want.out);
  expect_close("lse", got.lse, want.lse);
  expect_close("dqkv", got.grad, want.grad);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, AttentionBf16,
    ::testing::Values(Case{1, 1, 1, 1, 64, 0},      // T = 1: one key, probability 1
                      Case{2, 37, 4, 2, 32, 6},     // odd T, short documents, GQA
                      Case{2, 100, 2, 2, 64, 0},    // two tiles, the second partial
                      Case{3, 130, 4, 4, 32, 50},   // documents crossing tile boundaries
                      Case{1, 300, 4, 2, 64, 0},    // five tiles, GQA
                      Case{2, 300, 8, 8, 64, 150},  // long and short documents, plain heads
                      Case{1, 71, 6, 2, 5, 0}));    // odd D: pairs padded with a zero

TEST(AttentionBf16Determinism, IndependentOfThreadCount) {
  const Case c{3, 160, 4, 2, 64, 100};
  const long S = long(c.H + 2 * c.KVH) * c.D;
  const auto qkv = to_float(randn(size_t(c.B) * c.T * S, 1)), dout = to_float(randn(size_t(c.B) * c.T * c.H * c.D, 2));
  const auto ds = doc_starts(c, 8);
  std::vector<Result> runs;
  for (int threads : {1, 2, 3}) with_threads(threads, [&] { runs.push_back(run(true, c, qkv, dout, ds)); });
  for (int k : {1, 2}) {
    expect_bits_equal("out", runs[0].out, runs[k].out);
    expect_bits_equal("lse", runs[0].lse, runs[k].lse);
    expect_bits_equal("dqkv", runs[0].grad, runs[k].grad);
  }
}

// The outputs sit inside larger buffers filled with a sentinel: the kernels' masked edge stores
// (T, D and tile rows not multiples of 16 or 6) must not touch anything outside, and the inputs
// stay as they were.
TEST(AttentionBf16Bounds, WritesOnlyItsOutputs) {
  const Case c{2, 77, 3, 1, 36, 40};
  const long S = long(c.H + 2 * c.KVH) * c.D;
  const size_t n_qkv = size_t(c.B) * c.T * S, n_out = size_t(c.B) * c.T * c.H * c.D, n_lse = size_t(c.B) * c.H * c.T;
  constexpr size_t kPad = 256;
  constexpr float kSentinel = -12345.0f;
  auto padded = [&](size_t n) { return std::vector<float>(n + 2 * kPad, kSentinel); };
  std::vector<float> out = padded(n_out), lse = padded(n_lse), dqkv = padded(n_qkv);
  std::vector<float> qkv = padded(n_qkv), dout = padded(n_out);
  const auto q = to_float(randn(n_qkv, 1)), g = to_float(randn(n_out, 2));
  std::copy(q.begin(), q.end(), qkv.begin() + kPad);
  std::copy(g.begin(), g.end(), dout.begin() + kPad);
  std::fill(dqkv.begin() + kPad, dqkv.end() - kPad, 0.0f);
  const std::vector<float> qkv0 = qkv, dout0 = dout;
  const auto ds = doc_starts(c, 4);
  ops::attention_forward_bf16(out.data() + kPad, lse.data() + kPad, qkv.data() + kPad, ds.data(), c.B, c.T, c.H,
                              c.KVH, c.D);
  ops::attention_backward_bf16(dqkv.data() + kPad, dout.data() + kPad, qkv.data() + kPad, out.data() + kPad,
                               lse.data() + kPad, ds.data(), c.B, c.T, c.H, c.KVH, c.D);
  for (auto* buf : {&out, &lse, &dqkv}) {
    int touched = 0;
    for (size_t i = 0; i < kPad; ++i) touched += (*buf)[i] != kSentinel;
    for (size_t i = buf->size() - kPad; i < buf->size(); ++i) touched += (*buf)[i] != kSentinel;
    EXPECT_EQ(touched, 0) << "entries written outside an output of " << buf->size() - 2 * kPad;
    int unwritten = 0;  // and every output entry was written (none is the sentinel)
    for (size_t i = kPad; i < buf->size() - kPad; ++i) unwritten += (*buf)[i] == kSentinel;
    EXPECT_EQ(unwritten, 0);
  }
  expect_same_bits("qkv (input)", qkv, qkv0);
  expect_same_bits("dout (input)", dout, dout0);
}

// Small integers are exact in bf16 and their sums of products exact in fp32, and 1/sqrt(64)
// is a power of two: the scores, so the log-sum-exps, are those of the fp32 op bit for bit.
// Any mix-up in the layout of Q or K^T (a wrong pair, a transposed block) would change them.
// (Documents of multiples of 16 tokens: the bf16 op runs its softmax rows over a multiple of 16
// columns, and only then is the fp32 op's summation order the same.)
TEST(AttentionBf16Exact, ScoresOfBf16InputsAreExact) {
  const Case c{2, 256, 4, 2, 64, 0};
  const long S = long(c.H + 2 * c.KVH) * c.D;
  std::vector<float> qkv(size_t(c.B) * c.T * S);
  Rng rng(21, 0);
  for (float& x : qkv) x = float(int(rng.below(7)) - 3);
  std::vector<int32_t> ds(size_t(c.B) * c.T, 0);  // sequence 1: one document
  for (int i = 0; i < c.T; ++i) ds[i] = i < 80 ? 0 : i < 96 ? 80 : 96;  // sequence 0: 80, 16 and 160 tokens
  std::vector<float> out(size_t(c.B) * c.T * c.H * c.D), lse(size_t(c.B) * c.H * c.T), lse_ref(lse.size());
  ops::attention_forward(out.data(), lse_ref.data(), qkv.data(), ds.data(), c.B, c.T, c.H, c.KVH, c.D);
  ops::attention_forward_bf16(out.data(), lse.data(), qkv.data(), ds.data(), c.B, c.T, c.H, c.KVH, c.D);
  expect_same_bits("lse", lse, lse_ref);
}

}  // namespace
}  // namespace tlm::testing
