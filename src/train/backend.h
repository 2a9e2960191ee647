// The trainer's one interface to where training runs. The loop (trainer.cpp) reads like
// nanoGPT's: zero the gradients, forward+backward each micro-batch, synchronise the gradients,
// update; it never asks which device it runs on. A TrainBackend owns the parameters, the
// gradients, the optimizer state and those steps:
//  - CPU (cpu_backend.cpp): Llama in fp32 or bf16 linear layers, AdamW over the whole buffer or
//    this rank's ZeRO-1 shard, gradient buckets all-reduced while backward runs (dist::GradBuckets);
//  - CUDA (cuda_backend.cpp): CudaLlama (bf16 mixed precision, fp32 master weights and AdamW on
//    the device), gradients all-reduced over the device communicator (NCCL); a host Llama holds a
//    copy of the parameters for checkpoints and samples.
//
// Fine-tuning (next issues) needs no change of the loop: a loss mask travels in the Batch
// (targets of -1 carry no loss), the initial parameters come from an InitialModel, and the
// optimizer updates only the tensors a ParamFilter marks trainable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/batch.h"
#include "model/config.h"
#include "model/params.h"
#include "ops/adamw.h"
#include "train/evaluate.h"

namespace tlm {

struct TrainOptions;
class Llama;
class AdamW;

// Which tensors the optimizer updates; empty: all of them. Asked once per tensor of the layout
// (for_each_param order; a tied head shares the embedding's storage and its answer). Tensors it
// refuses keep their values and zero optimizer moments (they are still saved). Gradients are
// computed, synchronised and counted in the gradient norm for every tensor regardless.
using ParamFilter = std::function<bool(const ParamInfo&)>;

// Where the parameters and optimizer state of a run come from: Llama::init(seed) for a new run,
// a checkpoint's files for a resumed one, or the weights of a loaded model (`train --init-from`,
// any source load_model reads) with a fresh optimizer.
struct InitialModel {
  uint64_t seed = 0;           // used when neither params nor params_path is given
  std::shared_ptr<const std::vector<float>> params;  // --init-from: the loaded weights (layout order)
  std::string params_path;     // model.safetensors (HF Llama names)
  std::string optimizer_path;  // optimizer.safetensors to continue from; "": fresh AdamW state
  std::string checkpoint_dir;  // names the checkpoint when optimizer_path is missing
};

class TrainBackend {
 public:
  virtual ~TrainBackend() = default;

  // Sets the parameters and optimizer state the run starts from, then makes every rank hold
  // rank 0's parameters (collective).
  virtual void start_from(const InitialModel& init) = 0;

  // One step: zero_grad, forward_backward per micro-batch, sync_gradients, then update (or not:
  // a non-finite step skips it).
  virtual void zero_grad() = 0;
  // Adds the gradient of loss_scale x (the mean loss over the batch's targets >= 0) and returns
  // that mean loss. `last`: the step's last micro-batch (data parallel overlaps the gradient
  // all-reduce with its backward).
  virtual double forward_backward(const Batch& batch, float loss_scale, bool last) = 0;
  // Sums the gradients over the ranks (all of them, or this rank's ZeRO-1 shard). Returns this
  // rank's share of the squared global gradient norm: the shares sum to it over the ranks.
  virtual double sync_gradients() = 0;
  // One AdamW update of the trainable tensors with the gradients scaled by grad_scale
  // (clipping); hyper.weight_decay applies to the decayed tensors only.
  virtual void update(const ops::AdamWHyper& hyper, float grad_scale) = 0;
  // Test-only (TLM_TEST_INJECT_NAN_STEP): makes this rank's gradient non-finite after
  // zero_grad. The CUDA backend ignores it.
  virtual void poison_gradient() {}

  // Validation: the summed loss over `windows` of `data` in batches of up to B rows.
  virtual EvalResult evaluate(const TokenDataset& data, const std::vector<uint64_t>& windows, int B, int T,
                              int32_t eos_id) = 0;

  // The host model: config and layout always, parameters as of the last sync_host().
  virtual Llama& host_model() = 0;
  // Brings the host copies of the parameters (and with_optimizer, of this rank's optimizer
  // state) up to date: a copy from the device on the GPU, nothing on the CPU.
  virtual void sync_host(bool with_optimizer) = 0;
  // Whether this rank's host copy of the optimizer state is all finite.
  virtual bool optimizer_finite() const = 0;
  // Collective: brings the whole optimizer state to rank 0 (ZeRO-1 gathers the shards).
  virtual void gather_optimizer() {}
  // Rank 0, after sync_host(true) and gather_optimizer(): writes optimizer.safetensors.
  virtual void write_optimizer(const std::string& path) = 0;
  // Applied AdamW updates (bias correction; skipped steps do not count).
  virtual int64_t optimizer_steps() const = 0;

  // Reporting: this rank's peak GFLOP/s for MFU (measured or looked up) and what it is; the
  // floats per AdamW moment on this rank; a line on the device ("" for none).
  virtual double peak_gflops() const = 0;
  virtual const char* peak_source() const = 0;
  virtual size_t optimizer_size() const = 0;
  virtual std::string device_summary() const { return ""; }
};

// The backend of opt.device ("cpu" or "cuda") for model `cfg`, activations for opt.B x opt.T,
// on opt.comm (and opt.device_comm for GPU buffers). UserError when memory runs out.
std::unique_ptr<TrainBackend> make_train_backend(const TrainOptions& opt, const ModelConfig& cfg,
                                                 const ParamFilter& trainable = {});
std::unique_ptr<TrainBackend> make_cpu_backend(const TrainOptions& opt, const ModelConfig& cfg,
                                               const ParamFilter& trainable);
std::unique_ptr<TrainBackend> make_cuda_backend(const TrainOptions& opt, const ModelConfig& cfg,
                                                const ParamFilter& trainable);

// Shared by the backends: running out of host memory for the model is the user's -b/-T (or
// model) choice, reported as a UserError.
[[noreturn]] void throw_out_of_memory(const ModelConfig& cfg, int B, int T);
// Loads `init` into the host model and AdamW (parameters, then the optimizer state).
void load_initial_model(const InitialModel& init, Llama& model, AdamW& adam);

}  // namespace tlm
