// Attention on the GPU (reference: ops/cpu/attention.cpp), FlashAttention-2 style: a block
// owns 64 query rows (4 warps x 16 rows) and walks the 64-key tiles its rows can see, keeping
// a running max and sum per row (online softmax), so no T x T matrix is stored. The products
// (QK^T, PV and the four of the backward) are bf16 tensor-core wmma tiles with fp32
// accumulation; softmax and its statistics are fp32. wmma's register layout is opaque, so
// score tiles go through shared memory for the row-wise softmax; each warp only touches its
// own 16 rows there, so a __syncwarp orders those phases and __syncthreads guards only the
// shared K/V (or Q/dO) tiles.
//
// Document masking: query i sees key j iff doc_start[i] <= j <= i. doc_start is nondecreasing,
// so a query tile needs the key tiles from doc_start[first query] to its last query, and a key
// tile is seen by the query tiles from itself up to the first one whose first query starts a
// later document. Tiles outside those ranges are never loaded.
//
// Backward without atomics (deterministic): delta_i = dO_i . O_i first; then one kernel
// recomputes P and dS per query tile and accumulates dQ, another does so per key tile and
// accumulates dK and dV over every query head of its KV group (GQA).
#include "ops/attention.h"
#include "ops/cuda/common.cuh"
#include "ops/cuda/workspace.h"

#include <mma.h>

namespace tlm::ops::cuda {

namespace {

namespace wmma = nvcuda::wmma;
using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16_t, wmma::row_major>;
using FragBRow = wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16_t, wmma::row_major>;
using FragBCol = wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16_t, wmma::col_major>;
using FragC = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;

constexpr int kTile = 64;     // queries per block, keys per tile
constexpr int kThreads = 128;  // 4 warps x 16 rows
constexpr int kPitchS = kTile + 4;  // fp32 score rows (padding breaks bank conflicts, keeps 32-byte rows)
constexpr int kPitchP = kTile + 8;  // bf16 probability rows

template <int D>
struct Pitch {
  static constexpr int h = D + 8;  // bf16 rows of Q, K, V, dO
  static constexpr int f = D + 4;  // fp32 accumulator rows (O, dQ, dK, dV)
};

// A kernel's dynamic shared memory: NH bf16 tiles [64][D] (Q, K, V, dO), NS fp32 score tiles
// [64][64], NP bf16 probability tiles [64][64], NA fp32 accumulators [64][D] and NV vectors of
// 64 floats, each 128-byte aligned. The host sizes the launch with bytes(); the kernel carves
// the same layout, so the two cannot disagree.
template <int D, int NH, int NS, int NP, int NA, int NV>
struct Smem {
  bf16_t* h[NH];
  float* s[NS];
  bf16_t* p[NP > 0 ? NP : 1];
  float* acc[NA];
  float* vec[NV > 0 ? NV : 1];

