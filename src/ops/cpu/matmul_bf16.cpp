// bf16 linear layers through oneDNN's matmul primitive (brgemm kernels on AVX512-BF16, fp32
// accumulation and fp32 destination). A primitive is JIT-compiled for one shape, which takes
// milliseconds, so each (shape, layouts, accumulate) is created once and cached for the life of
// the process; a training step then only wraps its pointers in memory objects. Backward
// accumulates through oneDNN's "sum" post-op (dst = product + dst), as sgemm's beta = 1.
//
// Weights are packed in the blocked layout oneDNN picks for them (format "any"), asked of a
// primitive over kPackRows rows; brgemm's weight blocking depends on the weight's shape only,
// so the products over any number of rows read the same packing. Activations stay row-major:
// they are written once and read once or twice, so packing them would cost what it saves.
// Measured per core (CPU time, config B/C shapes): plain weights 190-210 GFLOP/s, packed
// 205-220; the input-gradient product gains the most (up to 180 -> 215 at K = 32000).
// Packing is written out here for the layout brgemm uses on AVX512-BF16 (BA16a64b2a): it takes
// half the time of oneDNN's generic reorder on config B's weights (16 vs 32 ms per step on one
// core), two thirds on config C's (74 vs 112 ms); any other layout goes through the reorder.
// (A one-pass variant, packing both layouts from 64 x 64 tiles, measured slower: its 64 row
// streams defeat the prefetchers.)
//
// Where oneDNN has no bf16 matmul for this CPU (oneDNN 2.x on AVX2-only CPUs such as Zen 3,
// which it reports as "avx2 (bf16 emulated)" but cannot build a bf16 matmul for), and in builds
// without oneDNN, the same products run as fp32 sgemm on the bf16-rounded operands: the
// "packing" is then the weight rounded to bf16 and stored widened to fp32 ([OC, IC], row-major).
// A product of two bf16 values is exact in fp32, so both paths compute the same sums of the same
// terms, in different orders. The choice is made once per process, by asking oneDNN for the
// weight packing of a small matmul; TLM_BF16_MATMUL=fp32 forces the fallback.
#include "ops/matmul_bf16.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "core/check.h"
#include "ops/cpu/gemm.h"
#include "ops/cpu/scratch.h"

#ifdef TLM_HAVE_DNNL
#include <map>
#include <mutex>
#include <tuple>

#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace tlm::ops {
namespace {

// Round to nearest even on the bit pattern: adding 0x7fff plus the lowest kept bit carries
// into the kept half exactly when the dropped half is above the midpoint, or at it with an odd
// kept half. NaNs are kept quiet (a NaN whose payload sits in the dropped bits would otherwise
// round to infinity). Branch-free, so GCC vectorises the loop.
inline bf16 round_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  return bf16((u & 0x7fffffffu) > 0x7f800000u ? (u >> 16) | 0x40u : rounded);
}

// Conversions are memory-bound: both cores help, but only past a size worth waking them for.
constexpr size_t kParallelMin = size_t(1) << 15;

constexpr size_t align64(size_t n) { return (n + 63) / 64 * 64; }

inline float widen(bf16 h) {
  uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// The fallback's operands: dst[i] = src[i] rounded to bf16, kept as fp32.
void round_to_fp32(float* dst, const float* src, size_t n) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (size_t i = 0; i < n; i++) dst[i] = widen(round_bf16(src[i]));
}

// -1: not chosen yet; 0: fp32 products; 1: oneDNN's bf16 kernels.
std::atomic<int> g_native{-1};
bool oneDNN_builds_bf16_matmul();

bool native() {
  int n = g_native.load();
  if (n < 0) {
    const char* env = std::getenv("TLM_BF16_MATMUL");
    const bool forced_fp32 = env && std::strcmp(env, "fp32") == 0;
    n = !forced_fp32 && oneDNN_builds_bf16_matmul() ? 1 : 0;
    int expected = -1;
    g_native.compare_exchange_strong(expected, n);
    n = g_native.load();
  }
  return n == 1;
}

