// `tweetlm generate`: text from a trained model, with llama.cpp's flag names (-m -p -n --temp
// -s --top-k --top-p --min-p --repeat-penalty --repeat-last-n). One prompt streams its text to
// stdout as tokens come (an unfinished UTF-8 character is held back until complete); a file of
// prompts (-f) is generated in parallel and printed one line per prompt, in input order, each
// as soon as it and all before it are done.
#include <chrono>
#include <limits>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/check.h"
#include "core/file.h"
#include "core/log.h"
#include "core/text.h"
#include "core/progress.h"
#include "infer/generate.h"
#include "store/model_loader.h"
#include "infer/text_stream.h"

namespace tlm::cli {

namespace {

struct GenerateArgs {
  std::string model, tokenizer, prompt, file;
  int n_predict = -1;
  int64_t seed = -1;  // -1: drawn from random_device and printed, as llama.cpp does
  int ctx_size = 0;   // -c: KV cache tokens per slot (0, when not given: the model's context)
  bool ctx_given = false;
  bool ids = false;
  SamplerOptions sampling;
  int parallel = 8;
};

// One prompt per line ("-" = stdin); a final newline does not start another (empty) prompt,
// but empty lines inside are prompts: an empty prompt asks for a tweet from scratch.
std::vector<std::string> read_prompt_lines(const std::string& path) {
  std::string text;
  if (path == "-") {
    char buf[1 << 16];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) text.append(buf, n);
  } else {
    if (!path_exists(path)) throw user_error(path, "no such file");
    text = read_file(path);
  }
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(pos, nl - pos);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    pos = nl + 1;
  }
  if (lines.empty()) throw user_error(path, "no prompts (the file is empty)");
  return lines;
}

std::string ids_line(const std::vector<int32_t>& ids) {
  std::string out;
  for (size_t k = 0; k < ids.size(); k++) {
    if (k) out.push_back(' ');
    out += std::to_string(ids[k]);
  }
  return out;
}

int run_generate(const GenerateArgs& a) {
  SamplerOptions sampling = a.sampling;
  if (a.seed < 0) {
    std::random_device rd;
    // Kept below 2^63 so that the printed seed can be given back to -s (an int64).
    sampling.seed = ((uint64_t(rd()) << 32) | rd()) >> 1;
  } else {
    sampling.seed = uint64_t(a.seed);
  }
  sampling.validate();
  const bool batch = !a.file.empty();
  std::vector<std::string> texts = batch ? read_prompt_lines(a.file) : std::vector<std::string>{a.prompt};

  LoadedModel lm = load_model(a.model, a.tokenizer);
  const Tokenizer& tok = lm.tokenizer;
  const ModelConfig& cfg = lm.model->config();
  if (a.ctx_given && (a.ctx_size < 1 || a.ctx_size > cfg.max_seq_len))
    throw user_error("--ctx-size", "%d: must be in [1, %d] (the model's context)", a.ctx_size, cfg.max_seq_len);
  log_info("model: %s: %.1fM parameters, context %d, vocabulary %zu", lm.dir.c_str(),
           double(cfg.num_params()) / 1e6, cfg.max_seq_len, tok.vocab_size());
  // Printed once every input checked out, so an error stays one line.
  log_info("generate: seed %llu (repeat this run with -s %llu)", static_cast<unsigned long long>(sampling.seed),
           static_cast<unsigned long long>(sampling.seed));

  // Prompts are encoded as training data is (encode_ordinary): typed "<|endoftext|>" is text,
  // never a document separator the model would restart at.
  std::vector<std::vector<int32_t>> prompts(texts.size());
  std::vector<uint32_t> ids;
  for (size_t i = 0; i < texts.size(); i++) {
    ids.clear();
    tok.encode_ordinary(texts[i], ids);
    prompts[i].assign(ids.begin(), ids.end());
  }

  GenerateOptions opt;
  opt.sampling = sampling;
  opt.max_new_tokens = a.n_predict;
  opt.parallel = a.parallel;
  opt.ctx_size = a.ctx_size;
  opt.n_vocab = int(tok.vocab_size());
  opt.eos_id = int32_t(tok.eos_id());

  GenerateCallbacks cb;
  TextStream stream(tok);
  auto write = [](std::string_view s) {
    if (!s.empty()) std::fwrite(s.data(), 1, s.size(), stdout);
  };
  bool first_id = true;
  size_t next_print = 0;
  std::map<size_t, Generation> done;  // finished out of order, waiting for earlier prompts
  if (!batch) {
    if (!a.ids) write(texts[0]);
    std::fflush(stdout);
    cb.on_token = [&](size_t, int32_t t) {
      if (a.ids) {
        std::printf(first_id ? "%d" : " %d", t);
        first_id = false;
      } else {
        write(stream.push(t));
      }
      std::fflush(stdout);
    };
  }
  // -f: a progress line over the prompts (stderr; hidden by -q), as the lines come out.
  std::optional<Progress> progress;
  size_t n_done = 0;
  if (batch) {
    progress.emplace("generate", double(texts.size()));
    cb.on_done = [&](size_t i, const Generation& g) {
      progress->update(double(++n_done), "prompts");
      done.emplace(i, g);
      for (auto it = done.find(next_print); it != done.end(); it = done.find(next_print)) {
        std::vector<uint32_t> gen(it->second.tokens.begin(), it->second.tokens.end());
        std::string line = a.ids ? ids_line(it->second.tokens) : one_line(texts[next_print] + tok.decode(gen));
        line.push_back('\n');
        write(line);
        done.erase(it);
        ++next_print;
      }
      std::fflush(stdout);
    };
  }

  GenerateStats st;
  auto t0 = std::chrono::steady_clock::now();
  generate(*lm.model, prompts, opt, cb, &st);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!batch) {
    if (!a.ids) write(stream.finish());
    write("\n");
  } else {
    progress->finish(strprintf("%zu prompts", texts.size()));
  }
  std::fflush(stdout);
  if (!a.ids && log_enabled(LogLevel::info)) {
    auto rate = [](double n, double s) { return s > 0 ? n / s : 0.0; };
    std::fprintf(stderr, "generate: %zu prompt%s, %lld prompt tokens (%.1f tokens/s), %lld tokens sampled "
                 "(%.1f tokens/s), %.2f s\n", prompts.size(), prompts.size() == 1 ? "" : "s",
                 static_cast<long long>(st.prompt_tokens), rate(double(st.prompt_tokens), st.prompt_seconds),
                 static_cast<long long>(st.sampled_tokens), rate(double(st.sampled_tokens), st.generate_seconds),
                 secs);
  }
  return 0;
}

}  // namespace