  __host__ __device__ static size_t round(size_t bytes) { return (bytes + 127) / 128 * 128; }
  __host__ __device__ static size_t bytes() {
    return NH * round(kTile * Pitch<D>::h * sizeof(bf16_t)) + NS * round(kTile * kPitchS * sizeof(float)) +
           NP * round(kTile * kPitchP * sizeof(bf16_t)) + NA * round(kTile * Pitch<D>::f * sizeof(float)) +
           NV * round(kTile * sizeof(float));
  }
  __device__ explicit Smem(unsigned char* base) {
    auto take = [&base](size_t bytes) {
      unsigned char* p = base;
      base += round(bytes);
      return p;
    };
    for (auto& x : h) x = reinterpret_cast<bf16_t*>(take(kTile * Pitch<D>::h * sizeof(bf16_t)));
    for (auto& x : s) x = reinterpret_cast<float*>(take(kTile * kPitchS * sizeof(float)));
    for (int i = 0; i < NP; i++) p[i] = reinterpret_cast<bf16_t*>(take(kTile * kPitchP * sizeof(bf16_t)));
    for (auto& x : acc) x = reinterpret_cast<float*>(take(kTile * Pitch<D>::f * sizeof(float)));
    for (int i = 0; i < NV; i++) vec[i] = reinterpret_cast<float*>(take(kTile * sizeof(float)));
  }
};
template <int D>
using ForwardSmem = Smem<D, 3, 1, 1, 1, 0>;  // Q K V | S | P | O
template <int D>
using DqSmem = Smem<D, 4, 2, 1, 1, 0>;  // Q dO K V | S dP | dS | dQ
template <int D>
using DkvSmem = Smem<D, 4, 2, 2, 2, 2>;  // K V Q dO | S^T dP^T | P^T dS^T | dK dV | lse delta

// dst[64 rows][pitch] <- rows t0.. of a [T, stride] bf16 matrix starting at column col; rows
// at or past T become zeros. 16-byte copies (D is a multiple of 16, so rows stay aligned).
template <int D>
__device__ __forceinline__ void load_tile(bf16_t* dst, const bf16_t* src, int t0, int T, int stride, int col) {
  constexpr int chunks = D / 8;
  for (int i = threadIdx.x; i < kTile * chunks; i += kThreads) {
    const int r = i / chunks, c = (i % chunks) * 8;
    bf16_t* d = dst + r * Pitch<D>::h + c;
    if (t0 + r < T) {
      const bf16_t* s = src + size_t(t0 + r) * stride + col + c;
#ifdef TLM_CUDA_EMU
      for (int k = 0; k < 8; k++) d[k] = s[k];
#else
      *reinterpret_cast<float4*>(d) = *reinterpret_cast<const float4*>(s);
#endif
    } else {
      for (int k = 0; k < 8; k++) d[k] = to_bf16(0.0f);
    }
  }
}

// out[16 x 64] (fp32, pitch kPitchS) = a[16 x D] (row-major rows) times b^T, b being 64 rows
// of D: the score tile of one warp.
template <int D>
__device__ __forceinline__ void product_abt(float* out, const bf16_t* a, const bf16_t* b) {
  FragA fa[D / 16];
  for (int k = 0; k < D / 16; k++) wmma::load_matrix_sync(fa[k], a + k * 16, Pitch<D>::h);
  for (int j = 0; j < kTile / 16; j++) {
    FragC acc;
    wmma::fill_fragment(acc, 0.0f);
    for (int k = 0; k < D / 16; k++) {
      FragBCol fb;
      wmma::load_matrix_sync(fb, b + j * 16 * Pitch<D>::h + k * 16, Pitch<D>::h);
      wmma::mma_sync(acc, fa[k], fb, acc);
    }
    wmma::store_matrix_sync(out + j * 16, acc, kPitchS, wmma::mem_row_major);
  }
}

// acc[16 x D] (fp32, pitch Pitch<D>::f) += p[16 x 64] (bf16, pitch kPitchP) times v[64 x D].
template <int D>
__device__ __forceinline__ void accumulate_pv(float* acc, const bf16_t* p, const bf16_t* v) {
  for (int j = 0; j < D / 16; j++) {
    FragC c;
    wmma::load_matrix_sync(c, acc + j * 16, Pitch<D>::f, wmma::mem_row_major);
    for (int k = 0; k < kTile / 16; k++) {
      FragA fa;
      FragBRow fb;
      wmma::load_matrix_sync(fa, p + k * 16, kPitchP);
      wmma::load_matrix_sync(fb, v + k * 16 * Pitch<D>::h + j * 16, Pitch<D>::h);
      wmma::mma_sync(c, fa, fb, c);
    }
    wmma::store_matrix_sync(acc + j * 16, c, Pitch<D>::f, wmma::mem_row_major);
  }
}

template <int D>
__global__ void __launch_bounds__(kThreads)
    attention_forward_kernel(bf16_t* out, float* lse, const bf16_t* qkv, const int32_t* doc_start, int T, int H,
                             int KVH, float scale) {
  const int q0 = blockIdx.x * kTile, h = blockIdx.y, b = blockIdx.z, g = h / (H / KVH);
  const int QKV = (H + 2 * KVH) * D, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const ForwardSmem<D> sm(dynamic_smem<unsigned char>());
  bf16_t *Qs = sm.h[0], *Ks = sm.h[1], *Vs = sm.h[2], *Ps = sm.p[0];
  float *Ss = sm.s[0], *Os = sm.acc[0];
  const bf16_t* base = qkv + size_t(b) * T * QKV;
  const int32_t* ds = doc_start + size_t(b) * T;

  load_tile<D>(Qs, base, q0, T, QKV, h * D);
  for (int i = threadIdx.x; i < kTile * Pitch<D>::f; i += kThreads) Os[i] = 0.0f;
  // Softmax phase: lane pair (2r, 2r+1) owns row r of the warp's 16, each half of the columns.
  const int row = warp * 16 + lane / 2, half = lane % 2, qi = q0 + row;
  const int first_key = qi < T ? ds[qi] : 0;
  float m = -INFINITY, l = 0.0f;
  const int kt_end = (min(q0 + kTile, T) - 1) / kTile;
  for (int kt = ds[q0] / kTile; kt <= kt_end; kt++) {
    const int k0 = kt * kTile;
    __syncthreads();  // every warp is done with the previous K/V tile
    load_tile<D>(Ks, base, k0, T, QKV, (H + g) * D);
    load_tile<D>(Vs, base, k0, T, QKV, (H + KVH + g) * D);
    __syncthreads();
    product_abt<D>(Ss + warp * 16 * kPitchS, Qs + warp * 16 * Pitch<D>::h, Ks);
    __syncwarp();
    float* srow = Ss + row * kPitchS + half * 32;
    float mx = -INFINITY;
    for (int c = 0; c < 32; c++) {
      const int j = k0 + half * 32 + c;
      const float s = (qi < T && j >= first_key && j <= qi) ? srow[c] * scale : -INFINITY;
      srow[c] = s;
      mx = fmaxf(mx, s);
    }
    const float m_new = fmaxf(m, fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1)));
    const float alpha = m == -INFINITY ? 0.0f : __expf(m - m_new);
    bf16_t* prow = Ps + row * kPitchP + half * 32;
    float sum = 0.0f;
    for (int c = 0; c < 32; c++) {
      const float p = srow[c] == -INFINITY ? 0.0f : __expf(srow[c] - m_new);
      prow[c] = to_bf16(p);
      sum += p;
    }
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    l = l * alpha + sum;
    m = m_new;
    float* orow = Os + row * Pitch<D>::f + half * (D / 2);
    for (int c = 0; c < D / 2; c++) orow[c] *= alpha;
    __syncwarp();
    accumulate_pv<D>(Os + warp * 16 * Pitch<D>::f, Ps + warp * 16 * kPitchP, Vs);
    __syncwarp();
  }
  if (qi >= T) return;
  const float inv = 1.0f / l;  // l >= 1: every query sees itself
  const float* orow = Os + row * Pitch<D>::f + half * (D / 2);
  bf16_t* o = out + (size_t(b) * T + qi) * H * D + h * D + half * (D / 2);
  for (int c = 0; c < D / 2; c++) o[c] = to_bf16(orow[c] * inv);
  if (half == 0) lse[(size_t(b) * H + h) * T + qi] = m + logf(l);
}

