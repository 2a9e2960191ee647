// The model of a training benchmark row (bench/train_cpu, bench/train_cuda): a Llama with full
// multi-head attention, given by vocabulary, context, width, depth, heads, MLP width and batch;
// and the run of a Python peer on it (its last output line is one JSON object).
#pragma once

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "bench_util.h"
#include "model/config.h"

namespace tlm::bench {

struct BenchModel {
  std::string name;
  int V, T, C, L, H, F, B;
};

inline ModelConfig model_config(const BenchModel& b) {
  ModelConfig c;
  c.vocab_size = b.V, c.max_seq_len = b.T, c.dim = b.C, c.n_layers = b.L, c.n_heads = b.H, c.n_kv_heads = b.H;
  c.head_dim = b.C / b.H, c.ffn_dim = b.F;
  return c;
}

// Runs `python peer --V .. --T .. --C .. --L .. --H .. --F .. --B .. <extra>` and returns the
// JSON object it printed last, or {"error": ...} with its output.
inline nlohmann::json run_peer_script(const std::string& python, const std::string& script, const BenchModel& b,
                                      const std::string& extra) {
  std::ostringstream cmd;
  cmd << python << " " << shell_quote(script) << " --V " << b.V << " --T " << b.T << " --C " << b.C << " --L " << b.L
      << " --H " << b.H << " --F " << b.F << " --B " << b.B << " " << extra;
  std::string out;
  const int rc = run_capture(cmd.str(), &out);
  const size_t brace = out.rfind('{');
  nlohmann::json j = brace == std::string::npos ? nlohmann::json()
                                                : nlohmann::json::parse(out.substr(brace), nullptr, false);
  if (rc != 0 || j.is_discarded() || j.is_null()) return nlohmann::json{{"error", "peer failed: " + out}};
  return j;
}

}  // namespace tlm::bench
