// The Llama decoder on the CPU in fp32: parameters, gradients, preallocated activations, and
// forward/backward as a short sequence of op calls per layer (see llama.cpp in this folder).
// One object trains (forward + backward) or evaluates; generation with a KV cache lives in
// src/infer and reuses the same parameters and ops.
#pragma once

#include <cstdint>
#include <memory>

#include "core/buffer.h"
#include "model/batch.h"
#include "model/config.h"
#include "model/params.h"

namespace tlm {

struct Activations;  // model/activations.h

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
  float* params() { return params_.data(); }
  const float* params() const { return params_.data(); }
  float* grads() { return grads_.data(); }
  size_t num_params() const { return layout_.total(); }
  const Weights& weights() const { return w_; }
  int max_B() const { return max_B_; }
  int max_T() const { return max_T_; }

  void init(uint64_t seed);

  // Forward over a batch (B <= max_B, T <= max_T). Returns the mean loss over targets >= 0
  // (NaN if there are none); keeps what backward needs. With compute_loss false, only the
  // logits are produced (evaluation of logits, tests).
  float forward(const Batch& batch, bool compute_loss = true);
  // The logits [B*T, V] of the last forward (valid until backward overwrites them).
  const float* logits() const;
  // Per-token losses [B*T] of the last forward (0 where target < 0).
  const float* losses() const;

  void zero_grad();
  // Accumulates d(loss_scale * mean loss)/d(params) into grads(). The last call must have been
  // forward() with compute_loss, on the same batch.
  void backward(const Batch& batch, float loss_scale = 1.0f);

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
};

}  // namespace tlm
