// What the applications (src/apps: search, ads, evaluation) need from a language model, behind
// one interface, so the same app code runs in the CLI (LocalTextModel: the model in this
// process, driven directly) and inside `tweetlm serve` (serve/engine_text_model: every call goes
// through the engine's queue, so the HTTP threads never touch the model).
//
// Texts are tweets: each is encoded as a document, [<|endoftext|>] + tokens, as in training,
// and cut to the model's context (the tail is dropped) so no input is ever refused for length.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "infer/sampler.h"
#include "infer/session.h"
#include "model/llama.h"
#include "tokenizer/tokenizer.h"

namespace tlm {

// One sampled continuation and the model's log-probability of its tokens (natural log, under
// the raw distribution at temperature 1, i.e. the likelihood that ranks candidates).
struct TextSample {
  std::string text;
  double logprob = 0;
  int tokens = 0;
  bool finished = false;  // ended with <|endoftext|> (or a stop token), not at max_tokens
};

class TextModel {
 public:
  virtual ~TextModel() = default;
  virtual const Tokenizer& tokenizer() const = 0;
  virtual int dim() const = 0;      // length of an embedding
  virtual int context() const = 0;  // the model's context length
  virtual int n_layers() const = 0;
  // Unit-length embeddings, one per text: the mean of the final-normed hidden states, exactly the
  // vectors of the server's /v1/embeddings.
  virtual std::vector<std::vector<float>> embed(const std::vector<std::string>& texts) = 0;
  // Classifier features, one vector per text: InferenceSession::features for `layers` (each in
  // 1..L), flattened as [layers.size()][mean, last][dim()], not normalised.
  virtual std::vector<std::vector<float>> features(const std::vector<std::string>& texts,
                                                   const std::vector<int>& layers) = 0;
  // `n` continuations of `prompt` (sampled with `sampling`, stream i of its seed for sample i),
  // each at most max_tokens long.
  virtual std::vector<TextSample> sample(const std::string& prompt, int n, int max_tokens,
                                         const SamplerOptions& sampling) = 0;
};

// Encodes a text as the model reads a tweet: ids without the leading <|endoftext|>, cut to
// max_tokens (the caller adds the leading eos).
std::vector<int32_t> encode_document(const Tokenizer& tok, const std::string& text, int max_tokens);

// The model in this process. Not thread-safe: one caller at a time (the CLI).
class LocalTextModel : public TextModel {
 public:
  // `batch`: texts embedded per forward pass (KV-cache slots).
  LocalTextModel(const Llama& model, const Tokenizer& tok, int batch = 16);
  const Tokenizer& tokenizer() const override { return tok_; }
  int dim() const override { return model_.config().dim; }
  int context() const override { return model_.config().max_seq_len; }
  int n_layers() const override { return model_.config().n_layers; }
  std::vector<std::vector<float>> embed(const std::vector<std::string>& texts) override;
  std::vector<std::vector<float>> features(const std::vector<std::string>& texts,
                                           const std::vector<int>& layers) override;
  std::vector<TextSample> sample(const std::string& prompt, int n, int max_tokens,
                                 const SamplerOptions& sampling) override;

  // The log-probability of `continuation` after [eos] + `prompt` (natural log, temperature 1).
  double score(const std::vector<int32_t>& prompt, const std::vector<int32_t>& continuation);

 private:
  const Llama& model_;
  const Tokenizer& tok_;
  // Runs texts through the session `batch_` at a time; `take(k, out)` copies text k's result.
  template <typename Fn>
  void run_batches(const std::vector<std::string>& texts, const std::vector<int>* layers, Fn take);
  int batch_;
  InferenceSession session_;
};

}  // namespace tlm
