// The model's dimensions, each named once (DESIGN.md "Model"). Everything that sizes a buffer
// or a loop reads it from here. Presets give the sizes users ask for by name; the vocabulary
// always comes from the tokenizer (optionally padded up, as llm.c pads 50257 to 50304).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace tlm {

struct ModelConfig {
  int vocab_size = 0;     // V (>= the tokenizer's vocabulary; rows beyond it are padding)
  int max_seq_len = 256;  // T: the longest context (RoPE table size, activation sizing)
  int dim = 256;          // C
  int n_layers = 4;       // L
  int n_heads = 4;        // H
  int n_kv_heads = 4;     // KVH (grouped-query attention when < H; divides H)
  int head_dim = 64;      // D (usually C / H)
  int ffn_dim = 688;      // F (SwiGLU hidden size)
  float rope_theta = 10000.0f;
  float norm_eps = 1e-5f;
  bool tied_embeddings = false;  // lm_head shares embed_tokens

  int qkv_dim() const { return (n_heads + 2 * n_kv_heads) * head_dim; }
  int q_dim() const { return n_heads * head_dim; }
  int kv_dim() const { return n_kv_heads * head_dim; }

  // Parameters in total, and those in matrix products (the 6 * N * tokens FLOP count uses
  // these: the embedding lookup is not a product; an untied lm_head is).
  size_t num_params() const;
  size_t num_matmul_params() const;
  // Training FLOPs per token: 6 * matmul params + attention (12 * L * D * H * T_attended), where
  // T_attended is the mean number of keys a query sees (T/2 for one document per sequence).
  double train_flops_per_token(double mean_keys) const;

  // Throws a UserError naming `what` (a flag or file) if any dimension is inconsistent.
  void validate(const std::string& what) const;

  // Hugging Face config.json fields (LlamaConfig names) and back.
  nlohmann::json to_hf_json() const;
  static ModelConfig from_hf_json(const nlohmann::json& j, const std::string& what);

  // Named sizes: "tiny" (C128 L2, seconds on a laptop), "small" (C256 L4: config A of the
  // benchmark), "33m" (C512 L8: config B), "124m" (C768 L12). vocab_size is left to the caller.
  static ModelConfig preset(const std::string& name);
};

// Explicit sizes over a preset (0 keeps the preset's value). Sizes derived from others follow
// them unless given too: kv_heads = heads, head_dim = dim / heads, ffn = 8/3 dim rounded up to a
// multiple of 16 (a gated SwiGLU MLP, as the presets) or 4 dim (a plain GPT MLP). A negative size,
// or heads not dividing dim, is a UserError naming the flag (--dim, --heads, ...).
struct ModelDims {
  int dim = 0, layers = 0, heads = 0, kv_heads = 0, ffn = 0, head_dim = 0;
};
void apply_dims(ModelConfig& c, const ModelDims& d, bool gated_mlp = true);

}  // namespace tlm
