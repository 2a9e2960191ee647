// Evaluation on fixed windows of a split: mean cross-entropy per token, perplexity and bits per
// byte. The training loop uses it for the periodic validation loss; `tweetlm eval ppl` for a
// checkpoint on any split.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "model/llama.h"
#include "train/data_loader.h"

namespace tlm {

class Tokenizer;

struct EvalResult {
  double loss = 0;        // mean nats per predicted token
  double sum_nats = 0;    // summed over predicted tokens
  uint64_t tokens = 0;    // predicted tokens
  uint64_t bytes = 0;     // bytes those tokens stand for (with byte_lengths; 0 otherwise)
  uint64_t windows = 0;
  double perplexity() const;
  double bits_per_byte() const;  // NaN without byte counts
};

// Runs the model forward over `windows` of `data` (T tokens each) in batches of up to B rows
// (B <= model.max_B, T <= model.max_T). When byte_lengths is given (byte_lengths[id] = bytes of
// token id), counts the bytes of every predicted token for bits per byte. Losses are summed in
// double in window order, so the result does not depend on the thread count beyond what the
// forward pass does.
EvalResult evaluate(Llama& model, const TokenDataset& data, const std::vector<uint64_t>& windows, int B, int T,
                    int32_t eos_id, const std::vector<uint32_t>* byte_lengths = nullptr);
// The same for any model that can give the summed loss of a batch's targets (the CUDA model).
using BatchNats = std::function<double(const Batch& batch)>;
EvalResult evaluate(const BatchNats& nats, const TokenDataset& data, const std::vector<uint64_t>& windows, int B,
                    int T, int32_t eos_id, const std::vector<uint32_t>* byte_lengths = nullptr);

// Bytes each token id stands for: its raw bytes, except the end-of-text separator, which counts
// as one byte (the newline that separates tweets in a text file). Ids past the tokenizer
// (vocabulary padding) count 0; they never occur in shards.
std::vector<uint32_t> token_byte_lengths(const Tokenizer& tok, size_t vocab_size);

}  // namespace tlm
