// The generation loop (see generate.h): slots, prefill, one sampled token per step, stop rules.
#include "infer/generate.h"

#include <algorithm>
#include <chrono>

#include "core/check.h"
#include "infer/session.h"

namespace tlm {

const char* stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::eos: return "eos";
    case StopReason::max_tokens: return "max_tokens";
    case StopReason::context: return "context";
  }
  return "?";
}

namespace {

struct Slot {
  int64_t prompt = -1;           // index of the prompt being generated; -1: free
  bool prefill = false;          // `feed` is the prompt (not one decoded token)
  std::vector<int32_t> feed;     // tokens to append to the cache at the next step
  std::vector<int32_t> history;  // prompt + generated (the repetition-penalty window)
  Generation gen;
  Sampler sampler;
};

}  // namespace

std::vector<Generation> generate(const Llama& model, const std::vector<std::vector<int32_t>>& prompts,
                                 const GenerateOptions& opt, const GenerateCallbacks& cb, GenerateStats* stats) {
  const ModelConfig& cfg = model.config();
  const int T = opt.ctx_size > 0 ? std::min(opt.ctx_size, cfg.max_seq_len) : cfg.max_seq_len, V = cfg.vocab_size;
  const int n_vocab = opt.n_vocab > 0 ? std::min(opt.n_vocab, V) : V;
  opt.sampling.validate();
  TLM_CHECK(opt.eos_id >= 0 && opt.eos_id < V, "eos id %d outside the vocabulary %d", opt.eos_id, V);
  TLM_CHECK(opt.parallel > 0 && opt.max_rows > 0, "parallel %d, max_rows %d", opt.parallel, opt.max_rows);
  std::vector<Generation> out(prompts.size());
  if (prompts.empty()) return out;

  // The cache only needs room for what can be fed: [eos] + prompt + all but the last generated.
  size_t longest = 0;
  for (size_t i = 0; i < prompts.size(); i++) {
    if (prompts[i].size() + 1 > size_t(T))
      throw user_error(strprintf("prompt %zu", i + 1), "%zu tokens, but the context is %d tokens "
                       "(the leading <|endoftext|> included; the model's is %d)", prompts[i].size(), T, cfg.max_seq_len);
    for (int32_t t : prompts[i])
      if (t < 0 || t >= V) throw user_error(strprintf("prompt %zu", i + 1), "token id %d outside the vocabulary", t);
    longest = std::max(longest, prompts[i].size());
  }
  int64_t need = opt.max_new_tokens < 0 ? T : std::max<int64_t>(int64_t(longest) + opt.max_new_tokens, longest + 1);
  const int max_ctx = int(std::min<int64_t>(need, T));
  const int n_slots = int(std::min<size_t>(size_t(opt.parallel), prompts.size()));
  InferenceSession session(model, n_slots, max_ctx, opt.max_rows);

  std::vector<Slot> slots;
  slots.reserve(n_slots);
  for (int s = 0; s < n_slots; s++) {
    slots.push_back(Slot{-1, false, {}, {}, {}, Sampler(opt.sampling, n_vocab)});
    slots.back().feed.reserve(size_t(max_ctx));
    slots.back().history.reserve(size_t(max_ctx));
  }
  auto finish = [&](Slot& s, StopReason why) {
    s.gen.stop = why;
    out[s.prompt] = std::move(s.gen);
    if (cb.on_done) cb.on_done(size_t(s.prompt), out[s.prompt]);
    s.prompt = -1;
  };

  size_t next = 0;
  std::vector<SeqInput> inputs;
  std::vector<int> input_slot;
  inputs.reserve(n_slots), input_slot.reserve(n_slots);
  GenerateStats st;
  for (;;) {
    for (int si = 0; si < n_slots; si++) {
      Slot& s = slots[si];
      while (s.prompt < 0 && next < prompts.size()) {
        s.prompt = int64_t(next);
        s.prefill = true;
        s.gen = Generation{};
        s.feed.assign(1, opt.eos_id);
        s.feed.insert(s.feed.end(), prompts[next].begin(), prompts[next].end());
        s.history.assign(prompts[next].begin(), prompts[next].end());
        s.sampler.set_stream(opt.first_stream + next);
        session.reset(si);
        ++next;
        if (opt.max_new_tokens == 0) finish(s, StopReason::max_tokens);
      }
    }
    inputs.clear(), input_slot.clear();
    int64_t prefill_rows = 0, rows = 0;
    for (int si = 0; si < n_slots; si++) {
      Slot& s = slots[si];
      if (s.prompt < 0) continue;
      inputs.push_back({si, s.feed.data(), int(s.feed.size())});
      input_slot.push_back(si);
      rows += int64_t(s.feed.size());
      if (s.prefill) prefill_rows += int64_t(s.feed.size());
    }
    if (inputs.empty()) break;

    auto t0 = std::chrono::steady_clock::now();
    const float* logits = session.forward(inputs);
    for (size_t k = 0; k < inputs.size(); k++) {
      Slot& s = slots[input_slot[k]];
      const int32_t tok = s.sampler.sample(logits + k * size_t(V), s.history);
      ++st.sampled_tokens;
      s.prefill = false;
      if (tok == opt.eos_id) {
        finish(s, StopReason::eos);
        continue;
      }
      s.gen.tokens.push_back(tok);
      s.history.push_back(tok);
      if (cb.on_token) cb.on_token(size_t(s.prompt), tok);
      if (opt.max_new_tokens >= 0 && int64_t(s.gen.tokens.size()) >= opt.max_new_tokens)
        finish(s, StopReason::max_tokens);
      else if (session.length(input_slot[k]) >= max_ctx)
        finish(s, StopReason::context);
      else
        s.feed.assign(1, tok);
    }
    double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    st.prompt_tokens += prefill_rows;
    st.prompt_seconds += dt * double(prefill_rows) / double(rows);
    st.generate_seconds += dt * double(rows - prefill_rows) / double(rows);
  }
  if (stats) *stats = st;
  return out;
}

}  // namespace tlm
