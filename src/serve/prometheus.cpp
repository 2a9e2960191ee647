// Prometheus text exposition of the server's metrics (see prometheus.h).
#include "serve/prometheus.h"

#include <algorithm>
#include <chrono>

#include "core/check.h"

namespace tlm::serve {

namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string num(double v) { return strprintf("%.9g", v); }

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += strprintf("# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double v) {
  size_t b = size_t(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  counts_[b]++;
  sum_ += v;
  count_++;
}

void Histogram::render(std::string& out, const std::string& name) const {
  uint64_t cum = 0;
  for (size_t b = 0; b < bounds_.size(); b++) {
    cum += counts_[b];
    out += strprintf("%s_bucket{le=\"%s\"} %llu\n", name.c_str(), num(bounds_[b]).c_str(), (unsigned long long)cum);
  }
  out += strprintf("%s_bucket{le=\"+Inf\"} %llu\n", name.c_str(), (unsigned long long)count_);
  out += strprintf("%s_sum %s\n%s_count %llu\n", name.c_str(), num(sum_).c_str(), name.c_str(),
                   (unsigned long long)count_);
}

double Histogram::quantile(double q) const {
  if (count_ == 0) return 0;
  const double target = q * double(count_);
  uint64_t cum = 0;
  for (size_t b = 0; b < bounds_.size(); b++) {
    cum += counts_[b];
    if (double(cum) >= target) return bounds_[b];
  }
  return bounds_.empty() ? 0 : bounds_.back();
}

static std::vector<double> latency_bounds() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

ServerMetrics::ServerMetrics(int slots_total)
    : slots_total_(slots_total), ttft_(latency_bounds()), latency_(latency_bounds()) {}

void ServerMetrics::request_done(const std::string& route, int status) {
  std::lock_guard lock(mu_);
  requests_[{route, status}]++;
}

void ServerMetrics::request_duration(double seconds) {
  std::lock_guard lock(mu_);
  latency_.observe(seconds);
}

void ServerMetrics::first_token(double seconds) {
  std::lock_guard lock(mu_);
  ttft_.observe(seconds);
}

void ServerMetrics::tokens(int64_t prompt, int64_t generated) {
  std::lock_guard lock(mu_);
  prompt_tokens_ += prompt;
  generated_tokens_ += generated;
  if (generated > 0) {
    const double t = now_seconds();
    recent_.push_back({t, generated_tokens_});
    // Keep ten seconds of history (and never an unbounded list).
    size_t drop = 0;
    while (drop < recent_.size() && (recent_[drop].first < t - 10 || recent_.size() - drop > 4096)) drop++;
    recent_.erase(recent_.begin(), recent_.begin() + long(drop));
  }
}

void ServerMetrics::engine_state(int slots_busy, int queue_depth) {
  std::lock_guard lock(mu_);
  slots_busy_ = slots_busy;
  queue_depth_ = queue_depth;
}

void ServerMetrics::step(double seconds, int rows) {
  std::lock_guard lock(mu_);
  steps_++;
  rows_ += rows;
  busy_seconds_ += seconds;
}

void ServerMetrics::choice_done(const std::string& finish) {
  std::lock_guard lock(mu_);
  choices_[finish]++;
}

int ServerMetrics::slots_busy() const {
  std::lock_guard lock(mu_);
  return slots_busy_;
}

int ServerMetrics::queue_depth() const {
  std::lock_guard lock(mu_);
  return queue_depth_;
}

std::string ServerMetrics::prometheus() const {
  std::lock_guard lock(mu_);
  std::string out;
  header(out, "tweetlm_requests_total", "counter", "HTTP requests answered, by route and status code.");
  for (const auto& [key, n] : requests_)
    out += strprintf("tweetlm_requests_total{route=\"%s\",code=\"%d\"} %llu\n", key.first.c_str(), key.second,
                     (unsigned long long)n);
  header(out, "tweetlm_choices_total", "counter",
         "Generations ended, by reason (stop, length; cancelled: the client went away).");
  for (const char* f : {"stop", "length", "cancelled"}) {
    auto it = choices_.find(f);
    out += strprintf("tweetlm_choices_total{finish=\"%s\"} %llu\n", f,
                     (unsigned long long)(it == choices_.end() ? 0 : it->second));
  }
  header(out, "tweetlm_prompt_tokens_total", "counter", "Prompt tokens prefilled.");
  out += strprintf("tweetlm_prompt_tokens_total %lld\n", (long long)prompt_tokens_);
  header(out, "tweetlm_generated_tokens_total", "counter", "Tokens generated.");
  out += strprintf("tweetlm_generated_tokens_total %lld\n", (long long)generated_tokens_);
  double rate = 0;
  if (recent_.size() >= 2 && recent_.back().first > recent_.front().first)
    rate = double(recent_.back().second - recent_.front().second) / (recent_.back().first - recent_.front().first);
  if (!recent_.empty() && recent_.back().first < now_seconds() - 10) rate = 0;
  header(out, "tweetlm_tokens_per_second", "gauge", "Generated tokens per second over the last 10 s.");
  out += "tweetlm_tokens_per_second " + num(rate) + "\n";
  header(out, "tweetlm_queue_depth", "gauge", "Requests waiting for a slot.");
  out += strprintf("tweetlm_queue_depth %d\n", queue_depth_);
  header(out, "tweetlm_slots_busy", "gauge", "KV-cache slots generating.");
  out += strprintf("tweetlm_slots_busy %d\n", slots_busy_);
  header(out, "tweetlm_slots_total", "gauge", "KV-cache slots (--parallel).");
  out += strprintf("tweetlm_slots_total %d\n", slots_total_);
  header(out, "tweetlm_engine_steps_total", "counter", "Batched forward steps of the engine.");
  out += strprintf("tweetlm_engine_steps_total %lld\n", (long long)steps_);
  header(out, "tweetlm_engine_rows_total", "counter", "Token rows fed through the model (prefill and decode).");
  out += strprintf("tweetlm_engine_rows_total %lld\n", (long long)rows_);
  header(out, "tweetlm_engine_busy_seconds_total", "counter", "Seconds the engine spent in forward steps.");
  out += "tweetlm_engine_busy_seconds_total " + num(busy_seconds_) + "\n";
  header(out, "tweetlm_time_to_first_token_seconds", "histogram", "From request arrival to its first token.");
  ttft_.render(out, "tweetlm_time_to_first_token_seconds");
  header(out, "tweetlm_request_duration_seconds", "histogram", "From request arrival to the end of its response.");
  latency_.render(out, "tweetlm_request_duration_seconds");
  return out;
}

}  // namespace tlm::serve
