// Attention (causal, grouped-query, document-masked) against a dense double-precision reference
// that builds the full masked T x T probability matrix, finite-difference checks of the backward
// in double, float vs double, T = 1024, and thread-count independence. The dense reference
// computes Delta_i as sum_j P_ij dP_ij, independently of the op's dout . out.
// Tolerances: test_ops_common.h.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/check.h"
#include "ops/attention.h"
#include "ops/cpu/f64.h"
#include "test_ops_common.h"

namespace tlm::testing {
namespace {

namespace f64 = tlm::ops::f64;
using V = std::vector<double>;

struct Shape {
  int B, T, H, KVH, D;
};

// doc_start for B sequences of T tokens cut into documents: "one" document per sequence,
// "several" of random lengths 1..6, or "single" tokens only.
std::vector<int32_t> make_doc_start(int B, int T, const std::string& layout, uint64_t seed) {
  std::vector<int32_t> ds(size_t(B) * T);
  Rng rng(seed, 1);
  for (int b = 0; b < B; ++b) {
    int start = 0, left = 0;
    for (int i = 0; i < T; ++i) {
      if (left == 0) {
        start = i;
        left = layout == "one" ? T : layout == "single" ? 1 : 1 + int(rng.below(6));
      }
      ds[size_t(b) * T + i] = start;
      --left;
    }
  }
  return ds;
}

struct Dense {
  V out, lse, dqkv;
};

// The textbook formulation, one (sequence, head) at a time, with a full [T, T] matrix.
Dense dense_attention(const V& qkv, const std::vector<int32_t>& doc_start, const V& dout, Shape s) {
  auto [B, T, H, KVH, D] = s;
  const long S = long(H + 2 * KVH) * D;
  const double scale = 1 / std::sqrt(double(D));
  Dense r{V(size_t(B) * T * H * D), V(size_t(B) * H * T), V(qkv.size())};
  V P(size_t(T) * T), dS(size_t(T) * T);
  auto dot = [D](const double* a, const double* b) {
    double acc = 0;
    for (int d = 0; d < D; ++d) acc += a[d] * b[d];
    return acc;
  };
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h) {
      const int kvh = h / (H / KVH);
      const long q_off = h * D, k_off = (H + kvh) * D, v_off = (H + KVH + kvh) * D;
      const double* seq = qkv.data() + long(b) * T * S;
      double* dseq = r.dqkv.data() + long(b) * T * S;
      for (int i = 0; i < T; ++i) {
        const double* q = seq + i * S + q_off;
        const double* go = dout.data() + (long(b) * T + i) * H * D + h * D;
        double* p = P.data() + size_t(i) * T;
        double* ds = dS.data() + size_t(i) * T;
        double m = -INFINITY;
        for (int j = 0; j < T; ++j) {
          bool visible = doc_start[size_t(b) * T + i] <= j && j <= i;
          p[j] = visible ? dot(q, seq + j * S + k_off) * scale : -INFINITY;
          m = std::max(m, p[j]);
        }
        double sum = 0;
        for (int j = 0; j < T; ++j) sum += p[j] = std::exp(p[j] - m);
        for (int j = 0; j < T; ++j) p[j] /= sum;
        r.lse[(size_t(b) * H + h) * T + i] = m + std::log(sum);
        double* o = r.out.data() + (long(b) * T + i) * H * D + h * D;
        for (int j = 0; j < T; ++j)
          for (int d = 0; d < D && p[j] != 0; ++d) o[d] += p[j] * seq[j * S + v_off + d];
        // dP_ij = dout_i . v_j; dS_ij = P_ij (dP_ij - sum_j' P_ij' dP_ij')
        double delta = 0;
        for (int j = 0; j < T; ++j) {
          ds[j] = p[j] != 0 ? dot(go, seq + j * S + v_off) : 0;
          delta += p[j] * ds[j];
        }
        for (int j = 0; j < T; ++j) ds[j] = p[j] * (ds[j] - delta) * scale;
        for (int j = 0; j < T; ++j) {
          if (p[j] == 0) continue;
          for (int d = 0; d < D; ++d) {
            dseq[i * S + q_off + d] += ds[j] * seq[j * S + k_off + d];
            dseq[j * S + k_off + d] += ds[j] * q[d];
            dseq[j * S + v_off + d] += p[j] * go[d];
          }
        }
      }
    }
  return r;
}

void expect_near_all(const std::string& what, const V& a, const V& b, double tol) {
  ASSERT_EQ(a.size(), b.size());
  int failures = 0;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::fabs(a[i] - b[i]) > tol * (1 + std::fabs(b[i])) && ++failures <= 5)
      ADD_FAILURE() << what << "[" << i << "]: " << a[i] << " vs reference " << b[i];
  EXPECT_EQ(failures, 0) << what;
}

