// The planner's cost model (see planner.h for the model in one paragraph and docs/scaling.md for
// the formulas with their sources). Constants are named at the top; the named GPUs, links and
// models are in planner_specs.cpp.
#include "apps/plan/planner.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "core/check.h"

namespace tlm::plan {

namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

// Mixed-precision training state per parameter (ZeRO paper, Rajbhandari et al. 2020, section 3.1:
// "2 + 2 + 12 = 16 bytes"): bf16 weights and gradients, fp32 master weights, fp32 AdamW m and v.
// ZeRO-1 ("P_os") shards the last three over the data-parallel ranks.
constexpr uint64_t kWeightBytes = 2, kGradBytes = 2, kMasterBytes = 4, kAdamBytes = 8;
// Activations are bf16 tensors; per-token statistics (norm rstd, flash-attention logsumexp) fp32;
// the logits the loss reads are fp32 (their buffer is reused for their gradient).
constexpr uint64_t kActBytes = 2, kStatBytes = 4, kLogitBytes = 4;
// Part of HBM a run can plan on: the CUDA context, NCCL buffers, the allocator's fragmentation
// and backward's transient buffers take the rest (PyTorch runs typically OOM above ~90-95%).
constexpr double kUsableMemory = 0.90;
// NCCL all-reduce bus bandwidth reaches ~80% of the per-direction line rate (nccl-tests on 8x
// A100 NVLink3: ~230-240 of 300 GB/s; on NDR networks ~40 of 50 GB/s per GPU).
constexpr double kLinkEfficiency = 0.80;
// Streaming kernels (the AdamW update) reach ~80% of datasheet HBM bandwidth.
constexpr double kHbmEfficiency = 0.80;
// AdamW update traffic per parameter it owns: read bf16 grad (2), fp32 master, m, v (12), write
// master, m, v (12) and the bf16 weight (2).
constexpr double kAdamTrafficBytes = 28;
// Gradients are reduced in buckets as backward produces them (PyTorch DDP's default bucket_cap_mb
// is 25); each bucket is one collective call and pays the latency term once.
constexpr double kBucketBytes = 25.0 * 1024 * 1024;
// NCCL's fixed cost per collective call (src/graph/tuning.cc baseLat, ring / Simple: 8.4 us).
constexpr double kCallLatency = 8.4e-6;
// Fraction of a backward (for gradient reduction) or forward (ZeRO-1 parameter all-gather) pass
// that communication can hide behind: the first bucket is ready only after the last layers'
// backward and the last one's reduction cannot overlap anything. An assumption, not a fit: the
// calibration runs are compute-bound, so it moves them little; docs/scaling.md says so.
constexpr double kOverlap = 0.80;
// Global batch when none is given: 4 Mi tokens (Llama 2 trained with 4M-token batches).
constexpr double kDefaultGlobalBatch = 4.0 * 1024 * 1024;
// The automatic micro-batch never exceeds this many sequences.
constexpr int kMaxAutoMicroBatch = 64;
// Widths below this are outside the calibration (the smallest published run is GPT-2 124M).
constexpr int kCalibratedMinDim = 768;

uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }
// Byte counts that can exceed 2^64 for absurd inputs are computed in double (exact below 2^53,
// which covers every real case) and saturate instead of wrapping.
uint64_t bytes_ceil(double v) { return v >= 1.8e19 ? uint64_t(1.8e19) : uint64_t(std::ceil(v)); }
std::string gib(double bytes) { return strprintf("%.1f GiB", bytes / kGiB); }

}  // namespace

std::string format_count(double v) {
  if (v >= 1e12) return strprintf("%.3gT", v / 1e12);
  if (v >= 1e9) return strprintf("%.3gB", v / 1e9);
  if (v >= 1e6) return strprintf("%.3gM", v / 1e6);
  if (v >= 1e3) return strprintf("%.3gk", v / 1e3);
  return strprintf("%.0f", v);
}

// ---- counts ----

