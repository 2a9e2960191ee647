// The host side of the CUDA backend that code outside src/*/cuda needs: whether a device is
// there, and device memory (allocation, copies) without CUDA types in the interface, so the
// CPU-only build compiles the same callers. In builds without CUDA, device_count() is 0 and the
// rest throws a UserError saying so.
#pragma once

#include <cstddef>
#include <string>
#include <utility>

namespace tlm::cuda {

// Devices this process can use (0 without a driver, a device, or a CUDA build). Never throws.
int device_count();
// "NVIDIA H200 (sm_90, 139.8 GiB)" or "CPU emulation of a CUDA device".
std::string device_name();
// Throws the UserError that explains why there is no device (`what` names the flag, e.g.
// "--device cuda"): a build without CUDA, or none visible to this process.
void require_device(const std::string& what);
// Whether this build runs the kernels on the CPU emulator (tests/cuda_emu) instead of a GPU.
bool emulated();

void* device_alloc(size_t bytes);
void device_free(void* p) noexcept;
void copy_to_device(void* dst, const void* src, size_t bytes);
void copy_to_host(void* dst, const void* src, size_t bytes);
void copy_on_device(void* dst, const void* src, size_t bytes);
void fill_zero(void* p, size_t bytes);
// Waits for everything queued on the ops' stream.
void synchronize();

// An array of T in device memory (uninitialised), freed on destruction.
template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t n) : p_(static_cast<T*>(device_alloc(n * sizeof(T)))), n_(n) {}
  ~DeviceBuffer() { device_free(p_); }
  DeviceBuffer(DeviceBuffer&& o) noexcept : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    return *this;
  }
  void reset(size_t n) { *this = DeviceBuffer(n); }
  T* data() { return p_; }
  const T* data() const { return p_; }
  size_t size() const { return n_; }
  void upload(const T* src, size_t n) { copy_to_device(p_, src, n * sizeof(T)); }
  void download(T* dst, size_t n) const { copy_to_host(dst, p_, n * sizeof(T)); }
  void zero() { fill_zero(p_, n_ * sizeof(T)); }

 private:
  T* p_ = nullptr;
  size_t n_ = 0;
};

}  // namespace tlm::cuda