// delta[b, h, t] = sum_d dout . out over head h of row t: one warp per (row, head).
__global__ void attention_delta_kernel(float* delta, const bf16_t* dout, const bf16_t* out, int B, int T, int H,
                                       int D) {
  const int w = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (w >= B * T * H) return;
  const int h = w % H, bt = w / H;
  const size_t o = size_t(bt) * H * D + size_t(h) * D;
  float s = 0.0f;
  for (int d = lane; d < D; d += 32) s += to_float(dout[o + d]) * to_float(out[o + d]);
  s = warp_sum(s);
  if (lane == 0) delta[(size_t(bt / T) * H + h) * T + bt % T] = s;
}

// dQ for one query tile: dS = P * (dP - delta), dQ = scale * dS K.
template <int D>
__global__ void __launch_bounds__(kThreads)
    attention_dq_kernel(bf16_t* dqkv, const bf16_t* dout, const bf16_t* qkv, const float* lse, const float* delta,
                        const int32_t* doc_start, int T, int H, int KVH, float scale) {
  const int q0 = blockIdx.x * kTile, h = blockIdx.y, b = blockIdx.z, g = h / (H / KVH);
  const int QKV = (H + 2 * KVH) * D, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const DqSmem<D> sm(dynamic_smem<unsigned char>());
  bf16_t *Qs = sm.h[0], *dOs = sm.h[1], *Ks = sm.h[2], *Vs = sm.h[3], *dSs = sm.p[0];
  float *Ss = sm.s[0], *dPs = sm.s[1], *dQs = sm.acc[0];
  const bf16_t* base = qkv + size_t(b) * T * QKV;
  const int32_t* ds = doc_start + size_t(b) * T;

  load_tile<D>(Qs, base, q0, T, QKV, h * D);
  load_tile<D>(dOs, dout + size_t(b) * T * H * D, q0, T, H * D, h * D);
  for (int i = threadIdx.x; i < kTile * Pitch<D>::f; i += kThreads) dQs[i] = 0.0f;
  const int row = warp * 16 + lane / 2, half = lane % 2, qi = q0 + row;
  const int first_key = qi < T ? ds[qi] : 0;
  const size_t stat = (size_t(b) * H + h) * T + qi;
  const float row_lse = qi < T ? lse[stat] : 0.0f, row_delta = qi < T ? delta[stat] : 0.0f;
  const int kt_end = (min(q0 + kTile, T) - 1) / kTile;
  for (int kt = ds[q0] / kTile; kt <= kt_end; kt++) {
    const int k0 = kt * kTile;
    __syncthreads();
    load_tile<D>(Ks, base, k0, T, QKV, (H + g) * D);
    load_tile<D>(Vs, base, k0, T, QKV, (H + KVH + g) * D);
    __syncthreads();
    product_abt<D>(Ss + warp * 16 * kPitchS, Qs + warp * 16 * Pitch<D>::h, Ks);
    product_abt<D>(dPs + warp * 16 * kPitchS, dOs + warp * 16 * Pitch<D>::h, Vs);
    __syncwarp();
    const float* srow = Ss + row * kPitchS + half * 32;
    const float* dprow = dPs + row * kPitchS + half * 32;
    bf16_t* dsrow = dSs + row * kPitchP + half * 32;
    for (int c = 0; c < 32; c++) {
      const int j = k0 + half * 32 + c;
      const bool seen = qi < T && j >= first_key && j <= qi;
      const float p = seen ? __expf(srow[c] * scale - row_lse) : 0.0f;
      dsrow[c] = to_bf16(p * (dprow[c] - row_delta));
    }
    __syncwarp();
    accumulate_pv<D>(dQs + warp * 16 * Pitch<D>::f, dSs + warp * 16 * kPitchP, Ks);
    __syncwarp();
  }
  if (qi >= T) return;
  const float* r = dQs + row * Pitch<D>::f + half * (D / 2);
  bf16_t* dq = dqkv + (size_t(b) * T + qi) * QKV + h * D + half * (D / 2);
  for (int c = 0; c < D / 2; c++) dq[c] = to_bf16(r[c] * scale);
}

