// The CUDA backend of a build without CUDA (no nvcc at configure time, or TLM_CUDA=OFF): no
// devices, and a clear error for anything that would need one (the model's CUDA half is
// model/cuda/no_cuda.cpp).
#include "core/check.h"
#include "ops/cuda_device.h"

namespace tlm::cuda {

namespace {
[[noreturn]] void no_cuda(const std::string& what = "--device cuda") {
  throw UserError(what, "this tweetlm was built without CUDA (nvcc was not found under /usr/local/cuda at build "
                        "time); rebuild with the CUDA toolkit installed");
}
}  // namespace

int device_count() { return 0; }
void require_device(const std::string& what) { no_cuda(what); }
std::string device_name() { no_cuda(); }
bool emulated() { return false; }
void* device_alloc(size_t) { no_cuda(); }
void device_free(void*) noexcept {}
void copy_to_device(void*, const void*, size_t) { no_cuda(); }
void copy_to_host(void*, const void*, size_t) { no_cuda(); }
void copy_on_device(void*, const void*, size_t) { no_cuda(); }
void fill_zero(void*, size_t) { no_cuda(); }
void synchronize() { no_cuda(); }

}  // namespace tlm::cuda