uint64_t PlanModel::num_matmul_params() const {
  const ModelConfig& c = config;
  const uint64_t C = uint64_t(c.dim), F = uint64_t(c.ffn_dim);
  const uint64_t per_layer = uint64_t(c.qkv_dim()) * C + C * uint64_t(c.q_dim()) + (gated_mlp ? 3 : 2) * C * F;
  return per_layer * uint64_t(c.n_layers) + uint64_t(c.vocab_size) * C;
}

uint64_t PlanModel::num_params() const {
  const ModelConfig& c = config;
  const uint64_t C = uint64_t(c.dim);
  uint64_t total = num_matmul_params() + uint64_t(c.n_layers) * 2 * C + C + extra_params;
  if (!c.tied_embeddings) total += uint64_t(c.vocab_size) * C;
  return total;
}

double PlanModel::flops_per_token(int seq) const {
  // PaLM (Chowdhery et al. 2022, appendix B) and Megatron (Narayanan et al. 2021, eq. 3 without
  // recomputation): 2 FLOPs per multiply-add, backward twice forward, attention scores and
  // their product with V over the full sequence.
  return 6.0 * double(num_matmul_params()) + 12.0 * config.n_layers * double(config.q_dim()) * seq;
}

double PlanModel::recompute_flops_per_token(int seq) const {
  const double lm_head = double(config.vocab_size) * config.dim;
  return 2.0 * (double(num_matmul_params()) - lm_head) + 4.0 * config.n_layers * double(config.q_dim()) * seq;
}

uint64_t PlanModel::activation_bytes_per_token_layer() const {
  // Korthikanti et al. 2022 ("Reducing Activation Recomputation in Large Transformer Models",
  // section 4.1) count 34 s b h bytes per GPT layer plus 5 a s^2 b for the attention scores. Their
  // inventory, on the Llama block, with flash attention (no s^2 tensors) and no dropout (no masks):
  //   attention: norm input C, norm output C, Q q, K kv, V kv, attention output q;
  //   MLP:       norm input C, norm output C, gate F + up F + their product F (GPT: fc1 out F,
  //              GeLU out F);
  // bf16 each, plus fp32 per token: two norms' rstd and one logsumexp per head. For a GPT layer
  // (q = kv = C, F = 4 C) this is 32 C bytes: Korthikanti's 34 less the two dropout masks.
  const ModelConfig& c = config;
  const uint64_t C = uint64_t(c.dim), q = uint64_t(c.q_dim()), kv = uint64_t(c.kv_dim()), F = uint64_t(c.ffn_dim);
  const uint64_t elems = 4 * C + 2 * q + 2 * kv + (gated_mlp ? 3 : 2) * F;
  return kActBytes * elems + kStatBytes * (2 + uint64_t(c.n_heads));
}

uint64_t PlanModel::checkpoint_bytes_per_token_layer() const { return kActBytes * uint64_t(config.dim); }

uint64_t PlanModel::output_bytes_per_token() const {
  return kActBytes * 2 * uint64_t(config.dim) + kLogitBytes * uint64_t(config.vocab_size);
}

std::string PlanModel::dims() const {
  const ModelConfig& c = config;
  std::string s = strprintf("C%d L%d H%d", c.dim, c.n_layers, c.n_heads);
  if (c.n_kv_heads != c.n_heads) s += strprintf(" KV%d", c.n_kv_heads);
  if (c.head_dim * c.n_heads != c.dim) s += strprintf(" D%d", c.head_dim);
  s += strprintf(" F%d%s V%d T%d", c.ffn_dim, gated_mlp ? "" : " (GeLU)", c.vocab_size, c.max_seq_len);
  if (c.tied_embeddings) s += " tied";
  return s;
}

// ---- communication ----

double ring_allreduce_seconds(double bytes, int ranks, double bandwidth) {
  if (ranks <= 1) return 0;
  return 2.0 * (ranks - 1) / ranks * bytes / bandwidth;
}

