// The Llama decoder on a CUDA device (interface and precision: model/llama_cuda.h). Host code
// only: every kernel is an op of ops/*.h (namespace cuda), called in the order of
// model/llama.cpp, so this file reads like the CPU model.
//
// Memory: one flat fp32 parameter buffer in ParamLayout order (the Weights views are the CPU
// ones, bound to the device pointer) and a bf16 mirror of the WHOLE buffer at the same offsets,
// so a matrix's bf16 copy is found by its offset (bf16_of) and tied lm_head/embed share it for
// free. The mirror is refreshed by cast_to_bf16 after an upload and by AdamW's bf16 output after
// every step. Gradients and the AdamW moments share the layout. Activations are allocated once
// for max_B x max_T: a step allocates nothing (the ops' workspaces grow on first use only).
//
// With recompute, only the residual stream (the input of every layer) is kept across the step:
// one set of per-layer activations is shared by all layers, and backward re-runs each layer's
// forward (up to the SwiGLU output) into it just before that layer's backward. The ops are
// deterministic, so the recomputed activations, and thus the gradients, are bit-identical to the
// stored ones; the cost is about one more forward per step.
//
// The residual-stream gradient lives in dres (fp32), which every branch's RMSNorm backward adds
// into, exactly as on the CPU; rmsnorm_backward also writes its bf16 rounding (dres_bf16), the
// operand of the next matrix product. The logits buffer (bf16) becomes dlogits in place.
#include <cmath>
#include <set>
#include <vector>

#include "core/check.h"
#include "model/llama_cuda.h"
#include "ops/adamw.h"
#include "ops/attention.h"
#include "ops/cross_entropy.h"
#include "ops/cuda_device.h"
#include "ops/embedding.h"
#include "ops/matmul.h"
#include "ops/matmul_bf16.h"
#include "ops/rmsnorm.h"
#include "ops/rope.h"
#include "ops/swiglu.h"

namespace tlm {

namespace {

namespace oc = ops::cuda;
using bf16 = uint16_t;
using tlm::cuda::DeviceBuffer;

struct CudaLayerActivations {
  DeviceBuffer<bf16> ln1;     // [N, C]
  DeviceBuffer<float> rstd1;  // [N]
  DeviceBuffer<bf16> qkv;     // [N, QKV], q and k rotated
  DeviceBuffer<bf16> att;     // [N, H D]
  DeviceBuffer<float> lse;    // [B, H, T]
  DeviceBuffer<float> x_mid;  // [N, C]: residual stream after attention
  DeviceBuffer<bf16> ln2;     // [N, C]
  DeviceBuffer<float> rstd2;  // [N]
  DeviceBuffer<bf16> gateup;  // [N, 2F]
  DeviceBuffer<bf16> act;     // [N, F]
};

class CudaLlamaImpl final : public CudaLlama {
 public:
  CudaLlamaImpl(const ModelConfig& cfg, int max_B, int max_T, bool decay_embeddings, bool recompute);

  const ModelConfig& config() const override { return cfg_; }
  const ParamLayout& layout() const override { return layout_; }

  void upload_params(const float* host) override;
  void download_params(float* host) const override { params_.download(host, layout_.total()); }
  void upload_adam(const float* m, const float* v, int64_t t) override;
  void download_adam(float* m, float* v) const override;
  int64_t adam_t() const override { return t_; }

  float forward(const Batch& batch, bool compute_loss) override;
  void download_logits(float* host) const override;
  void zero_grad() override { grads_.zero(); }
  void backward(const Batch& batch, float loss_scale) override;
  void download_grads(float* host) const override { grads_.download(host, layout_.total()); }
  float* device_grads() override { return grads_.data(); }
  double grad_sum_squares() const override { return oc::sum_squares(grads_.data(), layout_.total()); }
  void adamw_step(const ops::AdamWHyper& hyper, float grad_scale) override;
  size_t device_bytes() const override { return bytes_; }

 private:
  ModelConfig cfg_;
  ParamLayout layout_;
  int max_B_, max_T_;
  size_t bytes_ = 0;
  int last_B_ = 0, last_T_ = 0;
  bool have_loss_ = false;  // the last forward computed the loss (backward needs lse_ce)
  bool recompute_ = false;  // one set of layer activations, recomputed in backward
  int64_t t_ = 0;

