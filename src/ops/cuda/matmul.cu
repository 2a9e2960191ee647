// The linear layers on the GPU (reference: ops/cpu/matmul.cpp) through cuBLASLt: bf16
// operands, fp32 accumulation (CUBLAS_COMPUTE_32F, fp32 alpha/beta), and the bf16 cast of fp32
// tensors. The residual connection is cuBLASLt's C operand (beta 1, fp32 C/D), so it costs no
// extra pass over the activations.
//
// Layouts. Our tensors are row-major; cuBLASLt is column-major, and a row-major [R, C] matrix
// is the column-major [C, R] one (its transpose) with ld = C. cuBLASLt computes
// D[m, n] = op(A)[m, k] op(B)[k, n] (+ C), so every product below is taken transposed:
//   forward   out[N,OC] = inp @ W^T   <=>  out^T[OC,N] = W[OC,IC] inp^T[IC,N]
//             A = W seen as [IC,OC] (ld IC), transa T; B = inp seen as [IC,N] (ld IC), transb N;
//             D = out seen as [OC,N] (ld OC); m = OC, n = N, k = IC  ("TN", beta 0, bf16 D).
//   residual  the same with C = residual and D = out, both fp32 [OC,N] (ld OC), beta 1; C may
//             be D (cuBLASLt allows C == D with the same layout).
//   dinp      dinp[N,IC] = dout @ W   <=>  dinp^T[IC,N] = W^T[IC,OC] dout^T[OC,N]
//             A = W seen as [IC,OC] (ld IC), transa N; B = dout seen as [OC,N] (ld OC), transb N;
//             D = dinp seen as [IC,N] (ld IC); m = IC, n = N, k = OC  ("NN", beta 0, bf16 D).
//   dweight   dW[OC,IC] += dout^T @ inp  <=>  dW^T[IC,OC] += inp^T[IC,N] dout[N,OC]
//             A = inp seen as [IC,N] (ld IC), transa N; B = dout seen as [OC,N] (ld OC),
//             transb T; C = D = dW seen as [IC,OC] (ld IC), fp32; m = IC, n = OC, k = N ("NT").
//
// Caching. Creating descriptors and running the heuristic costs microseconds and a training
// step issues the same few shapes every time, so each (m, n, k, transposes, C/D type, beta,
// pointer alignments) gets its descriptors and algorithm once; the same algorithm for the same
// key also keeps the results bitwise reproducible. The alignments are in the key because the
// heuristic otherwise assumes 256-byte aligned pointers, which sliced activations (the q/k/v
// parts of a row, a micro-batch of a buffer) need not be.
//
// Per host thread: the handle, the 32 MiB workspace and the cache. Every thread launches on its
// own stream (common.cuh stream()), so a shared workspace could be used by two matmuls at once.
#include <cublasLt.h>

#include <map>
#include <memory>
#include <type_traits>

#include "ops/cuda/common.cuh"
#include "ops/cuda_device.h"
#include "ops/matmul.h"

