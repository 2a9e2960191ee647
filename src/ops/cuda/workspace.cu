// See workspace.h.
#include "ops/cuda/common.cuh"
#include "ops/cuda/workspace.h"
#include "ops/cuda_device.h"

namespace tlm::ops::cuda {

void* workspace(size_t bytes) {
  thread_local tlm::cuda::DeviceBuffer<unsigned char> buf;
  if (buf.size() < bytes) {
    CUDA_CHECK(cudaStreamSynchronize(stream()));  // the old buffer may still be in use
    buf.reset(bytes + bytes / 4);
  }
  return buf.data();
}

}  // namespace tlm::ops::cuda
