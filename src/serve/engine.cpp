// The engine loop (see engine.h): admit queued choices into free slots, one batched forward
// per step over every busy slot, sample, stream text, free finished slots.
#include "serve/engine.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/check.h"
#include "core/log.h"
#include "infer/session.h"
#include "infer/text_stream.h"
#include "serve/stop_text.h"

namespace tlm::serve {

using Clock = std::chrono::steady_clock;

// ------------------------------------------------------------------------- RequestStream

void RequestStream::post(Event e) {
  {
    std::lock_guard lock(mu_);
    if (!e.finish.empty() || !e.error.empty() || !e.embedding.empty()) open_--;
    events_.push_back(std::move(e));
  }
  cv_.notify_one();
}

std::optional<Event> RequestStream::next(int timeout_ms) {
  std::unique_lock lock(mu_);
  // A stream whose last event was read has nothing more to wait for: return at once, or every
  // streamed response would end (data: [DONE]) a whole timeout after its last token.
  cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return !events_.empty() || open_ <= 0; });
  if (events_.empty()) return std::nullopt;
  Event e = std::move(events_.front());
  events_.pop_front();
  return e;
}

bool RequestStream::finished() const {
  std::lock_guard lock(mu_);
  return open_ <= 0 && events_.empty();
}

// ------------------------------------------------------------------------- engine state

struct Engine::Job {
  bool embed = false;
  GenerateSpec gen;
  EmbedSpec emb;
  std::shared_ptr<RequestStream> stream;
  int total = 0;        // choices (generation) or inputs (embeddings)
  int next_choice = 0;  // choices handed to slots so far
  Clock::time_point arrival = Clock::now();
  bool first_token = false;  // time to first token recorded
};

struct Engine::Slot {
  std::shared_ptr<Job> job;  // null: free
  int choice = 0;
  std::vector<int32_t> prompt;   // [eos] + prompt tokens
  size_t fed = 0;                // prompt tokens already in the cache
  int32_t next_token = 0;        // decoding: the token to feed next
  std::vector<int32_t> history;  // prompt + generated (repetition penalty window)
  std::unique_ptr<Sampler> sampler;
  std::unique_ptr<TextStream> text;
  StopText stop;
  int generated = 0;
  bool prefilling() const { return fed < prompt.size(); }
};

struct Engine::State {
  State(const Llama& model, int parallel, int ctx_size, int max_rows)
      : session(model, parallel + 1, ctx_size, max_rows), slots(size_t(parallel)) {}
  InferenceSession session;  // slots [0, parallel) generate; slot `parallel` embeds
  std::vector<Slot> slots;
  std::vector<SeqInput> inputs;
  std::vector<int> input_slot;
  std::vector<int32_t> scratch;  // logprobs: token ids sorted by logit
};

Engine::Engine(const Llama& model, const Tokenizer& tok, const EngineOptions& opt, ServerMetrics& metrics)
    : model_(model), tok_(tok), opt_(opt), metrics_(metrics) {
  TLM_CHECK(opt.parallel > 0 && opt.queue_size > 0 && opt.max_rows > 0, "engine options");
  if (opt_.n_vocab <= 0 || opt_.n_vocab > model.config().vocab_size) opt_.n_vocab = model.config().vocab_size;
  if (opt_.ctx_size <= 0 || opt_.ctx_size > model.config().max_seq_len) opt_.ctx_size = model.config().max_seq_len;
  st_ = std::make_unique<State>(model, opt_.parallel, opt_.ctx_size, opt_.max_rows);
  thread_ = std::thread([this] { loop(); });
}

Engine::~Engine() { stop(); }

bool Engine::submit(const GenerateSpec& spec, std::shared_ptr<RequestStream> stream) {
  auto job = std::make_shared<Job>();
  job->gen = spec;
  job->stream = std::move(stream);
  job->total = int(spec.prompts.size()) * spec.n;
  std::lock_guard lock(mu_);
  if (stopping_ || int(queue_.size()) >= opt_.queue_size) return false;
  queue_.push_back(std::move(job));
  cv_.notify_one();
  return true;
}

bool Engine::submit(const EmbedSpec& spec, std::shared_ptr<RequestStream> stream) {
  auto job = std::make_shared<Job>();
  job->embed = true;
  job->emb = spec;
  job->stream = std::move(stream);
  job->total = int(spec.inputs.size());
  std::lock_guard lock(mu_);
  if (stopping_ || int(queue_.size()) >= opt_.queue_size) return false;
  queue_.push_back(std::move(job));
  cv_.notify_one();
  return true;
}

void Engine::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

// ------------------------------------------------------------------------- the loop

