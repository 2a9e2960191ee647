// The TextModel of the applications (src/apps: search, ads) inside `tweetlm serve`: every call
// becomes a request on the engine's queue, like an HTTP client's, so the engine thread stays the
// only one that touches the model, and app requests share the slots fairly with completions.
// Safe to call from any number of HTTP threads at once. A full queue throws ApiError 503.
#pragma once

#include "infer/text_model.h"
#include "serve/engine.h"

namespace tlm::serve {

class EngineTextModel : public TextModel {
 public:
  EngineTextModel(Engine& engine, const Llama& model, const Tokenizer& tok) : engine_(engine), model_(model), tok_(tok) {}
  const Tokenizer& tokenizer() const override { return tok_; }
  int dim() const override { return model_.config().dim; }
  int context() const override { return engine_.context(); }  // --ctx-size, not the model's
  int n_layers() const override { return model_.config().n_layers; }
  std::vector<std::vector<float>> embed(const std::vector<std::string>& texts) override;
  std::vector<std::vector<float>> features(const std::vector<std::string>& texts,
                                           const std::vector<int>& layers) override;
  std::vector<TextSample> sample(const std::string& prompt, int n, int max_tokens,
                                 const SamplerOptions& sampling) override;

 private:
  std::vector<std::vector<float>> run_embed(const std::vector<std::string>& texts, const std::vector<int>& layers);
  Engine& engine_;
  const Llama& model_;
  const Tokenizer& tok_;
};

}  // namespace tlm::serve
