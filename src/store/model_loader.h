// Loading a model for inference (generate; later eval, serve and export) from a directory:
//  - a checkpoint written by `tweetlm train` (OUT/step_*: verified against its manifest first),
//  - a run directory OUT (its newest checkpoint that verifies, as --resume picks it),
//  - any directory with model.safetensors (HF Llama tensor names), config.json (HF LlamaConfig)
//    or state.json with a "config" object, and tokenizer.json (an HF-style model directory, as
//    `tweetlm export --format hf` writes), or with the weights sharded over several files named
//    by model.safetensors.index.json (validated: io/safetensors_index.h; every tensor exactly
//    once, in the shard the index names; unknown or missing tensors are errors).
//  - a GGUF file (a path ending in .gguf, or any file starting with "GGUF"): architecture
//    llama, f32/f16/bf16/q8_0 tensors, a byte-level BPE tokenizer (store/import_gguf.cpp).
// Every missing or corrupt file is one UserError naming it. Later issues add more HF
// layouts here, so callers never care where a model came from.
#pragma once

#include <memory>
#include <string>

#include "model/llama.h"
#include "tokenizer/tokenizer.h"

namespace tlm {

struct LoadedModel {
  std::unique_ptr<Llama> model;  // inference only (no training activations)
  Tokenizer tokenizer;
  std::string dir;               // where the weights came from (a run directory resolved)
};

// `tokenizer_path` overrides dir/tokenizer.json when not empty.
LoadedModel load_model(const std::string& path, const std::string& tokenizer_path = "");
// The GGUF case of load_model (`dir` is the file's path).
LoadedModel load_gguf_model(const std::string& path, const std::string& tokenizer_path = "");

}  // namespace tlm
