// What every CUDA op of tweetlm shares: the CUDA headers, CUDA_CHECK, the launcher helper,
// dynamic shared memory, bf16 conversions and the warp/block reductions. Ops follow three
// tiers (DESIGN.md): a __global__ kernel, a launcher that picks the grid, and the op entry
// point declared in ops/<op>.h (namespace tlm::ops::cuda) that checks shapes.
//
// The same sources also compile with the host compiler against the CPU emulator of
// tests/cuda_emu (TLM_CUDA_EMU), so the kernels run in ctest on machines without a GPU. That
// is why launches go through launch() rather than <<<...>>> and dynamic shared memory through
// dynamic_smem().
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "core/check.h"

namespace tlm::ops::cuda {

using bf16_t = __nv_bfloat16;

// The stream every op launches on (the model may capture it into a CUDA graph).
cudaStream_t stream();

[[noreturn]] void cuda_failed(cudaError_t e, const char* expr, const char* file, int line);

// CUDA_CHECK(call): a failing runtime call throws InternalError with the call, file and line.
#define CUDA_CHECK(call)                                                              \
  do {                                                                                \
    cudaError_t tlm_e_ = (call);                                                      \
    if (tlm_e_ != cudaSuccess) [[unlikely]]                                           \
      ::tlm::ops::cuda::cuda_failed(tlm_e_, #call, __FILE__, __LINE__);               \
  } while (0)

// After every launch: the launch error always; in debug builds also a synchronisation, so an
// error inside the kernel is reported at its launch rather than at some later call.
void check_launch(const char* kernel);

// launch("name", kernel, grid, block, dynamic shared bytes, args...) on stream().
template <class... Params, class... Args>
void launch(const char* name, void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem, Args... args) {
#ifdef TLM_CUDA_EMU
  tlm_emu::launch(reinterpret_cast<const void*>(kernel), grid, block, smem, [&] { kernel(Params(args)...); });
#else
  kernel<<<grid, block, smem, stream()>>>(Params(args)...);
#endif
  check_launch(name);
}

// Raises a kernel's dynamic shared memory limit above the default 48 KiB (once per kernel).
template <class... Params>
void allow_smem(void (*kernel)(Params...), size_t bytes) {
  CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)));
}

inline unsigned ceil_div(size_t a, size_t b) { return unsigned((a + b - 1) / b); }

template <class T>
__device__ __forceinline__ T* dynamic_smem() {
#ifdef TLM_CUDA_EMU
  return reinterpret_cast<T*>(tlm_emu::dynamic_smem());
#else
  extern __shared__ __align__(128) unsigned char tlm_dynamic_smem[];
  return reinterpret_cast<T*>(tlm_dynamic_smem);
#endif
}

__device__ __forceinline__ float to_float(bf16_t x) { return __bfloat162float(x); }
__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ bf16_t to_bf16(float x) { return __float2bfloat16(x); }
template <class T>
__device__ __forceinline__ T from_float(float x);
template <>
__device__ __forceinline__ float from_float<float>(float x) { return x; }
template <>
__device__ __forceinline__ bf16_t from_float<bf16_t>(float x) { return __float2bfloat16(x); }

// Butterfly reductions: every lane ends with the result, combined in the same order on every
// run. Op is a functor (Sum, Max).
struct Sum {
  __device__ __forceinline__ float operator()(float a, float b) const { return a + b; }
  static constexpr float identity = 0.0f;
};
struct Max {
  __device__ __forceinline__ float operator()(float a, float b) const { return fmaxf(a, b); }
  static constexpr float identity = -INFINITY;
};
template <class Op>
__device__ __forceinline__ float warp_reduce(float v) {
  for (int o = 16; o > 0; o >>= 1) v = Op()(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
__device__ __forceinline__ float warp_sum(float v) { return warp_reduce<Sum>(v); }
__device__ __forceinline__ float warp_max(float v) { return warp_reduce<Max>(v); }

// Reduction over a block whose size is a multiple of 32 (at most 1024); every thread gets the
// result. `scratch` is 32 floats of shared memory; the call synchronises the block twice.
template <class Op>
__device__ __forceinline__ float block_reduce(float v, float* scratch) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  v = warp_reduce<Op>(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = warp_reduce<Op>(lane < warps ? scratch[lane] : Op::identity);
  __syncthreads();  // scratch may be reused right after
  return v;
}
__device__ __forceinline__ float block_sum(float v, float* scratch) { return block_reduce<Sum>(v, scratch); }
__device__ __forceinline__ float block_max(float v, float* scratch) { return block_reduce<Max>(v, scratch); }

}  // namespace tlm::ops::cuda
