// Run set-up (see run_setup.h). Each step below checks one input and resolves what it decides;
// they run in this order because the messages of a refused run name the first problem found.
#include "train/run_setup.h"

#include <algorithm>
#include <filesystem>
#include <utility>

#include "core/check.h"
#include "core/file.h"
#include "core/hash.h"
#include "core/log.h"
#include "dist/comm.h"
#include "ops/cuda_device.h"
#include "store/model_loader.h"
#include "tokenizer/tokenize_corpus.h"

namespace fs = std::filesystem;

namespace tlm {

namespace {

// The checks that need no file, and the communicator (one process when none was given).
void check_options(RunSetup& run, const std::set<std::string>& given) {
  TrainOptions& opt = run.opt;
  if (!opt.init_from.empty() && given.count("model") && !opt.resume)
    throw user_error("--model", "the model comes from --init-from %s; leave out the model flags", opt.init_from.c_str());
  if (opt.out_dir.empty()) throw UserError("--out", "an output directory is required");
  // OUT is created only once every input checked out, so a refused run leaves nothing behind.
  if (path_exists(opt.out_dir) && !is_directory(opt.out_dir))
    throw user_error(opt.out_dir, "exists and is not a directory");
  if (!opt.comm) {
    run.own_comm = dist::make_self_comm();
    opt.comm = run.own_comm.get();
  }
  if (opt.zero != 0 && opt.zero != 1) throw user_error("--zero", "must be 0 or 1, got %d", opt.zero);
  if (!(opt.bucket_mb > 0)) throw user_error("--bucket-mb", "must be positive, got %g", opt.bucket_mb);
  double replay_sum = 0;
  for (const ReplaySpec& r : opt.replay) replay_sum += r.fraction;
  if (replay_sum >= 1)
    throw user_error("--replay", "the fractions sum to %g: they must leave room for the new data (sum below 1)",
                     replay_sum);
  if (opt.device != "cpu" && opt.device != "cuda")
    throw user_error("--device", "unknown device '%s' (expected cpu or cuda)", opt.device.c_str());
}

// Resume or start: a fresh run refuses a directory that already holds checkpoints. Rank 0
// chooses the checkpoint; the others open the same one. A resumed run continues with the
// checkpoint's options, combined with the flags given again (merge_resume_options).
void choose_checkpoint(RunSetup& run, const std::set<std::string>& given) {
  TrainOptions& opt = run.opt;
  dist::Communicator& comm = *opt.comm;
  std::optional<CheckpointEntry>& ck = run.checkpoint;
  if (opt.resume) {
    int64_t chosen = -1;
    if (comm.rank() == 0) {
      ck = find_latest_checkpoint(opt.out_dir);
      if (ck) chosen = ck->step;
    }
    comm.broadcast(&chosen, sizeof chosen, 0);
    if (comm.rank() != 0 && chosen >= 0)
      ck = CheckpointEntry{chosen, (fs::path(opt.out_dir) / checkpoint_name(chosen)).string()};
    if (!ck) log_info("train: no valid checkpoint in %s, starting a new run", opt.out_dir.c_str());
  } else if (!list_checkpoints(opt.out_dir).empty()) {
    throw user_error(opt.out_dir, "already holds checkpoints (step_*); pass --resume to continue that run, or "
                     "choose another --out");
  }
  if (ck) {
    run.checkpoint_info = read_checkpoint(ck->path);
    const nlohmann::json& state = run.checkpoint_info.state;
    if (!state.contains("options")) throw user_error(ck->path + "/state.json", "no \"options\"");
    opt = merge_resume_options(opt, given, state["options"], ck->path);
  }
  opt.rank = comm.rank();
  opt.world = comm.size();
}

// The GPU trains in bf16 mixed precision (model/llama_cuda.h) with a plain data-parallel
// gradient all-reduce over NCCL; --dtype fp32 and ZeRO-1 are CPU features for now.
void check_device(RunSetup& run, const std::set<std::string>& given) {
  const TrainOptions& opt = run.opt;
  if (opt.device == "cuda") {
    // --dtype is the CPU's precision: a GPU run ignores the stored value (a CPU run resumed on
    // the GPU, or back, keeps its own), and refuses an explicit fp32.
    if (given.count("dtype") && opt.dtype != "bf16")
      throw user_error("--dtype", "%s is CPU-only: --device cuda trains in bf16 mixed precision", opt.dtype.c_str());
    if (opt.zero) throw UserError("--zero", "ZeRO-1 is not implemented for --device cuda yet (use --zero 0)");
    cuda::require_device("--device cuda");
    if (opt.world > 1 && !opt.device_comm)
      throw UserError("--device cuda", "several processes need the NCCL communicator (a build with NCCL)");
  } else if (opt.recompute) {
    throw UserError("--recompute", "only with --device cuda (the CPU path keeps every activation)");
  }
  const int trained_by = run.checkpoint ? run.checkpoint_info.state.value("world_size", 1) : opt.world;
  if (trained_by != opt.world)
    log_warn("train: %s was trained by %d processes, this run has %d: the tokens per step change with them",
             run.checkpoint->path.c_str(), trained_by, opt.world);
}

// --init-from (a new run): the model's weights, configuration and tokenizer, through load_model
// (checkpoint, run directory, HF directory or GGUF). The weights wait in run.initial until the
// backend takes them.
void load_init_model(RunSetup& run) {
  const std::string& from = run.opt.init_from;
  LoadedModel lm = load_model(from);
  run.config = lm.model->config();
  auto params = std::make_shared<std::vector<float>>(lm.model->params(), lm.model->params() + lm.model->num_params());
  run.init_source = {{"path", from}, {"params_xxh3", hex64(hash64(params->data(), params->size() * sizeof(float)))}};
  run.initial.params = std::move(params);
  const std::string own = path_join(lm.dir, "tokenizer.json");
  const bool has_file = is_directory(lm.dir) && path_exists(own);
  run.tokenizer_path = has_file ? own : from;  // a GGUF file holds its tokenizer
  run.tokenizer_text = has_file ? read_file(own) : lm.tokenizer.to_json_text();
  run.tokenizer = std::move(lm.tokenizer);
  log_info("train: starting from %s (%.2fM parameters, params xxh3 %s)", from.c_str(),
           double(run.config.num_params()) / 1e6, run.init_source["params_xxh3"].get<std::string>().c_str());
}

// Tokenizer: the checkpoint's copy when resuming, the model's with --init-from (a --tokenizer
// given too must match either).
void load_tokenizer(RunSetup& run) {
  const TrainOptions& opt = run.opt;
  const std::optional<CheckpointEntry>& ck = run.checkpoint;
  const bool from_model = !ck && !opt.init_from.empty();
  if (from_model) {
    load_init_model(run);
  } else {
    run.tokenizer_path = ck ? run.checkpoint_info.tokenizer_path : opt.tokenizer_path;
    if (run.tokenizer_path.empty())
      throw UserError("--tokenizer", "a tokenizer.json is required (the one the shards were made with)");
    run.tokenizer_text = read_file(run.tokenizer_path);
    run.tokenizer = Tokenizer::from_json_text(run.tokenizer_text, run.tokenizer_path);
  }
  const std::string& tok_path = run.tokenizer_path;
  run.vocab_hash = hex64(tokenizer_fingerprint(run.tokenizer));
  run.tokenizer_file_hash = hex64(hash64(run.tokenizer_text));
  if ((ck || from_model) && !opt.tokenizer_path.empty()) {
    Tokenizer other = Tokenizer::load(opt.tokenizer_path);
    if (hex64(tokenizer_fingerprint(other)) != run.vocab_hash)
      throw user_error(opt.tokenizer_path, "is not the tokenizer of %s %s", ck ? "the checkpoint" : "the model",
                       ck ? ck->path.c_str() : opt.init_from.c_str());
  }
  if (ck && run.checkpoint_info.state.contains("init_from")) run.init_source = run.checkpoint_info.state["init_from"];
  if (run.tokenizer.eos_id() < 0)
    throw user_error(tok_path, "has no <|endoftext|> token (tweetlm separates tweets with it)");
  run.eos = int32_t(run.tokenizer.eos_id());
}

// Shards: made with this tokenizer, or refused.
void open_shards(RunSetup& run) {
  const TrainOptions& opt = run.opt;
  if (opt.data_dir.empty()) throw UserError("--data", "a shard directory (from 'tweetlm tokenize') is required");
  const ShardMeta meta = read_shard_meta(opt.data_dir);
  if (meta.vocab_xxh3 != run.vocab_hash) {
    if (!run.checkpoint && !opt.init_from.empty())
      throw user_error(opt.data_dir, "was tokenized with another tokenizer than the model %s (vocabulary hash %s, the "
                       "model's is %s): tokenize the corpus with the model's tokenizer.json", opt.init_from.c_str(),
                       meta.vocab_xxh3.c_str(), run.vocab_hash.c_str());
    throw user_error(run.tokenizer_path, "does not match the shards in %s (vocabulary hash %s, the shards say %s): "
                     "they were made with another tokenizer", opt.data_dir.c_str(), run.vocab_hash.c_str(),
                     meta.vocab_xxh3.c_str());
  }
  run.train_data = TokenDataset(opt.data_dir, "train");
  if (run.train_data.size() == 0) throw user_error(opt.data_dir, "has no train shards (train_000000.bin)");
  run.val_data = TokenDataset(opt.data_dir, "val");
  for (const ReplaySpec& r : opt.replay) {
    if (read_shard_meta(r.dir).vocab_xxh3 != run.vocab_hash)
      throw user_error(r.dir, "(--replay) was tokenized with another tokenizer than this run's %s",
                       run.tokenizer_path.c_str());
    run.replay_data.emplace_back(r.dir, "train");
    if (run.replay_data.back().size() == 0) throw user_error(r.dir, "(--replay) has no train shards");
  }
}

// The model: the checkpoint's when resuming (model flags given again must describe it), else
// the flags' over the tokenizer's vocabulary.
void resolve_config(RunSetup& run, const std::set<std::string>& given) {
  const TrainOptions& opt = run.opt;
  if (opt.B <= 0) throw user_error("-b", "must be at least 1, got %d", opt.B);
  if (opt.T <= 1) throw user_error("-T", "must be at least 2, got %d", opt.T);
  if (opt.grad_accum <= 0) throw user_error("--grad-accum", "must be at least 1, got %d", opt.grad_accum);
  const int vocab = int(run.tokenizer.vocab_size());
  ModelConfig& cfg = run.config;
  if (run.checkpoint) {
    cfg = run.checkpoint_info.config;
    if (given.count("model") && resolve_model(opt.model, vocab, opt.T).to_hf_json() != cfg.to_hf_json())
      throw user_error("--model", "the model flags describe another model than the checkpoint %s; a resumed run "
                       "keeps its model", run.checkpoint->path.c_str());
  } else if (!opt.init_from.empty()) {
    // load_init_model set cfg: the model is the one loaded.
    if (given.count("model"))
      throw user_error("--model", "the model comes from --init-from %s; leave out the model flags",
                       opt.init_from.c_str());
  } else {
    cfg = resolve_model(opt.model, vocab, opt.T);
  }
  if (uint64_t(run.train_data.vocab_size()) > uint64_t(cfg.vocab_size))
    throw user_error(opt.data_dir, "token ids go up to %u but the model's vocabulary is %d",
                     run.train_data.vocab_size(), cfg.vocab_size);
  if (cfg.max_seq_len < opt.T) throw user_error("-T", "%d is longer than the model's context %d", opt.T, cfg.max_seq_len);
}

// Run length and schedule, resolved once and stored, so a resume continues the same schedule.
void resolve_schedule(RunSetup& run) {
  TrainOptions& opt = run.opt;
  run.tokens_per_step = int64_t(opt.B) * opt.T * opt.grad_accum * opt.world;
  const uint64_t per_step = uint64_t(run.tokens_per_step);
  if (opt.steps <= 0) opt.steps = opt.tokens > 0 ? int64_t((opt.tokens + per_step - 1) / per_step) : 1000;
  if (opt.warmup < 0) opt.warmup = std::min<int64_t>(1000, opt.steps / 10);
  if (opt.min_lr < 0) opt.min_lr = opt.lr / 10;
  if (!(opt.lr > 0)) throw user_error("--lr", "must be positive, got %g", opt.lr);
  if (opt.min_lr > opt.lr) throw user_error("--min-lr", "%g is above --lr %g", opt.min_lr, opt.lr);
  if (opt.max_bad_steps < 1) throw user_error("--max-bad-steps", "must be at least 1, got %d", opt.max_bad_steps);
  run.schedule = LrSchedule{opt.lr, opt.min_lr, opt.warmup, opt.steps};
}

// A resumed run continues from its checkpoint's files; a new one from `given`, or init(seed).
InitialModel initial_model(const RunSetup& run, const std::optional<InitialModel>& given) {
  if (given && !run.checkpoint) return *given;
  if (run.initial.params && !run.checkpoint) return run.initial;  // --init-from
  InitialModel init;
  init.seed = run.opt.seed;
  if (run.checkpoint) {
    init.params_path = run.checkpoint_info.model_path;
    init.optimizer_path = (fs::path(run.checkpoint->path) / "optimizer.safetensors").string();
    init.checkpoint_dir = run.checkpoint->path;
  }
  return init;
}

}  // namespace

std::unique_ptr<RunSetup> set_up_run(TrainOptions options, const std::set<std::string>& given,
                                     const std::optional<InitialModel>& initial) {
  auto run = std::make_unique<RunSetup>();
  run->opt = std::move(options);
  check_options(*run, given);
  choose_checkpoint(*run, given);
  check_device(*run, given);
  load_tokenizer(*run);
  open_shards(*run);
  resolve_config(*run, given);
  resolve_schedule(*run);
  run->initial = initial_model(*run, initial);
  return run;
}

}  // namespace tlm
