// CPU emulation (see cuda_runtime.h here) of the warp matrix functions (nvcuda::wmma) for the
// shapes tweetlm uses: 16x16x16 with bf16 operands and fp32 accumulators. Every lane holds the
// whole tile (the hardware spreads it over the warp in an unspecified layout, which portable
// kernels never rely on), so element-wise loops over num_elements behave the same. Loads and
// stores are warp-collective, as on the device: each starts with a warp barrier, so no lane
// reads a tile before every lane is done with the previous operation (without it, the lanes of
// the emulator would run one after another and each would accumulate onto the others' stores).
// Operand
// pointers must be 256-bit aligned and ldm a multiple of 16 bytes, as on the device.
#pragma once
#include "cuda_bf16.h"
#include "cuda_runtime.h"

namespace nvcuda::wmma {
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

template <class Use, int M, int N, int K>
constexpr int fragment_rows() { return std::is_same_v<Use, matrix_b> ? K : M; }
template <class Use, int M, int N, int K>
constexpr int fragment_cols() { return std::is_same_v<Use, matrix_a> ? K : N; }

template <class Use, int M, int N, int K, class T, class Layout = void>
struct fragment {
  static constexpr int rows = fragment_rows<Use, M, N, K>(), cols = fragment_cols<Use, M, N, K>();
  static constexpr int num_elements = rows * cols;
  T x[num_elements];  // row-major tile
};

inline void check_operand(const void* p, unsigned ldm, size_t elem) {
  if (reinterpret_cast<uintptr_t>(p) % 32 != 0) tlm_emu::fatal("wmma: operand %p is not 256-bit aligned", p);
  if ((ldm * elem) % 16 != 0) tlm_emu::fatal("wmma: ldm %u is not a multiple of 16 bytes", ldm);
}

template <class Use, int M, int N, int K, class T, class Layout, class U>
void load_matrix_sync(fragment<Use, M, N, K, T, Layout>& f, const U* p, unsigned ldm) {
  using F = fragment<Use, M, N, K, T, Layout>;
  check_operand(p, ldm, sizeof(U));
  tlm_emu::sync_warp();
  for (int r = 0; r < F::rows; r++)
    for (int c = 0; c < F::cols; c++)
      f.x[r * F::cols + c] = std::is_same_v<Layout, col_major> ? p[size_t(c) * ldm + r] : p[size_t(r) * ldm + c];
}
template <int M, int N, int K, class T>
void load_matrix_sync(fragment<accumulator, M, N, K, T>& f, const T* p, unsigned ldm, layout_t layout) {
  check_operand(p, ldm, sizeof(T));
  tlm_emu::sync_warp();
  for (int r = 0; r < M; r++)
    for (int c = 0; c < N; c++)
      f.x[r * N + c] = layout == mem_col_major ? p[size_t(c) * ldm + r] : p[size_t(r) * ldm + c];
}
template <int M, int N, int K, class T>
void store_matrix_sync(T* p, const fragment<accumulator, M, N, K, T>& f, unsigned ldm, layout_t layout) {
  check_operand(p, ldm, sizeof(T));
  tlm_emu::sync_warp();
  for (int r = 0; r < M; r++)
    for (int c = 0; c < N; c++) (layout == mem_col_major ? p[size_t(c) * ldm + r] : p[size_t(r) * ldm + c]) = f.x[r * N + c];
}
template <class Use, int M, int N, int K, class T, class Layout, class V>
void fill_fragment(fragment<Use, M, N, K, T, Layout>& f, const V& v) {
  for (auto& e : f.x) e = T(v);
}
// d = a b + c with fp32 products and accumulation (bf16 products are exact in fp32).
template <int M, int N, int K, class TA, class LA, class TB, class LB, class TC>
void mma_sync(fragment<accumulator, M, N, K, TC>& d, const fragment<matrix_a, M, N, K, TA, LA>& a,
              const fragment<matrix_b, M, N, K, TB, LB>& b, const fragment<accumulator, M, N, K, TC>& c) {
  fragment<accumulator, M, N, K, TC> r;
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      float s = float(c.x[i * N + j]);
      for (int k = 0; k < K; k++) s += float(a.x[i * K + k]) * float(b.x[k * N + j]);
      r.x[i * N + j] = TC(s);
    }
  d = r;
}
}  // namespace nvcuda::wmma
