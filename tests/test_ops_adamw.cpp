// AdamW against a scalar transcription of torch.optim.AdamW (PyTorch 1.13, _single_tensor_adamw)
// and against the textbook formula in double; the global-norm helpers (sum_squares,
// clip_scale); thread-count independence of both.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "ops/adamw.h"
#include "test_ops_common.h"

namespace tlm::testing {
namespace {

// One element of torch's loop, in its order of operations. Python computes the scalars in
// double and the float kernels receive them rounded to float.
void torch_adamw_element(float& p, float& m, float& v, float grad, double lr, double b1, double b2, double eps,
                         double wd, int64_t step) {
  p = p * float(1 - lr * wd);                        // param.mul_(1 - lr * weight_decay)
  m = m * float(b1) + float(1 - b1) * grad;          // exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
  v = v * float(b2) + float(1 - b2) * grad * grad;   // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2)
  double bc1 = 1 - std::pow(b1, double(step)), bc2 = 1 - std::pow(b2, double(step));
  float denom = std::sqrt(v) / float(std::sqrt(bc2)) + float(eps);  // (v.sqrt() / sqrt(bc2)).add_(eps)
  p = p + float(-(lr / bc1)) * m / denom;            // param.addcdiv_(exp_avg, denom, value=-lr / bc1)
}

// The same IEEE operations in the same order, except that the compiler may fuse a * b + c into
// one FMA in one and not in the other (as PyTorch's own vectorised kernels do): an operand of the
// last addition is then off by its rounding, so the results agree to 2^-22 (~2 ulp) of the
// operands' magnitude, which is more than 2 ulp of the result where they nearly cancel.
bool close(float got, float want, float before) {
  return std::fabs(got - want) <= 0x1p-22f * (std::fabs(before) + std::fabs(want));
}

struct Case {
  size_t n;
  float wd, grad_scale;
};

class OpsAdamW : public ::testing::TestWithParam<Case> {};

TEST_P(OpsAdamW, MatchesTorchTranscriptionOverSteps) {
  auto [n, wd, grad_scale] = GetParam();
  ops::AdamWHyper h;
  h.lr = 1e-3f;
  h.beta1 = 0.9f;
  h.beta2 = 0.95f;
  h.eps = 1e-8f;
  h.weight_decay = wd;
  auto p = to_float(randn(n, 1, 0.02)), m = std::vector<float>(n), v = std::vector<float>(n);
  auto p_ref = p, m_ref = m, v_ref = v;
  std::vector<double> p_math(p.begin(), p.end()), m_math(n), v_math(n);
  for (int64_t t = 1; t <= 5; ++t) {
    auto grad = to_float(randn(n, 10 + t, t == 3 ? 1e-6 : 1.0));  // one step of tiny gradients
    ops::adamw_update(p.data(), grad.data(), m.data(), v.data(), n, h, t, grad_scale);
    int bad = 0;
    for (size_t i = 0; i < n; ++i) {
      float g = grad[i] * grad_scale, p0 = p_ref[i], m0 = m_ref[i], v0 = v_ref[i];
      torch_adamw_element(p_ref[i], m_ref[i], v_ref[i], g, h.lr, h.beta1, h.beta2, h.eps, h.weight_decay, t);
      // compare, then (below) go on from the transcription's state so differences cannot grow
      bool ok = close(p[i], p_ref[i], p0) && close(m[i], m_ref[i], m0) && close(v[i], v_ref[i], v0);
      if (!ok && ++bad <= 5)
        ADD_FAILURE() << "step " << t << " element " << i << ": p " << p[i] << " vs " << p_ref[i] << ", m " << m[i]
                      << " vs " << m_ref[i] << ", v " << v[i] << " vs " << v_ref[i];
      // the header's formula in double: param -= lr * (mhat / (sqrt(vhat) + eps) + wd * param)
      double gd = double(grad[i]) * grad_scale;
      m_math[i] = h.beta1 * m_math[i] + (1 - double(h.beta1)) * gd;
      v_math[i] = h.beta2 * v_math[i] + (1 - double(h.beta2)) * gd * gd;
      double mhat = m_math[i] / (1 - std::pow(double(h.beta1), t));
      double vhat = v_math[i] / (1 - std::pow(double(h.beta2), t));
      p_math[i] -= double(h.lr) * (mhat / (std::sqrt(vhat) + h.eps) + double(h.weight_decay) * p_math[i]);
      // |p| < 0.1 is rounded to float twice a step (<= 2 x 3.7e-9), the update (~lr) carries
      // ~1e-6 relative error: after 5 steps the float result is within 1e-7 of the formula
      if (std::fabs(p[i] - p_math[i]) > 1e-7 && ++bad <= 5)
        ADD_FAILURE() << "step " << t << " element " << i << ": p " << p[i] << " vs formula " << p_math[i];
      p[i] = p_ref[i];
      m[i] = m_ref[i];
      v[i] = v_ref[i];
    }
    ASSERT_EQ(bad, 0) << "step " << t;
  }
}

// n = 70001 takes the parallel path and ends in a partial block with a scalar remainder.
INSTANTIATE_TEST_SUITE_P(Cases, OpsAdamW,
                         ::testing::Values(Case{1003, 0.1f, 1.0f}, Case{37, 0.0f, 0.5f}, Case{70001, 0.1f, 0.25f}));

TEST(OpsAdamW, IndependentOfThreadCount) {
  const size_t n = 100003;
  ops::AdamWHyper h;
  h.weight_decay = 0.1f;
  auto grad = to_float(randn(n, 2));
  std::vector<std::vector<float>> results;
  for (int threads : {1, 2, 3}) {
    auto p = to_float(randn(n, 1, 0.02)), m = to_float(randn(n, 3, 0.1)), v = to_float(randn(n, 4, 0.1));
    for (auto& x : v) x = x * x;
    with_threads(threads, [&] { ops::adamw_update(p.data(), grad.data(), m.data(), v.data(), n, h, 7, 0.8f); });
    p.insert(p.end(), m.begin(), m.end());
    p.insert(p.end(), v.begin(), v.end());
    results.push_back(p);
  }
  expect_bits_equal("adamw 1 vs 2 threads", results[0], results[1]);
  expect_bits_equal("adamw 1 vs 3 threads", results[0], results[2]);
}

TEST(OpsSumSquares, ExactEnoughAndIndependentOfThreadCount) {
  for (size_t n : {size_t(0), size_t(1), size_t(1000), size_t(1000003)}) {
    auto g = to_float(randn(n, 5, 3.0));
    long double want = 0;
    for (float x : g) want += (long double)x * x;
    std::vector<double> got;
    for (int threads : {1, 2, 3}) with_threads(threads, [&] { got.push_back(ops::sum_squares(g.data(), n)); });
    EXPECT_NEAR(got[0], double(want), 1e-13 * double(want)) << n;  // double sums of ~1e6 terms
    EXPECT_EQ(got[0], got[1]) << n;
    EXPECT_EQ(got[0], got[2]) << n;
  }
}

TEST(OpsClipScale, AsTorchClipGradNorm) {
  EXPECT_EQ(ops::clip_scale(0.5, 1.0f), 1.0f);
  EXPECT_EQ(ops::clip_scale(0.0, 1.0f), 1.0f);
  EXPECT_FLOAT_EQ(ops::clip_scale(4.0, 1.0f), 1.0f / (4.0f + 1e-6f));
  EXPECT_FLOAT_EQ(ops::clip_scale(10.0, 2.5f), 0.25f);
  EXPECT_EQ(ops::clip_scale(1e9, 0.0f), 1.0f);    // clipping off
  EXPECT_EQ(ops::clip_scale(1e9, -1.0f), 1.0f);   // clipping off
  EXPECT_TRUE(std::isnan(ops::clip_scale(std::nan(""), 1.0f)));
  EXPECT_EQ(ops::clip_scale(std::numeric_limits<double>::infinity(), 1.0f), 0.0f);
}

}  // namespace
}  // namespace tlm::testing
