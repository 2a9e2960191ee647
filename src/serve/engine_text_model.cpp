// EngineTextModel: app calls as engine requests (see engine_text_model.h).
#include "serve/engine_text_model.h"

#include "serve/api.h"

namespace tlm::serve {

namespace {

// Waits for every event of a request, turning an engine error into a 503 (the engine only
// errs when it is stopping).
template <typename Fn>
void drain(RequestStream& stream, Fn on_event) {
  while (!stream.finished()) {
    std::optional<Event> e = stream.next(1000);
    if (!e) continue;
    if (!e->error.empty()) throw ApiError(503, "the server is stopping: " + e->error, "", "server_busy");
    on_event(*e);
  }
}

ApiError busy() { return ApiError(503, "the server is busy; retry shortly", "", "server_busy", "queue_full"); }

}  // namespace

std::vector<std::vector<float>> EngineTextModel::run_embed(const std::vector<std::string>& texts,
                                                           const std::vector<int>& layers) {
  std::vector<std::vector<float>> out(texts.size());
  if (texts.empty()) return out;
  EmbedSpec spec;
  spec.layers = layers;
  for (const std::string& t : texts) spec.inputs.push_back(encode_document(tok_, t, context() - 1));
  auto stream = std::make_shared<RequestStream>(int(texts.size()));
  if (!engine_.submit(spec, stream)) throw busy();
  drain(*stream, [&](Event& e) { out[size_t(e.choice)] = std::move(e.embedding); });
  return out;
}

std::vector<std::vector<float>> EngineTextModel::embed(const std::vector<std::string>& texts) {
  return run_embed(texts, {});
}

std::vector<std::vector<float>> EngineTextModel::features(const std::vector<std::string>& texts,
                                                          const std::vector<int>& layers) {
  for (int l : layers)
    if (l < 1 || l > n_layers()) throw ApiError(500, "features: layer out of range");
  return run_embed(texts, layers);
}

std::vector<TextSample> EngineTextModel::sample(const std::string& prompt, int n, int max_tokens,
                                                const SamplerOptions& sampling) {
  GenerateSpec spec;
  spec.prompts.push_back(encode_document(tok_, prompt, context() - 1 - max_tokens));
  spec.n = n;
  spec.sampling = sampling;
  spec.max_tokens = max_tokens;
  spec.stop_tokens = {int32_t(tok_.eos_id())};
  spec.logprobs = 0;  // each token's log-probability under the raw distribution
  auto stream = std::make_shared<RequestStream>(n);
  if (!engine_.submit(spec, stream)) throw busy();
  std::vector<TextSample> out(static_cast<size_t>(n));
  drain(*stream, [&](Event& e) {
    TextSample& s = out[size_t(e.choice)];
    s.text += e.text;
    for (const TokenLogprob& lp : e.logprobs) s.logprob += lp.logprob, s.tokens++;
    if (!e.finish.empty()) s.finished = e.finish == "stop";
  });
  return out;
}

}  // namespace tlm::serve