// dK and dV for one key tile of KV head g, over the query heads of its group: with the
// transposed tiles S^T = K Q^T and dP^T = V dO^T (keys as rows, so each warp owns 16 keys),
// dV += P^T dO and dK += scale * dS^T Q.
template <int D>
__global__ void __launch_bounds__(kThreads)
    attention_dkv_kernel(bf16_t* dqkv, const bf16_t* dout, const bf16_t* qkv, const float* lse, const float* delta,
                         const int32_t* doc_start, int T, int H, int KVH, float scale) {
  const int k0 = blockIdx.x * kTile, g = blockIdx.y, b = blockIdx.z, group = H / KVH;
  const int QKV = (H + 2 * KVH) * D, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const DkvSmem<D> sm(dynamic_smem<unsigned char>());
  bf16_t *Ks = sm.h[0], *Vs = sm.h[1], *Qs = sm.h[2], *dOs = sm.h[3], *PTs = sm.p[0], *dSTs = sm.p[1];
  float *STs = sm.s[0], *dPTs = sm.s[1], *dKs = sm.acc[0], *dVs = sm.acc[1], *lse_s = sm.vec[0], *delta_s = sm.vec[1];
  const bf16_t* base = qkv + size_t(b) * T * QKV;
  const bf16_t* dbase = dout + size_t(b) * T * H * D;
  const int32_t* ds = doc_start + size_t(b) * T;

  load_tile<D>(Ks, base, k0, T, QKV, (H + g) * D);
  load_tile<D>(Vs, base, k0, T, QKV, (H + KVH + g) * D);
  for (int i = threadIdx.x; i < kTile * Pitch<D>::f; i += kThreads) dKs[i] = dVs[i] = 0.0f;
  const int krow = warp * 16 + lane / 2, half = lane % 2, kj = k0 + krow;
  const int k_last = min(k0 + kTile, T) - 1;
  for (int h = g * group; h < (g + 1) * group; h++) {
    for (int q0 = k0; q0 < T && ds[q0] <= k_last; q0 += kTile) {
      __syncthreads();  // every warp is done with the previous Q/dO tile
      load_tile<D>(Qs, base, q0, T, QKV, h * D);
      load_tile<D>(dOs, dbase, q0, T, H * D, h * D);
      for (int i = threadIdx.x; i < kTile; i += kThreads) {
        const bool in = q0 + i < T;
        const size_t stat = (size_t(b) * H + h) * T + q0 + i;
        lse_s[i] = in ? lse[stat] : 0.0f;
        delta_s[i] = in ? delta[stat] : 0.0f;
      }
      __syncthreads();
      product_abt<D>(STs + warp * 16 * kPitchS, Ks + warp * 16 * Pitch<D>::h, Qs);
      product_abt<D>(dPTs + warp * 16 * kPitchS, Vs + warp * 16 * Pitch<D>::h, dOs);
      __syncwarp();
      const float* srow = STs + krow * kPitchS + half * 32;
      const float* dprow = dPTs + krow * kPitchS + half * 32;
      bf16_t* prow = PTs + krow * kPitchP + half * 32;
      bf16_t* dsrow = dSTs + krow * kPitchP + half * 32;
      for (int c = 0; c < 32; c++) {
        const int i = half * 32 + c, qi = q0 + i;
        const bool seen = qi < T && kj < T && kj <= qi && ds[qi] <= kj;
        const float p = seen ? __expf(srow[c] * scale - lse_s[i]) : 0.0f;
        prow[c] = to_bf16(p);
        dsrow[c] = to_bf16(p * (dprow[c] - delta_s[i]));
      }
      __syncwarp();
      accumulate_pv<D>(dVs + warp * 16 * Pitch<D>::f, PTs + warp * 16 * kPitchP, dOs);
      accumulate_pv<D>(dKs + warp * 16 * Pitch<D>::f, dSTs + warp * 16 * kPitchP, Qs);
      __syncwarp();
    }
  }
  if (kj >= T) return;
  const float* rk = dKs + krow * Pitch<D>::f + half * (D / 2);
  const float* rv = dVs + krow * Pitch<D>::f + half * (D / 2);
  bf16_t* dk = dqkv + (size_t(b) * T + kj) * QKV + (H + g) * D + half * (D / 2);
  bf16_t* dv = dqkv + (size_t(b) * T + kj) * QKV + (H + KVH + g) * D + half * (D / 2);
  for (int c = 0; c < D / 2; c++) dk[c] = to_bf16(rk[c] * scale), dv[c] = to_bf16(rv[c]);
}

