// The sampler chain (see sampler.h). Probabilities are accumulated in double: the filters
// compare cumulative sums against thresholds, and float sums over 50k candidates would move
// the cut by rounding alone.
#include "infer/sampler.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"

namespace tlm {

namespace {

bool before(const Sampler::Candidate& a, const Sampler::Candidate& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

void sort_candidates(std::vector<Sampler::Candidate>& c) {
  if (!std::is_sorted(c.begin(), c.end(), before)) std::sort(c.begin(), c.end(), before);
}

}  // namespace

void SamplerOptions::validate() const {
  if (!(temperature >= 0.0f) || !std::isfinite(temperature))
    throw user_error("--temp", "%g: the temperature must be >= 0 (0 = greedy)", double(temperature));
  if (!(top_p >= 0.0f && top_p <= 1.0f)) throw user_error("--top-p", "%g: must be in [0, 1]", double(top_p));
  if (!(min_p >= 0.0f && min_p <= 1.0f)) throw user_error("--min-p", "%g: must be in [0, 1]", double(min_p));
  if (!(repeat_penalty > 0.0f) || !std::isfinite(repeat_penalty))
    throw user_error("--repeat-penalty", "%g: must be > 0 (1 = off)", double(repeat_penalty));
  if (repeat_last_n < -1) throw user_error("--repeat-last-n", "%d: must be >= -1 (-1 = whole sequence)", repeat_last_n);
}

int32_t argmax(const float* x, int n) {
  int32_t best = 0;
  for (int i = 1; i < n; i++)
    if (x[i] > x[best]) best = i;
  return best;
}

Sampler::Sampler(const SamplerOptions& opt, int n_vocab, uint64_t stream)
    : opt_(opt), n_vocab_(n_vocab), rng_(opt.seed, stream) {
  TLM_CHECK(n_vocab > 0, "sampler over an empty vocabulary");
  logits_.resize(n_vocab);
  cand_.reserve(n_vocab);
  seen_.assign(n_vocab, 0);
}

void Sampler::apply_repeat_penalty(float* logits, int n_vocab, std::span<const int32_t> history, float penalty,
                                   int last_n, std::vector<uint8_t>& seen) {
  if (penalty == 1.0f || last_n == 0) return;
  size_t n = last_n < 0 ? history.size() : std::min(history.size(), size_t(last_n));
  auto window = history.subspan(history.size() - n);
  for (int32_t t : window) {
    if (t < 0 || t >= n_vocab || seen[t]) continue;
    seen[t] = 1;
    logits[t] = logits[t] > 0.0f ? logits[t] / penalty : logits[t] * penalty;
  }
  for (int32_t t : window)
    if (t >= 0 && t < n_vocab) seen[t] = 0;
}

void Sampler::apply_top_k(std::vector<Candidate>& c, int k) {
  if (k <= 0 || size_t(k) >= c.size()) return;
  std::partial_sort(c.begin(), c.begin() + k, c.end(), before);
  c.resize(k);
}

void Sampler::apply_top_p(std::vector<Candidate>& c, float p) {
  if (p >= 1.0f || c.size() <= 1) return;
  sort_candidates(c);
  const double max = c[0].logit;
  double total = 0;
  for (const Candidate& x : c) total += std::exp(double(x.logit) - max);
  // Keep the shortest prefix whose probability reaches p (at least one token), as llama.cpp.
  const double target = double(p) * total;
  double cum = 0;
  for (size_t i = 0; i < c.size(); i++) {
    cum += std::exp(double(c[i].logit) - max);
    if (cum >= target) {
      c.resize(i + 1);
      return;
    }
  }
}

void Sampler::apply_min_p(std::vector<Candidate>& c, float min_p) {
  if (min_p <= 0.0f || c.size() <= 1) return;
  float max = c[0].logit;
  for (const Candidate& x : c) max = std::max(max, x.logit);
  // p_i >= min_p * p_max  <=>  logit_i >= max + log(min_p): no softmax needed. The best token
  // always passes (log(min_p) <= 0).
  const double cut = double(max) + std::log(double(min_p));
  std::erase_if(c, [&](const Candidate& x) { return double(x.logit) < cut; });
}

int32_t Sampler::draw(const std::vector<Candidate>& c, float temperature, float u) {
  TLM_CHECK(!c.empty(), "nothing to draw from");
  float max = c[0].logit;
  for (const Candidate& x : c) max = std::max(max, x.logit);
  const double inv_t = 1.0 / double(temperature);
  double total = 0;
  for (const Candidate& x : c) total += std::exp((double(x.logit) - max) * inv_t);
  const double target = double(u) * total;
  double cum = 0;
  for (const Candidate& x : c) {
    cum += std::exp((double(x.logit) - max) * inv_t);
    if (cum > target) return x.id;
  }
  return c.back().id;  // u * total rounded up to total
}

int32_t Sampler::sample(const float* logits, std::span<const int32_t> history) {
  const float* l = logits;
  if (opt_.repeat_penalty != 1.0f && opt_.repeat_last_n != 0) {
    std::copy(logits, logits + n_vocab_, logits_.begin());
    apply_repeat_penalty(logits_.data(), n_vocab_, history, opt_.repeat_penalty, opt_.repeat_last_n, seen_);
    l = logits_.data();
  }
  if (opt_.greedy()) return argmax(l, n_vocab_);

  cand_.clear();
  for (int i = 0; i < n_vocab_; i++) cand_.push_back({l[i], i});
  apply_top_k(cand_, opt_.top_k);
  apply_top_p(cand_, opt_.top_p);
  apply_min_p(cand_, opt_.min_p);
  return draw(cand_, opt_.temperature, rng_.uniform());
}

}  // namespace tlm
