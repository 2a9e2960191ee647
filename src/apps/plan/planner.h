// The scale planner behind `tweetlm plan` (issue 5): what a training run costs before anyone
// rents the GPUs. A deliberately small analytic model, every constant named where it is defined
// (planner_specs.cpp) with its source, and calibrated against published runs (tests/test_planner.cpp,
// docs/scaling.md):
//  - FLOPs: the PaLM / Megatron model-FLOPs convention, 6 N_matmul + 12 L d T per token (full
//    sequence T, no causal halving), so predicted MFU compares with published MFU;
//  - memory per GPU: bf16 weights and gradients, fp32 master weights and AdamW m + v (ZeRO-1
//    shards the last three over the data-parallel ranks), activations from the per-layer
//    inventory of Korthikanti et al. 2022 adapted to the Llama block (no dropout, flash attention);
//  - step time: compute at a calibrated fraction of peak + the communication that backward /
//    forward cannot hide (ring bandwidth term, tree latency term, hierarchical NVLink + network)
//    + the memory-bound optimizer update.
// This version of tweetlm trains with data parallelism and ZeRO-1 only. When that cannot fit, the
// planner says so and estimates the run as if the minimum model-parallel degree were available
// with its own communication hidden (the compute-bound regime of well-tuned Megatron runs).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "model/config.h"

namespace tlm::plan {

// A model as the planner counts it. Llama-style models are a ModelConfig; GPT-2 / Megatron GPT
// models differ only in what the counts need: a 2-matrix GeLU MLP and learned positions + biases.
struct PlanModel {
  std::string name;
  ModelConfig config;          // dims; max_seq_len is the default sequence length
  bool gated_mlp = true;       // SwiGLU: 3 matrices C x F; false: GPT's 2 matrices C x F
  uint64_t extra_params = 0;   // learned position embeddings and biases (GPT): stored, no products

