// The planner's named things: models, GPUs, links, and the count parser. Every number here is a
// published figure with its source beside it; the one fitted number per GPU (`efficiency`) says
// which runs it was fitted to. docs/scaling.md repeats them in tables.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "core/check.h"
#include "core/text.h"
#include "apps/plan/planner.h"

namespace tlm::plan {

namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr double kGB = 1e9;

// Our presets leave the vocabulary to the tokenizer; `tweetlm tokenizer train` defaults to 32000.
constexpr int kDefaultVocab = 32000;

// GPT-2 family (Radford et al. 2019; Hugging Face gpt2 config.json): V 50257, T 1024, tied
// embeddings, MLP 4C with GeLU. Learned positions (T x C) and biases are parameters without
// products: per layer q/k/v 3C + attn proj C + fc 4C + fc proj C, LayerNorm biases 2C, + the final
// LayerNorm bias C. With them the counts are the published ones (124,439,808 for the 124M model).
PlanModel gpt2(const char* name, int C, int L, int H) {
  PlanModel m;
  m.name = name;
  ModelConfig& c = m.config;
  c.vocab_size = 50257, c.max_seq_len = 1024, c.dim = C, c.n_layers = L, c.n_heads = H, c.n_kv_heads = H;
  c.head_dim = C / H, c.ffn_dim = 4 * C, c.tied_embeddings = true;
  m.gated_mlp = false;
  m.extra_params = uint64_t(c.max_seq_len) * C + uint64_t(L) * 11 * C + C;
  return m;
}

// Llama 2 (Touvron et al. 2023, Hugging Face config.json of meta-llama/Llama-2-*-hf): V 32000,
// T 4096; the 70B uses 8 KV heads. Llama 3 / 3.1 (Llama Team 2024, Table 3): V 128256, T 8192
// (pre-training), 8 KV heads, RoPE theta 500000. Counts equal the published 6,738,415,616 /
// 13,015,864,320 / 68,976,648,192 / 8,030,261,248 / 70,553,706,496 / 405,853,388,800.
PlanModel llama(const char* name, int V, int T, int C, int L, int H, int KV, int F, float theta) {
  PlanModel m;
  m.name = name;
  ModelConfig& c = m.config;
  c.vocab_size = V, c.max_seq_len = T, c.dim = C, c.n_layers = L, c.n_heads = H, c.n_kv_heads = KV;
  c.head_dim = C / H, c.ffn_dim = F, c.rope_theta = theta, c.tied_embeddings = false;
  return m;
}

struct NamedModel {
  const char* name;
  const char* alias_of;  // nullptr: a model of its own
};
const NamedModel kModelNames[] = {
    {"tiny", nullptr},        {"small", nullptr},       {"33m", nullptr},          {"124m", nullptr},
    {"gpt2-124m", nullptr},   {"gpt2-350m", nullptr},   {"gpt2-774m", nullptr},    {"gpt2-1.5b", nullptr},
    {"llama-7b", nullptr},    {"llama-13b", nullptr},   {"llama-70b", nullptr},    {"llama3-8b", nullptr},
    {"llama3-70b", nullptr},  {"llama3-405b", nullptr}, {"gpt2", "gpt2-124m"},     {"llama2-7b", "llama-7b"},
    {"llama2-13b", "llama-13b"}, {"llama2-70b", "llama-70b"}, {"7b", "llama-7b"}, {"13b", "llama-13b"},
    {"70b", "llama-70b"},     {"8b", "llama3-8b"},      {"405b", "llama3-405b"},
};

PlanModel named_model(const std::string& name) {
  if (name == "gpt2-124m") return gpt2("gpt2-124m", 768, 12, 12);
  if (name == "gpt2-350m") return gpt2("gpt2-350m", 1024, 24, 16);
  if (name == "gpt2-774m") return gpt2("gpt2-774m", 1280, 36, 20);
  if (name == "gpt2-1.5b") return gpt2("gpt2-1.5b", 1600, 48, 25);
  if (name == "llama-7b") return llama("llama-7b", 32000, 4096, 4096, 32, 32, 32, 11008, 10000.0f);
  if (name == "llama-13b") return llama("llama-13b", 32000, 4096, 5120, 40, 40, 40, 13824, 10000.0f);
  if (name == "llama-70b") return llama("llama-70b", 32000, 4096, 8192, 80, 64, 8, 28672, 10000.0f);
  if (name == "llama3-8b") return llama("llama3-8b", 128256, 8192, 4096, 32, 32, 8, 14336, 500000.0f);
  if (name == "llama3-70b") return llama("llama3-70b", 128256, 8192, 8192, 80, 64, 8, 28672, 500000.0f);
  if (name == "llama3-405b") return llama("llama3-405b", 128256, 8192, 16384, 126, 128, 8, 53248, 500000.0f);
  PlanModel m;  // our presets (src/model/config.h)
  m.name = name;
  m.config = ModelConfig::preset(name);
  m.config.vocab_size = kDefaultVocab;
  return m;
}

// ---- GPUs ----
// peak: dense bf16 tensor-core FLOP/s from NVIDIA's datasheets (the "with sparsity" figures are
// twice these). Memory: what nvidia-smi reports (A100 40960 / 81920 MiB, H100 SXM 81559 MiB,
// H200 143771 MiB). Bandwidth: datasheet HBM bandwidth.
//
// efficiency: the fraction of peak a large dense transformer step achieves end to end, fitted to
// published runs (tests/test_planner.cpp checks the fit; docs/scaling.md has the table):
//  - A100 0.60: llm.c GPT-2 124M / 350M / 774M / 1.5B on 8x A100 80GB SXM ("steps in ~300ms",
//    ~820 ms, ~1.7 s, ~7 s per step, llm.c scripts/run_gpt2_*.sh) are 60-64% MFU by the formula
//    used here.
//  - H100 0.46: llm.c GPT-2 1.5B on 8x H100 (2.8 s per 1M-token step: 48.6%), Megatron-Core r0.8
//    weak scaling 1.7B-462B on 48-6144 H100 (41-49%, NVIDIA/Megatron-LM README), Llama 3 405B on
//    8k / 16k H100 (43% / 41%, Llama 3 paper Table 4).
//  - H200: no published run at scale; same tensor cores and clocks as the H100, so the H100 value
//    (its faster HBM helps the memory-bound parts a little: the estimate leans conservative).
//  - A100 40GB: same chip as the 80GB; the A100 value.
struct GpuRow {
  const char* name;
  const char* description;
  double peak_tflops;
  double hbm_gib;
  double hbm_gbps;
  double efficiency;
  const char* interconnect;
};
const GpuRow kGpus[] = {
    {"a100-40", "NVIDIA A100 SXM4 40GB", 312.0, 40960.0 / 1024, 1555.0, 0.60, "nvlink3+ib200"},
    {"a100-80", "NVIDIA A100 SXM4 80GB", 312.0, 81920.0 / 1024, 2039.0, 0.60, "nvlink3+ib200"},
    {"h100", "NVIDIA H100 SXM5 80GB", 989.4, 81559.0 / 1024, 3350.0, 0.46, "nvlink4+ib400"},
    {"h200", "NVIDIA H200 SXM 141GB", 989.4, 143771.0 / 1024, 4800.0, 0.46, "nvlink4+ib400"},
};

// ---- links ----
// Bandwidth per GPU per direction, line rate (the cost model applies kLinkEfficiency):
//  NVLink 4 (H100/H200 SXM): 18 links x 25 GB/s = 450 GB/s each way (900 GB/s "bidirectional").
//  NVLink 3 (A100 SXM): 12 links x 25 GB/s = 300 GB/s each way.
//  PCIe 5.0 / 4.0 x16: 64 / 32 GB/s each way (GPUs without NVLink talk through the host).
//  InfiniBand NDR 400 Gb/s = 50 GB/s, HDR 200 Gb/s = 25 GB/s, EDR 100 Gb/s = 12.5 GB/s, one NIC
//  per GPU as in DGX / HGX pods (rail-optimized); RoCE at the same rates (Llama 3's fabric).
//  eth100: one 100 GbE NIC per node shared by its GPUs (typical cloud VMs without GPUDirect).
// Hop latency: NCCL's own tuning model (src/graph/tuning.cc, hwLat) puts an NVLink step at
// ~0.5-1 us and a network step at ~5 us (LL protocol, tree); we use 1 us and 5 us.
struct LinkRow {
  const char* name;
  double gbps;     // GB/s per GPU per direction
  bool per_node;   // bandwidth shared by the node's GPUs
  bool intra;      // can connect the GPUs of a node
  bool inter;      // can connect nodes
  double latency_us;
};
const LinkRow kLinks[] = {
    {"nvlink4", 450.0, false, true, false, 1.0}, {"nvlink3", 300.0, false, true, false, 1.0},
    {"pcie5", 64.0, false, true, false, 1.0},    {"pcie4", 32.0, false, true, false, 1.0},
    {"ib400", 50.0, false, false, true, 5.0},    {"ib200", 25.0, false, false, true, 5.0},
    {"ib100", 12.5, false, false, true, 5.0},    {"roce400", 50.0, false, false, true, 5.0},
    {"roce200", 25.0, false, false, true, 5.0},  {"eth100", 12.5, true, false, true, 5.0},
};

const LinkRow* find_link(const std::string& name) {
  for (const LinkRow& l : kLinks)
    if (name == l.name) return &l;
  return nullptr;
}

}  // namespace

