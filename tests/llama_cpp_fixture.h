// Shared by the export tests (test_export_gguf, test_export_quant, test_export_hf): their suite's
// directory, running
// tests/node/llama_cpp_generate.js (the pinned npm client node-llama-cpp) on a GGUF file, our own
// greedy continuation of the same prompts, and teacher-forced logits of a token sequence.
// Without node or the client the callers FAIL (node_client_problem("node-llama-cpp") names scripts/setup.sh).
#pragma once

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/file.h"
#include "fixtures.h"
#include "infer/generate.h"
#include "store/model_loader.h"
#include "model/batch.h"
#include "model/llama.h"
#include "train_fixture.h"

namespace tlm::testing {

// The export suites' shared directory: SetUpTestSuite of `Suite` calls make_dir() and fills it
// (train_tiny_run, random models, exports); run() runs tweetlm with its output there.
template <typename Suite>
class ExportSuite : public ::testing::Test {
 protected:
  static const std::string& make_dir() {
    tmp_ = new TempDir();
    return tmp_->path();
  }
  static void TearDownTestSuite() {
    delete tmp_;
    tmp_ = nullptr;
  }
  static RunResult run(const std::vector<std::string>& args) { return run_program(tweetlm(args), tmp_->path()); }
  static std::string dir(const std::string& m) { return tmp_->path() + "/" + m; }
  static std::string gguf(const std::string& m, const std::string& t) { return tmp_->path() + "/" + m + "-" + t + ".gguf"; }
  static inline TempDir* tmp_ = nullptr;
};

struct LlamaOut {
  std::vector<std::vector<int32_t>> tokens, generated;
};

// llama.cpp on one file: the tokens of each text and n greedy tokens after [BOS] + text.
inline LlamaOut llama_cpp(const std::string& file, const std::vector<std::string>& texts, int n,
                          const std::string& work_dir) {
  static int call = 0;
  const std::string in = work_dir + "/llama" + std::to_string(call) + ".in.jsonl",
                    out = work_dir + "/llama" + std::to_string(call) + ".out.jsonl";
  call++;
  std::string lines;
  for (const std::string& p : texts) lines += nlohmann::json(p).dump() + "\n";
  write_file(in, lines);
  auto r = run_program({"node", repo_root() + "/tests/node/llama_cpp_generate.js", file, in, out, std::to_string(n)},
                       work_dir, {{"UV_THREADPOOL_SIZE", "1"}});
  if (r.rc != 0) throw std::runtime_error("llama_cpp_generate.js failed (" + std::to_string(r.rc) + "): " + r.err);
  LlamaOut o;
  std::istringstream s(slurp(out));
  for (std::string line; std::getline(s, line);) {
    nlohmann::json j = nlohmann::json::parse(line);
    o.tokens.push_back(j["tokens"].get<std::vector<int32_t>>());
    o.generated.push_back(j["generated"].get<std::vector<int32_t>>());
  }
  if (o.tokens.size() != texts.size()) throw std::runtime_error("llama_cpp_generate.js: wrong number of results");
  return o;
}

inline std::vector<std::vector<int32_t>> encode_all(const Tokenizer& tok, const std::vector<std::string>& texts) {
  std::vector<std::vector<int32_t>> out;
  for (const std::string& p : texts) {
    std::vector<uint32_t> e;
    tok.encode_ordinary(p, e);
    out.emplace_back(e.begin(), e.end());
  }
  return out;
}

// Our greedy continuation of [BOS] + prompt, n tokens; a sampled <|endoftext|> is kept as the
// last token (llama.cpp does not stop there, so comparisons stop at it).
inline std::vector<std::vector<int32_t>> our_greedy(const LoadedModel& lm, const std::vector<std::string>& texts, int n) {
  GenerateOptions o;
  o.sampling.temperature = 0.0f;
  o.max_new_tokens = n;
  o.n_vocab = int(lm.tokenizer.vocab_size());
  o.eos_id = int32_t(lm.tokenizer.eos_id());
  std::vector<std::vector<int32_t>> out;
  for (const Generation& g : generate(*lm.model, encode_all(lm.tokenizer, texts), o)) {
    out.push_back(g.tokens);
    if (g.stop == StopReason::eos) out.back().push_back(o.eos_id);
  }
  return out;
}

// Our logits [tokens.size(), n_vocab] for one sequence read as one document (an <|endoftext|>
// inside does not restart attention, as in llama.cpp's single sequence).
inline std::vector<float> our_logits(const LoadedModel& lm, const std::vector<int32_t>& tokens) {
  const ModelConfig& c = lm.model->config();
  const int T = int(tokens.size());
  Llama m(c, 1, T);
  std::copy(lm.model->params(), lm.model->params() + lm.model->num_params(), m.params());
  Batch b;
  b.resize(1, T);
  b.tokens = tokens;
  std::fill(b.targets.begin(), b.targets.end(), -1);
  b.compute_documents(-1);
  m.forward(b, false);
  return std::vector<float>(m.logits(), m.logits() + size_t(T) * size_t(c.vocab_size));
}

}  // namespace tlm::testing
