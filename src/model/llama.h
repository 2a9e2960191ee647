// The Llama decoder on the CPU: parameters, gradients, preallocated activations, and
// forward/backward as a short sequence of op calls per layer (see llama.cpp in this folder).
// One object trains (forward + backward) or evaluates; generation with a KV cache lives in
// src/infer and reuses the same parameters and ops. Training runs in fp32 or, on CPUs with
// AVX512-BF16, with bf16 linear layers (Precision).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/buffer.h"
#include "model/batch.h"
#include "model/config.h"
#include "model/params.h"

namespace tlm {

struct Activations;  // model/activations.h

// The arithmetic of the products. fp32: everything in fp32 (cblas sgemm). bf16: mixed
// precision: every linear layer (lm_head included) multiplies bf16 operands with fp32
// accumulation (oneDNN), as under PyTorch's CPU autocast, and so do attention's tile products
// (QK^T, PV and their gradients; AVX512-BF16 kernels, ops/cpu/attention_bf16.cpp); parameters,
// gradients, optimizer state, norms, RoPE, attention's softmax and the loss stay fp32.
enum class Precision { fp32, bf16 };
const char* precision_name(Precision p);
// "fp32" or "bf16"; anything else is a UserError naming `what` (e.g. "--dtype").
Precision parse_precision(const std::string& s, const std::string& what);

class Llama {
 public:
  // Allocates parameters (zero), and activations for up to max_B x max_T tokens (none when
  // max_B == 0: an inference-only model). Gradients are allocated on first backward().
  Llama(const ModelConfig& cfg, int max_B, int max_T, bool decay_embeddings = false);
  ~Llama();
  Llama(const Llama&) = delete;
  Llama& operator=(const Llama&) = delete;

  const ModelConfig& config() const { return cfg_; }
  const ParamLayout& layout() const { return layout_; }
  // Writes through params() reach the bf16 weight copy: in bf16 precision the non-const
  // accessor marks the copy stale and the next forward() converts it again (in training, once
  // per optimizer step, after the update).
  float* params() {
    bf16_stale_ = true;
    return params_.data();
  }
  const float* params() const { return params_.data(); }
  float* grads() { return grads_.data(); }
  size_t num_params() const { return layout_.total(); }
  const Weights& weights() const { return w_; }
  int max_B() const { return max_B_; }
  int max_T() const { return max_T_; }

  void init(uint64_t seed);

  // Chooses the arithmetic of forward/backward (default fp32). bf16 is a UserError in builds
  // without oneDNN; it allocates the bf16 weight copy and activation copies.
  void set_precision(Precision p);
  Precision precision() const { return precision_; }

  // Forward over a batch (B <= max_B, T <= max_T). Returns the mean loss over targets >= 0
  // (NaN if there are none); keeps what backward needs. With compute_loss false, only the
  // logits are produced (evaluation of logits, tests).
  float forward(const Batch& batch, bool compute_loss = true);
  // The logits [B*T, V] of the last forward (valid until backward overwrites them).
  const float* logits() const;
  // Per-token losses [B*T] of the last forward (0 where target < 0).
  const float* losses() const;

  void zero_grad();
  // Called during backward with an offset `from`: the gradients [from, num_params()) are final
  // for this batch (the head and final norm first, then each layer from the last, then the
  // embedding with from = 0). Data parallelism starts all-reducing those buckets meanwhile.
  using GradsReady = std::function<void(size_t from)>;
  // Accumulates d(loss_scale * mean loss)/d(params) into grads(). The last call must have been
  // forward() with compute_loss, on the same batch.
  void backward(const Batch& batch, float loss_scale = 1.0f, const GradsReady& ready = {});

  // The final hidden states [B*T, C] (after the final norm) of the last forward: embeddings
  // for search and classification (later issues).
  const float* hidden() const;

 private:
  ModelConfig cfg_;
  ParamLayout layout_;
  AlignedBuffer<float> params_, grads_;
  Weights w_, g_;
  int max_B_, max_T_;
  std::unique_ptr<Activations> acts_;
  int last_B_ = 0, last_T_ = 0;
  Precision precision_ = Precision::fp32;
  // bf16 precision: every matrix a linear layer reads, rounded to bf16 and packed for the
  // oneDNN kernels (ops/matmul_bf16.h) in one buffer, and whether it is stale.
  struct PackedWeight {
    const float* w;
    int IC, OC;
    size_t offset;  // bytes into packed_
  };
  std::vector<PackedWeight> packed_index_;
  AlignedBuffer<uint8_t> packed_;
  bool bf16_stale_ = true;

  // One linear layer (out = inp @ w^T and its backward) in the model's precision. In bf16 the
  // forward keeps inp rounded to bf16 in inp_bf16, which the backward reads instead of inp.
  void linear_forward(float* out, const float* inp, uint16_t* inp_bf16, const float* w, int N, int IC, int OC);
  void linear_backward(float* dinp, float* dw, const float* dout, const float* inp, const uint16_t* inp_bf16,
                       const float* w, int N, int IC, int OC);
  const void* packed(const float* w) const;
  void refresh_bf16_weights();
};

}  // namespace tlm
