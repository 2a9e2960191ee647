// Export of a model to GGUF (llama.cpp's file format, io/gguf.h) as architecture "llama", so
// llama.cpp and everything built on it (node-llama-cpp, ollama, LM Studio) run our checkpoints.
//
// Mapping (the same as llama.cpp's convert_hf_to_gguf.py for an HF LlamaForCausalLM):
//  - metadata: llama.* sizes from ModelConfig; tokenizer "gpt2" with pre-tokenizer "gpt-2" (our
//    pre-tokenizer is GPT-2's regex, tokenizer/pretokenize.h), byte-level token spellings,
//    merges "a b", special tokens as control tokens, <|endoftext|> as BOS, EOS and padding,
//    add_bos_token true (we start every sequence with it, infer/generate.h);
//  - tensors: the fused q|k|v and gate|up blocks are split; Q and K rows are permuted per head
//    from the HF "rotate half" RoPE pairs (i, i + D/2) to llama.cpp's adjacent pairs (2i, 2i+1);
//    embedding and output rows beyond the tokenizer's vocabulary (padding) are dropped, since
//    llama.cpp requires both to have exactly one row per token; output.weight is omitted when
//    the embeddings are tied (llama.cpp then reuses token_embd).
//  - norms stay f32 (as llama.cpp's converter keeps them); matrices are f32, f16 or bf16 (round
//    to nearest even) or q8_0 (llama.cpp's reference quantizer: blocks of 32 along each row, so
//    dim, heads x head_dim and ffn_dim must be multiples of 32: a UserError otherwise).
#pragma once

#include <string>

#include "io/gguf.h"
#include "model/llama.h"
#include "tokenizer/tokenizer.h"

namespace tlm {

struct GgufExportOptions {
  GgmlType type = GgmlType::f32;  // of the matrices: f32, f16, bf16 or q8_0
  std::string name = "tweetlm";   // general.name
};

void export_gguf(const Llama& model, const Tokenizer& tok, const std::string& path, const GgufExportOptions& opt);

}  // namespace tlm
