// The Llama forward and backward on the CPU. Each layer is a short sequence of op calls that
// reads like the architecture; backward is the same sequence in reverse. The residual-stream
// gradient lives in one buffer (dres) that every branch adds into: the residual connection's
// backward is that accumulation. Every linear layer goes through linear_forward/backward,
// the one place that picks fp32 (cblas) or bf16 (oneDNN) arithmetic.
#include "model/llama.h"

#include <cmath>
#include <cstring>

#include "core/check.h"
#include "core/log.h"
#include "model/activations.h"
#include "ops/attention.h"
#include "ops/cross_entropy.h"
#include "ops/embedding.h"
#include "ops/matmul.h"
#include "ops/matmul_bf16.h"
#include "ops/residual.h"
#include "ops/rmsnorm.h"
#include "ops/rope.h"
#include "ops/swiglu.h"

namespace tlm {

namespace {
void zero(AlignedBuffer<float>& b, size_t n) { std::memset(b.data(), 0, n * sizeof(float)); }
}  // namespace

Activations::Activations(const ModelConfig& cfg, int B, int T) {
  size_t N = size_t(B) * T, C = cfg.dim, F = cfg.ffn_dim, QKV = cfg.qkv_dim(), HD = cfg.q_dim();
  bool z = false;  // every buffer is written before it is read
  for (int l = 0; l <= cfg.n_layers; l++) residual.emplace_back(N * C, z);
  layers.resize(cfg.n_layers);
  for (auto& a : layers) {
    a.ln1.reset(N * C, z), a.rstd1.reset(N, z), a.qkv.reset(N * QKV, z), a.att.reset(N * HD, z);
    a.lse.reset(size_t(B) * cfg.n_heads * T, z), a.x_mid.reset(N * C, z), a.ln2.reset(N * C, z);
    a.rstd2.reset(N, z), a.gateup.reset(N * 2 * F, z), a.act.reset(N * F, z);
  }
  lnf.reset(N * C, z), rstdf.reset(N, z), logits.reset(N * size_t(cfg.vocab_size), z);
  losses.reset(N, z), lse_ce.reset(N, z);
  rope_cos.reset(size_t(T) * cfg.head_dim / 2, z), rope_sin.reset(size_t(T) * cfg.head_dim / 2, z);
  ops::rope_table(rope_cos.data(), rope_sin.data(), T, cfg.head_dim, cfg.rope_theta);
  tmp.reset(N * C, z), dres.reset(N * C, z), dln.reset(N * C, z), dqkv.reset(N * QKV, z), datt.reset(N * HD, z);
  dgateup.reset(N * 2 * F, z), dact.reset(N * F, z), dlosses.reset(N, z);
}

void Activations::alloc_bf16(const ModelConfig& cfg, int B, int T) {
  size_t N = size_t(B) * T, C = cfg.dim, F = cfg.ffn_dim, HD = cfg.q_dim();
  for (auto& a : layers) {
    a.ln1_bf16.reset(N * C, false), a.att_bf16.reset(N * HD, false);
    a.ln2_bf16.reset(N * C, false), a.act_bf16.reset(N * F, false);
  }
  lnf_bf16.reset(N * C, false);
}

const char* precision_name(Precision p) { return p == Precision::bf16 ? "bf16" : "fp32"; }

Precision parse_precision(const std::string& s, const std::string& what) {
  if (s == "fp32") return Precision::fp32;
  if (s == "bf16") return Precision::bf16;
  throw user_error(what, "unknown precision '%s' (expected fp32 or bf16)", s.c_str());
}

Llama::Llama(const ModelConfig& cfg, int max_B, int max_T, bool decay_embeddings)
    : cfg_(cfg), layout_(cfg, decay_embeddings), params_(layout_.total()), max_B_(max_B), max_T_(max_T) {
  cfg_.validate("model config");
  w_ = bind_weights(cfg_, layout_, params_.data());
  if (max_B > 0) {
    TLM_CHECK(max_T > 0 && max_T <= cfg_.max_seq_len, "max_T %d outside (0, %d]", max_T, cfg_.max_seq_len);
    acts_ = std::make_unique<Activations>(cfg_, max_B, max_T);
  }
}

Llama::~Llama() = default;

void Llama::init(uint64_t seed) {
  init_params(cfg_, layout_, params_.data(), seed);
  bf16_stale_ = true;
}

void Llama::set_precision(Precision p) {
  if (p == Precision::bf16 && precision_ != p) {
    TLM_CHECK(acts_, "bf16 precision on a model built without activations (max_B = 0)");
    if (!ops::have_bf16_matmul())
      log_info("bf16: no oneDNN bf16 matmul on this CPU: the linear layers run fp32 products of bf16-rounded "
               "operands (bf16 numerics, no faster than --dtype fp32)");
    acts_->alloc_bf16(cfg_, max_B_, max_T_);
    const int C = cfg_.dim, F = cfg_.ffn_dim;
    size_t bytes = 0;
    auto add = [&](const float* w, int IC, int OC) {
      packed_index_.push_back({w, IC, OC, bytes});
      bytes += ops::bf16_weight_bytes(IC, OC);
    };
    for (const LayerWeights& w : w_.layers)
      add(w.wqkv, C, cfg_.qkv_dim()), add(w.wo, cfg_.q_dim(), C), add(w.wgateup, C, 2 * F), add(w.wdown, F, C);
    add(w_.lm_head, C, cfg_.vocab_size);
    packed_.reset(bytes, false);
    bf16_stale_ = true;
  }
  precision_ = p;
}

void Llama::refresh_bf16_weights() {
  for (const PackedWeight& p : packed_index_) ops::pack_bf16_weight(packed_.data() + p.offset, p.w, p.IC, p.OC);
  bf16_stale_ = false;
}

const void* Llama::packed(const float* w) const {
  for (const PackedWeight& p : packed_index_)
    if (p.w == w) return packed_.data() + p.offset;
  TLM_CHECK(false, "no packed bf16 copy of this weight");
  return nullptr;
}

void Llama::linear_forward(float* out, const float* inp, uint16_t* inp_bf16, const float* w, int N, int IC, int OC) {
  if (precision_ == Precision::bf16)
    ops::matmul_bf16_forward(out, inp_bf16, inp, packed(w), N, IC, OC);
  else
    ops::matmul_forward(out, inp, w, N, IC, OC);
}

void Llama::linear_backward(float* dinp, float* dw, const float* dout, const float* inp, const uint16_t* inp_bf16,
                            const float* w, int N, int IC, int OC) {
  if (precision_ == Precision::bf16)
    ops::matmul_bf16_backward(dinp, dw, dout, inp_bf16, packed(w), N, IC, OC);
  else
    ops::matmul_backward(dinp, dw, dout, inp, w, N, IC, OC);
}

const float* Llama::logits() const { return acts_->logits.data(); }
const float* Llama::losses() const { return acts_->losses.data(); }
const float* Llama::hidden() const { return acts_->lnf.data(); }

float Llama::forward(const Batch& batch, bool compute_loss) {
  TLM_CHECK(acts_, "forward() on a model built without activations (max_B = 0)");
  const int B = batch.B, T = batch.T, C = cfg_.dim, F = cfg_.ffn_dim, H = cfg_.n_heads, KVH = cfg_.n_kv_heads;
  const int D = cfg_.head_dim, QKV = cfg_.qkv_dim(), HD = cfg_.q_dim(), V = cfg_.vocab_size, N = B * T;
  TLM_CHECK(B > 0 && B <= max_B_ && T > 0 && T <= max_T_, "batch %dx%d exceeds the model's %dx%d", B, T, max_B_, max_T_);
  Activations& a = *acts_;
  const int32_t* pos = batch.pos.data();
  const float *cos = a.rope_cos.data(), *sin = a.rope_sin.data();
  last_B_ = B, last_T_ = T;
  if (precision_ == Precision::bf16 && bf16_stale_) refresh_bf16_weights();

  ops::embedding_forward(a.residual[0].data(), batch.tokens.data(), w_.embed, N, C);
  for (int l = 0; l < cfg_.n_layers; l++) {
    const LayerWeights& w = w_.layers[l];
    LayerActivations& la = a.layers[l];
    const float* x = a.residual[l].data();
    // h = x + Attention(RMSNorm(x))
    ops::rmsnorm_forward(la.ln1.data(), la.rstd1.data(), x, w.attn_norm, N, C, cfg_.norm_eps);
    linear_forward(la.qkv.data(), la.ln1.data(), la.ln1_bf16.data(), w.wqkv, N, C, QKV);
    ops::rope_forward(la.qkv.data(), QKV, pos, cos, sin, N, H + KVH, D);
    (precision_ == Precision::bf16 ? ops::attention_forward_bf16 : ops::attention_forward)(
        la.att.data(), la.lse.data(), la.qkv.data(), batch.doc_start.data(), B, T, H, KVH, D);
    linear_forward(a.tmp.data(), la.att.data(), la.att_bf16.data(), w.wo, N, HD, C);
    ops::residual_forward(la.x_mid.data(), x, a.tmp.data(), size_t(N) * C);
    // out = h + MLP(RMSNorm(h)), MLP = down(silu(gate(.)) * up(.))
    ops::rmsnorm_forward(la.ln2.data(), la.rstd2.data(), la.x_mid.data(), w.mlp_norm, N, C, cfg_.norm_eps);
    linear_forward(la.gateup.data(), la.ln2.data(), la.ln2_bf16.data(), w.wgateup, N, C, 2 * F);
    ops::swiglu_forward(la.act.data(), la.gateup.data(), N, F);
    linear_forward(a.tmp.data(), la.act.data(), la.act_bf16.data(), w.wdown, N, F, C);
    ops::residual_forward(a.residual[l + 1].data(), la.x_mid.data(), a.tmp.data(), size_t(N) * C);
  }
  ops::rmsnorm_forward(a.lnf.data(), a.rstdf.data(), a.residual[cfg_.n_layers].data(), w_.norm, N, C, cfg_.norm_eps);
  linear_forward(a.logits.data(), a.lnf.data(), a.lnf_bf16.data(), w_.lm_head, N, C, V);
  if (!compute_loss) return NAN;

  ops::cross_entropy_forward(a.losses.data(), a.lse_ce.data(), a.logits.data(), batch.targets.data(), N, V);
  double sum = 0;
  int64_t count = 0;
  for (int i = 0; i < N; i++)
    if (batch.targets[i] >= 0) sum += a.losses[i], count++;
  return count ? float(sum / double(count)) : NAN;
}

void Llama::zero_grad() {
  if (grads_.size() != layout_.total()) {
    grads_.reset(layout_.total());
    g_ = bind_weights(cfg_, layout_, grads_.data());
  } else {
    std::memset(grads_.data(), 0, grads_.size() * sizeof(float));
  }
}

void Llama::backward(const Batch& batch, float loss_scale, const GradsReady& ready) {
  TLM_CHECK(acts_, "backward() on a model built without activations");
  TLM_CHECK(batch.B == last_B_ && batch.T == last_T_, "backward() on a different batch than forward()");
  if (grads_.size() != layout_.total()) zero_grad();
  const int B = batch.B, T = batch.T, C = cfg_.dim, F = cfg_.ffn_dim, H = cfg_.n_heads, KVH = cfg_.n_kv_heads;
  const int D = cfg_.head_dim, QKV = cfg_.qkv_dim(), HD = cfg_.q_dim(), V = cfg_.vocab_size, N = B * T;
  Activations& a = *acts_;
  const int32_t* pos = batch.pos.data();
  const float *cos = a.rope_cos.data(), *sin = a.rope_sin.data();

  // d(mean loss) / d(loss_i) = 1 / count for every token that carries a target.
  int64_t count = batch.count_targets();
  for (int i = 0; i < N; i++) a.dlosses[i] = batch.targets[i] >= 0 ? loss_scale / float(count) : 0.0f;
  // Head: the logits buffer becomes dlogits in place.
  ops::cross_entropy_backward(a.logits.data(), a.logits.data(), a.lse_ce.data(), batch.targets.data(),
                              a.dlosses.data(), N, V);
  zero(a.dln, size_t(N) * C);
  linear_backward(a.dln.data(), g_.lm_head, a.logits.data(), a.lnf.data(), a.lnf_bf16.data(), w_.lm_head, N, C, V);
  zero(a.dres, size_t(N) * C);
  ops::rmsnorm_backward(a.dres.data(), g_.norm, a.dln.data(), a.residual[cfg_.n_layers].data(), w_.norm,
                        a.rstdf.data(), N, C);
  if (ready) ready(size_t(g_.norm - grads_.data()));

  for (int l = cfg_.n_layers - 1; l >= 0; l--) {
    const LayerWeights& w = w_.layers[l];
    const LayerWeights& g = g_.layers[l];
    LayerActivations& la = a.layers[l];
    // dres holds d(out); the MLP branch adds its part of d(h) into it.
    zero(a.dact, size_t(N) * F);
    linear_backward(a.dact.data(), g.wdown, a.dres.data(), la.act.data(), la.act_bf16.data(), w.wdown, N, F, C);
    zero(a.dgateup, size_t(N) * 2 * F);
    ops::swiglu_backward(a.dgateup.data(), a.dact.data(), la.gateup.data(), N, F);
    zero(a.dln, size_t(N) * C);
    linear_backward(a.dln.data(), g.wgateup, a.dgateup.data(), la.ln2.data(), la.ln2_bf16.data(), w.wgateup, N, C,
                    2 * F);
    ops::rmsnorm_backward(a.dres.data(), g.mlp_norm, a.dln.data(), la.x_mid.data(), w.mlp_norm, la.rstd2.data(), N, C);
    // dres holds d(h); the attention branch adds its part of d(x).
    zero(a.datt, size_t(N) * HD);
    linear_backward(a.datt.data(), g.wo, a.dres.data(), la.att.data(), la.att_bf16.data(), w.wo, N, HD, C);
    zero(a.dqkv, size_t(N) * QKV);
    (precision_ == Precision::bf16 ? ops::attention_backward_bf16 : ops::attention_backward)(
        a.dqkv.data(), a.datt.data(), la.qkv.data(), la.att.data(), la.lse.data(), batch.doc_start.data(), B, T, H,
        KVH, D);
    ops::rope_backward(a.dqkv.data(), QKV, pos, cos, sin, N, H + KVH, D);
    zero(a.dln, size_t(N) * C);
    linear_backward(a.dln.data(), g.wqkv, a.dqkv.data(), la.ln1.data(), la.ln1_bf16.data(), w.wqkv, N, C, QKV);
    ops::rmsnorm_backward(a.dres.data(), g.attn_norm, a.dln.data(), a.residual[l].data(), w.attn_norm,
                          la.rstd1.data(), N, C);
    if (ready) ready(size_t(g.attn_norm - grads_.data()));
  }
  ops::embedding_backward(g_.embed, a.dres.data(), batch.tokens.data(), N, C);
  if (ready) ready(0);
}

}  // namespace tlm
