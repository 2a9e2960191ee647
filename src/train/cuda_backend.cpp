// The CUDA training backend (see backend.h): CudaLlama trains in bf16 mixed precision with fp32
// master weights, gradients and AdamW state on the device; with several ranks the device
// gradients are all-reduced over the device communicator (NCCL; MPI on the CPU emulator). A host
// Llama without activations and a host AdamW hold copies for checkpoints, resume and samples;
// the CPU checkpoint format is kept, so a run resumes on the GPU and back. --dtype, ZeRO-1 and
// a subset of trainable tensors are CPU features for now (set-up refuses the first two).
#include <cmath>
#include <new>

#include "core/check.h"
#include "dist/comm.h"
#include "model/llama.h"
#include "model/llama_cuda.h"
#include "ops/cuda_device.h"
#include "train/backend.h"
#include "train/mfu.h"
#include "train/optimizer.h"
#include "train/train_options.h"

namespace tlm {
namespace {

bool all_finite(const float* p, size_t n) { return std::isfinite(ops::sum_squares(p, n)); }

class CudaBackend final : public TrainBackend {
 public:
  CudaBackend(const TrainOptions& opt, const ModelConfig& cfg, const ParamFilter& trainable)
      : comm_(*opt.comm), device_comm_(opt.device_comm), B_(opt.B), T_(opt.T), recompute_(opt.recompute) {
    if (trainable)
      throw UserError("--device cuda", "training a subset of the tensors is not implemented on the GPU yet");
    try {
      // The host model only holds the parameters (checkpoints, samples): no activations.
      host_ = std::make_unique<Llama>(cfg, 0, opt.T);
      TLM_CHECK(host_->num_params() == cfg.num_params(), "layout of %zu != %zu parameters", host_->num_params(),
                size_t(cfg.num_params()));
      adam_ = std::make_unique<AdamW>(host_->layout());
    } catch (const std::bad_alloc&) {
      throw_out_of_memory(cfg, opt.B, opt.T);
    }
    device_ = make_cuda_llama(cfg, opt.B, opt.T, false, opt.recompute);
  }

  void start_from(const InitialModel& init) override {
    load_initial_model(init, *host_, *adam_);
    comm_.broadcast(host_->params(), host_->num_params() * sizeof(float), 0);
    device_->upload_params(host_->params());
    device_->upload_adam(adam_->m(), adam_->v(), adam_->t());
  }

  void zero_grad() override { device_->zero_grad(); }

  double forward_backward(const Batch& batch, float loss_scale, bool) override {
    const double loss = double(device_->forward(batch));
    device_->backward(batch, loss_scale);
    return loss;
  }

  // Every rank holds the whole summed gradient: rank 0 alone contributes its norm.
  double sync_gradients() override {
    if (comm_.size() > 1) {
      cuda::synchronize();  // NCCL runs on its own stream: backward must be done first
      device_comm_->all_reduce_sum(device_->device_grads(), device_->num_params());
    }
    return comm_.rank() == 0 ? device_->grad_sum_squares() : 0.0;
  }

  void update(const ops::AdamWHyper& hyper, float grad_scale) override { device_->adamw_step(hyper, grad_scale); }

  EvalResult evaluate(const TokenDataset& data, const std::vector<uint64_t>& windows, int B, int T,
                      int32_t eos_id) override {
    auto nats = [&](const Batch& b) {
      const int64_t n = b.count_targets();
      return n ? double(device_->forward(b)) * double(n) : 0.0;
    };
    return tlm::evaluate(nats, data, windows, B, T, eos_id);
  }

  Llama& host_model() override { return *host_; }
  void sync_host(bool with_optimizer) override {
    device_->download_params(host_->params());
    if (with_optimizer) device_->download_adam(adam_->m(), adam_->v());
  }
  bool optimizer_finite() const override {
    return all_finite(adam_->m(), adam_->size()) && all_finite(adam_->v(), adam_->size());
  }
  void write_optimizer(const std::string& path) override {
    AdamW::write(path, host_->layout(), adam_->m(), adam_->v(), device_->adam_t());
  }
  int64_t optimizer_steps() const override { return device_->adam_t(); }

  // A GPU's peak is its datasheet's dense bf16 peak (0 when unknown: no MFU without --peak-gflops).
  double peak_gflops() const override { return gpu_bf16_peak_gflops(cuda::device_name()); }
  const char* peak_source() const override { return " (the GPU's dense bf16 peak)"; }
  size_t optimizer_size() const override { return adam_->size(); }
  std::string device_summary() const override {
    return strprintf("device %s: bf16 mixed precision, %.1f MiB of device memory (weights, gradients, AdamW, "
                     "activations for %d x %d%s)", cuda::device_name().c_str(),
                     double(device_->device_bytes()) / (1 << 20), B_, T_, recompute_ ? ", recomputed in backward" : "");
  }

 private:
  dist::Communicator& comm_;
  dist::Communicator* device_comm_;
  const int B_, T_;
  const bool recompute_;
  std::unique_ptr<Llama> host_;
  std::unique_ptr<AdamW> adam_;
  std::unique_ptr<CudaLlama> device_;
};

}  // namespace

std::unique_ptr<TrainBackend> make_cuda_backend(const TrainOptions& opt, const ModelConfig& cfg,
                                                const ParamFilter& trainable) {
  return std::make_unique<CudaBackend>(opt, cfg, trainable);
}

}  // namespace tlm