// ---- the fallback: fp32 sgemm on bf16-rounded operands -------------------------------------

size_t fp32_weight_bytes(int IC, int OC) { return align64(sizeof(float) * size_t(IC) * OC); }

void fp32_forward_rounded(float* out, const bf16* inp_bf16, const float* w, int N, int IC, int OC) {
  float* x = cpu::scratch<float, 0>(size_t(N) * IC);
  from_bf16(x, inp_bf16, size_t(N) * IC);
  cpu::gemm(false, true, N, OC, IC, 1.0f, x, IC, w, IC, 0.0f, out, OC);
}

void fp32_backward(float* dinp, float* dweight, const float* dout, const bf16* inp_bf16, const float* w, int N, int IC,
                   int OC) {
  float* dy = cpu::scratch<float, 0>(size_t(N) * OC);
  round_to_fp32(dy, dout, size_t(N) * OC);
  if (dinp) cpu::gemm(false, false, N, IC, OC, 1.0f, dy, OC, w, IC, 1.0f, dinp, IC);
  if (dweight) {
    float* x = cpu::scratch<float, 1>(size_t(N) * IC);
    from_bf16(x, inp_bf16, size_t(N) * IC);
    cpu::gemm(true, false, OC, IC, N, 1.0f, dy, OC, x, IC, 1.0f, dweight, IC);
  }
}

}  // namespace

void to_bf16(bf16* dst, const float* src, size_t n) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (size_t i = 0; i < n; i++) dst[i] = round_bf16(src[i]);
}

void from_bf16(float* dst, const bf16* src, size_t n) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (size_t i = 0; i < n; i++) {
    uint32_t u = uint32_t(src[i]) << 16;
    std::memcpy(&dst[i], &u, sizeof u);
  }
}

#ifdef TLM_HAVE_DNNL
namespace {

using dnnl::memory;
using dt = memory::data_type;

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

// Rows of the primitive whose weight layout the packing adopts (any count would do; see top).
constexpr memory::dim kPackRows = 512;

[[noreturn]] void dnnl_failed(const char* what, int M, int N, int K, const dnnl::error& e) {
  TLM_CHECK(false, "oneDNN cannot build a bf16 %s %dx%dx%d on this CPU (%s): %s", what, M, N, K,
            dnnl::get_effective_cpu_isa() == dnnl::cpu_isa::avx512_core_bf16 ? "avx512_core_bf16" : "no AVX512-BF16",
            e.what());
  __builtin_unreachable();
}

// The packed layout of a B operand [K, N] (bf16), as a matmul over kPackRows rows asks for it.
memory::desc packed_desc(int K, int N) {
  static std::mutex mu;
  static std::map<std::pair<int, int>, memory::desc> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find({K, N});
  if (it != cache.end()) return it->second;
  memory::desc a({kPackRows, K}, dt::bf16, memory::dims{K, 1});
  memory::desc b({K, N}, dt::bf16, memory::format_tag::any);
  memory::desc c({kPackRows, N}, dt::f32, memory::dims{N, 1});
  try {
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, c), engine());
    return cache.emplace(std::make_pair(K, N), pd.weights_desc()).first->second;
  } catch (const dnnl::error& e) {
    dnnl_failed("weight packing", int(kPackRows), N, K, e);
  }
}

// C[M, N] (+)= op(A) @ B with A [M, K] bf16 row-major (trans_a: stored as [K, M]), B [K, N]
// bf16 either row-major or packed (packed_desc), C fp32 row-major.
struct GemmKey {
  int M, N, K;
  bool trans_a, b_packed, accumulate;
  auto tie() const { return std::tie(M, N, K, trans_a, b_packed, accumulate); }
  bool operator<(const GemmKey& o) const { return tie() < o.tie(); }
};

struct Gemm {
  memory::desc a, b, c;
  dnnl::matmul prim;
};

