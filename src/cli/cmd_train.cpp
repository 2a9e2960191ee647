// `tweetlm train`: flags of the training loop (src/train/trainer.h), named as llm.c and
// nanoGPT users expect. Parsing and printing only. The global thread count stays reachable as
// -t/--threads (this command defines no -t of its own).
//
// Started by a launcher (mpirun, srun, ...) with more than one process, it joins the MPI job
// through dist::Job (dist/launch.h): each rank gets cores / (ranks on this node) threads
// unless -t says otherwise, only rank 0 prints, and an error on any rank is printed and ends the
// whole job (MPI_Abort) instead of leaving the others waiting.
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "core/check.h"
#include "dist/launch.h"
#include "infer/generate.h"
#include "model/llama.h"
#include "tokenizer/tokenizer.h"
#include "train/trainer.h"

namespace tlm::cli {

namespace {

// CLI11's number validators print the whole double range in their message; these say it plainly.
CLI::Validator number_above(double lo, bool inclusive) {
  return CLI::Validator(
      [=](std::string& s) -> std::string {
        double v = 0;
        try {
          size_t used = 0;
          v = std::stod(s, &used);
          if (used != s.size()) return "'" + s + "' is not a number";
        } catch (const std::exception&) {
          return "'" + s + "' is not a number";
        }
        if (!std::isfinite(v) || (inclusive ? v < lo : v <= lo))
          return strprintf("%s must be %s %g", s.c_str(), inclusive ? "at least" : "above", lo);
        return "";
      },
      inclusive ? "NUMBER >= 0" : "NUMBER > 0");
}

// The training loop's sample hook: a few tweets from scratch ([eos] and nothing else), drawn
// with a fixed sampling seed on streams that depend on the step, so each evaluation shows new
// text and a rerun (or a resumed run) shows the same. It reads the parameters only.
std::vector<std::string> sample_tweets(Llama& model, const Tokenizer& tok, int64_t step) {
  constexpr int kSamples = 3, kMaxTokens = 48;
  GenerateOptions g;
  g.max_new_tokens = kMaxTokens;
  g.n_vocab = int(tok.vocab_size());
  g.eos_id = int32_t(tok.eos_id());
  g.first_stream = uint64_t(step) * kSamples;
  g.sampling.seed = 1337;
  std::vector<std::vector<int32_t>> prompts(kSamples);
  std::vector<std::string> out;
  for (const Generation& gen : generate(model, prompts, g)) {
    std::vector<uint32_t> ids(gen.tokens.begin(), gen.tokens.end());
    std::string text = tok.decode(ids, true);
    for (char& c : text)
      if (c == '\n' || c == '\r') c = ' ';
    out.push_back(std::move(text));
  }
  return out;
}

}  // namespace

Runner add_train_model(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "Train a Llama-style model on token shards (checkpoints, resume, metrics)");
  auto o = std::make_shared<TrainOptions>();
  // (option, JSON key) pairs: which flags were given explicitly matters on --resume.
  auto keyed = std::make_shared<std::vector<std::pair<CLI::Option*, std::string>>>();
  auto add = [&](CLI::Option* opt, const char* key) {
    keyed->emplace_back(opt, key);
    return opt;
  };
  const auto positive = CLI::Range(1, 1 << 30);
  add(cmd->add_option("--data", o->data_dir, "Shard directory from 'tweetlm tokenize' (train_*.bin, val_*.bin, meta.json)"),
      "data");
  cmd->add_option("--tokenizer", o->tokenizer_path, "tokenizer.json the shards were made with (kept in each checkpoint)");
  cmd->add_option("--out", o->out_dir, "Run directory: checkpoints step_NNNNNNNN/ and metrics.jsonl")->required();
  add(cmd->add_option("--init-from", o->init_from,
                      "Start from this model's weights and tokenizer (checkpoint, run directory, HF directory or "
                      ".gguf), with a fresh optimizer and schedule"),
      "init_from");
  auto replay = std::make_shared<std::vector<std::string>>();
  add(cmd->add_option("--replay", *replay,
                      "DIR:FRACTION: mix shards of an older corpus into every batch at this share of its rows "
                      "(repeatable; continued pre-training without forgetting)"),
      "replay");
  add(cmd->add_option("--model", o->model.preset, "Size preset: tiny | small | 33m | 124m")->capture_default_str(), "model");
  add(cmd->add_option("--dim", o->model.dim, "Model width C (overrides the preset)")->check(positive), "model");
  add(cmd->add_option("--layers", o->model.layers, "Layers L")->check(positive), "model");
  add(cmd->add_option("--heads", o->model.heads, "Attention heads H")->check(positive), "model");
  add(cmd->add_option("--kv-heads", o->model.kv_heads, "Key/value heads (grouped-query attention; divides --heads)")
          ->check(positive),
      "model");
  add(cmd->add_option("--ffn", o->model.ffn, "SwiGLU hidden size F (default 8/3 C rounded up to 16)")->check(positive),
      "model");
  add(cmd->add_option("--head-dim", o->model.head_dim, "Head size D (default C / H)")->check(positive), "model");
  add(cmd->add_option("--vocab", o->model.vocab, "Pad the vocabulary up to N rows (e.g. a multiple of 64)")
          ->check(positive),
      "model");
  add(cmd->add_flag("--tie", o->model.tie, "Tie the LM head to the token embedding"), "model");
  add(cmd->add_option("-b,--batch", o->B, "Micro-batch size (sequences)")->capture_default_str()->check(positive), "batch");
  add(cmd->add_option("-T,--context", o->T, "Sequence length in tokens")->capture_default_str()->check(CLI::Range(2, 1 << 20)),
      "context");
  add(cmd->add_option("--grad-accum", o->grad_accum, "Micro-batches per optimizer step")->capture_default_str()->check(positive),
      "grad_accum");
  add(cmd->add_option("--lr", o->lr, "Peak learning rate")->capture_default_str()->check(number_above(0, false)), "lr");
  add(cmd->add_option("--min-lr", o->min_lr, "Final learning rate of the cosine decay (default --lr / 10)")
          ->check(number_above(0, true)),
      "min_lr");
  add(cmd->add_option("--warmup", o->warmup, "Linear warmup steps (default 10% of the steps, at most 1000)")
          ->check(CLI::Range(int64_t{0}, int64_t{1} << 40)),
      "warmup");
  add(cmd->add_option("--wd", o->wd, "AdamW weight decay (matrices only)")->capture_default_str()->check(number_above(0, true)),
      "wd");
  add(cmd->add_option("--clip", o->clip, "Clip the global gradient norm to this (0: off)")
          ->capture_default_str()
          ->check(number_above(0, true)),
      "clip");
  add(cmd->add_option("--dtype", o->dtype, "Linear layers: fp32, or bf16 (AVX512-BF16 matmuls, fp32 weights and optimizer)")
          ->capture_default_str()
          ->check(CLI::IsMember({"fp32", "bf16"})),
      "dtype");
  add(cmd->add_option("--device", o->device, "cpu, or cuda: bf16 mixed precision on an NVIDIA GPU (one per process)")
          ->capture_default_str()
          ->check(CLI::IsMember({"cpu", "cuda"})),
      "device");
  add(cmd->add_flag("--recompute", o->recompute,
                    "With --device cuda: recompute each layer's activations in backward (less memory, ~1/3 more compute)"),
      "recompute");
  auto* steps = add(cmd->add_option("--steps", o->steps, "Optimizer steps (default 1000)")
                        ->check(CLI::Range(int64_t{1}, int64_t{1} << 40)),
                    "steps");
  auto* tokens = add(cmd->add_option("--tokens", o->tokens, "Train on at least this many tokens instead of --steps")
                         ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 60)),
                     "tokens");
  steps->excludes(tokens);
  add(cmd->add_option("--eval-every", o->eval_every, "Validation loss every N steps (0: only at the end)")
          ->capture_default_str()
          ->check(CLI::Range(int64_t{0}, int64_t{1} << 40)),
      "eval_every");
  add(cmd->add_option("--eval-tokens", o->eval_tokens, "Validation tokens (the first windows of val; 0: all)")
          ->capture_default_str()
          ->check(CLI::Range(uint64_t{0}, uint64_t{1} << 60)),
      "eval_tokens");
  add(cmd->add_option("--save-every", o->save_every, "Checkpoint every N steps (0: only at the end)")
          ->capture_default_str()
          ->check(CLI::Range(int64_t{0}, int64_t{1} << 40)),
      "save_every");
  add(cmd->add_option("--keep", o->keep, "Keep the newest k checkpoints (0: all)")->capture_default_str()->check(CLI::Range(0, 1 << 30)),
      "keep");
  add(cmd->add_option("--seed", o->seed, "Seed of the initialisation and the data order")->capture_default_str(), "seed");
  cmd->add_flag("--resume", o->resume, "Continue from the newest valid checkpoint in --out (a new run if there is none)");
  add(cmd->add_option("--max-bad-steps", o->max_bad_steps, "Abort after this many non-finite steps in a row")
          ->capture_default_str()
          ->check(positive),
      "max_bad_steps");
  add(cmd->add_option("--peak-gflops", o->peak_gflops, "Peak GFLOP/s for MFU (default: measure a 1024^3 sgemm)")
          ->check(number_above(0, false)),
      "peak_gflops");
  add(cmd->add_option("--sample-every", o->sample_every, "Print generated samples every N steps (default: with each evaluation; 0: never)")
          ->check(CLI::Range(int64_t{0}, int64_t{1} << 40)),
      "sample_every");
  add(cmd->add_option("--log-every", o->log_every, "Print a progress line every N steps (metrics.jsonl gets every step)")
          ->capture_default_str()
          ->check(CLI::Range(int64_t{1}, int64_t{1} << 40)),
      "log_every");
  add(cmd->add_option("--stop-after", o->stop_after, "Stop (with a checkpoint) after this step, keeping the schedule of --steps")
          ->check(CLI::Range(int64_t{1}, int64_t{1} << 40)),
      "stop_after");
  add(cmd->add_option("--zero", o->zero, "Optimizer sharding over the processes: 0 (plain data parallel) or 1 (ZeRO-1)")
          ->capture_default_str()
          ->check(CLI::Range(0, 1)),
      "zero");
  add(cmd->add_option("--bucket-mb", o->bucket_mb, "Gradient all-reduce bucket size in MB (overlaps backward)")
          ->capture_default_str()
          ->check(number_above(0, false)),
      "bucket_mb");
  auto timeout = std::make_shared<double>(600);
  cmd->add_option("--comm-timeout", *timeout, "Seconds a collective waits for the other processes before ending the job")
      ->capture_default_str()
      ->check(number_above(0, false));
  CLI::Option* threads_flag = app.get_option("--threads");
  return [=]() {
    std::set<std::string> given;
    for (const auto& [opt, key] : *keyed)
      if (opt->count() > 0) given.insert(key);
    TrainOptions options = *o;
    for (const std::string& r : *replay) options.replay.push_back(parse_replay(r));
    options.sampler = sample_tweets;
    dist::JobOptions job_options;
    job_options.timeout = *timeout;
    job_options.threads_given = threads_flag->count() > 0;
    job_options.device_buffers = options.device == "cuda";
    dist::Job job(job_options);
    TrainResult r;
    job.run([&](const dist::JobComms& comms) {
      options.comm = comms.comm;
      options.device_comm = comms.device_comm;
      r = train(options, given);
    });
    if (job.rank() != 0) return 0;
    if (r.step == r.first_step && !r.stopped_early) {
      std::printf("nothing to do: the run in %s is complete at step %lld (give a larger --steps to extend it)\n",
                  options.out_dir.c_str(), static_cast<long long>(r.step));
      return 0;
    }
    std::string val = std::isnan(r.last_val_loss) ? "" : strprintf(" | val loss %.4f", r.last_val_loss);
    std::printf("%s at step %lld/%lld | loss %.4f%s | %lld skipped steps | checkpoint %s\n",
                r.stopped_early ? "stopped" : "trained", static_cast<long long>(r.step),
                static_cast<long long>(r.total_steps), r.last_loss, val.c_str(), static_cast<long long>(r.skipped_steps),
                r.checkpoint.empty() ? "(none)" : r.checkpoint.c_str());
    return 0;
  };
}

}  // namespace tlm::cli