namespace tlm::ops::cuda {

namespace {

constexpr size_t kWorkspaceBytes = size_t(32) << 20;

// What a cuBLASLt call is about, for error messages: the op, its shape, and the product.
struct Gemm {
  const char* what;  // "forward", "forward_residual", "backward dinp", "backward dweight"
  int N, IC, OC;
  uint64_t m, n, k;
};

[[noreturn]] void lt_failed(cublasStatus_t s, const char* call, const Gemm& g) {
  throw InternalError(strprintf("cuBLASLt %s failed: %s (matmul %s with N %d, IC %d, OC %d: m %llu, n %llu, k %llu)",
                                call, cublasLtGetStatusString(s), g.what, g.N, g.IC, g.OC,
                                static_cast<unsigned long long>(g.m), static_cast<unsigned long long>(g.n),
                                static_cast<unsigned long long>(g.k)));
}
#define LT_CHECK(call, gemm)                                           \
  do {                                                                 \
    cublasStatus_t tlm_s_ = (call);                                    \
    if (tlm_s_ != CUBLAS_STATUS_SUCCESS) [[unlikely]]                  \
      lt_failed(tlm_s_, #call, gemm);                                  \
  } while (0)

// The largest power of two (at most 256, cuBLASLt's default assumption) dividing the address.
uint32_t alignment(const void* p) {
  uint32_t a = 256;
  while (a > 1 && reinterpret_cast<uintptr_t>(p) % a != 0) a /= 2;
  return a;
}

struct Key {
  uint64_t m, n, k;
  int32_t transa, transb;
  int32_t cd_type;  // cudaDataType_t of C and D
  int32_t accumulate;
  uint32_t align_a, align_b, align_c, align_d;
  auto operator<=>(const Key&) const = default;
};

// The descriptors and chosen algorithm of one key.
struct Plan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr, d = nullptr;
  cublasLtMatmulAlgo_t algo{};
  Plan() = default;
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;
  ~Plan() {  // statuses ignored: nothing useful can be done about a failing destroy
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (c) cublasLtMatrixLayoutDestroy(c);
    if (d) cublasLtMatrixLayoutDestroy(d);
    if (desc) cublasLtMatmulDescDestroy(desc);
  }
};

struct Context {
  cublasLtHandle_t handle = nullptr;
  tlm::cuda::DeviceBuffer<unsigned char> workspace;
  std::map<Key, std::unique_ptr<Plan>> plans;
  ~Context() {
    plans.clear();
    if (handle) cublasLtDestroy(handle);
  }
};

Context& context(const Gemm& g) {
  thread_local Context ctx;
  if (!ctx.handle) {
    if (!ctx.workspace.data()) ctx.workspace.reset(kWorkspaceBytes);
    LT_CHECK(cublasLtCreate(&ctx.handle), g);
  }
  return ctx;
}

const Plan& plan(Context& ctx, const Key& key, const Gemm& g) {
  auto it = ctx.plans.find(key);
  if (it != ctx.plans.end()) return *it->second;
  auto p = std::make_unique<Plan>();
  LT_CHECK(cublasLtMatmulDescCreate(&p->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F), g);
  const int32_t ta = key.transa, tb = key.transb;
  LT_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta), g);
  LT_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb), g);
  // Stored shapes: op(A) is [m, k], so A itself is [k, m] when transposed; likewise B.
  const uint64_t a_rows = key.transa ? key.k : key.m, a_cols = key.transa ? key.m : key.k;
  const uint64_t b_rows = key.transb ? key.n : key.k, b_cols = key.transb ? key.k : key.n;
  const auto cd = static_cast<cudaDataType_t>(key.cd_type);
  LT_CHECK(cublasLtMatrixLayoutCreate(&p->a, CUDA_R_16BF, a_rows, a_cols, int64_t(a_rows)), g);
  LT_CHECK(cublasLtMatrixLayoutCreate(&p->b, CUDA_R_16BF, b_rows, b_cols, int64_t(b_rows)), g);
  LT_CHECK(cublasLtMatrixLayoutCreate(&p->c, cd, key.m, key.n, int64_t(key.m)), g);
  LT_CHECK(cublasLtMatrixLayoutCreate(&p->d, cd, key.m, key.n, int64_t(key.m)), g);

  cublasLtMatmulPreference_t pref = nullptr;
  LT_CHECK(cublasLtMatmulPreferenceCreate(&pref), g);
  std::unique_ptr<std::remove_pointer_t<cublasLtMatmulPreference_t>, cublasStatus_t (*)(cublasLtMatmulPreference_t)>
      pref_owner(pref, cublasLtMatmulPreferenceDestroy);
  const uint64_t ws = kWorkspaceBytes;
  LT_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws), g);
  const uint32_t aligns[4] = {key.align_a, key.align_b, key.align_c, key.align_d};
  const cublasLtMatmulPreferenceAttributes_t align_attrs[4] = {
      CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
      CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
  for (int i = 0; i < 4; i++)
    LT_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, align_attrs[i], &aligns[i], sizeof aligns[i]), g);

  cublasLtMatmulHeuristicResult_t result{};
  int returned = 0;
  cublasStatus_t s =
      cublasLtMatmulAlgoGetHeuristic(ctx.handle, p->desc, p->a, p->b, p->c, p->d, pref, 1, &result, &returned);
  if (s == CUBLAS_STATUS_NOT_SUPPORTED || (s == CUBLAS_STATUS_SUCCESS && returned == 0))
    throw InternalError(strprintf(
        "cuBLASLt has no algorithm for matmul %s with N %d, IC %d, OC %d (m %llu, n %llu, k %llu, %s C/D, "
        "alignments A %u B %u C %u D %u bytes)",
        g.what, g.N, g.IC, g.OC, static_cast<unsigned long long>(g.m), static_cast<unsigned long long>(g.n),
        static_cast<unsigned long long>(g.k), cd == CUDA_R_32F ? "fp32" : "bf16", key.align_a, key.align_b,
        key.align_c, key.align_d));
  if (s != CUBLAS_STATUS_SUCCESS) lt_failed(s, "cublasLtMatmulAlgoGetHeuristic", g);
  if (result.state != CUBLAS_STATUS_SUCCESS) lt_failed(result.state, "cublasLtMatmulAlgoGetHeuristic (result)", g);
  p->algo = result.algo;
  return *ctx.plans.emplace(key, std::move(p)).first->second;
}

