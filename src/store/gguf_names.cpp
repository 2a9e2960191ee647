// See gguf_names.h. The per-layer table is llama.cpp's LLM_ARCH_LLAMA tensor names.
#include "store/gguf_names.h"

#include <cstring>

#include "core/check.h"

namespace tlm {

GgufTensorName gguf_tensor_name(const ParamInfo& p, const ModelConfig& c) {
  const std::string& n = p.name;
  if (n == "model.embed_tokens.weight") return {"token_embd.weight", 0, true};
  if (n == "model.norm.weight") return {"output_norm.weight", 0, false};
  if (n == "lm_head.weight") return {"output.weight", 0, true};
  static const char* kLayer = "model.layers.";
  const size_t dot = n.find('.', std::strlen(kLayer));
  TLM_CHECK(n.rfind(kLayer, 0) == 0 && dot != std::string::npos, "no GGUF name for parameter %s", n.c_str());
  const std::string block = "blk." + n.substr(std::strlen(kLayer), dot - std::strlen(kLayer)) + ".";
  const std::string rest = n.substr(dot + 1);
  struct Row {
    const char *hf, *gguf;
    bool rope;
  };
  static const Row kTable[] = {
      {"input_layernorm.weight", "attn_norm.weight", false},
      {"self_attn.q_proj.weight", "attn_q.weight", true},
      {"self_attn.k_proj.weight", "attn_k.weight", true},
      {"self_attn.v_proj.weight", "attn_v.weight", false},
      {"self_attn.o_proj.weight", "attn_output.weight", false},
      {"post_attention_layernorm.weight", "ffn_norm.weight", false},
      {"mlp.gate_proj.weight", "ffn_gate.weight", false},
      {"mlp.up_proj.weight", "ffn_up.weight", false},
      {"mlp.down_proj.weight", "ffn_down.weight", false},
  };
  for (const Row& r : kTable)
    if (rest == r.hf) return {block + r.gguf, r.rope ? c.head_dim : 0, false};
  TLM_CHECK(false, "no GGUF name for parameter %s", n.c_str());
  return {};
}

}  // namespace tlm