CommCost collective_cost(Collective kind, double bytes, int ranks, int per_node, const Interconnect& net) {
  CommCost c;
  if (ranks <= 1 || bytes <= 0) return c;
  // A reduce-scatter or an all-gather is one half of a ring all-reduce.
  const double passes = kind == Collective::all_reduce ? 2.0 : 1.0;
  const int g = std::clamp(per_node, 1, ranks);
  const int nodes = (ranks + g - 1) / g;
  const double intra_bw = net.intra.bandwidth * kLinkEfficiency;
  c.intra_s = passes * double(g - 1) / g * bytes / intra_bw;
  if (nodes > 1) {
    TLM_CHECK(net.inter.bandwidth > 0, "interconnect %s has no network between nodes", net.name.c_str());
    // After the in-node reduce-scatter each GPU holds 1/g of the buffer and reduces it with its
    // peers on the other nodes over its own NIC: a ring of `nodes` ranks on bytes / g.
    c.inter_s = passes * double(nodes - 1) / nodes * (bytes / g) / (net.inter.bandwidth * kLinkEfficiency);
  }
  // Latency from the tree NCCL uses for small messages: log2 depth inside and across nodes, up
  // (reduce) and down (broadcast) for an all-reduce.
  c.calls = int64_t(std::ceil(bytes / kBucketBytes));
  const double depth = std::ceil(std::log2(double(nodes))) * net.inter.hop_latency +
                       std::ceil(std::log2(double(g))) * net.intra.hop_latency;
  c.latency_s = double(c.calls) * (kCallLatency + passes * depth);
  return c;
}

// ---- memory ----

Memory memory_per_gpu(const PlanModel& model, const Layout& l) {
  TLM_CHECK(l.model_parallel >= 1 && l.data_parallel >= 1 && l.micro_batch >= 1 && l.seq >= 1,
            "bad layout M%d d%d b%d T%d", l.model_parallel, l.data_parallel, l.micro_batch, l.seq);
  const uint64_t M = uint64_t(l.model_parallel);
  const uint64_t local = ceil_div(model.num_params(), M);  // parameters this GPU holds
  const uint64_t owned = l.zero ? ceil_div(local, uint64_t(l.data_parallel)) : local;
  Memory m;
  m.weights = kWeightBytes * local;
  m.grads = kGradBytes * local;
  m.master = kMasterBytes * owned;
  m.adam = kAdamBytes * owned;
  const uint64_t tokens = uint64_t(l.micro_batch) * uint64_t(l.seq);
  const uint64_t L = uint64_t(model.config.n_layers), layer = model.activation_bytes_per_token_layer();
  // Full recomputation keeps each layer's input and rebuilds one layer at a time in backward.
  const double per_token = l.recompute ? double(L * model.checkpoint_bytes_per_token_layer() + layer) : double(L * layer);
  // Model parallelism (tensor with sequence parallelism, or pipeline stages) splits activations
  // about evenly; the estimate divides by M.
  m.activations = bytes_ceil(double(per_token) * double(tokens) / double(M));
  m.output = bytes_ceil(double(model.output_bytes_per_token()) * double(tokens) / double(M));
  return m;
}

// ---- the plan ----

