// The CPU training backend (see backend.h): Llama with fp32 or bf16 linear layers (--dtype) and
// AdamW on the host. With several ranks the gradients are summed either by buckets all-reduced
// while the last micro-batch's backward computes the layers below (dist::GradBuckets), or, with
// ZeRO-1, by a reduce-scatter after it: each rank then owns one contiguous shard of the AdamW
// state, updates that part of the parameters, and the parameters are all-gathered.
#include <cmath>
#include <limits>
#include <new>

#include "core/buffer.h"
#include "core/check.h"
#include "dist/comm.h"
#include "dist/data_parallel.h"
#include "model/llama.h"
#include "train/backend.h"
#include "train/mfu.h"
#include "train/optimizer.h"
#include "train/train_options.h"

namespace tlm {
namespace {

bool all_finite(const float* p, size_t n) { return std::isfinite(ops::sum_squares(p, n)); }

class CpuBackend final : public TrainBackend {
 public:
  CpuBackend(const TrainOptions& opt, const ModelConfig& cfg, const ParamFilter& trainable)
      : comm_(*opt.comm), zero_(opt.zero != 0), shards_(cfg.num_params(), opt.rank, opt.world) {
    try {
      model_ = std::make_unique<Llama>(cfg, opt.B, opt.T);
      TLM_CHECK(model_->num_params() == cfg.num_params(), "layout of %zu != %zu parameters", model_->num_params(),
                size_t(cfg.num_params()));
      adam_ = zero_ ? std::make_unique<AdamW>(model_->layout(), shards_.lo, shards_.hi, trainable)
                    : std::make_unique<AdamW>(model_->layout(), 0, SIZE_MAX, trainable);
      if (zero_) grad_shard_.reset(shards_.hi - shards_.lo);
    } catch (const std::bad_alloc&) {
      throw_out_of_memory(cfg, opt.B, opt.T);
    }
    model_->set_precision(parse_precision(opt.dtype, "--dtype"));
    if (opt.world > 1 && !zero_)
      buckets_ = std::make_unique<dist::GradBuckets>(comm_, model_->layout(), size_t(opt.bucket_mb * (1 << 20)));
  }

  void start_from(const InitialModel& init) override {
    load_initial_model(init, *model_, *adam_);
    comm_.broadcast(model_->params(), model_->num_params() * sizeof(float), 0);
  }

  void zero_grad() override { model_->zero_grad(); }

  double forward_backward(const Batch& batch, float loss_scale, bool last) override {
    const double loss = double(model_->forward(batch));
    if (buckets_ && last)  // the last backward overlaps the all-reduce
      model_->backward(batch, loss_scale, [&](size_t from) { buckets_->ready(model_->grads(), from); });
    else
      model_->backward(batch, loss_scale);
    return loss;
  }

  double sync_gradients() override {
    my_grads_ = model_->grads() + shards_.lo;
    if (buckets_) buckets_->finish(model_->grads());
    if (zero_) {
      comm_.reduce_scatter_sum(model_->grads(), grad_shard_.data(), shards_.counts);
      my_grads_ = grad_shard_.data();
    }
    return ops::sum_squares(my_grads_, shards_.hi - shards_.lo);
  }

  void update(const ops::AdamWHyper& hyper, float grad_scale) override {
    if (zero_) {
      adam_->step(model_->params() + shards_.lo, my_grads_, hyper, grad_scale);
      comm_.all_gather(model_->params(), shards_.counts);
    } else {
      adam_->step(model_->params(), model_->grads(), hyper, grad_scale);
    }
  }

  void poison_gradient() override { model_->grads()[0] = std::numeric_limits<float>::quiet_NaN(); }

  EvalResult evaluate(const TokenDataset& data, const std::vector<uint64_t>& windows, int B, int T,
                      int32_t eos_id) override {
    return tlm::evaluate(*model_, data, windows, B, T, eos_id);
  }

  Llama& host_model() override { return *model_; }
  void sync_host(bool) override {}
  bool optimizer_finite() const override {
    return all_finite(adam_->m(), adam_->size()) && all_finite(adam_->v(), adam_->size());
  }

  void gather_optimizer() override {
    if (!zero_) return;
    if (comm_.rank() == 0) {
      m_full_.reset(model_->num_params(), false);
      v_full_.reset(model_->num_params(), false);
    }
    comm_.gather(adam_->m(), m_full_.data(), shards_.counts, 0);
    comm_.gather(adam_->v(), v_full_.data(), shards_.counts, 0);
  }

  void write_optimizer(const std::string& path) override {
    if (!zero_) return adam_->save(path);
    AdamW::write(path, model_->layout(), m_full_.data(), v_full_.data(), adam_->t());
    m_full_.reset(0);  // held for the save only
    v_full_.reset(0);
  }

  int64_t optimizer_steps() const override { return adam_->t(); }

  double peak_gflops() const override {
    return bf16() ? measure_bf16_gflops(0.3) : measure_sgemm_gflops(0.3);
  }
  const char* peak_source() const override {
    return bf16() ? " (measured bf16 matmul, --dtype bf16)" : " (measured sgemm)";
  }
  size_t optimizer_size() const override { return adam_->size(); }

 private:
  // MFU of a bf16 run is measured against the bf16 matmul peak, not the (about half) sgemm one.
  bool bf16() const { return model_->precision() == Precision::bf16; }

  dist::Communicator& comm_;
  const bool zero_;
  // This rank's part of the flat buffer: its ZeRO-1 shard, and its share of the gradient norm.
  const dist::Shards shards_;
  std::unique_ptr<Llama> model_;
  std::unique_ptr<AdamW> adam_;
  std::unique_ptr<dist::GradBuckets> buckets_;
  AlignedBuffer<float> grad_shard_;      // ZeRO-1: this rank's part of the summed gradients
  const float* my_grads_ = nullptr;      // the gradients of [lo, hi) after sync_gradients()
  AlignedBuffer<float> m_full_, v_full_; // ZeRO-1, rank 0: the gathered AdamW state for a save
};

}  // namespace

std::unique_ptr<TrainBackend> make_cpu_backend(const TrainOptions& opt, const ModelConfig& cfg,
                                               const ParamFilter& trainable) {
  return std::make_unique<CpuBackend>(opt, cfg, trainable);
}

}  // namespace tlm
