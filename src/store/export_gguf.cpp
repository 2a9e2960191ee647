// GGUF export (see export_gguf.h).
#include "store/export_gguf.h"

#include <cstring>
#include <vector>

#include "core/check.h"
#include "core/progress.h"
#include "store/gguf_names.h"

namespace tlm {

namespace {

// The first `rows` rows of a row-major [*, cols] matrix, optionally permuted per head for
// llama.cpp's RoPE: new row h*D + 2i + j = old row h*D + j*D/2 + i (convert_hf_to_gguf.py's
// reshape(n_head, 2, D/2, cols).swapaxes(1, 2)).
std::vector<float> take_rows(const float* m, size_t cols, size_t rows, int rope_head_dim) {
  std::vector<float> out(rows * cols);
  for (size_t r = 0; r < rows; r++) {
    size_t src = r;
    if (rope_head_dim > 0) {
      const size_t D = size_t(rope_head_dim), h = r / D, k = r % D, i = k / 2, j = k % 2;
      src = h * D + j * (D / 2) + i;
    }
    std::memcpy(&out[r * cols], m + src * cols, cols * sizeof(float));
  }
  return out;
}

// Rows are contiguous in v, so q8_0 blocks (along a row) are consecutive runs of 32 values.
std::string encode(const std::vector<float>& v, GgmlType type) {
  std::string out(v.size() / ggml_block_size(type) * ggml_block_bytes(type), '\0');
  switch (type) {
    case GgmlType::f32: std::memcpy(out.data(), v.data(), out.size()); break;
    case GgmlType::f16:
    case GgmlType::bf16:
      for (size_t k = 0; k < v.size(); k++) {
        const uint16_t h = type == GgmlType::f16 ? float_to_half(v[k]) : float_to_bf16(v[k]);
        std::memcpy(out.data() + 2 * k, &h, 2);
      }
      break;
    case GgmlType::q8_0: quantize_row_q8_0(v.data(), reinterpret_cast<uint8_t*>(out.data()), v.size()); break;
  }
  return out;
}

// llama_ftype of a file whose matrices are all of one type (llama.h LLAMA_FTYPE_*).
uint32_t file_type(GgmlType t) {
  switch (t) {
    case GgmlType::f32: return 0;   // ALL_F32
    case GgmlType::f16: return 1;   // MOSTLY_F16
    case GgmlType::q8_0: return 7;  // MOSTLY_Q8_0
    case GgmlType::bf16: return 32; // MOSTLY_BF16
  }
  return 0;
}

}  // namespace

void export_gguf(const Llama& model, const Tokenizer& tok, const std::string& path, const GgufExportOptions& opt) {
  const ModelConfig& c = model.config();
  const size_t n_tok = tok.vocab_size();
  TLM_CHECK(n_tok > 0 && n_tok <= size_t(c.vocab_size), "tokenizer size %zu vs model vocabulary %d", n_tok,
            c.vocab_size);
  TLM_CHECK(tok.eos_id() >= 0, "the tokenizer has no <|endoftext|>");
  if (opt.type == GgmlType::q8_0) {
    // q8_0 blocks run along rows: every matrix's row length must be whole blocks.
    for (auto [what, n] : {std::pair<const char*, int>{"dim", c.dim}, {"heads x head_dim", c.q_dim()}, {"ffn_dim", c.ffn_dim}})
      if (n % int(kQ8Block) != 0)
        throw user_error("--type q8_0", "the model's %s is %d, not a multiple of 32 (q8_0 quantizes rows in blocks of "
                         "32; use f16, bf16 or f32)", what, n);
  }
  GgufWriter g;
  g.add_string("general.architecture", "llama");
  g.add_string("general.name", opt.name);
  g.add_u32("general.file_type", file_type(opt.type));
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

  // Tensors are converted as the writer reaches them: progress counts the parameters done.
  const double n_params = double(c.num_params());
  Progress progress("export gguf", n_params);
  double params_done = 0;
  auto done = [&progress, &params_done](size_t n) { progress.update(params_done += double(n), "parameters"); };
  // Every parameter, in the layout's order, under its llama.cpp name (store/gguf_names.h): a
  // matrix [rows, cols] as the GGUF tensor {cols, rows} of the chosen type, a norm in f32.
  const float* base = model.params();
  for_each_param(model.layout(), [&](const ParamInfo& p) {
    const GgufTensorName gn = gguf_tensor_name(p, c);
    const float* m = base + p.offset;
    if (p.is_norm) {
      const size_t n = p.size;
      g.add_tensor(gn.name, {n}, GgmlType::f32, [=] {
        auto bytes = encode(std::vector<float>(m, m + n), GgmlType::f32);
        done(n);
        return bytes;
      });
      return;
    }
    const size_t rows = gn.vocab_rows ? n_tok : p.shape[0], cols = p.shape[1];
    const GgmlType type = opt.type;
    g.add_tensor(gn.name, {cols, rows}, type, [=] {
      auto bytes = encode(take_rows(m, cols, rows, gn.rope_head_dim), type);
      done(cols * rows);
      return bytes;
    });
  });
  g.write(path);
  progress.finish(path);
}

}  // namespace tlm