const Gemm& cached_gemm(const GemmKey& k) {
  static std::mutex mu;
  static std::map<GemmKey, Gemm> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(k);
  if (it != cache.end()) return it->second;
  const memory::dim M = k.M, K = k.K, N = k.N;
  // Strides express the transposition: a transposed operand is the same bytes read column-wise.
  memory::desc a({M, K}, dt::bf16, k.trans_a ? memory::dims{1, M} : memory::dims{K, 1});
  memory::desc b = k.b_packed ? packed_desc(k.K, k.N) : memory::desc({K, N}, dt::bf16, memory::dims{N, 1});
  memory::desc c({M, N}, dt::f32, memory::dims{N, 1});
  dnnl::primitive_attr attr;
  if (k.accumulate) {
    dnnl::post_ops po;
    po.append_sum(1.0f);
    attr.set_post_ops(po);
  }
  try {
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, c), attr, engine());
    return cache.emplace(k, Gemm{a, b, c, dnnl::matmul(pd)}).first->second;
  } catch (const dnnl::error& e) {
    dnnl_failed("matmul", k.M, k.N, k.K, e);
  }
}

void gemm(const GemmKey& k, const bf16* A, const void* B, float* C) {
  if (k.M == 0 || k.N == 0) return;
  if (k.K == 0) {  // an empty sum
    if (!k.accumulate) std::memset(C, 0, sizeof(float) * size_t(k.M) * k.N);
    return;
  }
  const Gemm& g = cached_gemm(k);
  // oneDNN takes non-const handles; it only reads the sources.
  memory a(g.a, engine(), const_cast<bf16*>(A)), b(g.b, engine(), const_cast<void*>(B)), c(g.c, engine(), C);
  // A stream per call is cheap (no threads of its own: oneDNN runs on our OpenMP pool) and
  // keeps concurrent callers apart.
  dnnl::stream s(engine());
  g.prim.execute(s, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
  s.wait();
}

// BA16a64b2a, the layout of a B operand [K, N] for vdpbf16ps: blocks of 32 k x 64 n, ordered
// n-block major, each block [16][64][2] (for every pair of consecutive k, the 64 n side by side,
// each holding its pair), zero-padded up to whole blocks. Stored as 32-bit pairs.
bool is_ba16a64b2a(const memory::desc& d, int K, int N) {
  return d == memory::desc({K, N}, dt::bf16, memory::format_tag::BA16a64b2a);
}

inline uint32_t bf16_pair(float lo, float hi) { return uint32_t(round_bf16(lo)) | uint32_t(round_bf16(hi)) << 16; }

// dst = B in BA16a64b2a, where B[k][n] = src[k * ks + n * ns] (0 outside K x N).
void pack_ba16a64b2a(uint32_t* dst, const float* src, size_t ks, size_t ns, int K, int N) {
  const int KB = (K + 31) / 32, NB = (N + 63) / 64;
#pragma omp parallel for collapse(2) schedule(static)
  for (int nb = 0; nb < NB; nb++) {
    for (int kb = 0; kb < KB; kb++) {
      uint32_t* blk = dst + (size_t(nb) * KB + kb) * 1024;
      const int n0 = nb * 64, k0 = kb * 32, nn = std::min(64, N - n0), kk = std::min(32, K - k0);
      if (nn == 64 && kk == 32 && ks == 1) {  // B = W^T: each n reads 32 consecutive k of one row
        for (int n = 0; n < 64; n++) {
          const float* p = src + k0 + size_t(n0 + n) * ns;
          uint32_t pairs[16];
          for (int kh = 0; kh < 16; kh++) pairs[kh] = bf16_pair(p[2 * kh], p[2 * kh + 1]);
          for (int kh = 0; kh < 16; kh++) blk[kh * 64 + n] = pairs[kh];
        }
        continue;
      }
      if (nn == 64 && kk == 32 && ns == 1) {  // B = W: each k pair interleaves two rows of 64 n
        for (int kh = 0; kh < 16; kh++) {
          const float *lo = src + size_t(k0 + 2 * kh) * ks + n0, *hi = lo + ks;
          for (int n = 0; n < 64; n++) blk[kh * 64 + n] = bf16_pair(lo[n], hi[n]);
        }
        continue;
      }
      for (int kh = 0; kh < 16; kh++)  // an edge block: zeros past K and N
        for (int n = 0; n < 64; n++) {
          auto at = [&](int k) { return k < kk && n < nn ? src[size_t(k0 + k) * ks + size_t(n0 + n) * ns] : 0.0f; };
          blk[kh * 64 + n] = bf16_pair(at(2 * kh), at(2 * kh + 1));
        }
    }
  }
}

// A weight [OC, IC] packs twice: as the forward's B = W^T [IC, OC], then (at the next 64-byte
// boundary) as the input gradient's B = W [OC, IC].
size_t forward_bytes(int IC, int OC) { return align64(packed_desc(IC, OC).get_size()); }

const char* dnnl_isa() {
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni (bf16 emulated)";
    case dnnl::cpu_isa::avx512_core: return "avx512_core (bf16 emulated)";
    case dnnl::cpu_isa::avx2_vnni:
    case dnnl::cpu_isa::avx2: return "avx2 (bf16 emulated)";
    default: return "other";
  }
}