std::vector<std::string> plan_model_names() {
  std::vector<std::string> out;
  for (const NamedModel& m : kModelNames) out.push_back(m.name);
  return out;
}

PlanModel plan_model(const std::string& given, const DimOverrides& o) {
  std::string name = ascii_lower(given);
  const NamedModel* found = nullptr;
  for (const NamedModel& m : kModelNames)
    if (name == m.name) found = &m;
  if (!found) {
    std::string list;
    for (const NamedModel& m : kModelNames) list += (list.empty() ? "" : ", ") + std::string(m.name);
    throw user_error("--model", "unknown model '%s' (expected one of %s)", given.c_str(), list.c_str());
  }
  PlanModel m = named_model(found->alias_of ? found->alias_of : found->name);
  ModelConfig& c = m.config;
  if (o.vocab < 0) throw user_error("--vocab", "must be positive, got %d", o.vocab);
  bool changed = o.dim || o.layers || o.heads || o.kv_heads || o.ffn || o.head_dim || o.vocab || o.tie >= 0;
  apply_dims(c, {o.dim, o.layers, o.heads, o.kv_heads, o.ffn, o.head_dim}, m.gated_mlp);
  if (o.vocab) c.vocab_size = o.vocab;
  if (o.tie >= 0) c.tied_embeddings = o.tie != 0;
  if (m.extra_params && (o.dim || o.layers)) {
    // GPT positions and biases scale with the new dims (see gpt2() above).
    const uint64_t C = uint64_t(c.dim);
    m.extra_params = uint64_t(c.max_seq_len) * C + uint64_t(c.n_layers) * 11 * C + C;
  }
  if (changed) m.name += " (modified)";
  c.validate("--model");
  // Counts are exact in uint64 far beyond this; larger inputs are typos, not models.
  const double approx = double(c.n_layers) * (double(c.qkv_dim()) * c.dim + double(c.q_dim()) * c.dim +
                                              3.0 * c.dim * c.ffn_dim) + 2.0 * c.vocab_size * c.dim;
  if (approx > 1e15) throw user_error("--model", "%.3g parameters is beyond this planner (at most 1e15)", approx);
  return m;
}