namespace {

struct Fit {
  bool ok = false;
  int micro_batch = 1;
  Memory memory;
};

// The largest micro-batch (a divisor of the replica's sequences, at most kMaxAutoMicroBatch) that
// fits, or the given one. A micro-batch that divides the replica's share keeps the global batch
// what was asked for.
Fit try_fit(const PlanModel& model, Layout l, int fixed_mb, int64_t seqs_per_replica, double usable) {
  Fit f;
  std::vector<int> candidates;
  if (fixed_mb > 0) candidates.push_back(fixed_mb);
  else
    for (int b = int(std::min<int64_t>(kMaxAutoMicroBatch, seqs_per_replica)); b >= 1; --b)
      if (seqs_per_replica % b == 0) candidates.push_back(b);
  for (int b : candidates) {
    l.micro_batch = b;
    f.micro_batch = b;
    f.memory = memory_per_gpu(model, l);
    if (double(f.memory.total()) <= usable) {
      f.ok = true;
      return f;
    }
  }
  return f;  // the smallest candidate's memory, not fitting
}

int64_t seqs_per_replica(double global_tokens, int seq, int d) {
  const double seqs = std::ceil(global_tokens / seq);
  return int64_t(std::max(1.0, std::ceil(seqs / d)));
}

// A layout of `gpus` GPUs in groups of M (model parallel) x gpus / M replicas.
Layout make_layout(int gpus, int M, int zero, bool rc, int seq) {
  Layout l;
  l.model_parallel = M;
  l.data_parallel = gpus / M;
  l.zero = l.data_parallel > 1 ? zero : 0;
  l.recompute = rc;
  l.seq = seq;
  return l;
}

// The most memory-frugal setting this version can run (ZeRO-1, recomputation, micro-batch 1),
// whatever the flags say: what "does data parallelism + ZeRO-1 fit at all" means.
Layout frugal_layout(int gpus, int M, int seq) {
  Layout l = make_layout(gpus, M, 1, true, seq);
  l.micro_batch = 1;
  return l;
}

void check_options(const PlanOptions& o) {
  if (!(o.tokens >= 1)) throw user_error("--tokens", "must be at least 1");
  if (o.gpus < 1) throw user_error("--gpus", "must be at least 1, got %d", o.gpus);
  if (o.micro_batch < 0) throw user_error("--micro-batch", "must be positive, got %d", o.micro_batch);
  if (o.seq < 0) throw user_error("--seq", "must be positive, got %d", o.seq);
  if (o.zero < -1 || o.zero > 1) throw user_error("--zero", "must be 0 or 1 (this version has no ZeRO-%d)", o.zero);
  if (o.efficiency < 0 || o.efficiency > 1) throw user_error("--efficiency", "must be in (0, 1], got %g", o.efficiency);
  if (o.model_parallel < 0 || o.model_parallel > o.gpus)
    throw user_error("--model-parallel", "must be between 1 and --gpus (%d), got %d", o.gpus, o.model_parallel);
  if (o.model_parallel > 0 && o.gpus % o.model_parallel != 0)
    throw user_error("--model-parallel", "%d does not divide --gpus %d", o.model_parallel, o.gpus);
}

// The layout: model-parallel degree, ZeRO, recomputation and micro-batch, and the memory
// columns of the report.
void choose_layout(Plan& p, const PlanModel& model, const PlanOptions& o, int seq, double global) {
  auto layout_for = [&](int M, int zero, bool rc) { return make_layout(o.gpus, M, zero, rc, seq); };
  const int auto_zero = o.zero >= 0 ? o.zero : 1;
  std::vector<bool> rc_choices = o.recompute >= 0 ? std::vector<bool>{o.recompute == 1} : std::vector<bool>{false, true};
  // The first fitting configuration at degree M, preferring no recomputation.
  auto fit_at = [&](int M, Layout& out, Fit& fit) {
    for (bool rc : rc_choices) {
      Layout l = layout_for(M, auto_zero, rc);
      Fit f = try_fit(model, l, o.micro_batch, seqs_per_replica(global, seq, l.data_parallel), p.usable_bytes);
      out = l, fit = f;
      if (f.ok) return true;
    }
    return false;
  };
  auto frugal_fits = [&](int M) {
    return double(memory_per_gpu(model, frugal_layout(o.gpus, M, seq)).total()) <= p.usable_bytes;
  };

  Layout layout;
  Fit fit;
  int max_pow2 = 1;
  while (max_pow2 * 2 <= o.gpus) max_pow2 *= 2;
  const bool dp_feasible = frugal_fits(1);
  p.needs_model_parallel = !dp_feasible;
  if (!dp_feasible) {
    p.min_model_parallel = 0;  // stays 0 if not even all the GPUs together hold it
    for (int M = 2; M <= max_pow2; M *= 2)
      if (frugal_fits(M)) {
        p.min_model_parallel = M;
        break;
      }
  }
  if (o.model_parallel > 0) {
    p.fits = fit_at(o.model_parallel, layout, fit);
  } else if (dp_feasible) {
    p.fits = fit_at(1, layout, fit);  // false: a flag the user gave rules out what would fit
  } else {
    // The estimate: the smallest power-of-two degree from the minimum that fits without
    // recomputation (its extra third of compute costs more than a larger, hidden model-parallel
    // degree), else the minimum degree with recomputation.
    const int start = p.min_model_parallel ? p.min_model_parallel : max_pow2;
    const std::vector<bool> all_rc = rc_choices;
    if (o.recompute < 0) rc_choices = {false};
    for (int M = start; M <= max_pow2 && !p.fits; M *= 2) p.fits = fit_at(M, layout, fit);
    rc_choices = all_rc;
    if (!p.fits) p.fits = fit_at(start, layout, fit);
  }
  layout.micro_batch = fit.micro_batch;
  p.layout = layout;
  p.memory = memory_per_gpu(model, layout);

  // ---- memory columns for the report ----
  {
    Layout l = layout;
    l.zero = 0;
    p.memory_zero0 = memory_per_gpu(model, l);
    l.zero = layout.data_parallel > 1 ? 1 : 0;
    p.memory_zero1 = memory_per_gpu(model, l);
    l.recompute = false;
    p.activations_plain = memory_per_gpu(model, l).activations;
    l.recompute = true;
    p.activations_recompute = memory_per_gpu(model, l).activations;
  }
}

// Replicas, accumulation and steps for the global batch.
void plan_steps(Plan& p, const PlanOptions& o, int seq, double global) {
  const Layout& layout = p.layout;
  const int M = layout.model_parallel, d = layout.data_parallel;
  p.gpus_used = M * d;
  const int64_t spr = seqs_per_replica(global, seq, d);
  p.grad_accum = int64_t(ceil_div(uint64_t(spr), uint64_t(layout.micro_batch)));
  p.global_batch_tokens = double(d) * layout.micro_batch * p.grad_accum * seq;
  p.steps = int64_t(std::ceil(o.tokens / p.global_batch_tokens));
  if (double(d) * seq > global)
    p.notes.push_back(strprintf("data parallelism over %d replicas takes at least one %d-token sequence each: %s tokens "
                                "per step, more than the %s%s (large batches can slow learning per token)",
                                d, seq, format_count(double(d) * seq).c_str(),
                                o.global_batch_tokens > 0 ? "" : "default ", format_count(global).c_str()));
  else if (std::fabs(p.global_batch_tokens - global) > 0.5)
    p.notes.push_back(strprintf("global batch rounded from %s to %s tokens: %d replicas x %lld accumulation steps x "
                                "micro-batch %d x %d tokens",
                                format_count(global).c_str(), format_count(p.global_batch_tokens).c_str(), d, static_cast<long long>(p.grad_accum),
                                layout.micro_batch, seq));
}

// FLOPs, step time (compute, exposed communication, optimizer) and the totals.
void plan_time(Plan& p, const PlanModel& model, const PlanOptions& o, int seq) {
  const Layout& layout = p.layout;
  const int M = layout.model_parallel, d = layout.data_parallel;
  p.params = model.num_params();
  p.matmul_params = model.num_matmul_params();
  p.flops_per_token = model.flops_per_token(seq);
  const double trained_tokens = double(p.steps) * p.global_batch_tokens;
  p.total_flops = trained_tokens * p.flops_per_token;
  const double hw_per_token = p.flops_per_token + (layout.recompute ? model.recompute_flops_per_token(seq) : 0.0);
  p.hardware_flops_per_gpu_step = p.global_batch_tokens * hw_per_token / p.gpus_used;
  p.compute_s = p.hardware_flops_per_gpu_step / (p.gpu.peak_flops * p.efficiency);
  // One micro-batch: forward is a third of the model FLOPs; backward the rest plus recomputation.
  const double micro_s = p.compute_s / p.grad_accum;
  const double fwd_s = micro_s * (p.flops_per_token / 3.0) / hw_per_token, bwd_s = micro_s - fwd_s;

  // Data-parallel ranks of one replica group sit gpus_per_node / M to a node (model-parallel
  // groups are packed inside nodes first, as Megatron places tensor parallelism).
  const int dp_per_node = std::max(1, p.net.gpus_per_node / M);
  const double local_params = double(ceil_div(p.params, uint64_t(M)));
  const double owned = layout.zero ? std::ceil(local_params / d) : local_params;
  if (layout.zero) {
    p.grad_comm = collective_cost(Collective::reduce_scatter, local_params * kGradBytes, d, dp_per_node, p.net);
    p.param_comm = collective_cost(Collective::all_gather, local_params * kWeightBytes, d, dp_per_node, p.net);
    p.hidden_s = std::min(p.grad_comm.total(), kOverlap * bwd_s) + std::min(p.param_comm.total(), kOverlap * fwd_s);
  } else {
    p.grad_comm = collective_cost(Collective::all_reduce, local_params * kGradBytes, d, dp_per_node, p.net);
    p.hidden_s = std::min(p.grad_comm.total(), kOverlap * bwd_s);
  }
  p.exposed_s = p.grad_comm.total() + p.param_comm.total() - p.hidden_s;
  p.optimizer_s = owned * kAdamTrafficBytes / (p.gpu.hbm_bandwidth * kHbmEfficiency);
  p.step_s = p.compute_s + p.exposed_s + p.optimizer_s;
  p.mfu = p.global_batch_tokens * p.flops_per_token / (p.step_s * o.gpus * p.gpu.peak_flops);
  p.tokens_per_s = p.global_batch_tokens / p.step_s;
  p.days = double(p.steps) * p.step_s / 86400.0;
  p.gpu_hours = double(p.steps) * p.step_s * o.gpus / 3600.0;
}

// The verdict line and the notes.
void plan_verdict(Plan& p, const PlanModel& model, const PlanOptions& o, int seq) {
  const Layout& layout = p.layout;
  const int M = layout.model_parallel, d = layout.data_parallel;
  const double need = double(p.memory.total());
  std::string how = d == 1 ? std::string("one GPU") : strprintf("data parallelism over %d GPUs", d);
  how += strprintf("%s%s", layout.zero ? " with ZeRO-1" : "", layout.recompute ? " and activation recomputation" : "");
  if (p.needs_model_parallel) {
    // More replicas shrink only the 12 bytes per parameter ZeRO-1 shards; if the rest fits, enough
    // GPUs make plain data parallelism + ZeRO-1 work.
    const Memory one = memory_per_gpu(model, frugal_layout(o.gpus, 1, seq));
    const double floor = double(one.weights + one.grads + one.activations + one.output);
    if (floor < p.usable_bytes)
      p.min_gpus_zero1 = int(std::min(1e9, std::ceil(double(kMasterBytes + kAdamBytes) * double(p.params) /
                                                      (p.usable_bytes - floor))));
    std::string verdict = strprintf(
        "does not fit with data parallelism%s on %s: %s per GPU even at micro-batch 1 with recomputation (%s usable)",
        o.gpus > 1 ? " + ZeRO-1" : "", o.gpus > 1 ? strprintf("%d GPUs", o.gpus).c_str() : "one GPU",
        gib(double(memory_per_gpu(model, frugal_layout(o.gpus, 1, seq)).total())).c_str(), gib(p.usable_bytes).c_str());
    if (p.min_gpus_zero1 > o.gpus)
      verdict += strprintf("; ZeRO-1 over %d or more GPUs would fit (--gpus %d --zero 1)", p.min_gpus_zero1, p.min_gpus_zero1);
    verdict += strprintf(". %s needs tensor/pipeline parallelism or ZeRO-3, which this version does not do; ",
                         p.min_gpus_zero1 > o.gpus ? "Otherwise it" : "It");
    verdict += p.min_model_parallel ? strprintf("minimum model-parallel degree ~%d", p.min_model_parallel)
                    : o.gpus == 1 ? std::string("model parallelism needs more than one GPU")
                                  : strprintf("it does not fit even split over all %d GPUs", o.gpus);
    p.verdict = verdict;
  } else if (M == 1 && p.fits) {
    p.verdict = strprintf("fits: %s, %s of %s usable per GPU", how.c_str(), gib(need).c_str(), gib(p.usable_bytes).c_str());
  } else if (M == 1) {
    // Which of the user's choices to drop: the first relaxation that fits.
    std::string fix;
    struct Try {
      int zero, rc, mb;
      const char* flags;
    };
    const Try tries[] = {{1, o.recompute, o.micro_batch, "--zero 1"},
                         {o.zero, 1, o.micro_batch, "--recompute"},
                         {1, 1, o.micro_batch, "--zero 1 --recompute"},
                         {1, 1, 1, "--zero 1 --recompute --micro-batch 1"}};
    for (const Try& t : tries) {
      Layout l = make_layout(o.gpus, 1, t.zero < 0 ? 1 : t.zero, t.rc == 1, seq);
      l.micro_batch = t.mb > 0 ? t.mb : 1;
      if (double(memory_per_gpu(model, l).total()) <= p.usable_bytes) {
        fix = t.flags;
        break;
      }
    }
    p.verdict = strprintf("does not fit: %s needs %s per GPU, %s usable; it fits with %s", how.c_str(), gib(need).c_str(),
                          gib(p.usable_bytes).c_str(), fix.c_str());
  } else {
    p.verdict = strprintf("data parallelism + ZeRO-1 alone fits; these numbers are for --model-parallel %d, which this "
                          "version does not do (an estimate: %s of %s usable per GPU)",
                          M, gib(need).c_str(), gib(p.usable_bytes).c_str());
  }
  if (M > 1 && p.fits)
    p.notes.push_back(strprintf("the times assume %d-way model parallelism x %d data-parallel replicas whose "
                                "tensor/pipeline communication and pipeline bubble are hidden (the compute-bound "
                                "regime of well-tuned Megatron runs): an optimistic estimate",
                                M, d));
  else if (M > 1)
    p.notes.push_back(strprintf("even %d-way model parallelism needs %s per GPU: more GPUs, or a GPU with more memory",
                                M, gib(need).c_str()));
  if (p.gpus_used < o.gpus)
    p.notes.push_back(strprintf("%d of the %d GPUs stay idle (%d-way model parallelism)", o.gpus - p.gpus_used, o.gpus, M));
  if (model.config.dim < kCalibratedMinDim)
    p.notes.push_back(strprintf("width %d is below the calibrated range (C >= %d): small models run well under the "
                                "assumed %.0f%% of peak on GPUs",
                                model.config.dim, kCalibratedMinDim, p.efficiency * 100));
  if (seq > model.config.max_seq_len)
    p.notes.push_back(strprintf("--seq %d is longer than the model's context of %d", seq, model.config.max_seq_len));
  if (o.efficiency > 0)
    p.notes.push_back(strprintf("efficiency set to %.0f%% of peak (calibrated value for %s: %.0f%%)", o.efficiency * 100,
                                p.gpu.name.c_str(), p.gpu.efficiency * 100));
}

}  // namespace