size_t dnnl_weight_bytes(int IC, int OC) {
  return forward_bytes(IC, OC) + align64(packed_desc(OC, IC).get_size());
}

void dnnl_pack_weight(void* packed, const float* w, int IC, int OC) {
  char* base = static_cast<char*>(packed);
  const memory::desc fwd_dst = packed_desc(IC, OC), bwd_dst = packed_desc(OC, IC);
  if (is_ba16a64b2a(fwd_dst, IC, OC) && is_ba16a64b2a(bwd_dst, OC, IC)) {
    // Forward B[ic][oc] = W[oc][ic]; input gradient B[oc][ic] = W[oc][ic].
    pack_ba16a64b2a(reinterpret_cast<uint32_t*>(base), w, 1, size_t(IC), IC, OC);
    pack_ba16a64b2a(reinterpret_cast<uint32_t*>(base + forward_bytes(IC, OC)), w, size_t(IC), 1, OC, IC);
    return;
  }
  // Any other layout: oneDNN reorders, which round fp32 -> bf16 to nearest even as they permute.
  struct Packers {
    dnnl::reorder forward, backward;
    memory::desc fwd_src, bwd_src;
  };
  static std::mutex mu;
  static std::map<std::pair<int, int>, Packers> cache;
  const Packers* p;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find({IC, OC});
    if (it == cache.end()) {
      // W [OC, IC] read as W^T [IC, OC] (column-wise) for the forward, as itself for the backward.
      memory::desc fwd_src({IC, OC}, dt::f32, memory::dims{1, IC}), bwd_src({OC, IC}, dt::f32, memory::dims{IC, 1});
      try {
        dnnl::reorder f(dnnl::reorder::primitive_desc(engine(), fwd_src, engine(), fwd_dst));
        dnnl::reorder b(dnnl::reorder::primitive_desc(engine(), bwd_src, engine(), bwd_dst));
        it = cache.emplace(std::make_pair(IC, OC), Packers{f, b, fwd_src, bwd_src}).first;
      } catch (const dnnl::error& e) {
        dnnl_failed("weight packing", OC, IC, 0, e);
      }
    }
    p = &it->second;
  }
  float* src = const_cast<float*>(w);  // read only
  memory fs(p->fwd_src, engine(), src), fd(fwd_dst, engine(), base);
  memory bs(p->bwd_src, engine(), src), bd(bwd_dst, engine(), base + forward_bytes(IC, OC));
  dnnl::stream s(engine());
  p->forward.execute(s, fs, fd);
  p->backward.execute(s, bs, bd);
  s.wait();
}

void dnnl_forward_rounded(float* out, const bf16* inp_bf16, const void* weight, int N, int IC, int OC) {
  // out[N, OC] = inp[N, IC] @ weight[OC, IC]^T
  gemm({N, OC, IC, false, true, false}, inp_bf16, weight, out);
}

