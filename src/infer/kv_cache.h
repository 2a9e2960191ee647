// The key/value cache of generation: for each of S sequence slots and each layer, the rotated
// keys and the values of every token fed so far, [max_ctx, KVH * D] each. Position p of a
// sequence lives in row p: a sequence is one document that starts with <|endoftext|> at
// position 0 (model/batch.h), so cache row, RoPE position and attention index coincide.
//
// Layout [S][L][max_ctx][KVH * D] keeps one sequence's rows of a layer contiguous, which is what
// ops::attention_decode reads. Allocated once; reset() only forgets a slot's length, so a slot
// is reused for the next prompt without touching memory.
#pragma once

#include <cstddef>
#include <vector>

#include "core/buffer.h"
#include "core/check.h"
#include "model/config.h"

namespace tlm {

class KvCache {
 public:
  KvCache(const ModelConfig& cfg, int n_slots, int max_ctx)
      : n_slots_(n_slots), n_layers_(cfg.n_layers), max_ctx_(max_ctx), row_(cfg.kv_dim()),
        k_(size_t(n_slots) * cfg.n_layers * max_ctx * cfg.kv_dim(), false),
        v_(size_t(n_slots) * cfg.n_layers * max_ctx * cfg.kv_dim(), false), len_(n_slots, 0) {
    TLM_CHECK(n_slots > 0 && max_ctx > 0 && max_ctx <= cfg.max_seq_len, "kv cache %d x %d (model context %d)",
              n_slots, max_ctx, cfg.max_seq_len);
  }

  int n_slots() const { return n_slots_; }
  int max_ctx() const { return max_ctx_; }
  int row_size() const { return row_; }  // KVH * D floats
  size_t bytes() const { return (k_.size() + v_.size()) * sizeof(float); }

  // Rows [0, max_ctx) of slot `s`, layer `l`.
  float* k(int s, int l) { return k_.data() + offset(s, l); }
  float* v(int s, int l) { return v_.data() + offset(s, l); }
  const float* k(int s, int l) const { return k_.data() + offset(s, l); }
  const float* v(int s, int l) const { return v_.data() + offset(s, l); }

  // Tokens of slot `s` already in the cache (the next token goes to row length(s)).
  int length(int s) const { return len_[s]; }
  void set_length(int s, int n) {
    TLM_CHECK(n >= 0 && n <= max_ctx_, "slot %d length %d outside [0, %d]", s, n, max_ctx_);
    len_[s] = n;
  }
  void reset(int s) { len_[s] = 0; }

 private:
  size_t offset(int s, int l) const {
    TLM_CHECK(s >= 0 && s < n_slots_ && l >= 0 && l < n_layers_, "kv cache slot %d layer %d", s, l);
    return (size_t(s) * n_layers_ + l) * max_ctx_ * row_;
  }

  int n_slots_, n_layers_, max_ctx_, row_;
  AlignedBuffer<float> k_, v_;
  std::vector<int> len_;
};

}  // namespace tlm
