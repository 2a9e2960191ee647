// The Llama decoder on a CUDA device, for training in bf16 mixed precision: fp32 master
// weights, fp32 gradients and AdamW state on the device; bf16 copies of the weights, bf16
// activations between ops and bf16 matrix products (cuBLASLt); the residual stream, norms'
// statistics, softmax statistics and the loss in fp32. The forward and backward are the same
// op sequence as model/llama.cpp, with the CUDA ops (ops/*.h, namespace cuda).
//
// The parameter buffer has the layout of ParamLayout, so checkpoints are the CPU ones: a
// CPU checkpoint resumes on the GPU and back (upload_params / download_params).
//
// It is an interface so that code outside the CUDA backend (the trainer) needs no CUDA: the
// implementation lives in model/cuda/llama_cuda.cu; builds without CUDA have a factory that
// throws a UserError.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "model/batch.h"
#include "model/config.h"
#include "model/params.h"
#include "ops/adamw.h"

namespace tlm {

class CudaLlama {
 public:
  virtual ~CudaLlama() = default;
  virtual const ModelConfig& config() const = 0;
  virtual const ParamLayout& layout() const = 0;
  size_t num_params() const { return layout().total(); }

  // fp32 master weights between host and device (the bf16 copies follow an upload).
  virtual void upload_params(const float* host) = 0;
  virtual void download_params(float* host) const = 0;
  // AdamW state [num_params] each, and the update count t.
  virtual void upload_adam(const float* m, const float* v, int64_t t) = 0;
  virtual void download_adam(float* m, float* v) const = 0;
  virtual int64_t adam_t() const = 0;

  // Forward over a batch (B <= max_B, T <= max_T, host arrays; the model copies them over).
  // Returns the mean loss over targets >= 0 (NaN if none); keeps what backward needs.
  virtual float forward(const Batch& batch, bool compute_loss = true) = 0;
  // The logits [B*T, V] of the last forward, widened to fp32 on the host (tests).
  virtual void download_logits(float* host) const = 0;
  virtual void zero_grad() = 0;
  // Accumulates d(loss_scale * mean loss)/d(params) into the device gradients.
  virtual void backward(const Batch& batch, float loss_scale = 1.0f) = 0;
  virtual void download_grads(float* host) const = 0;
  // The device gradient buffer [num_params] (data-parallel all-reduce over NCCL).
  virtual float* device_grads() = 0;
  // sum(g^2) over all gradients (deterministic).
  virtual double grad_sum_squares() const = 0;
  // One AdamW update of every parameter on the device; hyper.weight_decay applies to the
  // decayed tensors only (ParamInfo::decay), as the CPU AdamW does.
  virtual void adamw_step(const ops::AdamWHyper& hyper, float grad_scale) = 0;
  // Device memory held (parameters, gradients, optimizer state, activations).
  virtual size_t device_bytes() const = 0;
};

// A model with zero weights (upload or init next) and activations for max_B x max_T. With
// recompute, per-layer activations are not kept across the step but recomputed in backward
// (about a third more compute, activation memory of one layer plus the residual stream).
std::unique_ptr<CudaLlama> make_cuda_llama(const ModelConfig& cfg, int max_B, int max_T, bool decay_embeddings = false,
                                           bool recompute = false);

}  // namespace tlm
