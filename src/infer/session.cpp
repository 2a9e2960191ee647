// InferenceSession: the forward of model/llama.cpp, one chunk of rows at a time, with a KV cache.
// The per-layer sequence of op calls is the same as Llama::forward; the differences are that the
// new keys/values are stored in the cache and attention runs per sequence against it, and that
// the final norm and the LM head run only on the rows whose logits are asked for (the last of
// each input), which saves V x C work per prompt token.
#include "infer/session.h"

#include <algorithm>
#include <cstring>

#include "core/check.h"
#include "ops/attention.h"
#include "ops/embedding.h"
#include "ops/matmul.h"
#include "ops/residual.h"
#include "ops/rmsnorm.h"
#include "ops/rope.h"
#include "ops/swiglu.h"

namespace tlm {

InferenceSession::InferenceSession(const Llama& model, int n_slots, int max_ctx, int max_rows)
    : model_(model),
      cache_(model.config(), n_slots, max_ctx > 0 ? std::min(max_ctx, model.config().max_seq_len)
                                                  : model.config().max_seq_len),
      max_rows_(max_rows) {
  TLM_CHECK(max_rows > 0, "max_rows %d", max_rows);
  const ModelConfig& c = model.config();
  const size_t R = size_t(max_rows), C = c.dim, F = c.ffn_dim;
  tokens_.resize(R), pos_.resize(R);
  segs_.reserve(size_t(n_slots) + 1), out_rows_.reserve(size_t(n_slots)), slot_used_.assign(n_slots, 0);
  const bool z = false;  // every buffer is written before it is read
  x_.reset(R * C, z), xn_.reset(R * C, z), rstd_.reset(R, z), qkv_.reset(R * c.qkv_dim(), z);
  q_.reset(R * c.q_dim(), z), att_.reset(R * c.q_dim(), z), tmp_.reset(R * C, z);
  gateup_.reset(R * 2 * F, z), act_.reset(R * F, z), last_.reset(size_t(std::min(max_rows, n_slots)) * C, z);
  const size_t half = size_t(c.head_dim) / 2;
  rope_cos_.reset(size_t(cache_.max_ctx()) * half, z), rope_sin_.reset(size_t(cache_.max_ctx()) * half, z);
  ops::rope_table(rope_cos_.data(), rope_sin_.data(), cache_.max_ctx(), c.head_dim, c.rope_theta);
  logits_.reset(size_t(n_slots) * c.vocab_size, z);
  ones_.reset(C, z);
  std::fill(ones_.data(), ones_.data() + C, 1.0f);
  input_of_slot_.assign(n_slots, 0);
}

const float* InferenceSession::forward(std::span<const SeqInput> inputs) {
  pool_layers_.clear();
  feed(inputs);
  return logits_.data();
}

const float* InferenceSession::embed(std::span<const SeqInput> inputs) {
  const int C = config().dim, L = config().n_layers;
  const float* f = features(inputs, std::span<const int>(&L, 1));
  embedded_.resize(inputs.size() * size_t(C));
  for (size_t k = 0; k < inputs.size(); k++)  // keep the mean, drop the last row
    std::copy(f + k * 2 * C, f + k * 2 * C + C, embedded_.data() + k * C);
  return embedded_.data();
}

const float* InferenceSession::features(std::span<const SeqInput> inputs, std::span<const int> layers) {
  const size_t C = size_t(config().dim), NL = layers.size();
  TLM_CHECK(NL >= 1, "features: no layer asked for");
  for (int l : layers) TLM_CHECK(l >= 1 && l <= config().n_layers, "features: layer %d of %d", l, config().n_layers);
  for (const SeqInput& in : inputs) {
    TLM_CHECK(in.slot >= 0 && in.slot < n_slots(), "slot %d out of range", in.slot);
    reset(in.slot);
  }
  pooled_.assign(inputs.size() * NL * 2 * C, 0.0f);
  for (size_t k = 0; k < inputs.size(); k++) input_of_slot_[inputs[k].slot] = int(k);
  pool_layers_.assign(layers.begin(), layers.end());
  feed(inputs);
  pool_layers_.clear();
  for (size_t k = 0; k < inputs.size(); k++) {
    const float inv = 1.0f / float(inputs[k].n);
    for (size_t li = 0; li < NL; li++) {
      float* mean = pooled_.data() + (k * NL + li) * 2 * C;
      for (size_t i = 0; i < C; i++) mean[i] *= inv;
    }
  }
  return pooled_.data();
}

// features(): adds the normed rows of layer pool_layers_[li] to their inputs' means, and keeps
// each input's last row.
void InferenceSession::pool_rows(int li, const float* normed) {
  const size_t C = size_t(config().dim), NL = pool_layers_.size();
  for (const Segment& s : segs_) {
    const size_t k = size_t(input_of_slot_[s.slot]);
    float* mean = pooled_.data() + (k * NL + size_t(li)) * 2 * C;
    for (int t = 0; t < s.n; t++) {
      const float* row = normed + size_t(s.row0 + t) * C;
      for (size_t i = 0; i < C; i++) mean[i] += row[i];
    }
    // The input's last row is its sequence's last position; a later chunk overwrites it.
    std::memcpy(mean + C, normed + size_t(s.row0 + s.n - 1) * C, sizeof(float) * C);
  }
}

void InferenceSession::feed(std::span<const SeqInput> inputs) {
  const int V = config().vocab_size;
  TLM_CHECK(inputs.size() <= size_t(n_slots()), "%zu inputs for %d slots", inputs.size(), n_slots());
  for (const SeqInput& in : inputs) {
    TLM_CHECK(in.slot >= 0 && in.slot < n_slots() && !slot_used_[in.slot], "slot %d out of range or repeated",
              in.slot);
    TLM_CHECK(in.n >= 1 && cache_.length(in.slot) + in.n <= max_ctx(), "slot %d: %d + %d tokens exceed %d",
              in.slot, cache_.length(in.slot), in.n, max_ctx());
    for (int t = 0; t < in.n; t++) TLM_CHECK(in.tokens[t] >= 0 && in.tokens[t] < V, "token %d", in.tokens[t]);
    slot_used_[in.slot] = 1;
  }
  for (const SeqInput& in : inputs) slot_used_[in.slot] = 0;

  // Stack rows input after input; a chunk runs whenever max_rows are gathered. Inputs finish in
  // order, so the outputs a chunk produces are consecutive.
  int rows = 0, first_out = 0;
  segs_.clear(), out_rows_.clear();
  for (size_t k = 0; k < inputs.size(); k++) {
    const SeqInput& in = inputs[k];
    for (int off = 0; off < in.n;) {
      const int take = std::min(in.n - off, max_rows_ - rows);
      const int first = cache_.length(in.slot);
      segs_.push_back({in.slot, first, rows, take});
      for (int t = 0; t < take; t++) tokens_[rows + t] = in.tokens[off + t], pos_[rows + t] = first + t;
      cache_.set_length(in.slot, first + take);
      rows += take, off += take;
      if (off == in.n) out_rows_.push_back(rows - 1);
      if (rows == max_rows_) {
        run_chunk(rows, first_out, int(out_rows_.size()));
        first_out += int(out_rows_.size());
        rows = 0, segs_.clear(), out_rows_.clear();
      }
    }
  }
  if (rows > 0) run_chunk(rows, first_out, int(out_rows_.size()));
}

void InferenceSession::run_chunk(int N, int first_out, int n_out) {
  const ModelConfig& c = config();
  const Weights& w = model_.weights();
  const int C = c.dim, F = c.ffn_dim, H = c.n_heads, KVH = c.n_kv_heads, D = c.head_dim;
  const int QKV = c.qkv_dim(), HD = c.q_dim(), KVD = c.kv_dim(), V = c.vocab_size;
  const float eps = c.norm_eps;
  float *x = x_.data(), *xn = xn_.data(), *qkv = qkv_.data(), *q = q_.data(), *att = att_.data();
  float *tmp = tmp_.data(), *rstd = rstd_.data();

  ops::embedding_forward(x, tokens_.data(), w.embed, N, C);
  for (int l = 0; l < c.n_layers; l++) {
    const LayerWeights& lw = w.layers[l];
    // x = x + Attention(RMSNorm(x)), keys and values of the new rows joining the cache.
    ops::rmsnorm_forward(xn, rstd, x, lw.attn_norm, N, C, eps);
    ops::matmul_forward(qkv, xn, lw.wqkv, N, C, QKV);
    ops::rope_forward(qkv, QKV, pos_.data(), rope_cos_.data(), rope_sin_.data(), N, H + KVH, D);
    for (const Segment& s : segs_) {
      float *kc = cache_.k(s.slot, l), *vc = cache_.v(s.slot, l);
      for (int t = 0; t < s.n; t++) {
        const float* row = qkv + size_t(s.row0 + t) * QKV;
        std::memcpy(q + size_t(s.row0 + t) * HD, row, sizeof(float) * HD);
        std::memcpy(kc + size_t(s.first + t) * KVD, row + HD, sizeof(float) * KVD);
        std::memcpy(vc + size_t(s.first + t) * KVD, row + HD + KVD, sizeof(float) * KVD);
      }
      ops::attention_decode(att + size_t(s.row0) * HD, q + size_t(s.row0) * HD, kc, vc, s.first, s.n, H, KVH, D);
    }
    ops::matmul_forward(tmp, att, lw.wo, N, HD, C);
    ops::residual_forward(x, x, tmp, size_t(N) * C);
    // x = x + MLP(RMSNorm(x))
    ops::rmsnorm_forward(xn, rstd, x, lw.mlp_norm, N, C, eps);
    ops::matmul_forward(gateup_.data(), xn, lw.wgateup, N, C, 2 * F);
    ops::swiglu_forward(act_.data(), gateup_.data(), N, F);
    ops::matmul_forward(tmp, act_.data(), lw.wdown, N, F, C);
    ops::residual_forward(x, x, tmp, size_t(N) * C);
    if (!pool_layers_.empty()) {
      // Features: the residual stream after this block, normed (the final norm's gain on the
      // last layer), pooled per input.
      for (size_t li = 0; li < pool_layers_.size(); li++) {
        if (pool_layers_[li] != l + 1) continue;
        ops::rmsnorm_forward(xn, rstd, x, l + 1 == c.n_layers ? w.norm : ones_.data(), N, C, eps);
        pool_rows(int(li), xn);
      }
    }
  }
  if (!pool_layers_.empty()) return;
  if (n_out == 0) return;
  float* last = last_.data();
  for (int k = 0; k < n_out; k++)
    std::memcpy(last + size_t(k) * C, x + size_t(out_rows_[k]) * C, sizeof(float) * C);
  ops::rmsnorm_forward(xn, rstd, last, w.norm, n_out, C, eps);
  ops::matmul_forward(logits_.data() + size_t(first_out) * V, xn, w.lm_head, n_out, C, V);
}

}  // namespace tlm
