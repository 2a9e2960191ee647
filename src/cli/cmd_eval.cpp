// `tweetlm eval`: `ppl` (loss, perplexity and bits per byte of any model load_model reads, on
// shard splits and on texts tokenized on the fly, side by side) and `tweeteval` (the TweetEval
// benchmark: apps/eval/tweeteval.h). Each subcommand registers here.
#include <cmath>
#include <algorithm>
#include <cstdio>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/check.h"
#include "core/hash.h"
#include "core/file.h"
#include "core/log.h"
#include "core/json.h"
#include "core/progress.h"
#include "data/corpus.h"
#include "apps/eval/tweeteval.h"
#include "data/shards.h"
#include "store/model_loader.h"
#include "infer/text_model.h"
#include "model/llama.h"
#include "tokenizer/tokenize_corpus.h"
#include "tokenizer/tokenizer.h"
#include "train/evaluate.h"

namespace tlm::cli {
namespace {

// One dataset of `eval ppl`: a shard split, or text tokenized on the fly with the model's
// tokenizer (<|endoftext|> first, then every tweet followed by it, as `tokenize` writes a corpus).
struct PplData {
  std::string path;   // the --data directory or the --text path
  std::string split;  // the shard split ("" for text)
  TokenDataset data;
  std::string name() const { return split.empty() ? path : path + "/" + split; }
};

struct PplRow {
  std::string path, split;
  EvalResult r;
};

// One line per dataset (and a table when there are several), or one JSON object per dataset.
void print_ppl(const std::vector<PplRow>& rows, const std::string& model, int64_t step, int T, bool json) {
  const std::string at = step >= 0 ? strprintf(" (step %lld)", static_cast<long long>(step)) : "";
  for (const PplRow& row : rows) {
    const EvalResult& r = row.r;
    if (json) {
      nlohmann::ordered_json j = {{"checkpoint", model}, {"step", step >= 0 ? nlohmann::ordered_json(step) : nullptr},
                                  {"data", row.path}};
      if (!row.split.empty()) j["split"] = row.split;
      j.update({{"context", T}, {"windows", r.windows}, {"tokens", r.tokens}, {"bytes", r.bytes}, {"loss", r.loss},
                {"perplexity", r.perplexity()}, {"bits_per_byte", r.bits_per_byte()}});
      std::printf("%s\n", j.dump().c_str());
    } else if (rows.size() == 1) {
      const std::string on = row.split.empty() ? row.path : row.path + "/" + row.split;
      std::printf("%s%s on %s: loss %.4f | perplexity %.3f | bits/byte %.4f | %llu tokens, %llu bytes\n", model.c_str(),
                  at.c_str(), on.c_str(), r.loss, r.perplexity(), r.bits_per_byte(),
                  static_cast<unsigned long long>(r.tokens), static_cast<unsigned long long>(r.bytes));
    }
  }
  if (json || rows.size() == 1) return;
  std::printf("%s%s, -T %d\n%-40s %12s %8s %11s %9s\n", model.c_str(), at.c_str(), T, "data", "tokens", "loss",
              "perplexity", "bits/byte");
  for (const PplRow& row : rows) {
    const std::string on = row.split.empty() ? row.path : row.path + "/" + row.split;
    std::printf("%-40s %12llu %8.4f %11.3f %9.4f\n", on.c_str(), static_cast<unsigned long long>(row.r.tokens),
                row.r.loss, row.r.perplexity(), row.r.bits_per_byte());
  }
}

PplData text_data(const std::string& path, const std::string& split, const Tokenizer& tok, size_t vocab_size) {
  const uint32_t eos = uint32_t(tok.eos_id());
  std::vector<uint32_t> ids = {eos};
  size_t tweets = 0;
  // A prepared folder gives its --split; a file is read whole.
  for_each_record(corpus_files(path, {split}), [&](CorpusRecord&& r) {
    tok.encode_ordinary(r.text, ids);
    ids.push_back(eos);
    ++tweets;
  });
  if (tweets == 0) throw user_error(path, "holds no text (one tweet per line)");
  return {path, "", TokenDataset::from_tokens(std::move(ids), uint32_t(std::max(vocab_size, tok.vocab_size())), path)};
}

PplData shard_data(const std::string& dir, const std::string& split, const Tokenizer& tok, const std::string& model) {
  const ShardMeta meta = read_shard_meta(dir);
  const std::string vocab_hash = strprintf("%016llx", static_cast<unsigned long long>(tokenizer_fingerprint(tok)));
  if (meta.vocab_xxh3 != vocab_hash)
    throw user_error(dir, "was tokenized with another tokenizer than the model %s (vocabulary hash %s vs %s)",
                     model.c_str(), meta.vocab_xxh3.c_str(), vocab_hash.c_str());
  return {dir, split, TokenDataset(dir, split)};
}

// The model's training -T and -b when it is a checkpoint (state.json "options"), so that `eval
// ppl` scores the windows the run's own validation scored; else its context (at most 1024) and 8.
std::pair<int, int> default_window(const std::string& dir, const ModelConfig& cfg, int64_t& step) {
  const std::string state_path = path_join(dir, "state.json");
  nlohmann::json opts = nlohmann::json::object();
  step = -1;
  if (path_exists(state_path)) {
    const nlohmann::json state = read_json_file(state_path);
    if (state.contains("options") && state["options"].is_object()) opts = state["options"];
    if (state.contains("step") && state["step"].is_number_integer()) step = state["step"].get<int64_t>();
  }
  return {opts.value("context", std::min(cfg.max_seq_len, 1024)), opts.value("batch", 8)};
}

Runner add_ppl(CLI::App& parent) {
  auto* cmd = parent.add_subcommand("ppl", "Loss, perplexity and bits per byte of a model on shard splits and texts");
  auto model_path = std::make_shared<std::string>();
  auto tokenizer_path = std::make_shared<std::string>();
  auto data = std::make_shared<std::vector<std::string>>();
  auto texts = std::make_shared<std::vector<std::string>>();
  auto split = std::make_shared<std::string>("val");
  auto tokens = std::make_shared<uint64_t>(0);
  auto B = std::make_shared<int>(0);
  auto T = std::make_shared<int>(0);
  auto json = std::make_shared<bool>(false);
  cmd->add_option("-m,--model", *model_path, "Model: checkpoint, run directory, HF directory or .gguf")->required();
  cmd->add_option("--tokenizer", *tokenizer_path, "tokenizer.json (default: the model's)");
  cmd->add_option("--data", *data, "Shard directory from 'tweetlm tokenize' (repeatable: one row each)");
  cmd->add_option("--text", *texts, "Text to tokenize with the model's tokenizer: a file with one tweet per line, "
                                    "a .jsonl file or a prepared folder (its --split) (repeatable)");
  cmd->add_option("--split", *split, "Split to evaluate")->capture_default_str()->check(CLI::IsMember({"train", "val", "test"}));
  cmd->add_option("--tokens", *tokens, "Evaluate the first N tokens' windows of each dataset (default: all)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 60));
  cmd->add_option("-b,--batch", *B, "Sequences per forward pass (default: the training -b)")->check(CLI::Range(1, 1 << 20));
  cmd->add_option("-T,--context", *T, "Window length (default: the training -T)")->check(CLI::Range(2, 1 << 20));
  cmd->add_flag("--json", *json, "Print one JSON object per dataset instead of the summary");
  return [=]() {
    if (data->empty() && texts->empty()) throw user_error("eval ppl", "give --data SHARDS or --text FILE");
    LoadedModel lm = load_model(*model_path, *tokenizer_path);
    const ModelConfig cfg = lm.model->config();
    const Tokenizer& tok = lm.tokenizer;
    int64_t step = -1;
    const auto [t_default, b_default] = default_window(lm.dir, cfg, step);
    const int t = *T ? *T : t_default, b = *B ? *B : b_default;
    if (t > cfg.max_seq_len) throw user_error("-T", "%d is longer than the model's context of %d", t, cfg.max_seq_len);

    std::vector<PplData> sets;
    for (const std::string& d : *data) sets.push_back(shard_data(d, *split, tok, lm.dir));
    for (const std::string& f : *texts) sets.push_back(text_data(f, *split, tok, size_t(cfg.vocab_size)));
    // A model with training activations for B x T, holding the loaded weights.
    Llama model(cfg, b, t);
    std::copy(lm.model->params(), lm.model->params() + model.num_params(), model.params());
    lm.model.reset();
    const auto lengths = token_byte_lengths(tok, size_t(cfg.vocab_size));

    std::vector<PplRow> rows;
    for (const PplData& set : sets) {
      if (uint64_t(set.data.vocab_size()) > uint64_t(cfg.vocab_size))
        throw user_error(set.path, "token ids go up to %u but the model's vocabulary is %d", set.data.vocab_size(),
                         cfg.vocab_size);
      auto windows = eval_windows(set.data, t, *tokens);
      if (windows.empty())
        throw user_error(set.name(), "%llu tokens: no window of -T %d + 1", static_cast<unsigned long long>(set.data.size()), t);
      // evaluate() over a loss function that also moves the progress line (tokens scored, rate, ETA).
      Progress progress("eval ppl " + set.name(), double(windows.size()) * double(t));
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
      rows.push_back({set.path, set.split, evaluate(BatchNats(nats), set.data, windows, b, t, int32_t(tok.eos_id()), &lengths)});
      progress.finish(strprintf("%llu windows", static_cast<unsigned long long>(rows.back().r.windows)));
    }
    print_ppl(rows, lm.dir, step, t, *json);
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
  auto features = std::make_shared<std::string>("lm");
  cmd->add_option("--features", *features, "lm: the linear probe on the model's features; lm+tfidf: also a probe on "
                                           "them next to the TF-IDF n-grams")
      ->capture_default_str()
      ->check(CLI::IsMember({"lm", "lm+tfidf"}));
  return [=]() {
    apps::TweetEvalOptions opt;
    opt.tasks = *tasks;
    opt.max_train = *max_train;
    opt.baseline = !*no_baseline;
    opt.lm_tfidf = *features == "lm+tfidf";
    if (opt.lm_tfidf && model_path->empty()) throw user_error("--features", "lm+tfidf needs a --model");
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
