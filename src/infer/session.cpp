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
  pooled_.reset(size_t(n_slots) * C, z);
  input_of_slot_.assign(n_slots, 0);
}

const float* InferenceSession::forward(std::span<const SeqInput> inputs) {
  pool_ = false;
  feed(inputs);
  return logits_.data();
}

const float* InferenceSession::embed(std::span<const SeqInput> inputs) {
  const int C = config().dim;
  for (const SeqInput& in : inputs) {
    TLM_CHECK(in.slot >= 0 && in.slot < n_slots(), "slot %d out of range", in.slot);
    reset(in.slot);
  }
  std::fill(pooled_.data(), pooled_.data() + inputs.size() * size_t(C), 0.0f);
  for (size_t k = 0; k < inputs.size(); k++) input_of_slot_[inputs[k].slot] = int(k);
  pool_ = true;
  feed(inputs);
  pool_ = false;
  for (size_t k = 0; k < inputs.size(); k++) {
    float* p = pooled_.data() + k * size_t(C);
    const float inv = 1.0f / float(inputs[k].n);
    for (int i = 0; i < C; i++) p[i] *= inv;
  }
  return pooled_.data();
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
  }
  if (pool_) {
    // Embeddings: the final norm of every row, summed into its input's pooled vector.
    ops::rmsnorm_forward(xn, rstd, x, w.norm, N, C, eps);
    for (const Segment& s : segs_) {
      float* p = pooled_.data() + size_t(input_of_slot_[s.slot]) * C;
      for (int t = 0; t < s.n; t++) {
        const float* row = xn + size_t(s.row0 + t) * C;
        for (int i = 0; i < C; i++) p[i] += row[i];
      }
    }
    return;
  }
  if (n_out == 0) return;
  float* last = last_.data();
  for (int k = 0; k < n_out; k++)
    std::memcpy(last + size_t(k) * C, x + size_t(out_rows_[k]) * C, sizeof(float) * C);
  ops::rmsnorm_forward(xn, rstd, last, w.norm, n_out, C, eps);
  ops::matmul_forward(logits_.data() + size_t(first_out) * V, xn, w.lm_head, n_out, C, V);
}

}  // namespace tlm
