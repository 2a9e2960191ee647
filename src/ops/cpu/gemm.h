// Internal to the CPU ops: row-major cblas gemm overloaded on the element type, so op bodies
// templated on float/double (see f64.h) call sgemm or dgemm through one name.
//   C[M, N] = alpha * op(A) @ op(B) + beta * C, op(X) = X or X^T, leading dimensions in elements.
#pragma once

#include <cblas.h>

namespace tlm::ops::cpu {

inline void gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
                 const float* B, int ldb, float beta, float* C, int ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K,
              alpha, A, lda, B, ldb, beta, C, ldc);
}

inline void gemm(bool trans_a, bool trans_b, int M, int N, int K, double alpha, const double* A, int lda,
                 const double* B, int ldb, double beta, double* C, int ldc) {
  cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K,
              alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace tlm::ops::cpu
