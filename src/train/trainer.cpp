// The training loop (see trainer.h), nanoGPT-shaped: set the run up (run_setup.h), start it
// (run_state.h), then per step zero the gradients, run grad_accum micro-batches (each backward
// scaled by 1/(grad_accum x world), so after the sum over ranks the gradient is the mean over the
// step's tokens), synchronise the gradients, take the global gradient norm, skip the step if the
// loss or the norm is not finite, else clip and apply AdamW with the scheduled rate. Where that
// runs (CPU, GPU, one rank or many, ZeRO-1) is the TrainBackend's business (backend.h): the loop
// has no device branch. Every decision that ends or skips a step (loss, norm, a stop signal) is
// made from values all-reduced across ranks, so all ranks take it together.
//
// With several ranks, rank 0 alone logs, writes metrics and checkpoints.
#include "train/trainer.h"

#include <csignal>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <thread>
#include <utility>

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/check.h"
#include "core/log.h"
#include "core/metrics_log.h"
#include "core/progress.h"
#include "core/threads.h"
#include "dist/comm.h"
#include "model/llama.h"
#include "ops/adamw.h"
#include "train/backend.h"
#include "train/mfu.h"
#include "train/run_setup.h"
#include "train/run_state.h"

namespace tlm {
namespace {

using Clock = std::chrono::steady_clock;

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

// What the progress lines and evaluations need, fixed at the start of the run.
struct Meters {
  double peak_gflops = 0;          // the job's (sum over ranks)
  std::vector<uint64_t> eval_set;  // this rank's validation windows
  double eval_total = 0;           // validation windows over all ranks
  int64_t sample_every = 0;
};

// Measures the peak for MFU, picks the validation windows and logs what the run is. Collective.
Meters start_meters(const RunSetup& run, const TrainBackend& backend, const DataLoader& loader) {
  const TrainOptions& opt = run.opt;
  const ModelConfig& cfg = run.config;
  dist::Communicator& comm = *opt.comm;
  Meters m;
  // Peaks are per rank; the job's peak is their sum (MFU compares it with the job's tokens/s).
  m.peak_gflops = opt.peak_gflops > 0 ? opt.peak_gflops : backend.peak_gflops();
  comm.all_reduce_sum(&m.peak_gflops, 1);
  m.eval_set = eval_windows(run.val_data, opt.T, opt.eval_tokens, opt.rank, opt.world);
  m.eval_total = double(m.eval_set.size());
  comm.all_reduce_sum(&m.eval_total, 1);
  m.sample_every = opt.sample_every < 0 ? opt.eval_every : opt.sample_every;
  if (m.eval_total == 0)
    log_warn("%s: no validation windows (val split of %llu tokens): no validation loss", opt.data_dir.c_str(),
             static_cast<unsigned long long>(run.val_data.size()));
  log_info("train: model %s: %.2fM parameters (V%d T%d C%d L%d H%d KV%d D%d F%d%s), %d threads", opt.model.preset.c_str(),
           double(cfg.num_params()) / 1e6, cfg.vocab_size, opt.T, cfg.dim, cfg.n_layers, cfg.n_heads, cfg.n_kv_heads,
           cfg.head_dim, cfg.ffn_dim, cfg.tied_embeddings ? ", tied" : "", num_threads());
  log_info("train: %lld steps x %lld tokens (b %d x T %d x accum %d), %llu windows per epoch, peak %.1f GFLOP/s%s",
           static_cast<long long>(opt.steps), static_cast<long long>(run.tokens_per_step), opt.B, opt.T, opt.grad_accum,
           static_cast<unsigned long long>(loader.num_windows()), m.peak_gflops,
           opt.peak_gflops > 0 ? " (--peak-gflops)" : backend.peak_source());
  if (const std::string device = backend.device_summary(); !device.empty()) log_info("train: %s", device.c_str());
  const double mb = 1.0 / (1 << 20), n = double(cfg.num_params());
  log_info("train: %d process%s (%s)%s; memory per rank: parameters %.1f MB, gradients %.1f MB, AdamW state %.1f MB%s",
           opt.world, opt.world > 1 ? "es" : "", comm.backend(), opt.zero ? ", ZeRO-1" : "", 4 * n * mb, 4 * n * mb,
           8 * double(backend.optimizer_size()) * mb,
           opt.zero ? strprintf(" (1/%d of %.1f MB)", opt.world, 8 * n * mb).c_str() : "");
  return m;
}

// One step as every rank saw it (from the all-reduced scalars).
struct StepStats {
  double loss = 0, lr = 0, grad_norm = 0, keys = 0, secs = 0;
  bool finite = true, stop = false;
};

// The step's metrics record and progress line; a run of non-finite steps ends the run.
void report_step(const RunSetup& run, const Meters& meters, const RunState& st, const StepStats& s,
                 MetricsWriter& metrics, TrainResult& result, Clock::time_point run_start) {
  const TrainOptions& opt = run.opt;
  const bool root = opt.rank == 0;
  const double tok_s = double(run.tokens_per_step) / s.secs;
  const double mfu = meters.peak_gflops > 0 ? run.config.train_flops_per_token(s.keys / opt.grad_accum) * tok_s /
                                                  (meters.peak_gflops * 1e9)
                                            : 0.0;
  nlohmann::json rec = {{"step", st.step}, {"loss", s.loss},      {"lr", s.lr}, {"grad_norm", s.grad_norm},
                        {"ms", s.secs * 1e3}, {"tokens_per_s", tok_s}, {"mfu", mfu}};
  if (!s.finite) rec["skipped"] = true;
  metrics.write(rec);
  result.last_loss = s.loss;
  if (!s.finite) {
    if (root) log_warn("step %lld: non-finite %s: update skipped (%lld in a row, %lld in all)", static_cast<long long>(st.step),
             std::isfinite(s.loss) ? "gradient norm" : "loss", static_cast<long long>(st.bad_in_row),
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
    double elapsed = std::chrono::duration<double>(Clock::now() - run_start).count();
    double eta = elapsed / double(st.step - result.first_step) * double(opt.steps - st.step);
    log_info("step %lld/%lld | loss %.4f | lr %.2e | grad norm %.3f | %.0f ms | %s tokens/s | MFU %.1f%% | ETA %s",
             static_cast<long long>(st.step), static_cast<long long>(opt.steps), s.loss, s.lr, s.grad_norm, s.secs * 1e3,
             format_quantity(tok_s, ProgressUnit::count).c_str(), 100.0 * mfu, format_duration(eta).c_str());
  }
}

// The validation loss over every rank's windows (collective).
void validate(const RunSetup& run, const Meters& meters, TrainBackend& backend, int64_t step, MetricsWriter& metrics,
              TrainResult& result) {
  const TrainOptions& opt = run.opt;
  EvalResult ev = backend.evaluate(run.val_data, meters.eval_set, opt.B, opt.T, run.eos);
  double sums[2] = {ev.sum_nats, double(ev.tokens)};
  opt.comm->all_reduce_sum(sums, 2);
  ev.sum_nats = sums[0];
  ev.tokens = uint64_t(sums[1]);
  ev.loss = sums[1] > 0 ? sums[0] / sums[1] : std::numeric_limits<double>::quiet_NaN();
  metrics.write({{"step", step}, {"val_loss", ev.loss}});
  result.last_val_loss = ev.loss;
  log_info("step %lld | val loss %.4f | val ppl %.2f (%llu tokens)", static_cast<long long>(step), ev.loss,
           ev.perplexity(), static_cast<unsigned long long>(ev.tokens));
}

// Generated samples for the log (rank 0), from the host copy of the parameters.
void print_samples(const RunSetup& run, TrainBackend& backend, int64_t step) {
  backend.sync_host(false);
  for (const std::string& s : run.opt.sampler(backend.host_model(), run.tokenizer, step)) log_info("sample | %s", s.c_str());
}

}  // namespace

TrainResult train(TrainOptions options, const std::set<std::string>& given) {
  const std::unique_ptr<RunSetup> setup = set_up_run(std::move(options), given);
  const RunSetup& run = *setup;
  const TrainOptions& opt = run.opt;
  dist::Communicator& comm = *opt.comm;
  const std::unique_ptr<TrainBackend> backend = make_train_backend(opt, run.config);
  DataLoader loader = make_loader(run);
  RunState st = start_run(run, *backend, loader);
  setup->initial.params.reset();  // --init-from's weights now live in the backend
  MetricsWriter metrics(opt.rank == 0 ? metrics_path(run) : "");
  const Meters meters = start_meters(run, *backend, loader);
  const std::set<int64_t> inject_nan = nan_injection_steps();
  TrainResult result;
  result.first_step = st.step;
  result.total_steps = opt.steps;
  result.last_val_loss = std::numeric_limits<double>::quiet_NaN();

  StopSignals signals;
  Batch batch;
  const auto run_start = Clock::now();
  if (st.step >= opt.steps) log_info("train: the run is already complete at step %lld", static_cast<long long>(st.step));
  const int micro_total = opt.grad_accum * opt.world;  // micro-batches per step, all ranks
  while (st.step < opt.steps) {
    maybe_inject_fault(opt.rank, st.step + 1);
    const auto t0 = Clock::now();
    backend->zero_grad();
    // A NaN on one rank (the last) must reach every rank's decision through the reduction.
    if (inject_nan.count(st.step + 1) && opt.rank == opt.world - 1) backend->poison_gradient();
    double loss_sum = 0, keys_sum = 0;
    for (int micro = 0; micro < opt.grad_accum; ++micro) {
      loader.next(batch, run.eos);
      loss_sum += backend->forward_backward(batch, 1.0f / float(micro_total), micro + 1 == opt.grad_accum);
      keys_sum += mean_attended_keys(batch);
    }
    // Gradients summed over ranks; then one all-reduce of the step's scalars, from which every
    // rank takes the same decisions.
    const double grad_ss = backend->sync_gradients();
    const bool stop_requested = g_stop_signal != 0 || (opt.stop_after > 0 && st.step + 1 >= opt.stop_after);
    double stats[4] = {loss_sum, keys_sum, stop_requested ? 1.0 : 0.0, grad_ss};
    comm.all_reduce_sum(stats, 4);
    StepStats s;
    s.loss = stats[0] / micro_total;
    s.keys = stats[1] * opt.grad_accum / micro_total;
    s.grad_norm = std::sqrt(stats[3]);
    s.lr = run.schedule.lr_at(st.step);
    s.finite = std::isfinite(s.loss) && std::isfinite(s.grad_norm);
    if (s.finite) {
      ops::AdamWHyper h;
      h.lr = float(s.lr);
      h.weight_decay = float(opt.wd);
      backend->update(h, ops::clip_scale(s.grad_norm, float(opt.clip)));
      st.bad_in_row = 0;
    } else {
      ++st.bad_total;
      ++st.bad_in_row;
    }
    ++st.step;
    s.secs = std::chrono::duration<double>(Clock::now() - t0).count();
    report_step(run, meters, st, s, metrics, result, run_start);

    const bool last = st.step == opt.steps;
    if (meters.eval_total > 0 && ((opt.eval_every > 0 && st.step % opt.eval_every == 0) || last))
      validate(run, meters, *backend, st.step, metrics, result);
    if (opt.rank == 0 && opt.sampler && meters.sample_every > 0 && (st.step % meters.sample_every == 0 || last))
      print_samples(run, *backend, st.step);
    const bool stop = stats[2] > 0 && !last;
    if ((opt.save_every > 0 && st.step % opt.save_every == 0) || last || stop)
      result.checkpoint = save_checkpoint(run, *backend, loader, st, result.checkpoint);
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