// Raises a kernel's shared memory limit to `bytes` and returns them (once per kernel).
template <class K>
size_t allowed(K kernel, size_t bytes) {
  allow_smem(kernel, bytes);
  return bytes;
}

// Launches the three kernel families for one head dimension.
template <int D>
struct Launcher {
  static void forward(bf16_t* out, float* lse, const bf16_t* qkv, const int32_t* doc_start, int B, int T, int H,
                      int KVH) {
    static const size_t smem = allowed(attention_forward_kernel<D>, ForwardSmem<D>::bytes());
    launch("attention_forward", attention_forward_kernel<D>, dim3(ceil_div(T, kTile), H, B), kThreads, smem, out,
           lse, qkv, doc_start, T, H, KVH, 1.0f / sqrtf(float(D)));
  }
  static void backward(bf16_t* dqkv, const bf16_t* dout, const bf16_t* qkv, const float* lse, const float* delta,
                       const int32_t* doc_start, int B, int T, int H, int KVH) {
    static const size_t smem_q = allowed(attention_dq_kernel<D>, DqSmem<D>::bytes());
    static const size_t smem_kv = allowed(attention_dkv_kernel<D>, DkvSmem<D>::bytes());
    const float scale = 1.0f / sqrtf(float(D));
    launch("attention_dq", attention_dq_kernel<D>, dim3(ceil_div(T, kTile), H, B), kThreads, smem_q, dqkv, dout, qkv,
           lse, delta, doc_start, T, H, KVH, scale);
    launch("attention_dkv", attention_dkv_kernel<D>, dim3(ceil_div(T, kTile), KVH, B), kThreads, smem_kv, dqkv,
           dout, qkv, lse, delta, doc_start, T, H, KVH, scale);
  }
};