  // Each storage range of the layout once (a tied lm_head is the embedding's range), with its
  // decay flag: the ranges AdamW updates, as train/optimizer.cpp builds them.
  struct Range {
    size_t offset, size;
    bool decay;
  };
  std::vector<Range> ranges_;

  DeviceBuffer<float> params_, grads_, m_, v_;
  DeviceBuffer<bf16> params_bf16_;
  Weights w_, g_;  // views of params_ and grads_ (device pointers)

  // Activations for max_B x max_T.
  std::vector<DeviceBuffer<float>> residual_;  // L + 1 of [N, C]
  std::vector<CudaLayerActivations> layers_;
  DeviceBuffer<bf16> lnf_;                      // [N, C]
  DeviceBuffer<float> rstdf_;                   // [N]
  DeviceBuffer<bf16> logits_;                   // [N, V]; dlogits after backward
  DeviceBuffer<float> losses_, lse_ce_;         // [N]
  DeviceBuffer<float> rope_cos_, rope_sin_;     // [max_T, D/2]
  // Backward scratch, shared by the layers.
  DeviceBuffer<float> dres_;                    // [N, C]
  DeviceBuffer<bf16> dres_bf16_, dln_;          // [N, C]
  DeviceBuffer<bf16> datt_, dqkv_;              // [N, H D], [N, QKV]
  DeviceBuffer<bf16> dgateup_, dact_;           // [N, 2F], [N, F]
  // The batch on the device, and the embedding backward's index (embedding.h).
  DeviceBuffer<int32_t> tokens_, targets_, pos_, doc_start_;  // [N]
  DeviceBuffer<int32_t> emb_uniq_, emb_offsets_, emb_positions_;  // [N], [N + 1], [N]
  std::vector<int32_t> h_uniq_, h_offsets_, h_positions_;
  std::vector<float> h_losses_;