Runner add_generate(CLI::App& app) {
  auto* cmd = app.add_subcommand("generate", "Generate text from a trained model (KV cache, llama.cpp-style sampling)");
  auto a = std::make_shared<GenerateArgs>();
  SamplerOptions& s = a->sampling;
  cmd->add_option("-m,--model", a->model,
                  "Checkpoint directory, training output directory (its newest valid checkpoint) or model "
                  "directory (model.safetensors, config.json, tokenizer.json), or a GGUF file (llama, f32/f16/bf16)")
      ->required();
  auto* prompt = cmd->add_option("-p,--prompt", a->prompt, "Text to continue (default: empty, a tweet from scratch)");
  cmd->add_option("-f,--file", a->file, "Prompts, one per line (- for stdin), generated together; one output line each")
      ->excludes(prompt);
  cmd->add_option("-n,--n-predict", a->n_predict, "Most tokens to generate per prompt (-1: until <|endoftext|> or "
                  "the context is full)")
      ->capture_default_str()->check(CLI::Range(-1, 1 << 30));
  cmd->add_option("--temp", s.temperature, "Temperature (0: greedy)")->capture_default_str();
  cmd->add_option("-s,--seed", a->seed, "Random seed (default -1: a random one, printed so the run can be repeated)")
      ->capture_default_str()->check(CLI::Range(int64_t{-1}, std::numeric_limits<int64_t>::max()));
  auto* ctx = cmd->add_option("-c,--ctx-size", a->ctx_size,
                              "KV cache tokens per sequence: prompt + generated (default: the model's context)");
  cmd->add_option("--top-k", s.top_k, "Keep the k most likely tokens (0: off)")->capture_default_str();
  cmd->add_option("--top-p", s.top_p, "Nucleus sampling: keep the most likely tokens up to this probability (1: off)")
      ->capture_default_str();
  cmd->add_option("--min-p", s.min_p, "Drop tokens less likely than this fraction of the best one (0: off)")
      ->capture_default_str();
  cmd->add_option("--repeat-penalty", s.repeat_penalty, "Penalise tokens of the last --repeat-last-n (1: off)")
      ->capture_default_str();
  cmd->add_option("--repeat-last-n", s.repeat_last_n, "Tokens the penalty looks back on (0: off, -1: all)")
      ->capture_default_str();
  cmd->add_flag("--ids", a->ids, "Print the generated token ids on one line instead of text");
  cmd->add_option("--tokenizer", a->tokenizer, "tokenizer.json to use instead of the model directory's");
  cmd->add_option("--parallel", a->parallel, "Prompts of -f decoded together (KV cache slots)")
      ->capture_default_str()->check(CLI::Range(1, 4096));
  return [a, ctx] {
    a->ctx_given = ctx->count() > 0;
    return run_generate(*a);
  };
}

}  // namespace tlm::cli
