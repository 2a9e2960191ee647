// Ad copy generation, filtering and ranking (see ad_copy.h).
#include "apps/ads/ad_copy.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "apps/ads/ad_text.h"
#include "apps/ads/tweet_length.h"
#include "core/check.h"

namespace tlm::apps {

namespace {

std::string collapse(std::string_view s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string ad_prompt(const std::string& product, const std::vector<std::string>& keywords) {
  std::string p = collapse(product);
  for (const std::string& kw : keywords) {
    std::string tag;
    for (char c : kw)
      if (c != ' ' && c != '\t' && c != '#') tag.push_back(c);
    if (!tag.empty()) p += " #" + tag;
  }
  return p;
}

void validate(const CopyOptions& opt) {
  if (collapse(opt.product).empty()) throw user_error("product", "must be a non-empty string");
  if (opt.n < 1 || opt.n > 100) throw user_error("n", "must be from 1 to 100 (got %d)", opt.n);
  if (opt.candidates < 0 || opt.candidates > 1000)
    throw user_error("candidates", "must be from 1 to 1000 (got %d)", opt.candidates);
  if (!(opt.temperature >= 0 && opt.temperature <= 5))
    throw user_error("temperature", "must be from 0 to 5 (got %g)", double(opt.temperature));
  if (opt.max_tokens < 1) throw user_error("max_tokens", "must be at least 1");
  for (const std::string& kw : opt.keywords)
    if (match_words(kw).empty()) throw user_error("keywords", "'%s' has no words", kw.c_str());
  const std::string prompt = ad_prompt(opt.product, opt.keywords);
  if (tweet_length(prompt) >= kMaxTweetLength)
    throw user_error("product", "the prompt (product and keywords) is %d characters, no room for an ad in %d",
                     tweet_length(prompt), kMaxTweetLength);
}

CopyResult generate_ad_copy(TextModel& model, const SafetyClassifier* classifier, const CopyOptions& opt) {
  validate(opt);
  CopyResult r;
  r.prompt = ad_prompt(opt.product, opt.keywords);
  const int prompt_tokens = int(encode_document(model.tokenizer(), r.prompt, 1 << 30).size());
  // Room in the context after [eos] + prompt; a prompt too long for it is cut by sample().
  const int max_tokens = std::max(1, std::min(opt.max_tokens, model.context() - 1 - prompt_tokens));
  SamplerOptions so;
  so.temperature = opt.temperature;
  so.seed = opt.seed;
  const int candidates = opt.candidates > 0 ? opt.candidates : 4 * opt.n;
  const std::vector<TextSample> samples = model.sample(r.prompt, candidates, max_tokens, so);
  r.sampled = int(samples.size());

  std::vector<AdCopy> kept;
  for (const TextSample& s : samples) {
    const std::string cont = collapse(s.text);
    if (cont.empty() || match_words(cont).empty()) {
      r.empty++;
      continue;
    }
    // BPE continuations usually start with their own space; one is added when not.
    const bool joins = s.text.empty() || s.text[0] == ' ' || s.text[0] == '\n' || s.text[0] == '\t';
    AdCopy a;
    a.text = nfc_normalize(r.prompt + (joins ? " " : "") + cont);
    if (tweet_length(a.text) > kMaxTweetLength) {
      // Cut at a word boundary; an ad whose only cut is inside a word, or that keeps nothing of
      // the continuation, is dropped.
      const std::string cut = truncate_tweet(a.text, kMaxTweetLength);
      const bool at_word = cut.size() < a.text.size() && (a.text[cut.size()] == ' ');
      if (!at_word || match_words(cut).size() <= match_words(r.prompt).size()) {
        r.too_long++;
        continue;
      }
      a.text = cut;
      a.truncated = true;
    }
    a.length = tweet_length(a.text);
    a.logprob = s.logprob;
    a.tokens = s.tokens;
    const int scored = s.tokens + (s.finished ? 1 : 0);
    a.score = scored > 0 ? s.logprob / scored : -INFINITY;
    kept.push_back(std::move(a));
  }
  // Best first; of duplicates the most likely is kept.
  std::stable_sort(kept.begin(), kept.end(), [](const AdCopy& a, const AdCopy& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.text < b.text;
  });
  std::set<std::string> seen;
  std::vector<AdCopy> unique;
  for (AdCopy& a : kept) {
    if (!seen.insert(dedup_key(a.text)).second) {
      r.duplicates++;
      continue;
    }
    unique.push_back(std::move(a));
  }
  kept = std::move(unique);
  if (classifier && !kept.empty()) {
    std::vector<std::string> texts;
    for (const AdCopy& a : kept) texts.push_back(a.text);
    const std::vector<SafetyVerdict> v = classifier->classify(model, texts);
    std::vector<AdCopy> safe;
    for (size_t i = 0; i < kept.size(); i++) {
      kept[i].has_safety = true;
      kept[i].safety = v[i];
      if (v[i].safe()) safe.push_back(std::move(kept[i]));
      else r.unsafe++;
    }
    kept = std::move(safe);
  }
  if (kept.size() > size_t(opt.n)) kept.resize(size_t(opt.n));
  for (const AdCopy& a : kept) r.truncated += a.truncated;
  r.ads = std::move(kept);
  return r;
}

}  // namespace tlm::apps