  template <class T>
  DeviceBuffer<T> alloc(size_t n) {
    bytes_ += n * sizeof(T);
    return DeviceBuffer<T>(n);
  }
  // Layer l's activations (the shared set with recompute).
  CudaLayerActivations& acts(int l) { return layers_[recompute_ ? 0 : size_t(l)]; }
  // Layer l's forward from residual_[l]: up to the SwiGLU output, then (unless `partial`, which
  // recompute uses) the down projection into residual_[l + 1].
  void layer_forward(int l, int B, int T, bool partial);
  // The bf16 copy of a weight: the same offset in the mirror.
  const bf16* bf16_of(const float* w) const { return params_bf16_.data() + (w - params_.data()); }
  void check_batch(const Batch& batch) const;
};

CudaLlamaImpl::CudaLlamaImpl(const ModelConfig& cfg, int max_B, int max_T, bool decay_embeddings, bool recompute)
    : cfg_(cfg), layout_(cfg, decay_embeddings), max_B_(max_B), max_T_(max_T), recompute_(recompute) {
  cfg_.validate("model config");
  TLM_CHECK(max_B > 0, "max_B %d must be positive", max_B);
  TLM_CHECK(max_T > 0 && max_T <= cfg_.max_seq_len, "max_T %d outside (0, %d]", max_T, cfg_.max_seq_len);
  std::set<size_t> seen;
  for_each_param(layout_, [&](const ParamInfo& p) {
    if (seen.insert(p.offset).second) ranges_.push_back({p.offset, p.size, p.decay});
  });

  const size_t P = layout_.total();
  params_ = alloc<float>(P), grads_ = alloc<float>(P), m_ = alloc<float>(P), v_ = alloc<float>(P);
  params_bf16_ = alloc<bf16>(P);
  // Zero weights, gradients and state (bf16 zero is all-zero bits too).
  params_.zero(), grads_.zero(), m_.zero(), v_.zero(), params_bf16_.zero();
  w_ = bind_weights(cfg_, layout_, params_.data());
  g_ = bind_weights(cfg_, layout_, grads_.data());

  const size_t N = size_t(max_B) * max_T, C = cfg_.dim, F = cfg_.ffn_dim, QKV = cfg_.qkv_dim(), HD = cfg_.q_dim();
  const size_t V = cfg_.vocab_size;
  for (int l = 0; l <= cfg_.n_layers; l++) residual_.push_back(alloc<float>(N * C));
  layers_.resize(recompute ? 1 : cfg_.n_layers);
  for (auto& a : layers_) {
    a.ln1 = alloc<bf16>(N * C), a.rstd1 = alloc<float>(N), a.qkv = alloc<bf16>(N * QKV), a.att = alloc<bf16>(N * HD);
    a.lse = alloc<float>(size_t(max_B) * cfg_.n_heads * max_T), a.x_mid = alloc<float>(N * C);
    a.ln2 = alloc<bf16>(N * C), a.rstd2 = alloc<float>(N), a.gateup = alloc<bf16>(N * 2 * F), a.act = alloc<bf16>(N * F);
  }
  lnf_ = alloc<bf16>(N * C), rstdf_ = alloc<float>(N), logits_ = alloc<bf16>(N * V);
  losses_ = alloc<float>(N), lse_ce_ = alloc<float>(N);
  const size_t half = size_t(max_T) * cfg_.head_dim / 2;
  rope_cos_ = alloc<float>(half), rope_sin_ = alloc<float>(half);
  {
    std::vector<float> cos(half), sin(half);
    ops::rope_table(cos.data(), sin.data(), max_T, cfg_.head_dim, cfg_.rope_theta);
    rope_cos_.upload(cos.data(), half), rope_sin_.upload(sin.data(), half);
  }
  dres_ = alloc<float>(N * C), dres_bf16_ = alloc<bf16>(N * C), dln_ = alloc<bf16>(N * C);
  datt_ = alloc<bf16>(N * HD), dqkv_ = alloc<bf16>(N * QKV), dgateup_ = alloc<bf16>(N * 2 * F), dact_ = alloc<bf16>(N * F);
  tokens_ = alloc<int32_t>(N), targets_ = alloc<int32_t>(N), pos_ = alloc<int32_t>(N), doc_start_ = alloc<int32_t>(N);
  emb_uniq_ = alloc<int32_t>(N), emb_offsets_ = alloc<int32_t>(N + 1), emb_positions_ = alloc<int32_t>(N);
  h_uniq_.reserve(N), h_offsets_.reserve(N + 1), h_positions_.reserve(N), h_losses_.resize(N);
}

void CudaLlamaImpl::upload_params(const float* host) {
  params_.upload(host, layout_.total());
  oc::cast_to_bf16(params_bf16_.data(), params_.data(), layout_.total());
  tlm::cuda::synchronize();
}

void CudaLlamaImpl::upload_adam(const float* m, const float* v, int64_t t) {
  TLM_CHECK(t >= 0, "AdamW update count %lld", static_cast<long long>(t));
  m_.upload(m, layout_.total()), v_.upload(v, layout_.total());
  t_ = t;
}

void CudaLlamaImpl::download_adam(float* m, float* v) const {
  m_.download(m, layout_.total()), v_.download(v, layout_.total());
}

void CudaLlamaImpl::download_logits(float* host) const {
  const size_t n = size_t(last_B_) * last_T_ * cfg_.vocab_size;
  std::vector<bf16> tmp(n);
  logits_.download(tmp.data(), n);
  ops::from_bf16(host, tmp.data(), n);
}

// Out-of-range ids would read or write outside the tables on the device: refuse them here.
void CudaLlamaImpl::check_batch(const Batch& batch) const {
  const int B = batch.B, T = batch.T;
  TLM_CHECK(B > 0 && B <= max_B_ && T > 0 && T <= max_T_, "batch %dx%d exceeds the model's %dx%d", B, T, max_B_,
            max_T_);
  const size_t N = size_t(B) * T;
  TLM_CHECK(batch.tokens.size() == N && batch.targets.size() == N && batch.pos.size() == N &&
                batch.doc_start.size() == N, "batch %dx%d with arrays of the wrong size", B, T);
  for (size_t i = 0; i < N; i++) {
    TLM_CHECK(batch.tokens[i] >= 0 && batch.tokens[i] < cfg_.vocab_size, "token %d outside the vocabulary (%d)",
              batch.tokens[i], cfg_.vocab_size);
    TLM_CHECK(batch.targets[i] < cfg_.vocab_size, "target %d outside the vocabulary (%d)", batch.targets[i],
              cfg_.vocab_size);
    TLM_CHECK(batch.pos[i] >= 0 && batch.pos[i] < max_T_, "position %d outside [0, %d)", batch.pos[i], max_T_);
  }
}

float CudaLlamaImpl::forward(const Batch& batch, bool compute_loss) {
  check_batch(batch);
  const int B = batch.B, T = batch.T, C = cfg_.dim, V = cfg_.vocab_size, N = B * T;
  const float eps = cfg_.norm_eps;
  tokens_.upload(batch.tokens.data(), N), targets_.upload(batch.targets.data(), N);
  pos_.upload(batch.pos.data(), N), doc_start_.upload(batch.doc_start.data(), N);
  last_B_ = B, last_T_ = T;
  have_loss_ = false;

  oc::embedding_forward(residual_[0].data(), tokens_.data(), w_.embed, N, C);
  for (int l = 0; l < cfg_.n_layers; l++) layer_forward(l, B, T, false);
  oc::rmsnorm_forward(lnf_.data(), rstdf_.data(), residual_[cfg_.n_layers].data(), w_.norm, N, C, eps);
  oc::matmul_forward(logits_.data(), lnf_.data(), bf16_of(w_.lm_head), N, C, V);
  if (!compute_loss) return NAN;

  oc::cross_entropy_forward(losses_.data(), lse_ce_.data(), logits_.data(), targets_.data(), N, V);
  have_loss_ = true;
  losses_.download(h_losses_.data(), N);  // synchronises
  double sum = 0;
  int64_t count = 0;
  for (int i = 0; i < N; i++)
    if (batch.targets[i] >= 0) sum += h_losses_[i], count++;
  return count ? float(sum / double(count)) : NAN;
}

void CudaLlamaImpl::layer_forward(int l, int B, int T, bool partial) {
  const int C = cfg_.dim, F = cfg_.ffn_dim, H = cfg_.n_heads, KVH = cfg_.n_kv_heads, D = cfg_.head_dim;
  const int QKV = cfg_.qkv_dim(), HD = cfg_.q_dim(), N = B * T;
  const float eps = cfg_.norm_eps;
  const LayerWeights& w = w_.layers[l];
  CudaLayerActivations& la = acts(l);
  const float* x = residual_[l].data();
  // h = x + Attention(RMSNorm(x)): the residual add is the o_proj product's epilogue.
  oc::rmsnorm_forward(la.ln1.data(), la.rstd1.data(), x, w.attn_norm, N, C, eps);
  oc::matmul_forward(la.qkv.data(), la.ln1.data(), bf16_of(w.wqkv), N, C, QKV);
  oc::rope_forward(la.qkv.data(), QKV, pos_.data(), rope_cos_.data(), rope_sin_.data(), N, H + KVH, D);
  oc::attention_forward(la.att.data(), la.lse.data(), la.qkv.data(), doc_start_.data(), B, T, H, KVH, D);
  oc::matmul_forward_residual(la.x_mid.data(), x, la.att.data(), bf16_of(w.wo), N, HD, C);
  // out = h + MLP(RMSNorm(h)), MLP = down(silu(gate(.)) * up(.))
  oc::rmsnorm_forward(la.ln2.data(), la.rstd2.data(), la.x_mid.data(), w.mlp_norm, N, C, eps);
  oc::matmul_forward(la.gateup.data(), la.ln2.data(), bf16_of(w.wgateup), N, C, 2 * F);
  oc::swiglu_forward(la.act.data(), la.gateup.data(), N, F);
  if (!partial)
    oc::matmul_forward_residual(residual_[l + 1].data(), la.x_mid.data(), la.act.data(), bf16_of(w.wdown), N, F, C);
}

void CudaLlamaImpl::backward(const Batch& batch, float loss_scale) {
  TLM_CHECK(batch.B == last_B_ && batch.T == last_T_, "backward() on a different batch than forward()");
  TLM_CHECK(have_loss_, "backward() needs a forward() with compute_loss first (once per forward)");
  have_loss_ = false;  // the logits become dlogits below
  const int B = batch.B, T = batch.T, C = cfg_.dim, F = cfg_.ffn_dim, H = cfg_.n_heads, KVH = cfg_.n_kv_heads;
  const int D = cfg_.head_dim, QKV = cfg_.qkv_dim(), HD = cfg_.q_dim(), V = cfg_.vocab_size, N = B * T;
  const int32_t* pos = pos_.data();
  const float *cos = rope_cos_.data(), *sin = rope_sin_.data();

  // d(mean loss) / d(loss_i) = 1 / count for every token that carries a target.
  const int64_t count = batch.count_targets();
  const float dloss = count ? loss_scale / float(count) : 0.0f;
  oc::cross_entropy_backward(logits_.data(), logits_.data(), lse_ce_.data(), targets_.data(), dloss, N, V);
  oc::matmul_backward(dln_.data(), g_.lm_head, logits_.data(), lnf_.data(), bf16_of(w_.lm_head), N, C, V);
  tlm::cuda::fill_zero(dres_.data(), size_t(N) * C * sizeof(float));
  oc::rmsnorm_backward(dres_.data(), dres_bf16_.data(), g_.norm, dln_.data(), residual_[cfg_.n_layers].data(),
                       w_.norm, rstdf_.data(), N, C);

  for (int l = cfg_.n_layers - 1; l >= 0; l--) {
    const LayerWeights& w = w_.layers[l];
    const LayerWeights& g = g_.layers[l];
    if (recompute_) layer_forward(l, B, T, true);
    CudaLayerActivations& la = acts(l);
    // dres holds d(out); the MLP branch adds its part of d(h) into it.
    oc::matmul_backward(dact_.data(), g.wdown, dres_bf16_.data(), la.act.data(), bf16_of(w.wdown), N, F, C);
    oc::swiglu_backward(dgateup_.data(), dact_.data(), la.gateup.data(), N, F);
    oc::matmul_backward(dln_.data(), g.wgateup, dgateup_.data(), la.ln2.data(), bf16_of(w.wgateup), N, C, 2 * F);
    oc::rmsnorm_backward(dres_.data(), dres_bf16_.data(), g.mlp_norm, dln_.data(), la.x_mid.data(), w.mlp_norm,
                         la.rstd2.data(), N, C);
    // dres holds d(h); the attention branch adds its part of d(x).
    oc::matmul_backward(datt_.data(), g.wo, dres_bf16_.data(), la.att.data(), bf16_of(w.wo), N, HD, C);
    oc::attention_backward(dqkv_.data(), datt_.data(), la.qkv.data(), la.att.data(), la.lse.data(), doc_start_.data(),
                           B, T, H, KVH, D);
    oc::rope_backward(dqkv_.data(), QKV, pos, cos, sin, N, H + KVH, D);
    oc::matmul_backward(dln_.data(), g.wqkv, dqkv_.data(), la.ln1.data(), bf16_of(w.wqkv), N, C, QKV);
    oc::rmsnorm_backward(dres_.data(), dres_bf16_.data(), g.attn_norm, dln_.data(), residual_[l].data(), w.attn_norm,
                         la.rstd1.data(), N, C);
  }
  // The embedding rows: grouped by token on the host (deterministic, no atomics on the device).
  oc::embedding_backward_index(h_uniq_, h_offsets_, h_positions_, batch.tokens.data(), N);
  const int n_uniq = int(h_uniq_.size());
  TLM_CHECK(h_offsets_.size() == size_t(n_uniq) + 1 && h_positions_.size() == size_t(N),
            "embedding index of %d tokens: %zu offsets, %zu positions", n_uniq, h_offsets_.size(), h_positions_.size());
  emb_uniq_.upload(h_uniq_.data(), h_uniq_.size());
  emb_offsets_.upload(h_offsets_.data(), h_offsets_.size());
  emb_positions_.upload(h_positions_.data(), h_positions_.size());
  oc::embedding_backward(g_.embed, dres_.data(), emb_uniq_.data(), emb_offsets_.data(), emb_positions_.data(), n_uniq,
                         C);
}

void CudaLlamaImpl::adamw_step(const ops::AdamWHyper& hyper, float grad_scale) {
  ++t_;
  for (const Range& r : ranges_) {
    ops::AdamWHyper h = hyper;
    if (!r.decay) h.weight_decay = 0.0f;
    oc::adamw_update(params_.data() + r.offset, params_bf16_.data() + r.offset, grads_.data() + r.offset,
                     m_.data() + r.offset, v_.data() + r.offset, r.size, h, t_, grad_scale);
  }
}

}  // namespace

std::unique_ptr<CudaLlama> make_cuda_llama(const ModelConfig& cfg, int max_B, int max_T, bool decay_embeddings,
                                           bool recompute) {
  return std::make_unique<CudaLlamaImpl>(cfg, max_B, max_T, decay_embeddings, recompute);
}

}  // namespace tlm
