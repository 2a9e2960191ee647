// `tweetlm eval`: `ppl` (loss, perplexity and bits per byte of a checkpoint on a shard split or
// on a plain text file, one tweet per line, tokenized on the fly) and `tweeteval` (the TweetEval
// benchmark: apps/eval/tweeteval.h). Each subcommand registers here.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <unistd.h>
#include <cstdio>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/check.h"
#include "core/hash.h"
#include "core/file.h"
#include "core/log.h"
#include "core/progress.h"
#include "apps/eval/tweeteval.h"
#include "data/shards.h"
#include "store/model_loader.h"
#include "infer/text_model.h"
#include "io/safetensors.h"
#include "model/llama.h"
#include "store/params_io.h"
#include "tokenizer/tokenize_corpus.h"
#include "tokenizer/tokenizer.h"
#include "store/checkpoint.h"
#include "train/evaluate.h"

namespace tlm::cli {
namespace {

// A temporary shard directory, removed when the command ends.
struct TempDir {
  std::string path;
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
};

// Tokenizes a text file (one tweet per line; empty lines skipped) into a temporary "test" shard
// split: <|endoftext|> first, then every tweet followed by it, as `tokenize` writes a corpus.
std::string text_to_shards(const std::string& path, const Tokenizer& tok, size_t vocab_size) {
  std::ifstream f(path);
  if (!f) throw user_error(path, "cannot open");
  const std::string dir = (std::filesystem::temp_directory_path() /
                           strprintf("tweetlm-ppl-%d-%llx", int(::getpid()), (unsigned long long)std::rand())).string();
  ShardWriter w(dir, "test", std::max(vocab_size, tok.vocab_size()));
  const uint32_t eos = uint32_t(tok.eos_id());
  std::vector<uint32_t> ids = {eos};
  w.add_document(ids);
  std::string line;
  size_t n = 0;
  while (std::getline(f, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    ids.clear();
    tok.encode_ordinary(line, ids);
    ids.push_back(eos);
    w.add_document(ids);
    n++;
  }
  if (n == 0) throw user_error(path, "holds no text (one tweet per line)");
  w.finish();
  return dir;
}

Runner add_ppl(CLI::App& parent) {
  auto* cmd = parent.add_subcommand("ppl", "Loss, perplexity and bits per byte of a checkpoint on a shard split");
  auto model_path = std::make_shared<std::string>();
  auto data = std::make_shared<std::string>();
  auto split = std::make_shared<std::string>("val");
  auto tokens = std::make_shared<uint64_t>(0);
  auto B = std::make_shared<int>(0);
  auto T = std::make_shared<int>(0);
  auto json = std::make_shared<bool>(false);
  cmd->add_option("-m,--model", *model_path, "Checkpoint directory (or a run directory: its newest valid checkpoint)")
      ->required();
  auto text = std::make_shared<std::string>();
  auto* data_opt = cmd->add_option("--data", *data, "Shard directory from 'tweetlm tokenize'");
  auto* text_opt = cmd->add_option("--text", *text, "A text file, one tweet per line, tokenized with the model's tokenizer");
  data_opt->excludes(text_opt);
  cmd->add_option("--split", *split, "Split to evaluate")->capture_default_str()->check(CLI::IsMember({"train", "val", "test"}));
  cmd->add_option("--tokens", *tokens, "Evaluate the first N tokens' windows (default: the whole split)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 60));
  cmd->add_option("-b,--batch", *B, "Sequences per forward pass (default: the training -b)")->check(CLI::Range(1, 1 << 20));
  cmd->add_option("-T,--context", *T, "Window length (default: the training -T)")->check(CLI::Range(2, 1 << 20));
  cmd->add_flag("--json", *json, "Print one JSON object instead of the summary line");
  return [=]() {
    const std::string dir = resolve_checkpoint(*model_path);
    CheckpointInfo info = read_checkpoint(dir);
    const Tokenizer tok = Tokenizer::load(info.tokenizer_path);
    if (data->empty() && text->empty()) throw user_error("eval ppl", "give --data SHARDS or --text FILE");
    TempDir tmp;
    if (!text->empty()) {
      *data = tmp.path = text_to_shards(*text, tok, size_t(info.config.vocab_size));
      *split = "test";
    }
    const ShardMeta meta = text->empty() ? read_shard_meta(*data) : ShardMeta{};
    const std::string vocab_hash = strprintf("%016llx", static_cast<unsigned long long>(tokenizer_fingerprint(tok)));
    if (text->empty() && meta.vocab_xxh3 != vocab_hash)
      throw user_error(*data, "was tokenized with another tokenizer than the checkpoint %s (vocabulary hash %s vs %s)",
                       dir.c_str(), meta.vocab_xxh3.c_str(), vocab_hash.c_str());
    const nlohmann::json& opts = info.state.contains("options") ? info.state["options"] : nlohmann::json::object();
    int t = *T ? *T : opts.value("context", info.config.max_seq_len);
    int b = *B ? *B : opts.value("batch", 8);
    if (t > info.config.max_seq_len)
      throw user_error("-T", "%d is longer than the model's context of %d", t, info.config.max_seq_len);
    TokenDataset ds(*data, *split);
    if (uint64_t(ds.vocab_size()) > uint64_t(info.config.vocab_size))
      throw user_error(*data, "token ids go up to %u but the model's vocabulary is %d", ds.vocab_size(),
                       info.config.vocab_size);
    auto windows = eval_windows(ds, t, *tokens);
    if (windows.empty())
      throw user_error(*data, "the %s split has %llu tokens: no window of -T %d + 1", split->c_str(),
                       static_cast<unsigned long long>(ds.size()), t);
    Llama model(info.config, b, t);
    load_params(SafetensorsFile(info.model_path), model.layout(), model.params());
    const auto lengths = token_byte_lengths(tok, size_t(info.config.vocab_size));
    // evaluate() over a loss function that also moves the progress line (tokens scored, rate, ETA).
    Progress progress("eval ppl", double(windows.size()) * double(t));
    double scored = 0;
    auto nats = [&](const Batch& batch) {
      model.forward(batch);
      const float* losses = model.losses();
      double sum = 0;  // in token order, as evaluate(model, ...) sums
      for (size_t i = 0; i < batch.targets.size(); ++i)
        if (batch.targets[i] >= 0) sum += double(losses[i]);
      progress.update(scored += double(batch.targets.size()), "tokens");
      return sum;
    };
    EvalResult r = evaluate(BatchNats(nats), ds, windows, b, t, int32_t(tok.eos_id()), &lengths);
    progress.finish(strprintf("%llu windows", static_cast<unsigned long long>(r.windows)));
    if (*json) {
      nlohmann::ordered_json j = {{"checkpoint", dir},     {"step", info.step},         {"data", text->empty() ? *data : *text},
                                  {"split", *split},       {"context", t},              {"windows", r.windows},
                                  {"tokens", r.tokens},    {"bytes", r.bytes},          {"loss", r.loss},
                                  {"perplexity", r.perplexity()}, {"bits_per_byte", r.bits_per_byte()}};
      std::printf("%s\n", j.dump().c_str());
    } else {
      const std::string on = text->empty() ? *data + "/" + *split : *text;
      std::printf("%s (step %lld) on %s: loss %.4f | perplexity %.3f | bits/byte %.4f | %llu tokens, %llu bytes\n",
                  dir.c_str(), static_cast<long long>(info.step), on.c_str(), r.loss, r.perplexity(),
                  r.bits_per_byte(), static_cast<unsigned long long>(r.tokens), static_cast<unsigned long long>(r.bytes));
    }
    return 0;
  };
}

Runner add_tweeteval(CLI::App& parent) {
  auto* cmd = parent.add_subcommand("tweeteval", "The TweetEval benchmark: a linear probe over the model's features, "
                                                  "a TF-IDF baseline, the published rows");
  auto model_path = std::make_shared<std::string>();
  auto data = std::make_shared<std::string>();
  auto tasks = std::make_shared<std::vector<std::string>>();
  auto json_path = std::make_shared<std::string>();
  auto json_stdout = std::make_shared<bool>(false);
  auto max_train = std::make_shared<size_t>(0);
  auto batch = std::make_shared<int>(32);
  auto no_baseline = std::make_shared<bool>(false);
  cmd->add_option("-m,--model", *model_path, "Model: checkpoint, run directory, HF directory or .gguf (omit: baseline only)");
  cmd->add_option("--data", *data, "TweetEval folder (<task>/{train,val,test}_{text,labels}.txt)")->required();
  cmd->add_option("--tasks", *tasks, "Tasks to run (default: all seven)")
      ->delimiter(',')
      ->check(CLI::IsMember(apps::tweeteval_tasks()));
  // --json means "JSON to stdout" in every command; the file is --json-out.
  cmd->add_option("--json-out", *json_path, "Also write the scores as JSON to FILE (what serve --eval reads)");
  cmd->add_flag("--json", *json_stdout, "Print the scores as JSON to stdout instead of the table");
  cmd->add_option("--max-train", *max_train, "Use at most N training rows per task (quick runs)");
  cmd->add_option("-b,--batch", *batch, "Tweets per forward pass")->capture_default_str()->check(CLI::Range(1, 1024));
  cmd->add_flag("--no-baseline", *no_baseline, "Skip the TF-IDF baseline");
  return [=]() {
    apps::TweetEvalOptions opt;
    opt.tasks = *tasks;
    opt.max_train = *max_train;
    opt.baseline = !*no_baseline;
    if (model_path->empty() && !opt.baseline) throw user_error("eval tweeteval", "nothing to do: no --model and --no-baseline");
    std::optional<LoadedModel> lm;
    std::unique_ptr<LocalTextModel> tm;
    std::string name = "(none)";
    if (!model_path->empty()) {
      lm = load_model(*model_path);
      tm = std::make_unique<LocalTextModel>(*lm->model, lm->tokenizer, *batch);
      const ModelConfig& c = lm->model->config();
      name = strprintf("%.1fM", double(c.num_params()) / 1e6);
    }
    const auto results = apps::run_tweeteval(*data, tm.get(), opt, [](const apps::TaskResult& r) {
      std::string line = strprintf("tweeteval %s (%s):", r.task.c_str(), r.metric.c_str());
      if (!r.probe.features.empty())
        line += strprintf(" probe test %.1f (%s)", 100 * r.probe.test, r.probe.features.c_str());
      if (!r.baseline.features.empty()) line += strprintf(" | TF-IDF test %.1f", 100 * r.baseline.test);
      log_info("%s | %.0f s", line.c_str(), r.seconds);
    });
    const std::string json_text = apps::tweeteval_json(results, name).dump(2) + "\n";
    if (*json_stdout) std::fputs(json_text.c_str(), stdout);
    else std::printf("%s", apps::tweeteval_table(results, name).c_str());
    if (!json_path->empty()) atomic_write_file(*json_path, json_text);
    return 0;
  };
}

}  // namespace

Runner add_eval(CLI::App& app) {
  auto* cmd = app.add_subcommand("eval", "Evaluate a model: ppl (loss, perplexity, bits per byte), tweeteval (the TweetEval benchmark)");
  cmd->require_subcommand(1);
  auto subs = std::make_shared<std::vector<std::pair<CLI::App*, Runner>>>();
  for (auto add : {add_ppl, add_tweeteval}) {
    Runner r = add(*cmd);
    subs->emplace_back(cmd->get_subcommands({}).back(), std::move(r));
  }
  return [subs]() {
    for (auto& [sub, run] : *subs)
      if (sub->parsed()) return run();
    return 2;
  };
}

}  // namespace tlm::cli
