// LocalTextModel: the TextModel of the CLI, over an InferenceSession of its own (see text_model.h).
#include "infer/text_model.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"
#include "infer/generate.h"

namespace tlm {

std::vector<int32_t> encode_document(const Tokenizer& tok, const std::string& text, int max_tokens) {
  std::vector<uint32_t> ids;
  tok.encode_ordinary(text, ids);
  if (ids.size() > size_t(std::max(max_tokens, 0))) ids.resize(size_t(std::max(max_tokens, 0)));
  return std::vector<int32_t>(ids.begin(), ids.end());
}

LocalTextModel::LocalTextModel(const Llama& model, const Tokenizer& tok, int batch)
    : model_(model), tok_(tok), batch_(std::max(batch, 1)), session_(model, std::max(batch, 1)) {}

template <typename Fn>
void LocalTextModel::run_batches(const std::vector<std::string>& texts, const std::vector<int>* layers, Fn take) {
  const int eos = int(tok_.eos_id());
  std::vector<std::vector<int32_t>> seqs(static_cast<size_t>(batch_));
  std::vector<SeqInput> inputs;
  for (size_t first = 0; first < texts.size(); first += size_t(batch_)) {
    const size_t n = std::min(texts.size() - first, size_t(batch_));
    inputs.clear();
    for (size_t k = 0; k < n; k++) {
      seqs[k] = {eos};
      const auto ids = encode_document(tok_, texts[first + k], session_.max_ctx() - 1);
      seqs[k].insert(seqs[k].end(), ids.begin(), ids.end());
      inputs.push_back({int(k), seqs[k].data(), int(seqs[k].size())});
    }
    const float* out = layers ? session_.features(inputs, *layers) : session_.embed(inputs);
    for (size_t k = 0; k < n; k++) take(first + k, out, k);
  }
}

std::vector<std::vector<float>> LocalTextModel::embed(const std::vector<std::string>& texts) {
  const size_t C = size_t(dim());
  std::vector<std::vector<float>> out(texts.size());
  run_batches(texts, nullptr, [&](size_t i, const float* e, size_t k) {
    const float* v = e + k * C;
    double norm = 0;
    for (size_t j = 0; j < C; j++) norm += double(v[j]) * v[j];
    const float inv = norm > 0 ? float(1.0 / std::sqrt(norm)) : 0.0f;
    out[i].resize(C);
    for (size_t j = 0; j < C; j++) out[i][j] = v[j] * inv;
  });
  return out;
}

std::vector<std::vector<float>> LocalTextModel::features(const std::vector<std::string>& texts,
                                                         const std::vector<int>& layers) {
  const size_t width = layers.size() * 2 * size_t(dim());
  std::vector<std::vector<float>> out(texts.size());
  run_batches(texts, &layers, [&](size_t i, const float* f, size_t k) {
    out[i].assign(f + k * width, f + (k + 1) * width);
  });
  return out;
}

double LocalTextModel::score(const std::vector<int32_t>& prompt, const std::vector<int32_t>& continuation) {
  const int V = int(tok_.vocab_size());
  std::vector<int32_t> head = {int32_t(tok_.eos_id())};
  head.insert(head.end(), prompt.begin(), prompt.end());
  TLM_CHECK(head.size() + continuation.size() <= size_t(session_.max_ctx()), "score: %zu tokens exceed the context",
            head.size() + continuation.size());
  session_.reset(0);
  SeqInput in{0, head.data(), int(head.size())};
  const float* logits = session_.forward(std::span<const SeqInput>(&in, 1));
  double total = 0;
  for (size_t t = 0; t < continuation.size(); t++) {
    // log softmax over the tokenizer's ids (a padded vocabulary's extra rows never occur)
    float mx = logits[0];
    for (int i = 1; i < V; i++) mx = std::max(mx, logits[i]);
    double sum = 0;
    for (int i = 0; i < V; i++) sum += std::exp(double(logits[i]) - mx);
    total += double(logits[continuation[t]]) - mx - std::log(sum);
    if (t + 1 == continuation.size()) break;
    in = {0, &continuation[t], 1};
    logits = session_.forward(std::span<const SeqInput>(&in, 1));
  }
  return total;
}

std::vector<TextSample> LocalTextModel::sample(const std::string& prompt, int n, int max_tokens,
                                               const SamplerOptions& sampling) {
  TLM_CHECK(n >= 1 && max_tokens >= 1, "sample: n %d, max_tokens %d", n, max_tokens);
  const std::vector<int32_t> p = encode_document(tok_, prompt, context() - 1 - max_tokens);
  GenerateOptions opt;
  opt.sampling = sampling;
  opt.max_new_tokens = max_tokens;
  opt.parallel = std::min(n, batch_);
  opt.n_vocab = int(tok_.vocab_size());
  opt.eos_id = int32_t(tok_.eos_id());
  const std::vector<Generation> gens = generate(model_, std::vector<std::vector<int32_t>>(size_t(n), p), opt);
  std::vector<TextSample> out;
  for (const Generation& g : gens) {
    TextSample s;
    s.text = tok_.decode(std::vector<uint32_t>(g.tokens.begin(), g.tokens.end()), true);
    s.tokens = int(g.tokens.size());
    s.finished = g.stop == StopReason::eos;
    std::vector<int32_t> scored = g.tokens;
    if (s.finished) scored.push_back(opt.eos_id);  // the end is part of what was sampled
    s.logprob = scored.empty() ? 0.0 : score(p, scored);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace tlm
