// Export of a model as a Hugging Face LlamaForCausalLM directory, loadable by transformers
// (AutoModelForCausalLM / AutoTokenizer), vLLM, llama.cpp's convert_hf_to_gguf.py and tweetlm:
//   config.json               LlamaConfig (ModelConfig::to_hf_json + token ids and torch_dtype)
//   model.safetensors         HF tensor names as our checkpoints use (store/params_io.h): q/k/v
//                             and gate/up are separate tensors there already, and our RoPE is
//                             HF's rotate-half, so no permutation; a tied lm_head is not written
//                             (as HF does); padded vocabulary rows are kept (config vocab_size)
//   or model-0000i-of-0000N.safetensors + model.safetensors.index.json when the tensors exceed
//                             max_shard_bytes (HF's rule: tensors in order, a new shard when the
//                             next one would overflow the current; a bigger tensor gets its own)
//   generation_config.json    bos/eos/pad ids and the sampling defaults the caller gives
//   tokenizer.json            ours (the HF format already)
//   tokenizer_config.json, special_tokens_map.json: PreTrainedTokenizerFast, <|endoftext|> as
//                             BOS, EOS, padding and unknown token.
// Writing is atomic as a whole: everything goes into DIR.tmp-XXXXXX beside DIR, is fsynced, and
// the directory is renamed into place (exchanged with the old one under force), so DIR is never
// half written. An existing non-empty DIR is refused unless force.
#pragma once

#include <cstdint>
#include <string>

#include "io/safetensors.h"
#include "model/llama.h"
#include "tokenizer/tokenizer.h"

namespace tlm {

// The sampling defaults written to generation_config.json (`tweetlm export` passes generate's).
struct GenerationDefaults {
  float temperature = 0, top_p = 1, min_p = 0, repeat_penalty = 1;
  int top_k = 0;
};

struct HfExportOptions {
  DType dtype = DType::F32;                  // F32, F16 or BF16 (every tensor, norms included, as HF does)
  GenerationDefaults generation;
  uint64_t max_shard_bytes = 2000000000ull;  // HF's default "2GB"
  bool force = false;                        // replace an existing non-empty DIR
};

void export_hf(const Llama& model, const Tokenizer& tok, const std::string& dir, const HfExportOptions& opt);

// The checks export_hf makes on DIR before any work (UserError): not a file, empty unless
// `force`, and its parent creatable. The CLI calls it before reading the model, so a refused
// target fails at once.
void check_hf_target(const std::string& dir, bool force);

// "2GB", "500MB", "10KB", "1GiB", "123" (bytes): decimal units B/KB/MB/GB/TB and binary
// KiB/MiB/GiB/TiB (case-insensitive), as Hugging Face's max_shard_size. Anything else, zero or
// an overflow is a UserError naming `what`.
uint64_t parse_byte_size(const std::string& s, const std::string& what);

}  // namespace tlm