Plan make_plan(const PlanModel& model, const PlanOptions& o) {
  check_options(o);
  Plan p;
  p.model = model;
  p.options = o;
  p.gpu = gpu_spec(o.gpu);
  p.net = interconnect_spec(o.interconnect, p.gpu, o.gpus_per_node);
  if (o.gpus > p.net.gpus_per_node && p.net.inter.bandwidth <= 0)
    throw user_error("--interconnect",
                     "'%s' joins the GPUs of one node only, but %d GPUs need %d nodes of %d (add a network, e.g. %s+ib400)",
                     p.net.name.c_str(), o.gpus, (o.gpus + p.net.gpus_per_node - 1) / p.net.gpus_per_node,
                     p.net.gpus_per_node, p.net.intra.name.c_str());
  const int seq = o.seq > 0 ? o.seq : model.config.max_seq_len;
  if (seq > (1 << 24)) throw user_error("--seq", "%d is too long", seq);
  p.efficiency = o.efficiency > 0 ? o.efficiency : p.gpu.efficiency;
  p.usable_bytes = p.gpu.hbm_bytes * kUsableMemory;
  const double global = o.global_batch_tokens > 0 ? o.global_batch_tokens : kDefaultGlobalBatch;
  if (global > 1e12) throw user_error("--global-batch-tokens", "%g tokens per step is beyond this planner (at most 1e12)", global);
  if (double(o.micro_batch) * seq > double(1u << 31))
    throw user_error("--micro-batch", "%d sequences of %d tokens is more than 2^31 tokens per micro-batch", o.micro_batch, seq);

  choose_layout(p, model, o, seq, global);
  plan_steps(p, o, seq, global);
  plan_time(p, model, o, seq);
  plan_verdict(p, model, o, seq);
  return p;
}

