// Choosing the next token from a row of logits, with the samplers and the order of llama.cpp's
// default chain, so its users find the flags they know doing what they expect:
//   repetition penalty -> top-k -> top-p -> min-p -> temperature -> draw.
// The filters run at temperature 1 (temperature only reshapes what survives them), and each
// keeps at least one token. Temperature 0 is greedy: the argmax of the penalised logits (no
// filter can remove the best token, so the chain reduces to that and draws nothing).
//
// Randomness: one Philox stream per sequence (core/rng.h), one uniform draw per sampled token,
// so a seed and a stream number reproduce the same text on any machine and thread count.
// Ties are broken towards the lower token id everywhere, so results never depend on the order
// a sort happened to leave equal logits in.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/rng.h"

namespace tlm {

struct SamplerOptions {
  float temperature = 0.8f;     // 0: greedy
  int top_k = 40;               // keep the k most likely tokens; <= 0: off
  float top_p = 0.95f;          // keep the smallest most-likely set with probability >= p; >= 1: off
  float min_p = 0.05f;          // keep tokens with probability >= min_p * the best one's; <= 0: off
  float repeat_penalty = 1.0f;  // 1: off. > 1 discourages tokens seen in the last repeat_last_n
  int repeat_last_n = 64;       // 0: off; -1: the whole sequence
  uint64_t seed = 0;

  bool greedy() const { return temperature <= 0.0f; }
  // Throws a UserError naming the flag for out-of-range values (negative temperature, ...).
  void validate() const;
};

class Sampler {
 public:
  // Samples among token ids [0, n_vocab) (a model's padded rows beyond the tokenizer's vocabulary
  // are never chosen), drawing from Philox stream `stream` of opt.seed.
  Sampler(const SamplerOptions& opt, int n_vocab, uint64_t stream = 0);

  // The next token given logits [>= n_vocab] and the tokens of the sequence so far (prompt and
  // generated; the penalty window is the tail of it).
  int32_t sample(const float* logits, std::span<const int32_t> history);

  // Restarts the random stream (a slot reused for the next prompt draws as if new).
  void set_stream(uint64_t stream) { rng_ = Rng(opt_.seed, stream); }

  const SamplerOptions& options() const { return opt_; }
  const Rng& rng() const { return rng_; }

  // The stages, exposed for tests. They work on candidates (logit, id); top-k and top-p leave
  // them sorted by decreasing logit (ties: lower id first), min-p and draw take any order.
  struct Candidate {
    float logit;
    int32_t id;
  };
  // Each distinct token of the last `last_n` of history gets its logit divided by the penalty if
  // positive, multiplied if negative (once, however often it occurred). `seen` is scratch of
  // n_vocab zeros, left zeroed.
  static void apply_repeat_penalty(float* logits, int n_vocab, std::span<const int32_t> history, float penalty,
                                   int last_n, std::vector<uint8_t>& seen);
  static void apply_top_k(std::vector<Candidate>& c, int k);
  static void apply_top_p(std::vector<Candidate>& c, float p);
  static void apply_min_p(std::vector<Candidate>& c, float min_p);
  // Draws from softmax(logit / temperature) over the candidates with the uniform number u in [0, 1).
  static int32_t draw(const std::vector<Candidate>& c, float temperature, float u);

 private:
  SamplerOptions opt_;
  int n_vocab_;
  Rng rng_;
  std::vector<float> logits_;         // penalised copy (reused: no allocation per token)
  std::vector<Candidate> cand_;
  std::vector<uint8_t> seen_;         // repetition penalty: tokens already penalised this step
};

// Index of the largest of x[0..n) (the lowest index among equals), as greedy decoding picks.
int32_t argmax(const float* x, int n);

}  // namespace tlm
