// The model of a training benchmark row (bench/train_cpu, bench/train_cuda): a Llama with full
// multi-head attention, given by vocabulary, context, width, depth, heads, MLP width and batch.
#pragma once

#include <string>

#include "model/config.h"

namespace tlm::bench {

struct BenchModel {
  std::string name;
  int V, T, C, L, H, F, B;
};

inline ModelConfig model_config(const BenchModel& b) {
  ModelConfig c;
  c.vocab_size = b.V, c.max_seq_len = b.T, c.dim = b.C, c.n_layers = b.L, c.n_heads = b.H, c.n_kv_heads = b.H;
  c.head_dim = b.C / b.H, c.ffn_dim = b.F;
  return c;
}

}  // namespace tlm::bench
