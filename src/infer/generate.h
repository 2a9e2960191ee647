// Text generation over a batch of prompts: each prompt becomes the sequence [eos] + prompt (a
// new document at position 0, as in training, model/batch.h), is prefilled in one pass, then
// extended one sampled token per step until it samples <|endoftext|>, reaches max_new_tokens or
// fills the model's context. Up to `parallel` sequences are decoded together (one KV cache
// slot each); a finished slot takes the next prompt at once, so a long file of prompts streams
// through a fixed amount of memory.
//
// Prompt i samples from its own Philox stream of the seed (first_stream + i), so its text does
// not depend on which other prompts share the batch or on `parallel`.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "infer/sampler.h"
#include "model/llama.h"

namespace tlm {

enum class StopReason { eos, max_tokens, context };
const char* stop_reason_name(StopReason r);  // "eos", "max_tokens", "context"

struct GenerateOptions {
  SamplerOptions sampling;
  int max_new_tokens = -1;  // -1: until <|endoftext|> or the context is full
  int parallel = 8;         // sequences decoded together (KV cache slots)
  int ctx_size = 0;         // tokens per slot, [eos] + prompt + generated (0: the model's context)
  int max_rows = 256;       // rows per forward chunk: bounds the activations of a long prefill
  int n_vocab = 0;          // sample among ids < n_vocab (the tokenizer's size); 0: the model's
  int32_t eos_id = 0;       // <|endoftext|>: starts every sequence and ends it when sampled
  uint64_t first_stream = 0;  // prompt i samples from Philox stream first_stream + i
};

struct Generation {
  std::vector<int32_t> tokens;  // generated, without the final <|endoftext|>
  StopReason stop = StopReason::eos;
};

struct GenerateStats {
  int64_t prompt_tokens = 0;     // fed in prefill (the leading eos included)
  int64_t sampled_tokens = 0;    // every token sampled, a final eos included
  double prompt_seconds = 0;     // forward time apportioned by rows between prefill and decoding
  double generate_seconds = 0;
};

struct GenerateCallbacks {
  std::function<void(size_t prompt, int32_t token)> on_token;           // each generated token, in order
  std::function<void(size_t prompt, const Generation& g)> on_done;     // when a prompt finishes
};

// Generates for every prompt (token ids, without the leading eos). A prompt that does not fit
// the model's context is a UserError naming it ("prompt 3").
std::vector<Generation> generate(const Llama& model, const std::vector<std::vector<int32_t>>& prompts,
                                 const GenerateOptions& opt, const GenerateCallbacks& callbacks = {},
                                 GenerateStats* stats = nullptr);

}  // namespace tlm
