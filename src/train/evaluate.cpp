// Evaluation loss, perplexity and bits per byte (see evaluate.h).
#include "train/evaluate.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "core/check.h"
#include "tokenizer/tokenizer.h"

namespace tlm {

double EvalResult::perplexity() const { return std::exp(loss); }

double EvalResult::bits_per_byte() const {
  if (bytes == 0) return std::numeric_limits<double>::quiet_NaN();
  return sum_nats / std::numbers::ln2 / double(bytes);
}

EvalResult evaluate(const BatchNats& nats, const TokenDataset& data, const std::vector<uint64_t>& windows, int B,
                    int T, int32_t eos_id, const std::vector<uint32_t>* byte_lengths) {
  EvalResult r;
  Batch batch;
  for (size_t first = 0; first < windows.size(); first += size_t(B)) {
    int rows = int(std::min<size_t>(size_t(B), windows.size() - first));
    batch.resize(rows, T);
    for (int b = 0; b < rows; ++b) fill_window(data, windows[first + size_t(b)], T, batch, b);
    batch.compute_documents(eos_id);
    r.sum_nats += nats(batch);
    for (size_t i = 0; i < size_t(rows) * size_t(T); ++i) {
      int32_t t = batch.targets[i];
      if (t < 0) continue;
      ++r.tokens;
      if (byte_lengths) r.bytes += (*byte_lengths)[size_t(t)];
    }
    r.windows += uint64_t(rows);
  }
  r.loss = r.tokens ? r.sum_nats / double(r.tokens) : std::numeric_limits<double>::quiet_NaN();
  return r;
}

EvalResult evaluate(Llama& model, const TokenDataset& data, const std::vector<uint64_t>& windows, int B, int T,
                    int32_t eos_id, const std::vector<uint32_t>* byte_lengths) {
  TLM_CHECK(B > 0 && B <= model.max_B() && T > 0 && T <= model.max_T(), "eval B=%d T=%d, model holds %d x %d", B, T,
            model.max_B(), model.max_T());
  auto nats = [&](const Batch& batch) {
    model.forward(batch);
    const float* losses = model.losses();
    double sum = 0;  // in token order, as before: the result does not depend on the batching code
    for (size_t i = 0; i < batch.targets.size(); ++i)
      if (batch.targets[i] >= 0) sum += double(losses[i]);
    return sum;
  };
  return evaluate(nats, data, windows, B, T, eos_id, byte_lengths);
}

std::vector<uint32_t> token_byte_lengths(const Tokenizer& tok, size_t vocab_size) {
  std::vector<uint32_t> len(vocab_size, 0);
  for (size_t id = 0; id < std::min(vocab_size, tok.vocab_size()); ++id)
    len[id] = int64_t(id) == tok.eos_id() ? 1u : uint32_t(tok.token_bytes(uint32_t(id)).size());
  return len;
}

}  // namespace tlm
