// Loading a GGUF file of architecture "llama" (ours from `tweetlm export --format gguf`, or any
// llama.cpp f32/f16/bf16/q8_0 Llama with a GPT-2-style byte-level BPE tokenizer): the inverse of
// store/export_gguf.cpp.
//  - config from the llama.* keys; vocab_size = the token count (the export dropped padding
//    rows, which never affect generation); tied embeddings when output.weight is absent;
//  - tokenizer from tokenizer.ggml.*: control tokens (type 3) become special added tokens,
//    user-defined ones (type 4) non-special added tokens, the rest are byte-level spellings
//    decoded to raw bytes; merges "a b" are looked up by spelling;
//  - weights: every tensor's name, type and dims are checked against the config BEFORE the model
//    is allocated (so a hostile header cannot size an allocation beyond the file's own bytes),
//    then q/k/v and gate/up are fused back and the Q/K rows un-permuted from llama.cpp's
//    adjacent RoPE pairs to the "rotate half" convention. bf16 and q8_0 are dequantized to f32
//    (GgufFile::read_f32): we compute in f32 whatever the file stores.
#include <cstring>
#include <limits>
#include <unordered_map>

#include "core/check.h"
#include "io/gguf.h"
#include "model/params.h"
#include "store/gguf_names.h"
#include "store/model_loader.h"
#include "tokenizer/byte_level.h"