  uint64_t num_params() const;         // equals config.num_params() for Llama-style models
  uint64_t num_matmul_params() const;  // per-layer products + the LM head (not the embedding lookup)
  // Model FLOPs per trained token at sequence length `seq`: 6 N_matmul + 12 L (H D) seq.
  double flops_per_token(int seq) const;
  // FLOPs per token that full activation recomputation adds: the layers' forward once more.
  double recompute_flops_per_token(int seq) const;
  // Activation bytes kept for backward per token, per layer (bf16 tensors, fp32 statistics).
  uint64_t activation_bytes_per_token_layer() const;
  // Per token: what full recomputation keeps per layer (its bf16 input).
  uint64_t checkpoint_bytes_per_token_layer() const;
  // Per token: final norm input and output (bf16) and the fp32 logits the loss reads.
  uint64_t output_bytes_per_token() const;
  std::string dims() const;  // "C4096 L32 H32 KV32 F11008 V32000 T4096"
};

// Dimensions given on the command line over a named model (0 / -1: keep the model's). As in
// `tweetlm train`: head_dim follows dim / heads and kv_heads follows heads unless given, and a
// new dim without --ffn gets the preset rule (SwiGLU 8/3 C rounded up to 16; GPT 4 C).
struct DimOverrides {
  int dim = 0, layers = 0, heads = 0, kv_heads = 0, ffn = 0, head_dim = 0, vocab = 0;
  int tie = -1;
};

// Named models: our presets (tiny, small, 33m, 124m; vocabulary 32000 unless --vocab) and
// published ones (gpt2-124m ... llama3-405b; bare sizes 7b, 13b, 70b, 8b, 405b are aliases).
// Throws UserError naming --model (or the overriding flag).
PlanModel plan_model(const std::string& name, const DimOverrides& overrides = {});
std::vector<std::string> plan_model_names();

struct GpuSpec {
  std::string name;         // "h100"
  std::string description;  // "NVIDIA H100 SXM5 80GB"
  double peak_flops = 0;    // dense bf16 tensor-core FLOP/s (no sparsity)
  double hbm_bytes = 0;     // device memory as nvidia-smi reports it
  double hbm_bandwidth = 0; // bytes/s
  double efficiency = 0;    // achieved fraction of peak for large dense training (calibrated)
  std::string default_interconnect;
};
GpuSpec gpu_spec(const std::string& name);  // UserError naming --gpu
std::vector<std::string> gpu_names();

struct Link {
  std::string name;
  double bandwidth = 0;    // bytes/s per GPU per direction, line rate
  double hop_latency = 0;  // seconds per tree hop
};
struct Interconnect {
  std::string name;        // "nvlink4+ib400"
  Link intra;              // between the GPUs of a node
  Link inter;              // between nodes, per GPU (bandwidth 0: single node only)
  int gpus_per_node = 8;
};
// "<intra>+<inter>" (nvlink4+ib400), "<inter>" (the GPU's own intra-node link), or "<intra>" for
// one node. Throws UserError naming --interconnect.
Interconnect interconnect_spec(const std::string& spec, const GpuSpec& gpu, int gpus_per_node);
std::vector<std::string> link_names();

// "2e12", "2T", "500B", "4M", "1.5k", "1000", "4Mi" (binary: 4,194,304): a positive count, at most
// 1e18. UserError naming `flag`.
double parse_count(const std::string& text, const std::string& flag);
// The other way: 3 significant digits and a suffix ("4.19M", "2T", "950").
std::string format_count(double v);

// ---- the cost model's building blocks (exposed for tests) ----

// Ring all-reduce bandwidth term: 2 (n-1)/n * bytes / bandwidth.
double ring_allreduce_seconds(double bytes, int ranks, double bandwidth);

enum class Collective { all_reduce, reduce_scatter, all_gather };
struct CommCost {
  double intra_s = 0;    // bandwidth term inside nodes
  double inter_s = 0;    // bandwidth term between nodes
  double latency_s = 0;  // per-call latency (tree) times the number of calls (buckets)
  int64_t calls = 0;
  double total() const { return intra_s + inter_s + latency_s; }
};
// One collective over `bytes` (the whole buffer) among `ranks` GPUs, `per_node` of them in each
// node: inside a node a ring over the intra link; across nodes a reduce-scatter inside the node,
// a ring of each GPU's 1/per_node slice over the network (one NIC per GPU), an all-gather inside
// the node. Reduce-scatter and all-gather cost half an all-reduce.
CommCost collective_cost(Collective kind, double bytes, int ranks, int per_node, const Interconnect& net);

struct Layout {
  int model_parallel = 1;  // M: GPUs that share one copy of the model (tensor/pipeline)
  int data_parallel = 1;   // d: model replicas
  int zero = 0;            // 1: master weights and AdamW state sharded over d
  bool recompute = false;  // full activation recomputation (one checkpoint per layer)
  int micro_batch = 1;     // sequences per replica per forward/backward
  int seq = 0;
};
struct Memory {
  uint64_t weights = 0, master = 0, grads = 0, adam = 0, activations = 0, output = 0;
  uint64_t total() const { return weights + master + grads + adam + activations + output; }
};
Memory memory_per_gpu(const PlanModel& model, const Layout& layout);

// ---- the plan ----

struct PlanOptions {
  double tokens = 0;               // training tokens
  int gpus = 1;
  std::string gpu = "h100";
  std::string interconnect;        // empty: the GPU's default
  int gpus_per_node = 8;
  int seq = 0;                     // 0: the model's context
  int micro_batch = 0;             // 0: the largest that fits (at most 64, divides the batch)
  double global_batch_tokens = 0;  // 0: 4 Mi tokens
  int zero = -1;                   // -1: ZeRO-1 when there is more than one replica
  int recompute = -1;              // -1: only when needed to fit
  int model_parallel = 0;          // 0: 1 if it fits, else the minimum degree (an estimate)
  double efficiency = 0;           // 0: the GPU's calibrated value
};

struct Plan {
  PlanModel model;
  GpuSpec gpu;
  Interconnect net;
  PlanOptions options;  // as given
  Layout layout;        // as resolved
  int64_t grad_accum = 1;
  int gpus_used = 1;    // model_parallel * data_parallel (<= gpus)
  double efficiency = 0;
  double global_batch_tokens = 0;
  int64_t steps = 0;
  // counts
  uint64_t params = 0, matmul_params = 0;
  double flops_per_token = 0, total_flops = 0, hardware_flops_per_gpu_step = 0;
  // memory
  Memory memory;                 // the resolved layout
  Memory memory_zero0, memory_zero1;
  uint64_t activations_plain = 0, activations_recompute = 0;
  double usable_bytes = 0;
  bool fits = false;
  bool needs_model_parallel = false;
  int min_model_parallel = 1;  // when needs_model_parallel; 0: not even all the GPUs hold it
  int min_gpus_zero1 = 0;      // when needs_model_parallel: GPUs with which ZeRO-1 alone would fit (0: none)
  std::string verdict;
  std::vector<std::string> notes;
  // time
  double compute_s = 0;
  CommCost grad_comm, param_comm;  // grad_comm: all-reduce (ZeRO-0) or reduce-scatter (ZeRO-1)
  double hidden_s = 0, exposed_s = 0, optimizer_s = 0, step_s = 0;
  double mfu = 0, tokens_per_s = 0, days = 0, gpu_hours = 0;
};

Plan make_plan(const PlanModel& model, const PlanOptions& options);
nlohmann::ordered_json plan_to_json(const Plan& plan);

}  // namespace tlm::plan
