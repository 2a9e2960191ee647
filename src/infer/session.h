// The model's forward pass for generation: new tokens of several sequences go through the same
// ops as training (model/llama.cpp), but attention reads each sequence's earlier tokens from a
// KV cache instead of recomputing them. One call feeds any mix of prompt chunks (prefill, many
// tokens) and single decoded tokens, from any slots: the rows of all of them are stacked into
// one matrix product per weight, and only attention runs per sequence. This is the engine of
// `tweetlm generate` and, later, of continuous batching in the server.
//
// Because every per-row op is the training op and attention differs only in summation order,
// the logits equal those of Llama::forward over the whole sequence to float rounding, so greedy
// decoding picks the same tokens (tests/test_generate.cpp checks it step by step).
//
// All buffers are allocated in the constructor for up to max_rows rows per chunk; feeding more
// rows than that is split into chunks internally, so no call allocates.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/buffer.h"
#include "infer/kv_cache.h"
#include "model/llama.h"

namespace tlm {

// Tokens to append to one slot's sequence.
struct SeqInput {
  int slot = 0;
  const int32_t* tokens = nullptr;
  int n = 0;
};

class InferenceSession {
 public:
  // A cache for n_slots sequences of up to max_ctx tokens (0: the model's context length).
  InferenceSession(const Llama& model, int n_slots, int max_ctx = 0, int max_rows = 256);

  const ModelConfig& config() const { return model_.config(); }
  int n_slots() const { return cache_.n_slots(); }
  int max_ctx() const { return cache_.max_ctx(); }
  int length(int slot) const { return cache_.length(slot); }
  void reset(int slot) { cache_.reset(slot); }
  const KvCache& cache() const { return cache_; }

  // Appends each input's tokens to its slot (at positions length(slot), ...) and returns the
  // logits [inputs.size(), V] of each input's last token, valid until the next call. Slots must
  // be distinct, n >= 1, token ids < V, and every sequence must stay within max_ctx.
  const float* forward(std::span<const SeqInput> inputs);

  // Embeddings: feeds each input like forward() but, instead of logits, returns [inputs.size(),
  // C]: the mean over each input's rows of the final-normed hidden states (the features the LM
  // head reads), valid until the next call. Each input must be a whole sequence: its slot is
  // reset first and left holding it.
  const float* embed(std::span<const SeqInput> inputs);

  // Features for classifiers and search (src/apps): like embed(), each input is a whole sequence,
  // but for every layer l in `layers` (1..L: the residual stream after block l, RMS-normalised;
  // l == L uses the final norm's gain, so it is what the LM head reads) both the mean over the
  // input's rows and its last row. Returns [inputs.size(), layers.size(), 2 (mean, last), C],
  // valid until the next call.
  const float* features(std::span<const SeqInput> inputs, std::span<const int> layers);

 private:
  struct Segment {
    int slot, first, row0, n;  // rows [row0, row0 + n) of the chunk go to positions first..
  };
  void feed(std::span<const SeqInput> inputs);
  void run_chunk(int rows, int first_out, int n_out);

  const Llama& model_;
  KvCache cache_;
  int max_rows_;
  // Per chunk: token, position and segment of every row; rows whose logits are wanted.
  std::vector<int32_t> tokens_, pos_;
  std::vector<Segment> segs_;
  std::vector<int> out_rows_;
  std::vector<uint8_t> slot_used_;
  void pool_rows(int layer_index, const float* normed);
  std::vector<int> pool_layers_;    // features(): layers pooled (empty: forward() wants logits)
  std::vector<int> input_of_slot_;  // slot -> input index of the current call
  AlignedBuffer<float> x_, xn_, rstd_, qkv_, q_, att_, tmp_, gateup_, act_, last_;
  AlignedBuffer<float> rope_cos_, rope_sin_, logits_, ones_;
  std::vector<float> pooled_, embedded_;  // features() output; embed() output
};

}  // namespace tlm
