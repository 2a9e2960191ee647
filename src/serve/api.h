// The OpenAI-compatible request and response bodies, apart from HTTP: JSON in -> a validated
// GenerateSpec / EmbedSpec, engine events -> JSON out. Every problem with a request is an
// ApiError carrying the HTTP status and OpenAI's error shape
//   {"error": {"message": "...", "type": "invalid_request_error", "param": "max_tokens", "code": ...}}
// so the HTTP layer (server.cpp) only routes and streams.
//
// Chat template (our tokenizer's special tokens, ChatML):
//   <|im_start|>system\n{content}<|im_end|>\n<|im_start|>user\n{content}<|im_end|>\n<|im_start|>assistant\n
// Message contents are encoded as ordinary text, so a user cannot inject special tokens;
// generation stops at <|im_end|> or <|endoftext|>.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "serve/engine.h"
#include "tokenizer/tokenizer.h"

namespace tlm::serve {

struct ApiError : std::runtime_error {
  ApiError(int status, std::string message, std::string param = "", std::string type = "",
           std::string code = "");
  int status;
  std::string param, type, code;
  nlohmann::json body() const;
};

// Limits and identity the request checks need.
struct ApiContext {
  const Tokenizer* tok = nullptr;
  std::string model_id;  // the only accepted "model" (absent is accepted too)
  int context = 0;       // model context, tokens
  int max_tokens = 0;    // largest max_tokens accepted (--max-tokens; 0: the context)
  int max_n = 16;        // choices per request
  int max_inputs = 256;  // prompts or embedding inputs per request
};

enum class Kind { completion, chat };

struct ParsedGenerate {
  GenerateSpec spec;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool chat_logprobs = false;  // chat: "logprobs": true
};

ParsedGenerate parse_generate(const nlohmann::json& body, Kind kind, const ApiContext& ctx, uint64_t random_seed);
EmbedSpec parse_embeddings(const nlohmann::json& body, const ApiContext& ctx, bool& base64);

// The token ids of the chat template applied to `messages` (validated), ending with the
// assistant's turn opened.
std::vector<int32_t> chat_prompt(const nlohmann::json& messages, const Tokenizer& tok);

// Responses. `texts[c]` and `finish[c]` are choice c's; usage counts all choices.
struct ChoiceResult {
  std::string text, finish;
  std::vector<TokenLogprob> logprobs;
  int prompt_tokens = 0, completion_tokens = 0;
};
nlohmann::json completion_response(Kind kind, const std::string& id, const std::string& model, int64_t created,
                                   const std::vector<ChoiceResult>& choices, const ParsedGenerate& req,
                                   const Tokenizer& tok);
// One SSE chunk for an event of choice `e.choice` (text and/or finish).
nlohmann::json stream_chunk(Kind kind, const std::string& id, const std::string& model, int64_t created,
                            const Event& e, bool first_of_choice, const ParsedGenerate& req, const Tokenizer& tok);
nlohmann::json usage_json(int prompt_tokens, int completion_tokens);

// base64 of the float32 little-endian bytes (encoding_format "base64").
std::string base64_floats(const std::vector<float>& v);

// JSON text that never throws on invalid UTF-8 in generated text (replaced by U+FFFD).
std::string dump(const nlohmann::json& j);

}  // namespace tlm::serve