// D = op(A) op(B) (+ C when accumulate), column-major as described at the top of the file.
void lt_matmul(const Gemm& g, bool transa, bool transb, const bf16_t* A, const bf16_t* B, const void* C, void* D,
               cudaDataType_t cd_type, bool accumulate) {
  Context& ctx = context(g);
  const Key key{g.m,
                g.n,
                g.k,
                int32_t(transa ? CUBLAS_OP_T : CUBLAS_OP_N),
                int32_t(transb ? CUBLAS_OP_T : CUBLAS_OP_N),
                int32_t(cd_type),
                int32_t(accumulate),
                alignment(A),
                alignment(B),
                alignment(C),
                alignment(D)};
  const Plan& p = plan(ctx, key, g);
  const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
  LT_CHECK(cublasLtMatmul(ctx.handle, p.desc, &alpha, A, p.a, B, p.b, &beta, C, p.c, D, p.d, &p.algo,
                          ctx.workspace.data(), kWorkspaceBytes, stream()),
           g);
}

__global__ void cast_to_bf16_kernel(bf16_t* dst, const float* src, size_t n) {
  const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) dst[i] = to_bf16(src[i]);
}

void check_shape(const char* op, int N, int IC, int OC) {
  TLM_CHECK(N > 0 && IC > 0 && OC > 0, "matmul %s: N %d, IC %d, OC %d", op, N, IC, OC);
}

}  // namespace

void matmul_forward(bf16* out, const bf16* inp, const bf16* weight, int N, int IC, int OC) {
  check_shape("forward", N, IC, OC);
  const Gemm g{"forward", N, IC, OC, uint64_t(OC), uint64_t(N), uint64_t(IC)};
  lt_matmul(g, true, false, reinterpret_cast<const bf16_t*>(weight), reinterpret_cast<const bf16_t*>(inp), out, out,
            CUDA_R_16BF, false);
}

void matmul_forward_residual(float* out, const float* residual, const bf16* inp, const bf16* weight, int N, int IC,
                             int OC) {
  check_shape("forward_residual", N, IC, OC);
  const Gemm g{"forward_residual", N, IC, OC, uint64_t(OC), uint64_t(N), uint64_t(IC)};
  lt_matmul(g, true, false, reinterpret_cast<const bf16_t*>(weight), reinterpret_cast<const bf16_t*>(inp), residual,
            out, CUDA_R_32F, true);
}

void matmul_backward(bf16* dinp, float* dweight, const bf16* dout, const bf16* inp, const bf16* weight, int N, int IC,
                     int OC) {
  check_shape("backward", N, IC, OC);
  const bf16_t* dy = reinterpret_cast<const bf16_t*>(dout);
  if (dinp) {
    const Gemm g{"backward dinp", N, IC, OC, uint64_t(IC), uint64_t(N), uint64_t(OC)};
    lt_matmul(g, false, false, reinterpret_cast<const bf16_t*>(weight), dy, dinp, dinp, CUDA_R_16BF, false);
  }
  if (dweight) {
    const Gemm g{"backward dweight", N, IC, OC, uint64_t(IC), uint64_t(OC), uint64_t(N)};
    lt_matmul(g, false, true, reinterpret_cast<const bf16_t*>(inp), dy, dweight, dweight, CUDA_R_32F, true);
  }
}

void cast_to_bf16(bf16* dst, const float* src, size_t n) {
  if (n == 0) return;
  launch("cast_to_bf16", cast_to_bf16_kernel, ceil_div(n, 256), 256, 0, reinterpret_cast<bf16_t*>(dst), src, n);
}

}  // namespace tlm::ops::cuda
