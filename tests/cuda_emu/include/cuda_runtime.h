// CPU emulation of the slice of the CUDA runtime that tweetlm's kernels use, so that the very
// same kernel sources (src/*/cuda/*.cu) compile with the host compiler and run in ctest on
// machines without a GPU (CI has none). It is a correctness tool, not a performance one:
//  - every CUDA thread of a block is a fiber (ucontext) on one OS thread; blocks run one after
//    another. __syncthreads, __syncwarp and the warp shuffles are real barriers between those
//    fibers, so indexing, masking, reductions and barrier placement are exercised for real;
//  - "device" memory is host memory filled with 0xFF bytes (NaN as float and as bf16) so a
//    kernel that reads what nobody wrote shows NaNs; AddressSanitizer builds see every
//    out-of-bounds access of a kernel;
//  - launches are checked like the hardware checks them (block size, grid limits, dynamic
//    shared memory above 48 KiB only after cudaFuncSetAttribute), wmma operands for alignment.
// What it cannot show: timing, the memory model between blocks, tensor-core fragment layouts
// (emulated fragments hold the whole tile in every lane), and real cuBLASLt.
#pragma once

#include <math.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <type_traits>

#include "library_types.h"

#define TLM_CUDA_EMU 1
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __launch_bounds__(...)
#define __restrict__ __restrict
#define __align__(n) alignas(n)
// Fibers of one block share one OS thread, so function-static storage is exactly "one copy per
// block" (blocks run one after another); thread_local keeps host threads apart.
#define __shared__ static thread_local

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
using uint3 = dim3;
struct float2 {
  float x, y;
};
struct float4 {
  float x, y, z, w;
};

namespace tlm_emu {
// The running thread's indices. Functions, not extern thread_local variables: GCC 12 with
// UBSan miscompiles the null check of an extern thread_local's address (it reuses the flags of
// the TLS init-function test), so every kernel would fail its first threadIdx under UBSan.
const dim3& thread_idx();
const dim3& block_idx();
const dim3& block_dim();
const dim3& grid_dim();
// Runs body() once per CUDA thread of every block of the grid (see the file comment).
void launch(const void* kernel, dim3 grid, dim3 block, size_t dynamic_smem, const std::function<void()>& body);
void* dynamic_smem();
void sync_block();
void sync_warp();
// Warp shuffle: publishes `bytes` of `value` for this lane, waits for the warp, copies the
// value of lane `src` (within the warp) into `out`, waits again.
void exchange(const void* value, size_t bytes, int src_lane, void* out);
int lane_id();
[[noreturn]] void fatal(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
}  // namespace tlm_emu

#define threadIdx (::tlm_emu::thread_idx())
#define blockIdx (::tlm_emu::block_idx())
#define blockDim (::tlm_emu::block_dim())
#define gridDim (::tlm_emu::grid_dim())
constexpr int warpSize = 32;

inline void __syncthreads() { tlm_emu::sync_block(); }
inline void __syncwarp(unsigned = 0xffffffffu) { tlm_emu::sync_warp(); }

template <class T>
T tlm_emu_shuffle(T v, int src) {
  T out;
  tlm_emu::exchange(&v, sizeof(T), src, &out);
  return out;
}
template <class T>
T __shfl_xor_sync(unsigned, T v, int mask, int width = 32) {
  int lane = tlm_emu::lane_id(), src = lane ^ mask;
  if ((src & ~(width - 1)) != (lane & ~(width - 1))) src = lane;
  return tlm_emu_shuffle(v, src);
}
template <class T>
T __shfl_down_sync(unsigned, T v, unsigned delta, int width = 32) {
  int lane = tlm_emu::lane_id(), src = lane + int(delta);
  if ((src & ~(width - 1)) != (lane & ~(width - 1))) src = lane;
  return tlm_emu_shuffle(v, src);
}
template <class T>
T __shfl_up_sync(unsigned, T v, unsigned delta, int width = 32) {
  int lane = tlm_emu::lane_id(), src = lane - int(delta);
  if (src < 0 || (src & ~(width - 1)) != (lane & ~(width - 1))) src = lane;
  return tlm_emu_shuffle(v, src);
}
template <class T>
T __shfl_sync(unsigned, T v, int src_lane, int width = 32) {
  int lane = tlm_emu::lane_id();
  return tlm_emu_shuffle(v, (lane & ~(width - 1)) + (src_lane % width));
}

// Device math: the host libm, and the fast intrinsics as their accurate versions.
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __fdividef(float a, float b) { return a / b; }
// The round-to-nearest intrinsics, which nvcc never contracts into FMAs: the volatile store
// keeps the host compiler (whose C++ default is -ffp-contract=fast) from fusing the result into
// a neighbouring operation.
inline float tlm_emu_rounded(float x) {
  volatile float r = x;
  return r;
}
inline float __fadd_rn(float a, float b) { return tlm_emu_rounded(a + b); }
inline float __fmul_rn(float a, float b) { return tlm_emu_rounded(a * b); }
inline float __fdiv_rn(float a, float b) { return tlm_emu_rounded(a / b); }
inline float __fsqrt_rn(float x) { return tlm_emu_rounded(sqrtf(x)); }
inline float __saturatef(float x) { return x < 0 ? 0 : x > 1 ? 1 : x; }
inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
// Blocks run one at a time on one OS thread, so plain read-modify-write is atomic here.
template <class T>
T atomicAdd(T* p, T v) { T old = *p; *p = old + v; return old; }
template <class T>
T atomicMax(T* p, T v) { T old = *p; *p = old < v ? v : old; return old; }

// --- runtime API ---
enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorNoDevice = 100,
  cudaErrorLaunchFailure = 719,
};
using cudaError = cudaError_t;
enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4
};
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
struct CUstream_st;
using cudaStream_t = CUstream_st*;
struct CUevent_st;
using cudaEvent_t = CUevent_st*;
constexpr unsigned cudaStreamNonBlocking = 1;
struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  int multiProcessorCount;
  int major, minor;
  size_t sharedMemPerBlockOptin;
};

const char* cudaGetErrorString(cudaError_t e);
const char* cudaGetErrorName(cudaError_t e);
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
cudaError_t cudaGetDeviceCount(int* n);
cudaError_t cudaSetDevice(int d);
cudaError_t cudaGetDevice(int* d);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int d);
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes);
cudaError_t cudaMalloc(void** p, size_t bytes);
template <class T>
cudaError_t cudaMalloc(T** p, size_t bytes) { return cudaMalloc(reinterpret_cast<void**>(p), bytes); }
cudaError_t cudaFree(void* p);
cudaError_t cudaMallocHost(void** p, size_t bytes);
cudaError_t cudaFreeHost(void* p);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t s = nullptr);
cudaError_t cudaMemset(void* p, int value, size_t bytes);
cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t s = nullptr);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaStreamCreate(cudaStream_t* s);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t tlm_emu_set_max_dynamic_smem(const void* kernel, int bytes);
template <class F>
cudaError_t cudaFuncSetAttribute(F* kernel, cudaFuncAttribute attr, int value) {
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize) return cudaErrorInvalidValue;
  return tlm_emu_set_max_dynamic_smem(reinterpret_cast<const void*>(kernel), value);
}