nlohmann::ordered_json plan_to_json(const Plan& p) {
  auto mem = [](const Memory& m) {
    return nlohmann::ordered_json{{"weights", m.weights}, {"master_weights", m.master}, {"grads", m.grads},
                                  {"adamw_m_v", m.adam},  {"activations", m.activations}, {"output", m.output},
                                  {"total", m.total()}};
  };
  auto comm = [](const CommCost& c) {
    return nlohmann::ordered_json{{"intra_node_s", c.intra_s}, {"inter_node_s", c.inter_s}, {"latency_s", c.latency_s},
                                  {"calls", c.calls}, {"total_s", c.total()}};
  };
  const ModelConfig& c = p.model.config;
  nlohmann::ordered_json j;
  j["model"] = {{"name", p.model.name},
                {"dim", c.dim},
                {"layers", c.n_layers},
                {"heads", c.n_heads},
                {"kv_heads", c.n_kv_heads},
                {"head_dim", c.head_dim},
                {"ffn", c.ffn_dim},
                {"gated_mlp", p.model.gated_mlp},
                {"vocab", c.vocab_size},
                {"tied", c.tied_embeddings},
                {"params", p.params},
                {"matmul_params", p.matmul_params}};
  j["hardware"] = {{"gpu", p.gpu.name},
                   {"gpus", p.options.gpus},
                   {"gpus_used", p.gpus_used},
                   {"peak_flops", p.gpu.peak_flops},
                   {"hbm_bytes", p.gpu.hbm_bytes},
                   {"hbm_bandwidth", p.gpu.hbm_bandwidth},
                   {"efficiency", p.efficiency},
                   {"interconnect", p.net.name},
                   {"gpus_per_node", p.net.gpus_per_node},
                   {"intra_bandwidth", p.net.intra.bandwidth},
                   {"inter_bandwidth", p.net.inter.bandwidth}};
  j["layout"] = {{"model_parallel", p.layout.model_parallel},
                 {"data_parallel", p.layout.data_parallel},
                 {"zero", p.layout.zero},
                 {"recompute", p.layout.recompute},
                 {"seq", p.layout.seq},
                 {"micro_batch", p.layout.micro_batch},
                 {"grad_accum", p.grad_accum},
                 {"global_batch_tokens", p.global_batch_tokens},
                 {"steps", p.steps}};
  j["flops"] = {{"formula", "6 * matmul_params + 12 * layers * heads * head_dim * seq (PaLM / Megatron)"},
                {"per_token", p.flops_per_token},
                {"total", p.total_flops},
                {"hardware_per_gpu_step", p.hardware_flops_per_gpu_step}};
  j["memory"] = {{"chosen", mem(p.memory)},
                 {"zero0", mem(p.memory_zero0)},
                 {"zero1", mem(p.memory_zero1)},
                 {"activations_no_recompute", p.activations_plain},
                 {"activations_recompute", p.activations_recompute},
                 {"usable", p.usable_bytes},
                 {"fits", p.fits},
                 {"needs_model_parallel", p.needs_model_parallel},
                 {"min_model_parallel", p.min_model_parallel},
                 {"min_gpus_zero1", p.min_gpus_zero1}};
  j["time"] = {{"compute_s", p.compute_s},      {"grad_comm", comm(p.grad_comm)}, {"param_comm", comm(p.param_comm)},
               {"hidden_s", p.hidden_s},        {"exposed_s", p.exposed_s},       {"optimizer_s", p.optimizer_s},
               {"step_s", p.step_s},            {"mfu", p.mfu},                   {"tokens_per_s", p.tokens_per_s},
               {"days", p.days},                {"gpu_hours", p.gpu_hours}};
  j["verdict"] = p.verdict;
  j["notes"] = p.notes;
  return j;
}

}  // namespace tlm::plan