template <class F>
void with_head_dim(int D, F&& f) {
  switch (D) {
    case 16: return f(Launcher<16>{});
    case 32: return f(Launcher<32>{});
    case 64: return f(Launcher<64>{});
    case 128: return f(Launcher<128>{});
    default: TLM_CHECK(false, "CUDA attention supports head_dim 16, 32, 64 or 128, not %d", D);
  }
}

void check_shapes(const char* op, int B, int T, int H, int KVH, int D) {
  TLM_CHECK(B > 0 && T > 0 && H > 0 && KVH > 0 && H % KVH == 0, "%s: B %d T %d H %d KVH %d", op, B, T, H, KVH);
  TLM_CHECK(B <= 65535 && H <= 65535, "%s: grid too large (B %d, H %d)", op, B, H);
  (void)D;
}

}  // namespace

void attention_forward(bf16* out, float* lse, const bf16* qkv, const int32_t* doc_start, int B, int T, int H, int KVH,
                       int D) {
  check_shapes("attention_forward", B, T, H, KVH, D);
  with_head_dim(D, [&](auto l) {
    l.forward(reinterpret_cast<bf16_t*>(out), lse, reinterpret_cast<const bf16_t*>(qkv), doc_start, B, T, H, KVH);
  });
}

void attention_backward(bf16* dqkv, const bf16* dout, const bf16* qkv, const bf16* out, const float* lse,
                        const int32_t* doc_start, int B, int T, int H, int KVH, int D) {
  check_shapes("attention_backward", B, T, H, KVH, D);
  const bf16_t* dy = reinterpret_cast<const bf16_t*>(dout);
  float* delta = static_cast<float*>(workspace(size_t(B) * H * T * sizeof(float)));
  const int rows = B * T * H;
  launch("attention_delta", attention_delta_kernel, ceil_div(rows, 8), 256, 0, delta, dy,
         reinterpret_cast<const bf16_t*>(out), B, T, H, D);
  with_head_dim(D, [&](auto l) {
    l.backward(reinterpret_cast<bf16_t*>(dqkv), dy, reinterpret_cast<const bf16_t*>(qkv), lse, delta, doc_start, B, T,
               H, KVH);
  });
}

}  // namespace tlm::ops::cuda