void Engine::loop() {
  for (;;) {
    bool busy = false;
    for (const Slot& s : st_->slots) busy |= bool(s.job);
    {
      std::unique_lock lock(mu_);
      if (!busy) cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) break;
    }
    try {
      admit();
      step();
    } catch (const std::exception& e) {
      // An invariant broke (a bug, not a request): end every running choice rather than hang
      // its client, and keep serving.
      log_error("serve: engine step failed: %s", e.what());
      for (Slot& s : st_->slots)
        if (s.job) finish(s, "cancelled");
    }
  }
  for (Slot& s : st_->slots)
    if (s.job) finish(s, "cancelled");
  std::lock_guard lock(mu_);
  for (auto& job : queue_)
    for (int c = job->next_choice; c < job->total; c++) {
      Event e;
      e.choice = c;
      if (job->embed) e.error = "server shutting down";
      else e.finish = "cancelled";
      job->stream->post(std::move(e));
    }
  queue_.clear();
  metrics_.engine_state(0, 0);
}

void Engine::admit() {
  const int eos = opt_.eos_id;
  std::vector<std::shared_ptr<Job>> embeds;
  {
    std::lock_guard lock(mu_);
    for (size_t si = 0; si < st_->slots.size() && !queue_.empty(); si++) {
      Slot& s = st_->slots[si];
      if (s.job) continue;
      // Skip past embedding jobs (run below) and requests whose client has gone.
      while (!queue_.empty() && (queue_.front()->embed || queue_.front()->stream->cancelled())) {
        std::shared_ptr<Job> j = queue_.front();
        queue_.pop_front();
        if (j->embed) {
          embeds.push_back(j);
          continue;
        }
        for (int c = j->next_choice; c < j->total; c++) {
          Event e;
          e.choice = c;
          e.finish = "cancelled";
          j->stream->post(std::move(e));
          metrics_.choice_done("cancelled");
        }
      }
      if (queue_.empty()) break;
      std::shared_ptr<Job> job = queue_.front();
      const int c = job->next_choice++;
      if (job->next_choice == job->total) queue_.pop_front();
      const GenerateSpec& g = job->gen;
      s.job = job;
      s.choice = c;
      const std::vector<int32_t>& p = g.prompts[size_t(c / g.n)];
      s.prompt.assign(1, eos);
      s.prompt.insert(s.prompt.end(), p.begin(), p.end());
      s.fed = 0;
      s.history = p;
      s.sampler = std::make_unique<Sampler>(g.sampling, opt_.n_vocab, uint64_t(c));
      s.text = std::make_unique<TextStream>(tok_);
      s.stop = StopText(g.stop);
      s.generated = 0;
      st_->session.reset(int(si));
    }
    // Embedding jobs behind the generation ones wait for a free slot no longer than a step.
    for (auto it = queue_.begin(); it != queue_.end();) {
      if ((*it)->embed) embeds.push_back(*it), it = queue_.erase(it);
      else ++it;
    }
  }
  for (auto& j : embeds) run_embeddings(*j);
  publish_state();
}

void Engine::run_embeddings(Job& job) {
  const int C = model_.config().dim, slot = opt_.parallel;
  std::vector<int32_t> seq;
  int64_t tokens = 0;
  for (int i = 0; i < job.total; i++) {
    if (job.stream->cancelled()) {
      Event e;
      e.choice = i;
      e.error = "cancelled";
      job.stream->post(std::move(e));
      continue;
    }
    seq.assign(1, opt_.eos_id);
    const auto& in = job.emb.inputs[size_t(i)];
    seq.insert(seq.end(), in.begin(), in.end());
    SeqInput si{slot, seq.data(), int(seq.size())};
    Event e;
    e.choice = i;
    e.prompt_tokens = int(seq.size());
    if (!job.emb.layers.empty()) {  // raw classifier features
      const float* f = st_->session.features({&si, 1}, job.emb.layers);
      e.embedding.assign(f, f + job.emb.layers.size() * 2 * size_t(C));
      tokens += int64_t(seq.size());
      job.stream->post(std::move(e));
      continue;
    }
    const float* pooled = st_->session.embed({&si, 1});
    e.embedding.assign(pooled, pooled + C);
    // Unit length, as OpenAI's embeddings are: cosine similarity is then a dot product.
    double norm = 0;
    for (float v : e.embedding) norm += double(v) * v;
    const float inv = norm > 0 ? float(1.0 / std::sqrt(norm)) : 0.0f;
    for (float& v : e.embedding) v *= inv;
    tokens += int64_t(seq.size());
    job.stream->post(std::move(e));
  }
  metrics_.tokens(tokens, 0);
}

void Engine::finish(Slot& s, const char* why) {
  Event e;
  e.choice = s.choice;
  e.finish = why;
  if (e.finish != "cancelled") {
    e.text = s.stop.push(s.text->finish());
    e.text += s.stop.flush();
  }
  e.prompt_tokens = int(s.prompt.size());
  e.completion_tokens = s.generated;
  s.job->stream->post(std::move(e));
  metrics_.choice_done(why);
  s.job.reset();
  s.sampler.reset();
  s.text.reset();
}

