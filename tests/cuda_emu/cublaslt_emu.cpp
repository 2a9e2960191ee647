// The CPU emulation of the cuBLASLt subset declared in include/cublasLt.h: a plain
// triple loop in column-major order with fp32 accumulation, after the shape checks the library
// makes.
#include <cstring>
#include <vector>

#include "cublasLt.h"
#include "cuda_bf16.h"

namespace {
struct Handle {};

float load(const void* p, cudaDataType_t t, size_t i) {
  if (t == CUDA_R_32F) return static_cast<const float*>(p)[i];
  return float(static_cast<const __nv_bfloat16*>(p)[i]);
}
void store(void* p, cudaDataType_t t, size_t i, float v) {
  if (t == CUDA_R_32F) static_cast<float*>(p)[i] = v;
  else static_cast<__nv_bfloat16*>(p)[i] = __nv_bfloat16(v);
}
bool valid(const cublasLtMatrixLayoutOpaque_t* l) {
  return l && (l->type == CUDA_R_32F || l->type == CUDA_R_16BF) && l->ld >= int64_t(l->rows) && l->rows > 0 &&
         l->cols > 0;
}
// The shape check of a matmul; sets m, n, k.
cublasStatus_t shapes(cublasLtMatmulDesc_t d, cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b,
                      cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t dd, uint64_t& m, uint64_t& n, uint64_t& k) {
  if (!d || !valid(a) || !valid(b) || !valid(c) || !valid(dd)) return CUBLAS_STATUS_INVALID_VALUE;
  m = d->transa ? a->cols : a->rows;
  k = d->transa ? a->rows : a->cols;
  uint64_t kb = d->transb ? b->cols : b->rows;
  n = d->transb ? b->rows : b->cols;
  if (kb != k || c->rows != m || c->cols != n || dd->rows != m || dd->cols != n) return CUBLAS_STATUS_INVALID_VALUE;
  if (a->type != b->type || c->type != dd->type) return CUBLAS_STATUS_NOT_SUPPORTED;
  return CUBLAS_STATUS_SUCCESS;
}
}  // namespace

const char* cublasLtGetStatusString(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "CUBLAS_STATUS_NOT_INITIALIZED";
  }
}
cublasStatus_t cublasLtCreate(cublasLtHandle_t* h) {
  *h = reinterpret_cast<cublasLtHandle_t>(new Handle);
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtDestroy(cublasLtHandle_t h) {
  delete reinterpret_cast<Handle*>(h);
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t* d, cublasComputeType_t compute, cudaDataType_t scale) {
  if (compute != CUBLAS_COMPUTE_32F || scale != CUDA_R_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
  *d = new cublasLtMatmulDescOpaque_t{compute, scale, 0, 0, CUBLASLT_EPILOGUE_DEFAULT};
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t d) {
  delete d;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t a,
                                              const void* buf, size_t bytes) {
  if (!d || bytes != sizeof(int32_t)) return CUBLAS_STATUS_INVALID_VALUE;
  int32_t v;
  std::memcpy(&v, buf, 4);
  if (a == CUBLASLT_MATMUL_DESC_TRANSA) d->transa = v;
  else if (a == CUBLASLT_MATMUL_DESC_TRANSB) d->transb = v;
  else if (a == CUBLASLT_MATMUL_DESC_EPILOGUE && v == CUBLASLT_EPILOGUE_DEFAULT) d->epilogue = v;
  else return CUBLAS_STATUS_NOT_SUPPORTED;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t* l, cudaDataType type, uint64_t rows, uint64_t cols,
                                          int64_t ld) {
  *l = new cublasLtMatrixLayoutOpaque_t{type, rows, cols, ld};
  return valid(*l) ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_INVALID_VALUE;
}
cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t l) {
  delete l;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t* p) {
  *p = new cublasLtMatmulPreferenceOpaque_t{0, {256, 256, 256, 256}};
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t p) {
  delete p;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t p,
                                                    cublasLtMatmulPreferenceAttributes_t a, const void* buf,
                                                    size_t bytes) {
  if (!p) return CUBLAS_STATUS_INVALID_VALUE;
  if (a == CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES && bytes == sizeof(uint64_t)) {
    std::memcpy(&p->workspace, buf, 8);
    return CUBLAS_STATUS_SUCCESS;
  }
  if (a >= CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES && a <= CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES &&
      bytes == sizeof(uint32_t)) {
    std::memcpy(&p->min_alignment[a - CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES], buf, 4);
    return CUBLAS_STATUS_SUCCESS;
  }
  return CUBLAS_STATUS_INVALID_VALUE;
}
cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t h, cublasLtMatmulDesc_t d, cublasLtMatrixLayout_t a,
                                              cublasLtMatrixLayout_t b, cublasLtMatrixLayout_t c,
                                              cublasLtMatrixLayout_t dd, cublasLtMatmulPreference_t p, int requested,
                                              cublasLtMatmulHeuristicResult_t* results, int* returned) {
  uint64_t m, n, k;
  if (!h || !p || requested < 1) return CUBLAS_STATUS_INVALID_VALUE;
  if (cublasStatus_t s = shapes(d, a, b, c, dd, m, n, k); s != CUBLAS_STATUS_SUCCESS) return s;
  std::memset(results, 0, sizeof *results);
  results[0].state = CUBLAS_STATUS_SUCCESS;
  results[0].wavesCount = 1;
  *returned = 1;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmul(cublasLtHandle_t h, cublasLtMatmulDesc_t desc, const void* alpha, const void* A,
                              cublasLtMatrixLayout_t Adesc, const void* B, cublasLtMatrixLayout_t Bdesc,
                              const void* beta, const void* C, cublasLtMatrixLayout_t Cdesc, void* D,
                              cublasLtMatrixLayout_t Ddesc, const cublasLtMatmulAlgo_t*, void*, size_t,
                              cudaStream_t) {
  uint64_t m, n, k;
  if (!h || !A || !B || !D || !alpha || !beta) return CUBLAS_STATUS_INVALID_VALUE;
  if (cublasStatus_t s = shapes(desc, Adesc, Bdesc, Cdesc, Ddesc, m, n, k); s != CUBLAS_STATUS_SUCCESS) return s;
  const float al = *static_cast<const float*>(alpha), be = *static_cast<const float*>(beta);
  if (be != 0 && !C) return CUBLAS_STATUS_INVALID_VALUE;
  std::vector<float> out(m * n);
  for (uint64_t j = 0; j < n; j++)
    for (uint64_t i = 0; i < m; i++) {
      float s = 0;
      for (uint64_t p = 0; p < k; p++) {
        size_t ia = desc->transa ? i * Adesc->ld + p : p * Adesc->ld + i;
        size_t ib = desc->transb ? p * Bdesc->ld + j : j * Bdesc->ld + p;
        s += load(A, Adesc->type, ia) * load(B, Bdesc->type, ib);
      }
      out[j * m + i] = al * s + (be != 0 ? be * load(C, Cdesc->type, j * Cdesc->ld + i) : 0.0f);
    }
  for (uint64_t j = 0; j < n; j++)
    for (uint64_t i = 0; i < m; i++) store(D, Ddesc->type, j * Ddesc->ld + i, out[j * m + i]);
  return CUBLAS_STATUS_SUCCESS;
}