void dnnl_backward(float* dinp, float* dweight, const float* dout, const bf16* inp_bf16, const void* weight, int N,
                   int IC, int OC) {
  bf16* dout_bf16 = cpu::scratch<bf16>(size_t(N) * OC);
  to_bf16(dout_bf16, dout, size_t(N) * OC);
  // dinp[N, IC] += dout[N, OC] @ weight[OC, IC], from the weight's second packing
  const void* w = static_cast<const char*>(weight) + forward_bytes(IC, OC);
  if (dinp) gemm({N, IC, OC, false, true, true}, dout_bf16, w, dinp);
  // dweight[OC, IC] += dout[N, OC]^T @ inp[N, IC]
  if (dweight) gemm({OC, IC, N, true, false, true}, dout_bf16, inp_bf16, dweight);
}

// Whether oneDNN builds this CPU a bf16 matmul with packed weights (see the top of the file).
bool oneDNN_builds_bf16_matmul() {
  try {
    memory::desc a({kPackRows, 64}, dt::bf16, memory::dims{64, 1});
    memory::desc b({64, 64}, dt::bf16, memory::format_tag::any);
    memory::desc c({kPackRows, 64}, dt::f32, memory::dims{64, 1});
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, c), engine());
    return true;
  } catch (const dnnl::error&) {
    return false;
  }
}

}  // namespace

#else  // no oneDNN in this build: the fp32 products only

namespace {
bool oneDNN_builds_bf16_matmul() { return false; }
[[noreturn]] void no_dnnl() {
  TLM_CHECK(false, "bf16 matmul: this build has no oneDNN");
  __builtin_unreachable();
}
const char* dnnl_isa() { return "none"; }
size_t dnnl_weight_bytes(int, int) { no_dnnl(); }
void dnnl_pack_weight(void*, const float*, int, int) { no_dnnl(); }
void dnnl_forward_rounded(float*, const bf16*, const void*, int, int, int) { no_dnnl(); }
void dnnl_backward(float*, float*, const float*, const bf16*, const void*, int, int, int) { no_dnnl(); }
}  // namespace

#endif

bool have_bf16_matmul() { return native(); }

void use_fp32_bf16_products(bool on) { g_native.store(on ? 0 : -1); }

const char* bf16_matmul_isa() { return native() ? dnnl_isa() : "fp32 products (no oneDNN bf16 matmul on this CPU)"; }

size_t bf16_weight_bytes(int IC, int OC) {
  if (IC == 0 || OC == 0) return 0;
  return native() ? dnnl_weight_bytes(IC, OC) : fp32_weight_bytes(IC, OC);
}

void pack_bf16_weight(void* packed, const float* w, int IC, int OC) {
  if (IC == 0 || OC == 0) return;
  if (native()) return dnnl_pack_weight(packed, w, IC, OC);
  round_to_fp32(static_cast<float*>(packed), w, size_t(IC) * OC);
}

void matmul_bf16_forward_rounded(float* out, const bf16* inp_bf16, const void* weight, int N, int IC, int OC) {
  if (N == 0 || OC == 0) return;
  if (IC == 0) return (void)std::memset(out, 0, sizeof(float) * size_t(N) * OC);
  if (native()) return dnnl_forward_rounded(out, inp_bf16, weight, N, IC, OC);
  fp32_forward_rounded(out, inp_bf16, static_cast<const float*>(weight), N, IC, OC);
}

void matmul_bf16_forward(float* out, bf16* inp_bf16, const float* inp, const void* weight, int N, int IC, int OC) {
  to_bf16(inp_bf16, inp, size_t(N) * IC);
  matmul_bf16_forward_rounded(out, inp_bf16, weight, N, IC, OC);
}

void matmul_bf16_backward(float* dinp, float* dweight, const float* dout, const bf16* inp_bf16, const void* weight,
                          int N, int IC, int OC) {
  if (N == 0 || IC == 0 || OC == 0) return;
  if (native()) return dnnl_backward(dinp, dweight, dout, inp_bf16, weight, N, IC, OC);
  fp32_backward(dinp, dweight, dout, inp_bf16, static_cast<const float*>(weight), N, IC, OC);
}

}  // namespace tlm::ops