namespace tlm {

namespace {

int as_int(const GgufFile& g, const std::string& key) {
  const uint64_t v = g.get_uint(key);
  if (v > uint64_t(std::numeric_limits<int>::max()))
    throw user_error(g.path(), "%s = %llu is out of range", key.c_str(), static_cast<unsigned long long>(v));
  return int(v);
}

Tokenizer read_tokenizer(const GgufFile& g) {
  const std::string& path = g.path();
  if (g.find("tokenizer.ggml.model") && g.get_string("tokenizer.ggml.model") != "gpt2")
    throw user_error(path, "tokenizer.ggml.model is '%s': only byte-level BPE (gpt2) tokenizers are supported",
                     g.get_string("tokenizer.ggml.model").c_str());
  // The pre-tokenizer (llama.cpp's per-family split rules): ours is GPT-2's regex, which is what
  // our exporter writes; any other family's rules would split text differently.
  if (g.find("tokenizer.ggml.pre")) {
    const std::string pre = g.get_string("tokenizer.ggml.pre");
    if (pre != "gpt-2")
      throw user_error(path, "tokenizer.ggml.pre '%s' is not supported (gpt-2 is): its pre-tokenizer would split "
                       "text differently", pre.c_str());
  }
  std::vector<std::string> spellings = g.get_strings("tokenizer.ggml.tokens");
  std::vector<int64_t> types;
  if (g.find("tokenizer.ggml.token_type")) {
    types = g.get_ints("tokenizer.ggml.token_type");
    if (types.size() != spellings.size())
      throw user_error(path, "tokenizer.ggml.token_type has %zu entries for %zu tokens", types.size(), spellings.size());
  }
  if (spellings.size() > size_t(1) << 24) throw user_error(path, "%zu tokens: too many", spellings.size());
  std::vector<std::string> raw(spellings.size());
  std::vector<AddedToken> added;
  std::unordered_map<std::string, uint32_t> by_spelling;
  for (uint32_t id = 0; id < spellings.size(); id++) {
    const int64_t type = types.empty() ? 1 : types[id];
    if (type == 3 || type == 4) {
      added.push_back({id, spellings[id], type == 3});
      raw[id] = spellings[id];
      continue;
    }
    if (!byte_level_to_bytes(spellings[id], raw[id]))
      throw user_error(path, "token %u is not a byte-level spelling (tokenizer.ggml.tokens)", id);
    by_spelling.emplace(spellings[id], id);
  }
  std::vector<std::pair<uint32_t, uint32_t>> merges;
  if (g.find("tokenizer.ggml.merges")) {
    std::vector<std::string> m = g.get_strings("tokenizer.ggml.merges");
    merges.reserve(m.size());
    for (size_t r = 0; r < m.size(); r++) {
      const size_t sp = m[r].find(' ');
      auto l = sp == std::string::npos ? by_spelling.end() : by_spelling.find(m[r].substr(0, sp));
      auto rt = sp == std::string::npos ? by_spelling.end() : by_spelling.find(m[r].substr(sp + 1));
      if (l == by_spelling.end() || rt == by_spelling.end())
        throw user_error(path, "merge %zu is not two tokens of the vocabulary (tokenizer.ggml.merges)", r);
      merges.emplace_back(l->second, rt->second);
    }
  }
  try {
    return Tokenizer(std::move(raw), std::move(merges), std::move(added));
  } catch (const UserError& e) {
    throw user_error(path, "tokenizer: %s", e.what());
  }
}

ModelConfig read_config(const GgufFile& g, size_t n_tokens) {
  const std::string& path = g.path();
  const std::string arch = g.get_string("general.architecture");
  if (arch != "llama") throw user_error(path, "architecture '%s' is not supported (llama is)", arch.c_str());
  if (g.find("llama.rope.scaling.type") && g.get_string("llama.rope.scaling.type") != "none")
    throw user_error(path, "llama.rope.scaling.type '%s' is not supported (plain RoPE only)",
                     g.get_string("llama.rope.scaling.type").c_str());
  ModelConfig c;
  c.vocab_size = int(n_tokens);
  c.max_seq_len = as_int(g, "llama.context_length");
  c.dim = as_int(g, "llama.embedding_length");
  c.n_layers = as_int(g, "llama.block_count");
  c.ffn_dim = as_int(g, "llama.feed_forward_length");
  c.n_heads = as_int(g, "llama.attention.head_count");
  c.n_kv_heads = g.find("llama.attention.head_count_kv") ? as_int(g, "llama.attention.head_count_kv") : c.n_heads;
  c.head_dim = g.find("llama.attention.key_length") ? as_int(g, "llama.attention.key_length")
                                                      : (c.n_heads > 0 ? c.dim / c.n_heads : 0);
  if (g.find("llama.attention.value_length") && as_int(g, "llama.attention.value_length") != c.head_dim)
    throw user_error(path, "llama.attention.value_length differs from key_length (not supported)");
  if (g.find("llama.rope.dimension_count") && as_int(g, "llama.rope.dimension_count") != c.head_dim)
    throw user_error(path, "llama.rope.dimension_count differs from the head dimension (partial RoPE is not supported)");
  if (g.find("llama.rope.freq_base")) c.rope_theta = float(g.get_float("llama.rope.freq_base"));
  c.norm_eps = float(g.get_float("llama.attention.layer_norm_rms_epsilon"));
  if (g.find("llama.vocab_size") && g.get_uint("llama.vocab_size") != n_tokens)
    throw user_error(path, "llama.vocab_size is %llu but there are %zu tokens",
                     static_cast<unsigned long long>(g.get_uint("llama.vocab_size")), n_tokens);
  c.tied_embeddings = g.find_tensor("output.weight") == nullptr;
  c.validate(path);
  return c;
}

}  // namespace

LoadedModel load_gguf_model(const std::string& path, const std::string& tokenizer_path) {
  GgufFile g(path);
  LoadedModel lm;
  lm.dir = path;
  lm.tokenizer = read_tokenizer(g);
  const ModelConfig c = read_config(g, lm.tokenizer.vocab_size());
  if (!tokenizer_path.empty()) {
    const size_t own = lm.tokenizer.vocab_size();  // the file's tokenizer.ggml.tokens: what it was trained on
    lm.tokenizer = Tokenizer::load(tokenizer_path);
    if (lm.tokenizer.vocab_size() > size_t(c.vocab_size))
      throw user_error(tokenizer_path, "%zu tokens, but the model has only %d rows of embeddings",
                       lm.tokenizer.vocab_size(), c.vocab_size);
    if (lm.tokenizer.vocab_size() != own)
      throw user_error(tokenizer_path, "%zu tokens, but the model was trained with a tokenizer of %zu (the one in "
                       "%s); use that one or leave --tokenizer out", lm.tokenizer.vocab_size(), own, path.c_str());
  }
  if (lm.tokenizer.eos_id() < 0) throw user_error(path, "no <|endoftext|> token (it starts and ends every text)");

  // 9 tensors a layer: a block count the file cannot hold is refused before anything is sized by it.
  if (size_t(c.n_layers) > g.tensors().size() / 9)
    throw user_error(path, "llama.block_count %d, but the file has only %zu tensors", c.n_layers, g.tensors().size());
  // Every tensor the model needs (the layout's parameters under their GGUF names,
  // store/gguf_names.h), with its expected dims (fastest first), checked up front.
  lm.model = std::make_unique<Llama>(c, 0, 0);
  const ParamLayout& layout = lm.model->layout();
  for_each_param(layout, [&](const ParamInfo& p) {
    const std::string name = gguf_tensor_name(p, c).name;
    const std::vector<uint64_t> dims = p.shape.size() == 1 ? std::vector<uint64_t>{p.shape[0]}
                                                           : std::vector<uint64_t>{p.shape[1], p.shape[0]};
    const GgufTensorInfo* t = g.find_tensor(name);
    if (!t) throw user_error(path, "no tensor %s", name.c_str());
    if (t->dims != dims) throw user_error(path, "tensor %s has the wrong shape for the model's config", name.c_str());
    if (t->type != uint32_t(GgmlType::f32) && t->type != uint32_t(GgmlType::f16) && t->type != uint32_t(GgmlType::bf16) &&
        t->type != uint32_t(GgmlType::q8_0))
      throw user_error(path, "tensor %s: ggml type %u is not supported (f32, f16, bf16, q8_0 are)", name.c_str(), t->type);
  });

  // Each tensor into its parameter, undoing the export's per-head RoPE permutation of Q and K
  // (export_gguf.cpp take_rows).
  std::vector<float> buf;
  float* base = lm.model->params();
  for_each_param(layout, [&](const ParamInfo& p) {
    const GgufTensorName gn = gguf_tensor_name(p, c);
    const GgufTensorInfo& t = *g.find_tensor(gn.name);
    buf.resize(size_t(t.elements));
    g.read_f32(t, buf.data());
    const size_t cols = p.shape.size() == 1 ? p.size : p.shape[1], rows = buf.size() / cols;
    float* m = base + p.offset;
    for (size_t r = 0; r < rows; r++) {
      size_t dst = r;
      if (gn.rope_head_dim > 0) {
        const size_t Dh = size_t(gn.rope_head_dim), h = r / Dh, k = r % Dh, i = k / 2, j = k % 2;
        dst = h * Dh + j * (Dh / 2) + i;
      }
      std::memcpy(m + dst * cols, buf.data() + r * cols, cols * sizeof(float));
    }
  });
  return lm;
}

}  // namespace tlm