std::vector<std::string> gpu_names() {
  std::vector<std::string> out;
  for (const GpuRow& g : kGpus) out.push_back(g.name);
  out.push_back("a100");
  return out;
}

GpuSpec gpu_spec(const std::string& given) {
  std::string name = ascii_lower(given);
  if (name == "a100") name = "a100-80";
  for (const GpuRow& g : kGpus) {
    if (name != g.name) continue;
    GpuSpec s;
    s.name = g.name;
    s.description = g.description;
    s.peak_flops = g.peak_tflops * 1e12;
    s.hbm_bytes = g.hbm_gib * kGiB;
    s.hbm_bandwidth = g.hbm_gbps * kGB;
    s.efficiency = g.efficiency;
    s.default_interconnect = g.interconnect;
    return s;
  }
  throw user_error("--gpu", "unknown GPU '%s' (expected h100, h200, a100-40, a100-80 or a100)", given.c_str());
}

std::vector<std::string> link_names() {
  std::vector<std::string> out;
  for (const LinkRow& l : kLinks) out.push_back(l.name);
  return out;
}

Interconnect interconnect_spec(const std::string& given, const GpuSpec& gpu, int gpus_per_node) {
  if (gpus_per_node < 1) throw user_error("--gpus-per-node", "must be at least 1, got %d", gpus_per_node);
  std::string spec = ascii_lower(given.empty() ? gpu.default_interconnect : given);
  std::string first = spec, second;
  const size_t plus = spec.find('+');
  if (plus != std::string::npos) first = spec.substr(0, plus), second = spec.substr(plus + 1);
  if (plus != std::string::npos && (first.empty() || second.empty()))
    throw user_error("--interconnect", "'%s' should read INTRA+INTER, e.g. nvlink4+ib400", given.c_str());
  auto names = [](bool intra) {
    std::string s;
    for (const LinkRow& l : kLinks)
      if (intra ? l.intra : l.inter) s += (s.empty() ? "" : ", ") + std::string(l.name);
    return s;
  };
  const LinkRow* a = find_link(first);
  const LinkRow* b = second.empty() ? nullptr : find_link(second);
  if (!a || (!second.empty() && !b))
    throw user_error("--interconnect", "unknown link '%s' (expected INTRA+INTER with INTRA one of %s and INTER one of %s)",
                     (!a ? first : second).c_str(), names(true).c_str(), names(false).c_str());
  const LinkRow* intra = nullptr;
  const LinkRow* inter = nullptr;
  if (b) {
    if (!a->intra) throw user_error("--interconnect", "'%s' is not an intra-node link (expected one of %s)", first.c_str(), names(true).c_str());
    if (!b->inter) throw user_error("--interconnect", "'%s' is not a network between nodes (expected one of %s)", second.c_str(), names(false).c_str());
    intra = a, inter = b;
  } else if (a->inter) {
    // A network alone: the GPU's own intra-node link ("ib200" on an H100 means nvlink4+ib200).
    std::string def = gpu.default_interconnect.substr(0, gpu.default_interconnect.find('+'));
    intra = find_link(def), inter = a;
  } else {
    intra = a;  // one node only; make_plan refuses more GPUs than a node holds
  }
  TLM_CHECK(intra != nullptr, "GPU %s names an unknown default link", gpu.name.c_str());
  Interconnect net;
  net.gpus_per_node = gpus_per_node;
  net.intra = {intra->name, intra->gbps * kGB, intra->latency_us * 1e-6};
  if (inter) {
    double bw = inter->gbps * kGB / (inter->per_node ? gpus_per_node : 1);
    net.inter = {inter->name, bw, inter->latency_us * 1e-6};
  }
  net.name = inter ? net.intra.name + "+" + net.inter.name : net.intra.name;
  return net;
}

