// The CUDA runtime behind ops/cuda_device.h and common.cuh: the ops' stream, error reporting,
// device memory. One stream per host thread, created on first use on the current device.
#include <cstdio>
#include <string>

#include "core/check.h"
#include "ops/cuda/common.cuh"
#include "ops/cuda_device.h"

namespace tlm::ops::cuda {

cudaStream_t stream() {
  thread_local cudaStream_t s = [] {
    cudaStream_t st = nullptr;
    CUDA_CHECK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    return st;
  }();
  return s;
}

void cuda_failed(cudaError_t e, const char* expr, const char* file, int line) {
  check_failed(expr, file, line,
               strprintf("CUDA error %s: %s", cudaGetErrorName(e), cudaGetErrorString(e)));
}

void check_launch(const char* kernel) {
  cudaError_t e = cudaGetLastError();
#ifndef NDEBUG
  if (e == cudaSuccess) e = cudaStreamSynchronize(stream());
#endif
  if (e != cudaSuccess)
    throw InternalError(strprintf("CUDA kernel %s failed: %s: %s", kernel, cudaGetErrorName(e), cudaGetErrorString(e)));
}

}  // namespace tlm::ops::cuda

namespace tlm::cuda {

using ops::cuda::stream;

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky "no device" error
    return 0;
  }
  return n;
}

std::string device_name() {
  cudaDeviceProp p;
  int d = 0;
  CUDA_CHECK(cudaGetDevice(&d));
  CUDA_CHECK(cudaGetDeviceProperties(&p, d));
  return strprintf("%s (sm_%d%d, %.1f GiB)", p.name, p.major, p.minor, double(p.totalGlobalMem) / (1 << 30));
}

void require_device(const std::string& what) {
  if (device_count() == 0)
    throw UserError(what, "no CUDA device is visible to this process (check nvidia-smi and CUDA_VISIBLE_DEVICES)");
}

bool emulated() {
#ifdef TLM_CUDA_EMU
  return true;
#else
  return false;
#endif
}

void* device_alloc(size_t bytes) {
  void* p = nullptr;
  if (bytes == 0) return nullptr;
  cudaError_t e = cudaMalloc(&p, bytes);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    size_t free_b = 0, total = 0;
    cudaMemGetInfo(&free_b, &total);
    throw UserError("cuda", strprintf("cannot allocate %.1f MiB of device memory (%.1f of %.1f MiB free): use a "
                                      "smaller -b, -T or model, or --recompute",
                                      double(bytes) / (1 << 20), double(free_b) / (1 << 20), double(total) / (1 << 20)));
  }
  return p;
}

void device_free(void* p) noexcept {
  if (p) cudaFree(p);
}

void copy_to_device(void* dst, const void* src, size_t bytes) {
  if (bytes) CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream()));
  synchronize();
}
void copy_to_host(void* dst, const void* src, size_t bytes) {
  if (bytes) CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream()));
  synchronize();
}
void copy_on_device(void* dst, const void* src, size_t bytes) {
  if (bytes) CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream()));
}
void fill_zero(void* p, size_t bytes) {
  if (bytes) CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, stream()));
}
void synchronize() { CUDA_CHECK(cudaStreamSynchronize(stream())); }

}  // namespace tlm::cuda