// Log-probabilities of the chosen token and the k best, from the raw logits (before penalties
// and filters), as OpenAI reports them.
static TokenLogprob token_logprob(const float* logits, int n_vocab, int32_t token, int k, std::vector<int32_t>& ids) {
  float mx = logits[0];
  for (int i = 1; i < n_vocab; i++) mx = std::max(mx, logits[i]);
  double sum = 0;
  for (int i = 0; i < n_vocab; i++) sum += std::exp(double(logits[i] - mx));
  const float lse = mx + float(std::log(sum));
  TokenLogprob out;
  out.token = token;
  out.logprob = logits[token] - lse;
  if (k > 0) {
    ids.resize(static_cast<size_t>(n_vocab));
    for (int i = 0; i < n_vocab; i++) ids[size_t(i)] = i;
    k = std::min(k, n_vocab);
    std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), [&](int32_t a, int32_t b) {
      return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    });
    for (int i = 0; i < k; i++) out.top.push_back({ids[size_t(i)], logits[ids[size_t(i)]] - lse});
  }
  return out;
}

void Engine::step() {
  State& st = *st_;
  for (Slot& s : st.slots)
    if (s.job && s.job->stream->cancelled()) finish(s, "cancelled");

  // Decoding slots feed one token each; prefilling slots share what is left of max_rows.
  st.inputs.clear(), st.input_slot.clear();
  int decoding = 0;
  for (const Slot& s : st.slots) decoding += s.job && !s.prefilling();
  int budget = std::max(opt_.max_rows - decoding, 0);
  bool any_prefill = false;
  for (size_t si = 0; si < st.slots.size(); si++) {
    Slot& s = st.slots[si];
    if (!s.job) continue;
    if (!s.prefilling()) {
      st.inputs.push_back({int(si), &s.next_token, 1});
    } else {
      int take = int(std::min<size_t>(s.prompt.size() - s.fed, size_t(budget)));
      if (take == 0 && decoding == 0 && !any_prefill) take = 1;  // always progress
      if (take == 0) continue;
      st.inputs.push_back({int(si), s.prompt.data() + s.fed, take});
      budget -= take;
      any_prefill = true;
    }
    st.input_slot.push_back(int(si));
  }
  if (st.inputs.empty()) {
    publish_state();  // slots may have been freed by cancellations above
    return;
  }

  const auto t0 = Clock::now();
  const float* logits = st.session.forward(st.inputs);
  int rows = 0;
  for (const SeqInput& in : st.inputs) rows += in.n;
  metrics_.step(std::chrono::duration<double>(Clock::now() - t0).count(), rows);

  const int V = model_.config().vocab_size, ctx = st.session.max_ctx();
  int64_t prompt_tokens = 0, generated = 0;
  for (size_t k = 0; k < st.inputs.size(); k++) {
    Slot& s = st.slots[size_t(st.input_slot[k])];
    const float* row = logits + k * size_t(V);
    if (s.prefilling()) {
      s.fed += size_t(st.inputs[k].n);
      prompt_tokens += st.inputs[k].n;
      if (s.prefilling()) continue;  // more of the prompt next step
    }
    const GenerateSpec& g = s.job->gen;
    const int32_t tok = s.sampler->sample(row, s.history);
    if (!s.job->first_token) {
      s.job->first_token = true;
      metrics_.first_token(std::chrono::duration<double>(Clock::now() - s.job->arrival).count());
    }
    if (std::find(g.stop_tokens.begin(), g.stop_tokens.end(), tok) != g.stop_tokens.end()) {
      finish(s, "stop");
      continue;
    }
    s.generated++, generated++;
    s.history.push_back(tok);
    Event e;
    e.choice = s.choice;
    if (g.logprobs >= 0) e.logprobs.push_back(token_logprob(row, opt_.n_vocab, tok, g.logprobs, st.scratch));
    e.text = s.stop.push(s.text->push(tok));
    const bool stopped = s.stop.stopped();
    if (!e.text.empty() || !e.logprobs.empty()) s.job->stream->post(std::move(e));
    const int slot = st.input_slot[k];
    if (stopped) finish(s, "stop");
    else if (s.generated >= g.max_tokens || st.session.length(slot) >= ctx) finish(s, "length");
    else s.next_token = tok;
  }
  metrics_.tokens(prompt_tokens, generated);
  publish_state();
}

void Engine::publish_state() {
  int busy = 0;
  for (const Slot& s : st_->slots) busy += bool(s.job);
  std::lock_guard lock(mu_);
  metrics_.engine_state(busy, int(queue_.size()));
}

}  // namespace tlm::serve