double parse_count(const std::string& text, const std::string& flag) {
  const char* s = text.c_str();
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s, &end);
  if (end == s || errno == ERANGE)
    throw user_error(flag, "'%s' is not a number (examples: 2e12, 2T, 500B, 4M)", text.c_str());
  std::string suffix = end;
  double scale = 1;
  // Decimal suffixes as papers write token counts; binary ones (Ki, Mi, Gi, Ti) for batch sizes
  // like llm.c's 524,288 = 0.5Mi.
  if (suffix == "Ki") scale = 1024.0;
  else if (suffix == "Mi") scale = 1024.0 * 1024;
  else if (suffix == "Gi") scale = 1024.0 * 1024 * 1024;
  else if (suffix == "Ti") scale = 1024.0 * 1024 * 1024 * 1024;
  else if (suffix == "k" || suffix == "K") scale = 1e3;
  else if (suffix == "m" || suffix == "M") scale = 1e6;
  else if (suffix == "b" || suffix == "B" || suffix == "g" || suffix == "G") scale = 1e9;
  else if (suffix == "t" || suffix == "T") scale = 1e12;
  else if (!suffix.empty())
    throw user_error(flag, "'%s' is not a number (examples: 2e12, 2T, 500B, 4M, 4Mi)", text.c_str());
  v *= scale;
  if (!std::isfinite(v) || v < 1 || v > 1e18)
    throw user_error(flag, "%s is out of range (expected 1 to 1e18)", text.c_str());
  if (std::fabs(v - std::round(v)) > 1e-6 * v) throw user_error(flag, "%s is not a whole number", text.c_str());
  return std::round(v);
}

}  // namespace tlm::plan