class OpsAttention : public ::testing::TestWithParam<Shape> {};

TEST_P(OpsAttention, MatchesDenseReferenceAndFiniteDifferences) {
  Shape s = GetParam();
  auto [B, T, H, KVH, D] = s;
  const long S = long(H + 2 * KVH) * D;
  for (const char* layout : {"one", "several", "single"}) {
    SCOPED_TRACE(layout);
    auto doc_start = make_doc_start(B, T, layout, 5);
    V qkv = randn(size_t(B) * T * S, 1), R = randn(size_t(B) * T * H * D, 2);
    V out(R.size()), lse(size_t(B) * H * T);
    f64::attention_forward(out.data(), lse.data(), qkv.data(), doc_start.data(), B, T, H, KVH, D);
    V dqkv0 = randn(qkv.size(), 3), dqkv = dqkv0;
    f64::attention_backward(dqkv.data(), R.data(), qkv.data(), out.data(), lse.data(), doc_start.data(), B, T, H,
                            KVH, D);
    V grad(qkv.size());
    for (size_t i = 0; i < grad.size(); ++i) grad[i] = dqkv[i] - dqkv0[i];

    Dense ref = dense_attention(qkv, doc_start, R, s);
    expect_near_all("out vs dense", out, ref.out, 1e-12);
    expect_near_all("lse vs dense", lse, ref.lse, 1e-12);
    expect_near_all("dqkv vs dense", grad, ref.dqkv, 1e-12);

    // every input of the small shapes; every 11th of the multi-tile one (the dense comparison
    // above already covers every element)
    expect_fd_grad(
        "dqkv", qkv, grad,
        [&] {
          f64::attention_forward(out.data(), lse.data(), qkv.data(), doc_start.data(), B, T, H, KVH, D);
          return dot(out, R);
        },
        qkv.size() > 1000 ? 11 : 1);

    auto qkv_f = to_float(qkv), R_f = to_float(R);
    std::vector<float> out_f(out.size()), lse_f(lse.size()), dqkv_f(qkv.size());
    ops::attention_forward(out_f.data(), lse_f.data(), qkv_f.data(), doc_start.data(), B, T, H, KVH, D);
    ops::attention_backward(dqkv_f.data(), R_f.data(), qkv_f.data(), out_f.data(), lse_f.data(), doc_start.data(),
                            B, T, H, KVH, D);
    expect_f32_close("out float", out_f, ref.out);
    expect_f32_close("lse float", lse_f, ref.lse);
    expect_f32_close("dqkv float", dqkv_f, ref.dqkv);
  }
}

// GQA with 2 and 6 query heads per KV head, and plain multi-head; odd T and D; T = 130 spans
// three query tiles of the op (64 rows each); the last is the CUDA test's shape whose one-token
// documents once looked wrong on AVX2 builds (the comparison was at fault, not the op).
INSTANTIATE_TEST_SUITE_P(Shapes, OpsAttention,
                         ::testing::Values(Shape{1, 1, 1, 1, 2}, Shape{2, 7, 4, 2, 8}, Shape{1, 17, 6, 1, 4},
                                           Shape{2, 9, 2, 2, 6}, Shape{3, 5, 3, 3, 1}, Shape{1, 130, 2, 1, 2},
                                           Shape{2, 64, 3, 1, 16}));

