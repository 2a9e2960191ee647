// `tweetlm eval ppl`: loss, perplexity and bits per byte of a checkpoint on a shard split. The
// `eval` family grows in later issues (TweetEval tasks); each subcommand registers here.
#include <cmath>
#include <cstdio>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/check.h"
#include "core/hash.h"
#include "core/log.h"
#include "io/safetensors.h"
#include "model/llama.h"
#include "model/params_io.h"
#include "tokenizer/tokenize_corpus.h"
#include "tokenizer/tokenizer.h"
#include "train/checkpoint.h"
#include "train/evaluate.h"

namespace tlm::cli {
namespace {

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
  cmd->add_option("--data", *data, "Shard directory from 'tweetlm tokenize'")->required();
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
    const ShardMeta meta = read_shard_meta(*data);
    const std::string vocab_hash = strprintf("%016llx", static_cast<unsigned long long>(tokenizer_fingerprint(tok)));
    if (meta.vocab_xxh3 != vocab_hash)
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
    EvalResult r = evaluate(model, ds, windows, b, t, int32_t(tok.eos_id()), &lengths);
    if (*json) {
      nlohmann::ordered_json j = {{"checkpoint", dir},     {"step", info.step},         {"data", *data},
                                  {"split", *split},       {"context", t},              {"windows", r.windows},
                                  {"tokens", r.tokens},    {"bytes", r.bytes},          {"loss", r.loss},
                                  {"perplexity", r.perplexity()}, {"bits_per_byte", r.bits_per_byte()}};
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf("%s (step %lld) on %s/%s: loss %.4f | perplexity %.3f | bits/byte %.4f | %llu tokens, %llu bytes\n",
                  dir.c_str(), static_cast<long long>(info.step), data->c_str(), split->c_str(), r.loss, r.perplexity(),
                  r.bits_per_byte(), static_cast<unsigned long long>(r.tokens), static_cast<unsigned long long>(r.bytes));
    }
    return 0;
  };
}

}  // namespace

Runner add_eval(CLI::App& app) {
  auto* cmd = app.add_subcommand("eval", "Evaluate a checkpoint: ppl (loss, perplexity, bits per byte)");
  cmd->require_subcommand(1);
  auto subs = std::make_shared<std::vector<std::pair<CLI::App*, Runner>>>();
  Runner r = add_ppl(*cmd);
  subs->emplace_back(cmd->get_subcommands({}).back(), std::move(r));
  return [subs]() {
    for (auto& [sub, run] : *subs)
      if (sub->parsed()) return run();
    return 2;
  };
}

}  // namespace tlm::cli
