// The training loop (see trainer.h). One step: zero the gradients, run grad_accum micro-batches
// (each backward scaled by 1/(grad_accum x world), so after the sum over ranks the gradient is
// the mean over the step's tokens), synchronise the gradients (dist/data_parallel.h: bucketed
// all-reduce overlapping backward, or ZeRO-1's reduce-scatter), take the global gradient norm,
// skip the step if the loss or the norm is not finite, else clip and apply AdamW with the
// scheduled rate. Every decision that ends or skips a step (loss, norm, a stop signal) is made
// from values all-reduced across ranks, so all ranks take it together.
//
// With several ranks, rank 0 alone logs, writes metrics and checkpoints; OUT must be on a
// filesystem every rank sees (they read the checkpoint rank 0 chose when resuming).
#include "train/trainer.h"

#include <csignal>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <memory>
#include <new>
#include <thread>
#include <utility>

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/check.h"
#include "core/file.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/metrics_log.h"
#include "core/progress.h"
#include "core/threads.h"
#include "dist/comm.h"
#include "dist/data_parallel.h"
#include "io/safetensors.h"
#include "model/llama.h"
#include "model/llama_cuda.h"
#include "store/params_io.h"
#include "ops/adamw.h"
#include "ops/cuda_device.h"
#include "tokenizer/tokenize_corpus.h"
#include "tokenizer/tokenizer.h"
#include "store/checkpoint.h"
#include "train/data_loader.h"
#include "train/evaluate.h"
#include "train/lr_schedule.h"
#include "train/mfu.h"
#include "train/optimizer.h"

namespace fs = std::filesystem;

namespace tlm {
namespace {

volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void on_stop_signal(int sig) { g_stop_signal = sig; }

// Installs the SIGINT/SIGTERM handlers for the length of a run. SA_RESETHAND restores the
// default action after the first signal, so a second Ctrl-C still ends a stuck process.
class StopSignals {
 public:
  StopSignals() {
    g_stop_signal = 0;
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~StopSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_ {}, old_term_ {};
};

// TLM_TEST_INJECT_NAN_STEP="3,7": the (1-based) steps whose gradients get a NaN. Test-only.
std::set<int64_t> nan_injection_steps() {
  std::set<int64_t> steps;
  const char* env = std::getenv("TLM_TEST_INJECT_NAN_STEP");
  if (!env) return steps;
  std::string s(env);
  size_t pos = 0;
  while (pos < s.size()) {
    size_t comma = s.find(',', pos);
    if (comma == std::string::npos) comma = s.size();
    try {
      steps.insert(std::stoll(s.substr(pos, comma - pos)));
    } catch (const std::exception&) {
    }
    pos = comma + 1;
  }
  return steps;
}

// TLM_TEST_FAULT="kill:RANK:STEP", "stop:RANK:STEP" or "hang:RANK:STEP": when step STEP (1-based)
// begins, that rank kills itself (SIGKILL), stops itself (SIGSTOP: every thread frozen), or
// its training loop stops making progress (the process stays alive). Test-only.
void maybe_inject_fault(int rank, int64_t step) {
  const char* env = std::getenv("TLM_TEST_FAULT");
  if (!env) return;
  char what[8] = {};
  int r = -1;
  long long at = -1;
  if (std::sscanf(env, "%7[a-z]:%d:%lld", what, &r, &at) != 3 || r != rank || at != step) return;
  if (std::string(what) == "kill") raise(SIGKILL);
  if (std::string(what) == "stop") raise(SIGSTOP);
  if (std::string(what) == "hang")
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}

// Peak resident memory of this process, in MB.
double peak_rss_mb() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_maxrss) / 1024.0;
}

// Keeps only the metrics records of steps <= `step` (a resumed run rewrites what the abandoned
// part of the run logged, so metrics.jsonl is the curve of the run as it continues). A torn last
// line from a killed process is dropped too.
void truncate_metrics(const std::string& path, int64_t step) {
  if (!path_exists(path)) return;
  std::string text = read_file(path), kept;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) break;  // no newline: torn
    std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    try {
      auto j = nlohmann::json::parse(line);
      if (j.contains("step") && j["step"].get<int64_t>() > step) continue;
    } catch (const std::exception&) {
      continue;
    }
    kept += line + "\n";
  }
  atomic_write_file(path, kept);
}

bool all_finite(const float* p, size_t n) { return std::isfinite(ops::sum_squares(p, n)); }