// T = 1024: runs without a T x T buffer per head and matches the dense reference (float op
// vs double reference, tolerance kF32Tol) on every row, with one document and with documents
// of very different lengths (including a single-token one).
TEST(OpsAttention, LongSequenceMatchesDense) {
  const Shape s{1, 1024, 2, 1, 16};
  const long S = long(s.H + 2 * s.KVH) * s.D;
  for (int layout = 0; layout < 2; ++layout) {
    std::vector<int32_t> doc_start(s.T, 0);
    if (layout == 1)
      for (int i = 0; i < s.T; ++i) doc_start[i] = i < 300 ? 0 : i < 301 ? 300 : i < 1001 ? 301 : 1001;
    V qkv = randn(size_t(s.T) * S, 11), R = randn(size_t(s.T) * s.H * s.D, 12);
    auto qkv_f = to_float(qkv), R_f = to_float(R);
    std::vector<float> out(R.size()), lse(size_t(s.H) * s.T), dqkv(qkv.size());
    ops::attention_forward(out.data(), lse.data(), qkv_f.data(), doc_start.data(), s.B, s.T, s.H, s.KVH, s.D);
    ops::attention_backward(dqkv.data(), R_f.data(), qkv_f.data(), out.data(), lse.data(), doc_start.data(), s.B,
                            s.T, s.H, s.KVH, s.D);
    Dense ref = dense_attention(qkv, doc_start, R, s);
    expect_f32_close("out T=1024", out, ref.out);
    expect_f32_close("lse T=1024", lse, ref.lse);
    expect_f32_close("dqkv T=1024", dqkv, ref.dqkv);
  }
}

TEST(OpsAttention, IndependentOfThreadCount) {
  const Shape s{3, 160, 4, 2, 16};  // sequence 0 is one document of three query tiles
  const long S = long(s.H + 2 * s.KVH) * s.D;
  auto doc_start = make_doc_start(s.B, s.T, "several", 8);
  for (int i = 0; i < s.T; ++i) doc_start[i] = 0;  // sequence 0: one long document
  auto qkv = to_float(randn(size_t(s.B) * s.T * S, 1)), dout = to_float(randn(size_t(s.B) * s.T * s.H * s.D, 2));
  std::vector<std::vector<float>> outs, grads;
  for (int threads : {1, 2, 3}) {
    std::vector<float> out(dout.size()), lse(size_t(s.B) * s.H * s.T), dqkv(qkv.size(), 0.5f);
    with_threads(threads, [&] {
      ops::attention_forward(out.data(), lse.data(), qkv.data(), doc_start.data(), s.B, s.T, s.H, s.KVH, s.D);
      ops::attention_backward(dqkv.data(), dout.data(), qkv.data(), out.data(), lse.data(), doc_start.data(), s.B,
                              s.T, s.H, s.KVH, s.D);
    });
    outs.push_back(out);
    grads.push_back(dqkv);
  }
  for (int k : {1, 2}) {
    expect_bits_equal("out", outs[0], outs[k]);
    expect_bits_equal("dqkv", grads[0], grads[k]);
  }
}

TEST(OpsAttention, RejectsBadDocumentStarts) {
  const Shape s{1, 4, 1, 1, 2};
  std::vector<float> qkv(4 * 6), out(4 * 2), lse(4);
  std::vector<int32_t> not_contiguous = {0, 0, 1, 1};  // token 2 would start at 1, inside a document
  std::vector<int32_t> first_not_zero = {1, 1, 2, 3};
  for (const auto& ds : {not_contiguous, first_not_zero})
    EXPECT_THROW(ops::attention_forward(out.data(), lse.data(), qkv.data(), ds.data(), s.B, s.T, s.H, s.KVH, s.D),
                 InternalError);
}

}  // namespace
}  // namespace tlm::testing
