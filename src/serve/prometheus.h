// The server's counters, gauges and latency histograms, rendered as Prometheus text at
// GET /metrics. Written by HTTP threads (requests, latencies) and the engine (tokens, slots,
// queue), so everything is behind one mutex: updates are a few per token, far below the cost
// of the forward pass they describe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace tlm::serve {

// Cumulative histogram with fixed upper bounds (Prometheus `le` buckets, +Inf implied).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  // Appends the _bucket/_sum/_count lines of metric `name`.
  void render(std::string& out, const std::string& name) const;
  uint64_t count() const { return count_; }
  // The q-quantile (0..1) estimated from the buckets (upper bound of the bucket it falls in).
  double quantile(double q) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; last = above every bound
  double sum_ = 0;
  uint64_t count_ = 0;
};

class ServerMetrics {
 public:
  ServerMetrics(int slots_total);

  // A request answered (counted by route and status) and, separately, its duration: a streamed
  // or long-polled response ends after its handler returns, so its duration is observed then.
  void request_done(const std::string& route, int status);
  void request_duration(double seconds);
  void first_token(double seconds_since_arrival);
  void tokens(int64_t prompt, int64_t generated);
  void engine_state(int slots_busy, int queue_depth);
  void step(double seconds, int rows);
  void choice_done(const std::string& finish);  // "stop", "length" or "cancelled"

  int slots_busy() const;
  int queue_depth() const;
  std::string prometheus() const;

 private:
  mutable std::mutex mu_;
  int slots_total_, slots_busy_ = 0, queue_depth_ = 0;
  std::map<std::pair<std::string, int>, uint64_t> requests_;  // (route, status) -> count
  std::map<std::string, uint64_t> choices_;                    // finish reason -> count
  int64_t prompt_tokens_ = 0, generated_tokens_ = 0, steps_ = 0, rows_ = 0;
  double busy_seconds_ = 0;
  // Generated tokens over the last seconds, for a tokens/s gauge: (time, cumulative tokens).
  std::vector<std::pair<double, int64_t>> recent_;
  Histogram ttft_, latency_;
};

}  // namespace tlm::serve
