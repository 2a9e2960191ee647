// The server's engine: one thread owns the model and runs continuous batching over a fixed
// number of KV-cache slots (`--parallel`). HTTP threads never touch the model: they submit a
// Request to a bounded queue and read its events back from a RequestStream.
//
// Each step of the loop (1) gives free slots to queued choices, (2) feeds every busy slot, all
// in one InferenceSession::forward: one token for each slot that is decoding, and a chunk of
// the prompt for each slot that is still prefilling (a long prompt is split over steps so it
// never stalls the others' decoding for long), then (3) samples, detokenizes, applies stop
// rules and posts the new text to the request's stream. A finished or cancelled choice frees
// its slot at once and the next queued one joins the running batch on the next step.
//
// Embedding requests are served by the same thread, between steps, through one extra slot.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "infer/sampler.h"
#include "model/llama.h"
#include "serve/prometheus.h"
#include "tokenizer/tokenizer.h"

namespace tlm::serve {

// One generated token's log-probability and the most likely alternatives (OpenAI `logprobs`).
struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0;
  std::vector<std::pair<int32_t, float>> top;  // best first
};

// What the engine posts for a request. Text of one choice arrives in order; every choice ends
// with exactly one event with `finish` set ("stop", "length" or "cancelled").
struct Event {
  int choice = 0;
  std::string text;                     // new text (UTF-8 safe boundaries; may be empty)
  std::vector<TokenLogprob> logprobs;   // one per token behind `text` when asked for
  std::string finish;                   // empty while the choice is running
  int prompt_tokens = 0, completion_tokens = 0;  // set with finish
  std::vector<float> embedding;         // embedding requests: one event per input, choice = index
  std::string error;                    // a request the engine could not serve (a 400 message)
};

// The events of one request, produced by the engine and consumed by one HTTP thread.
class RequestStream {
 public:
  explicit RequestStream(int n_events_expected) : open_(n_events_expected) {}
  void post(Event e);
  // Waits up to `timeout_ms` for the next event; std::nullopt on timeout.
  std::optional<Event> next(int timeout_ms);
  bool finished() const;  // every choice (or input) has ended and all events were read
  // The client went away: the engine stops this request's choices and frees their slots.
  void cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> events_;
  int open_;  // choices or inputs not yet finished
  std::atomic<bool> cancelled_{false};
};

// A generation request after validation (serve/api.h builds it from the JSON body).
struct GenerateSpec {
  std::vector<std::vector<int32_t>> prompts;  // token ids, without the leading <|endoftext|>
  int n = 1;                                  // choices per prompt: choice = prompt * n + j
  SamplerOptions sampling;
  int max_tokens = 16;
  std::vector<std::string> stop;              // stop strings (not included in the text)
  std::vector<int32_t> stop_tokens;           // e.g. <|endoftext|>, <|im_end|> for chat
  int logprobs = -1;                          // -1: none; k >= 0: k alternatives per token
};

struct EmbedSpec {
  std::vector<std::vector<int32_t>> inputs;  // without the leading <|endoftext|>
  // Empty: unit-length embeddings (/v1/embeddings). Else classifier features of these layers
  // (InferenceSession::features, flattened [layers][mean, last][C]) for the apps.
  std::vector<int> layers;
};

struct EngineOptions {
  int parallel = 4;        // KV-cache slots decoded together
  int queue_size = 64;     // requests waiting for a slot before 503
  int max_rows = 256;      // rows per forward step (decode tokens + prefill chunks)
  int ctx_size = 0;        // KV-cache tokens per slot (--ctx-size; 0: the model's context)
  int n_vocab = 0;         // sample among ids < n_vocab (the tokenizer's size)
  int32_t eos_id = 0;
};

class Engine {
 public:
  Engine(const Llama& model, const Tokenizer& tok, const EngineOptions& opt, ServerMetrics& metrics);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Queue a request; false when the queue is full (the caller answers 503).
  bool submit(const GenerateSpec& spec, std::shared_ptr<RequestStream> stream);
  bool submit(const EmbedSpec& spec, std::shared_ptr<RequestStream> stream);
  void stop();  // finishes the loop; queued and running requests end "cancelled"

  int context() const { return opt_.ctx_size; }  // tokens per slot: prompt + generated
  int parallel() const { return opt_.parallel; }

 private:
  struct Job;
  struct Slot;
  void loop();
  void admit();
  void run_embeddings(Job& job);
  void step();
  void finish(Slot& s, const char* why);
  void publish_state();  // slots busy and queue depth -> metrics

  const Llama& model_;
  const Tokenizer& tok_;
  EngineOptions opt_;
  ServerMetrics& metrics_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;  // guarded by mu_
  bool stopping_ = false;

  struct State;
  std::unique_ptr<State> st_;  // owned by the engine thread
  std::thread thread_;
};

}  // namespace tlm::serve