struct RunState {
  int64_t step = 0;
  int64_t bad_total = 0, bad_in_row = 0;
};

}  // namespace

TrainResult train(TrainOptions opt, const std::set<std::string>& given) {
  if (opt.out_dir.empty()) throw UserError("--out", "an output directory is required");
  // OUT is created only once every input checked out, so a refused run leaves nothing behind.
  if (path_exists(opt.out_dir) && !is_directory(opt.out_dir))
    throw user_error(opt.out_dir, "exists and is not a directory");

  std::unique_ptr<dist::Communicator> self_comm;
  if (!opt.comm) {
    self_comm = dist::make_self_comm();
    opt.comm = self_comm.get();
  }
  dist::Communicator& comm = *opt.comm;
  const bool root = comm.rank() == 0;
  if (opt.zero != 0 && opt.zero != 1) throw user_error("--zero", "must be 0 or 1, got %d", opt.zero);
  if (!(opt.bucket_mb > 0)) throw user_error("--bucket-mb", "must be positive, got %g", opt.bucket_mb);
  if (opt.device != "cpu" && opt.device != "cuda")
    throw user_error("--device", "unknown device '%s' (expected cpu or cuda)", opt.device.c_str());

  // Resume or start: a fresh run refuses a directory that already holds checkpoints. Rank 0
  // chooses the checkpoint; the others open the same one.
  std::optional<CheckpointEntry> ck;
  CheckpointInfo info;
  if (opt.resume) {
    int64_t chosen = -1;
    if (root) {
      ck = find_latest_checkpoint(opt.out_dir);
      if (ck) chosen = ck->step;
    }
    comm.broadcast(&chosen, sizeof chosen, 0);
    if (!root && chosen >= 0) ck = CheckpointEntry{chosen, path_join(opt.out_dir, checkpoint_name(chosen))};
    if (!ck) log_info("train: no valid checkpoint in %s, starting a new run", opt.out_dir.c_str());
  } else if (!list_checkpoints(opt.out_dir).empty()) {
    throw user_error(opt.out_dir, "already holds checkpoints (step_*); pass --resume to continue that run, or "
                     "choose another --out");
  }
  if (ck) {
    info = read_checkpoint(ck->path);
    if (!info.state.contains("options")) throw user_error(ck->path + "/state.json", "no \"options\"");
    opt = merge_resume_options(opt, given, info.state["options"], ck->path);
  }
  opt.rank = comm.rank();
  opt.world = comm.size();
  // The GPU trains in bf16 mixed precision (model/llama_cuda.h) with a plain data-parallel
  // gradient all-reduce over NCCL; --dtype fp32 and ZeRO-1 are CPU features for now.
  const bool gpu = opt.device == "cuda";
  if (gpu) {
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
  if (ck && info.state.value("world_size", 1) != opt.world)
    log_warn("train: %s was trained by %d processes, this run has %d: the tokens per step change with them",
             ck->path.c_str(), info.state.value("world_size", 1), opt.world);

  // Tokenizer: the checkpoint's copy when resuming (a --tokenizer given too must match it).
  std::string tok_path = ck ? info.tokenizer_path : opt.tokenizer_path;
  if (tok_path.empty()) throw UserError("--tokenizer", "a tokenizer.json is required (the one the shards were made with)");
  const std::string tok_text = read_file(tok_path);
  const Tokenizer tok = Tokenizer::from_json_text(tok_text, tok_path);
  const std::string vocab_hash = hex64(tokenizer_fingerprint(tok));
  if (ck && !opt.tokenizer_path.empty()) {
    Tokenizer other = Tokenizer::load(opt.tokenizer_path);
    if (hex64(tokenizer_fingerprint(other)) != vocab_hash)
      throw user_error(opt.tokenizer_path, "is not the tokenizer of the checkpoint %s", ck->path.c_str());
  }
  if (tok.eos_id() < 0) throw user_error(tok_path, "has no <|endoftext|> token (tweetlm separates tweets with it)");

  // Shards: made with this tokenizer, or refused.
  if (opt.data_dir.empty()) throw UserError("--data", "a shard directory (from 'tweetlm tokenize') is required");
  const ShardMeta meta = read_shard_meta(opt.data_dir);
  if (meta.vocab_xxh3 != vocab_hash)
    throw user_error(tok_path, "does not match the shards in %s (vocabulary hash %s, the shards say %s): they were "
                     "made with another tokenizer", opt.data_dir.c_str(), vocab_hash.c_str(), meta.vocab_xxh3.c_str());
  const int32_t eos = int32_t(tok.eos_id());
  TokenDataset train_data(opt.data_dir, "train");
  if (train_data.size() == 0) throw user_error(opt.data_dir, "has no train shards (train_000000.bin)");
  TokenDataset val_data(opt.data_dir, "val");

  // Model.
  if (opt.B <= 0) throw user_error("-b", "must be at least 1, got %d", opt.B);
  if (opt.T <= 1) throw user_error("-T", "must be at least 2, got %d", opt.T);
  if (opt.grad_accum <= 0) throw user_error("--grad-accum", "must be at least 1, got %d", opt.grad_accum);
  ModelConfig cfg;
  if (ck) {
    cfg = info.config;
    if (given.count("model")) {
      ModelConfig want = resolve_model(opt.model, int(tok.vocab_size()), opt.T);
      if (want.to_hf_json() != cfg.to_hf_json())
        throw user_error("--model", "the model flags describe another model than the checkpoint %s; a resumed run "
                         "keeps its model", ck->path.c_str());
    }
  } else {
    cfg = resolve_model(opt.model, int(tok.vocab_size()), opt.T);
  }
  if (uint64_t(train_data.vocab_size()) > uint64_t(cfg.vocab_size))
    throw user_error(opt.data_dir, "token ids go up to %u but the model's vocabulary is %d", train_data.vocab_size(),
                     cfg.vocab_size);
  if (cfg.max_seq_len < opt.T) throw user_error("-T", "%d is longer than the model's context %d", opt.T, cfg.max_seq_len);

  // Run length and schedule, resolved once and stored, so a resume continues the same schedule.
  const int64_t tokens_per_step = int64_t(opt.B) * opt.T * opt.grad_accum * opt.world;
  if (opt.steps <= 0)
    opt.steps = opt.tokens > 0 ? int64_t((opt.tokens + uint64_t(tokens_per_step) - 1) / uint64_t(tokens_per_step)) : 1000;
  if (opt.warmup < 0) opt.warmup = std::min<int64_t>(1000, opt.steps / 10);
  if (opt.min_lr < 0) opt.min_lr = opt.lr / 10;
  if (!(opt.lr > 0)) throw user_error("--lr", "must be positive, got %g", opt.lr);
  if (opt.min_lr > opt.lr) throw user_error("--min-lr", "%g is above --lr %g", opt.min_lr, opt.lr);
  if (opt.max_bad_steps < 1) throw user_error("--max-bad-steps", "must be at least 1, got %d", opt.max_bad_steps);
  const LrSchedule sched{opt.lr, opt.min_lr, opt.warmup, opt.steps};

  std::unique_ptr<Llama> model_ptr;
  std::unique_ptr<AdamW> adam_ptr;
  // This rank's part of the flat buffer: its ZeRO-1 shard, and its share of the gradient norm.
  const dist::Shards shards(cfg.num_params(), opt.rank, opt.world);
  AlignedBuffer<float> grad_shard;
  try {
    // On the GPU the host model only holds the parameters (checkpoints, samples): no activations.
    model_ptr = std::make_unique<Llama>(cfg, gpu ? 0 : opt.B, opt.T);
    TLM_CHECK(model_ptr->num_params() == cfg.num_params(), "layout of %zu != %zu parameters",
              model_ptr->num_params(), size_t(cfg.num_params()));
    adam_ptr = opt.zero ? std::make_unique<AdamW>(model_ptr->layout(), shards.lo, shards.hi)
                        : std::make_unique<AdamW>(model_ptr->layout());
    if (opt.zero) grad_shard.reset(shards.hi - shards.lo);
  } catch (const std::bad_alloc&) {
    throw user_error("-b/-T", "out of memory for a %.2fM-parameter model with activations for %d x %d tokens; use a "
                     "smaller -b, -T or model", double(cfg.num_params()) / 1e6, opt.B, opt.T);
  }
  Llama& model = *model_ptr;
  AdamW& adam = *adam_ptr;
  std::unique_ptr<CudaLlama> device_model;
  if (gpu) device_model = make_cuda_llama(cfg, opt.B, opt.T, false, opt.recompute);
  else model.set_precision(parse_precision(opt.dtype, "--dtype"));
  DataLoader loader(train_data, opt.B, opt.T, opt.seed, opt.rank, opt.world);
  if (root) {
    make_dirs(opt.out_dir);
    remove_stale_temporaries(opt.out_dir);
  }
  RunState st;
  const std::string metrics_path = path_join(opt.out_dir, "metrics.jsonl");
  if (ck) {
    load_params(SafetensorsFile(info.model_path), model.layout(), model.params());
    const std::string opt_path = path_join(ck->path, "optimizer.safetensors");
    if (!path_exists(opt_path)) throw user_error(ck->path, "has no optimizer.safetensors: cannot continue training");
    adam.load(opt_path);
    try {
      const auto& s = info.state;
      st.step = s.at("step").get<int64_t>();
      loader.seek({s.at("data").at("epoch").get<uint64_t>(), s.at("data").at("index").get<uint64_t>()});
      st.bad_total = s.at("bad_steps").at("total").get<int64_t>();
      st.bad_in_row = s.at("bad_steps").at("in_a_row").get<int64_t>();
      if (s.at("data").at("windows").get<uint64_t>() != loader.num_windows())
        log_warn("%s: the training split has %llu windows, the checkpoint's had %llu: the data order will differ",
                 opt.data_dir.c_str(), static_cast<unsigned long long>(loader.num_windows()),
                 static_cast<unsigned long long>(s.at("data").at("windows").get<uint64_t>()));
    } catch (const nlohmann::json::exception& e) {
      throw user_error(ck->path + "/state.json", "bad training state: %s", e.what());
    }
    comm.barrier();  // every rank has read the checkpoint before rank 0 tidies OUT
    if (root) {
      remove_checkpoints_after(opt.out_dir, st.step);
      truncate_metrics(metrics_path, st.step);
    }
    log_info("train: resuming from %s (step %lld of %lld)", ck->path.c_str(), static_cast<long long>(st.step),
             static_cast<long long>(opt.steps));
  } else {
    model.init(opt.seed);
    std::error_code ec;
    if (root) fs::remove(metrics_path, ec);  // a new run's curve starts empty
  }
  // Every rank starts from rank 0's parameters (they agree already; this makes it a fact).
  comm.broadcast(model.params(), model.num_params() * sizeof(float), 0);
  if (gpu) {
    device_model->upload_params(model.params());
    device_model->upload_adam(adam.m(), adam.v(), adam.t());
  }
  MetricsWriter metrics(root ? metrics_path : "");

  // MFU of a bf16 run is measured against the bf16 matmul peak, not the (about half) sgemm one.
  const bool bf16 = gpu || model.precision() == Precision::bf16;
  // Peaks are per rank; the job's peak is their sum (MFU compares it with the job's tokens/s).
  // A GPU's is its datasheet's dense bf16 peak (0 when unknown: no MFU without --peak-gflops).
  double peak_gflops = opt.peak_gflops > 0 ? opt.peak_gflops
                       : gpu               ? gpu_bf16_peak_gflops(cuda::device_name())
                       : bf16              ? measure_bf16_gflops(0.3)
                                           : measure_sgemm_gflops(0.3);
  comm.all_reduce_sum(&peak_gflops, 1);
  const auto eval_set = eval_windows(val_data, opt.T, opt.eval_tokens, opt.rank, opt.world);
  double eval_total = double(eval_set.size());
  comm.all_reduce_sum(&eval_total, 1);
  if (eval_total == 0)
    log_warn("%s: no validation windows (val split of %llu tokens): no validation loss", opt.data_dir.c_str(),
             static_cast<unsigned long long>(val_data.size()));
  log_info("train: model %s: %.2fM parameters (V%d T%d C%d L%d H%d KV%d D%d F%d%s), %d threads", opt.model.preset.c_str(),
           double(cfg.num_params()) / 1e6, cfg.vocab_size, opt.T, cfg.dim, cfg.n_layers, cfg.n_heads, cfg.n_kv_heads,
           cfg.head_dim, cfg.ffn_dim, cfg.tied_embeddings ? ", tied" : "", num_threads());
  log_info("train: %lld steps x %lld tokens (b %d x T %d x accum %d), %llu windows per epoch, peak %.1f GFLOP/s%s",
           static_cast<long long>(opt.steps), static_cast<long long>(tokens_per_step), opt.B, opt.T, opt.grad_accum,
           static_cast<unsigned long long>(loader.num_windows()), peak_gflops,
           opt.peak_gflops > 0 ? " (--peak-gflops)"
           : gpu              ? " (the GPU's dense bf16 peak)"
           : bf16             ? " (measured bf16 matmul, --dtype bf16)"
                              : " (measured sgemm)");
  if (gpu)
    log_info("train: device %s: bf16 mixed precision, %.1f MiB of device memory (weights, gradients, AdamW, "
             "activations for %d x %d%s)", cuda::device_name().c_str(), double(device_model->device_bytes()) / (1 << 20),
             opt.B, opt.T, opt.recompute ? ", recomputed in backward" : "");
  {
    const double mb = 1.0 / (1 << 20), n = double(cfg.num_params());
    log_info("train: %d process%s (%s)%s; memory per rank: parameters %.1f MB, gradients %.1f MB, AdamW state %.1f MB%s",
             opt.world, opt.world > 1 ? "es" : "", comm.backend(), opt.zero ? ", ZeRO-1" : "", 4 * n * mb, 4 * n * mb,
             8 * double(adam.size()) * mb, opt.zero ? strprintf(" (1/%d of %.1f MB)", opt.world, 8 * n * mb).c_str() : "");
  }
  std::unique_ptr<dist::GradBuckets> buckets;
  if (opt.world > 1 && !opt.zero && !gpu)
    buckets = std::make_unique<dist::GradBuckets>(comm, model.layout(), size_t(opt.bucket_mb * (1 << 20)));

  const std::set<int64_t> inject_nan = nan_injection_steps();
  const std::vector<uint32_t> no_bytes;
  const int64_t sample_every = opt.sample_every < 0 ? opt.eval_every : opt.sample_every;
  TrainResult result;
  result.first_step = st.step;
  result.total_steps = opt.steps;
  result.last_val_loss = std::numeric_limits<double>::quiet_NaN();

  // Collective: with ZeRO-1 the AdamW state is gathered on rank 0, which alone writes.
  auto save = [&](int64_t step) {
    if (gpu) {
      device_model->download_params(model.params());
      device_model->download_adam(adam.m(), adam.v());
    }
    double bad = !all_finite(model.params(), model.num_params()) || !all_finite(adam.m(), adam.size()) ||
                 !all_finite(adam.v(), adam.size());
    comm.all_reduce_sum(&bad, 1);
    if (bad > 0)
      throw user_error("training", "the parameters are no longer finite at step %lld (the run diverged): not saved; "
                       "lower --lr or --clip%s%s", static_cast<long long>(step),
                       result.checkpoint.empty() ? "" : "; last checkpoint: ", result.checkpoint.c_str());
    AlignedBuffer<float> m_full, v_full;
    if (opt.zero) {
      if (root) {
        m_full.reset(model.num_params(), false);
        v_full.reset(model.num_params(), false);
      }
      comm.gather(adam.m(), m_full.data(), shards.counts, 0);
      comm.gather(adam.v(), v_full.data(), shards.counts, 0);
    }
    if (!root) return;
    CheckpointWriter w(opt.out_dir, step);
    save_params(w.file("model.safetensors"), model.layout(), std::as_const(model).params(), {{"format", "pt"}});
    if (opt.zero)
      AdamW::write(w.file("optimizer.safetensors"), model.layout(), m_full.data(), v_full.data(), adam.t());
    else if (gpu)
      AdamW::write(w.file("optimizer.safetensors"), model.layout(), adam.m(), adam.v(), device_model->adam_t());
    else
      adam.save(w.file("optimizer.safetensors"));
    atomic_write_file(w.file("config.json"), cfg.to_hf_json().dump(2) + "\n");
    atomic_write_file(w.file("tokenizer.json"), tok_text);
    LoaderPosition p = loader.position();
    nlohmann::ordered_json state = {
        {"format", "tweetlm training state"},
        {"version", 1},
        {"step", step},
        {"tokens", step * tokens_per_step},
        {"data",
         {{"dir", opt.data_dir}, {"split", "train"}, {"epoch", p.epoch}, {"index", p.index},
          {"windows", loader.num_windows()}, {"train_tokens", train_data.size()}}},
        {"rng", {{"generator", "philox4x32-10 (counter-based: data order = f(seed, epoch))"}, {"seed", opt.seed}}},
        {"optimizer", {{"name", "adamw"}, {"t", gpu ? device_model->adam_t() : adam.t()}}},
        {"bad_steps", {{"total", st.bad_total}, {"in_a_row", st.bad_in_row}}},
        {"config", cfg.to_hf_json()},
        {"tokenizer", {{"vocab_xxh3", vocab_hash}, {"file_xxh3", hex64(hash64(tok_text))}}},
        {"world_size", opt.world},
        {"options", options_to_json(opt)}};
    atomic_write_file(w.file("state.json"), state.dump(2) + "\n");
    std::string path = w.commit();
    prune_checkpoints(opt.out_dir, opt.keep);
    result.checkpoint = path;
    log_info("train: saved %s", path.c_str());
  };

  StopSignals signals;
  Batch batch;
  using clock = std::chrono::steady_clock;
  const auto run_start = clock::now();
  if (st.step >= opt.steps) log_info("train: the run is already complete at step %lld", static_cast<long long>(st.step));
  const int micro_total = opt.grad_accum * opt.world;  // micro-batches per step, all ranks
  while (st.step < opt.steps) {
    maybe_inject_fault(opt.rank, st.step + 1);
    const auto t0 = clock::now();
    gpu ? device_model->zero_grad() : model.zero_grad();
    // A NaN on one rank (the last) must reach every rank's decision through the reduction.
    if (inject_nan.count(st.step + 1) && opt.rank == opt.world - 1 && !gpu)
      model.grads()[0] = std::numeric_limits<float>::quiet_NaN();
    double loss_sum = 0, keys_sum = 0;
    for (int micro = 0; micro < opt.grad_accum; ++micro) {
      loader.next(batch, eos);
      if (gpu) {
        loss_sum += double(device_model->forward(batch));
        device_model->backward(batch, 1.0f / float(micro_total));
      } else {
        loss_sum += double(model.forward(batch));
        if (buckets && micro + 1 == opt.grad_accum)  // the last backward overlaps the all-reduce
          model.backward(batch, 1.0f / float(micro_total), [&](size_t from) { buckets->ready(model.grads(), from); });
        else
          model.backward(batch, 1.0f / float(micro_total));
      }
      keys_sum += mean_attended_keys(batch);
    }
    // Gradients: summed over ranks (all of them, or this rank's ZeRO-1 shard); then one
    // all-reduce of the step's scalars, from which every rank takes the same decisions. On the
    // GPU every rank holds the whole summed gradient; rank 0 alone contributes its norm.
    double grad_ss = 0;
    const float* my_grads = gpu ? nullptr : model.grads() + shards.lo;
    if (gpu) {
      if (opt.world > 1) {
        cuda::synchronize();  // NCCL runs on its own stream: backward must be done first
        opt.device_comm->all_reduce_sum(device_model->device_grads(), model.num_params());
      }
      grad_ss = root ? device_model->grad_sum_squares() : 0.0;
    } else {
      if (buckets) buckets->finish(model.grads());
      if (opt.zero) {
        comm.reduce_scatter_sum(model.grads(), grad_shard.data(), shards.counts);
        my_grads = grad_shard.data();
      }
      grad_ss = ops::sum_squares(my_grads, shards.hi - shards.lo);
    }
    const bool stop_requested = g_stop_signal != 0 || (opt.stop_after > 0 && st.step + 1 >= opt.stop_after);
    double stats[4] = {loss_sum, keys_sum, stop_requested ? 1.0 : 0.0, grad_ss};
    comm.all_reduce_sum(stats, 4);
    const double loss = stats[0] / micro_total;
    keys_sum = stats[1] * opt.grad_accum / micro_total;
    const double grad_norm = std::sqrt(stats[3]);
    const double lr = sched.lr_at(st.step);
    const bool finite = std::isfinite(loss) && std::isfinite(grad_norm);
    if (finite) {
      ops::AdamWHyper h;
      h.lr = float(lr);
      h.weight_decay = float(opt.wd);
      const float clip = ops::clip_scale(grad_norm, float(opt.clip));
      if (gpu) {
        device_model->adamw_step(h, clip);
      } else if (opt.zero) {
        adam.step(model.params() + shards.lo, my_grads, h, clip);
        comm.all_gather(model.params(), shards.counts);
      } else {
        adam.step(model.params(), model.grads(), h, clip);
      }
      st.bad_in_row = 0;
    } else {
      ++st.bad_total;
      ++st.bad_in_row;
    }
    ++st.step;
    const double secs = std::chrono::duration<double>(clock::now() - t0).count();
    const double tok_s = double(tokens_per_step) / secs;
    const double mfu =
        peak_gflops > 0 ? cfg.train_flops_per_token(keys_sum / opt.grad_accum) * tok_s / (peak_gflops * 1e9) : 0.0;
    nlohmann::json rec = {{"step", st.step}, {"loss", loss},       {"lr", lr}, {"grad_norm", grad_norm},
                          {"ms", secs * 1e3}, {"tokens_per_s", tok_s}, {"mfu", mfu}};
    if (!finite) rec["skipped"] = true;
    metrics.write(rec);
    result.last_loss = loss;
    if (!finite) {
      if (root) log_warn("step %lld: non-finite %s: update skipped (%lld in a row, %lld in all)", static_cast<long long>(st.step),
               std::isfinite(loss) ? "gradient norm" : "loss", static_cast<long long>(st.bad_in_row),
               static_cast<long long>(st.bad_total));
      if (st.bad_in_row >= opt.max_bad_steps)
        throw user_error("training", "%lld steps in a row had a non-finite loss or gradient (the last at step %lld): "
                         "stopped; lower --lr or --clip, or check the data%s%s",
                         static_cast<long long>(st.bad_in_row), static_cast<long long>(st.step),
                         result.checkpoint.empty() ? "" : "; last checkpoint: ", result.checkpoint.c_str());
    }
    const bool last = st.step == opt.steps;
    if (st.step == result.first_step + 1)
      log_debug("train: rank %d: peak resident memory after the first step %.1f MB", opt.rank, peak_rss_mb());
    if (root && opt.log_every > 0 && (st.step % opt.log_every == 0 || last || st.step == result.first_step + 1)) {
      double elapsed = std::chrono::duration<double>(clock::now() - run_start).count();
      double eta = elapsed / double(st.step - result.first_step) * double(opt.steps - st.step);
      log_info("step %lld/%lld | loss %.4f | lr %.2e | grad norm %.3f | %.0f ms | %s tokens/s | MFU %.1f%% | ETA %s",
               static_cast<long long>(st.step), static_cast<long long>(opt.steps), loss, lr, grad_norm, secs * 1e3,
               format_quantity(tok_s, ProgressUnit::count).c_str(), 100.0 * mfu, format_duration(eta).c_str());
    }
    if (eval_total > 0 && ((opt.eval_every > 0 && st.step % opt.eval_every == 0) || last)) {
      auto device_nats = [&](const Batch& b) {
        const int64_t n = b.count_targets();
        return n ? double(device_model->forward(b)) * double(n) : 0.0;
      };
      EvalResult ev = gpu ? evaluate(device_nats, val_data, eval_set, opt.B, opt.T, eos)
                          : evaluate(model, val_data, eval_set, opt.B, opt.T, eos);
      double sums[2] = {ev.sum_nats, double(ev.tokens)};
      comm.all_reduce_sum(sums, 2);
      ev.sum_nats = sums[0];
      ev.tokens = uint64_t(sums[1]);
      ev.loss = sums[1] > 0 ? sums[0] / sums[1] : std::numeric_limits<double>::quiet_NaN();
      metrics.write({{"step", st.step}, {"val_loss", ev.loss}});
      result.last_val_loss = ev.loss;
      log_info("step %lld | val loss %.4f | val ppl %.2f (%llu tokens)", static_cast<long long>(st.step), ev.loss,
               ev.perplexity(), static_cast<unsigned long long>(ev.tokens));
    }
    if (root && opt.sampler && sample_every > 0 && (st.step % sample_every == 0 || last)) {
      if (gpu) device_model->download_params(model.params());  // samples come from the host copy
      for (const std::string& s : opt.sampler(model, tok, st.step)) log_info("sample | %s", s.c_str());
    }
    const bool stop = stats[2] > 0 && !last;
    if ((opt.save_every > 0 && st.step % opt.save_every == 0) || last || stop) save(st.step);
    if (stop) {
      result.stopped_early = true;
      if (!(opt.stop_after > 0 && st.step >= opt.stop_after))
        log_info("train: stopped by a signal at step %lld; continue with --resume", static_cast<long long>(st.step));
      else log_info("train: stopped after step %lld (--stop-after); continue with --resume", static_cast<long long>(st.step));
      break;
    }
  }
  result.step = st.step;
  result.skipped_steps = st.bad_total;
  return result;
}

}  // namespace tlm
