// GGUF export (see export_gguf.h).
#include "infer/export_gguf.h"

#include <cstring>
#include <vector>

#include "core/check.h"

namespace tlm {

namespace {

// Rows [row0, row0 + rows) of a row-major [*, cols] matrix, optionally permuted per head for
// llama.cpp's RoPE: new row h*D + 2i + j = old row h*D + j*D/2 + i (convert_hf_to_gguf.py's
// reshape(n_head, 2, D/2, cols).swapaxes(1, 2)).
std::vector<float> take_rows(const float* m, size_t cols, size_t row0, size_t rows, int rope_head_dim) {
  std::vector<float> out(rows * cols);
  for (size_t r = 0; r < rows; r++) {
    size_t src = r;
    if (rope_head_dim > 0) {
      const size_t D = size_t(rope_head_dim), h = r / D, k = r % D, i = k / 2, j = k % 2;
      src = h * D + j * (D / 2) + i;
    }
    std::memcpy(&out[r * cols], m + (row0 + src) * cols, cols * sizeof(float));
  }
  return out;
}

std::string encode(const std::vector<float>& v, GgmlType type) {
  std::string out;
  if (type == GgmlType::f32) {
    out.resize(v.size() * 4);
    std::memcpy(out.data(), v.data(), out.size());
  } else {
    std::vector<uint16_t> h(v.size());
    for (size_t k = 0; k < v.size(); k++) h[k] = float_to_half(v[k]);
    out.resize(h.size() * 2);
    std::memcpy(out.data(), h.data(), out.size());
  }
  return out;
}

}  // namespace

void export_gguf(const Llama& model, const Tokenizer& tok, const std::string& path, const GgufExportOptions& opt) {
  const ModelConfig& c = model.config();
  const size_t n_tok = tok.vocab_size();
  TLM_CHECK(n_tok > 0 && n_tok <= size_t(c.vocab_size), "tokenizer size %zu vs model vocabulary %d", n_tok,
            c.vocab_size);
  TLM_CHECK(tok.eos_id() >= 0, "the tokenizer has no <|endoftext|>");
  const Weights& w = model.weights();
  GgufWriter g;
  g.add_string("general.architecture", "llama");
  g.add_string("general.name", opt.name);
  g.add_u32("general.file_type", opt.type == GgmlType::f32 ? 0 : 1);  // LLAMA_FTYPE_ALL_F32 / MOSTLY_F16
  g.add_u32("llama.context_length", uint32_t(c.max_seq_len));
  g.add_u32("llama.embedding_length", uint32_t(c.dim));
  g.add_u32("llama.block_count", uint32_t(c.n_layers));
  g.add_u32("llama.feed_forward_length", uint32_t(c.ffn_dim));
  g.add_u32("llama.attention.head_count", uint32_t(c.n_heads));
  g.add_u32("llama.attention.head_count_kv", uint32_t(c.n_kv_heads));
  g.add_u32("llama.attention.key_length", uint32_t(c.head_dim));
  g.add_u32("llama.attention.value_length", uint32_t(c.head_dim));
  g.add_u32("llama.rope.dimension_count", uint32_t(c.head_dim));
  g.add_f32("llama.rope.freq_base", c.rope_theta);
  g.add_f32("llama.attention.layer_norm_rms_epsilon", c.norm_eps);
  g.add_u32("llama.vocab_size", uint32_t(n_tok));

  std::vector<std::string> tokens(n_tok);
  std::vector<int32_t> types(n_tok, 1);  // 1 normal, 3 control, 4 user-defined
  for (size_t id = 0; id < n_tok; id++) tokens[id] = tok.token_spelling(uint32_t(id));
  for (const AddedToken& a : tok.added_tokens()) {
    tokens[a.id] = a.content;
    types[a.id] = a.special ? 3 : 4;
  }
  std::vector<std::string> merges;
  merges.reserve(tok.merges().size());
  for (auto [l, r] : tok.merges()) merges.push_back(tok.token_spelling(l) + " " + tok.token_spelling(r));
  const uint32_t eos = uint32_t(tok.eos_id());
  g.add_string("tokenizer.ggml.model", "gpt2");
  g.add_string("tokenizer.ggml.pre", "gpt-2");
  g.add_string_array("tokenizer.ggml.tokens", tokens);
  g.add_i32_array("tokenizer.ggml.token_type", types);
  g.add_string_array("tokenizer.ggml.merges", merges);
  g.add_u32("tokenizer.ggml.bos_token_id", eos);
  g.add_u32("tokenizer.ggml.eos_token_id", eos);
  g.add_u32("tokenizer.ggml.padding_token_id", eos);
  g.add_bool("tokenizer.ggml.add_bos_token", true);
  g.add_bool("tokenizer.ggml.add_eos_token", false);

  const size_t C = size_t(c.dim), D = size_t(c.head_dim), F = size_t(c.ffn_dim);
  const size_t qd = size_t(c.q_dim()), kvd = size_t(c.kv_dim());
  // A [rows, cols] slice of matrix m as a GGUF tensor {cols, rows}.
  auto matrix = [&](const std::string& name, const float* m, size_t cols, size_t row0, size_t rows, int rope_d,
                    GgmlType type) {
    g.add_tensor(name, {cols, rows}, type,
                 [=] { return encode(take_rows(m, cols, row0, rows, rope_d), type); });
  };
  auto norm = [&](const std::string& name, const float* v) {
    g.add_tensor(name, {C}, GgmlType::f32, [=] { return encode(std::vector<float>(v, v + C), GgmlType::f32); });
  };
  const GgmlType t = opt.type;
  matrix("token_embd.weight", w.embed, C, 0, n_tok, 0, t);
  for (int l = 0; l < c.n_layers; l++) {
    const LayerWeights& L = w.layers[size_t(l)];
    const std::string b = "blk." + std::to_string(l) + ".";
    norm(b + "attn_norm.weight", L.attn_norm);
    matrix(b + "attn_q.weight", L.wqkv, C, 0, qd, int(D), t);
    matrix(b + "attn_k.weight", L.wqkv, C, qd, kvd, int(D), t);
    matrix(b + "attn_v.weight", L.wqkv, C, qd + kvd, kvd, 0, t);
    matrix(b + "attn_output.weight", L.wo, qd, 0, C, 0, t);
    norm(b + "ffn_norm.weight", L.mlp_norm);
    matrix(b + "ffn_gate.weight", L.wgateup, C, 0, F, 0, t);
    matrix(b + "ffn_up.weight", L.wgateup, C, F, F, 0, t);
    matrix(b + "ffn_down.weight", L.wdown, F, 0, C, 0, t);
  }
  norm("output_norm.weight", w.norm);
  if (!c.tied_embeddings) matrix("output.weight", w.lm_head, C, 0, n_tok, 0, t);
  g.write(path);
}

}  // namespace tlm
