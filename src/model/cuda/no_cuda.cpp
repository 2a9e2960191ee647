// The CUDA model of a build without CUDA (no nvcc at configure time, or TLM_CUDA=OFF): asking
// for one is the clear error of ops/cuda/no_cuda.cpp's require_device.
#include "model/llama_cuda.h"
#include "ops/cuda_device.h"

namespace tlm {

std::unique_ptr<CudaLlama> make_cuda_llama(const ModelConfig&, int, int, bool, bool) {
  cuda::require_device("--device cuda");
  return {};
}

}  // namespace tlm
