// `tweetlm plan`: what a training run costs (parameters, FLOPs, memory per GPU, step time, MFU,
// days, GPU-hours) before it is launched. Parsing and printing only; the cost model is
// src/apps/plan/planner.h and its formulas and sources are in docs/scaling.md.
#include <cstdio>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/check.h"
#include "core/file.h"
#include "apps/plan/planner.h"

namespace tlm::cli {

namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

std::string with_commas(double v) {
  std::string digits = strprintf("%.0f", v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string seconds_str(double s) {
  if (s >= 100) return strprintf("%.0f s", s);
  if (s >= 1) return strprintf("%.2f s", s);
  if (s >= 1e-3 || s == 0) return strprintf("%.1f ms", s * 1e3);
  return strprintf("%.0f us", s * 1e6);
}

void print_report(const plan::Plan& p) {
  const plan::Layout& l = p.layout;
  std::printf("tweetlm plan: %s, %s tokens on %d x %s (%s, %d per node)\n\n", p.model.name.c_str(),
              plan::format_count(p.options.tokens).c_str(), p.options.gpus, p.gpu.description.c_str(), p.net.name.c_str(),
              p.net.gpus_per_node);

  std::printf("Model\n");
  std::printf("  dims            %s\n", p.model.dims().c_str());
  std::printf("  parameters      %s (%s in matrix products)\n", with_commas(double(p.params)).c_str(),
              plan::format_count(double(p.matmul_params)).c_str());
  std::printf("  FLOPs per token %.3g = 6 N + 12 L d T (PaLM / Megatron model FLOPs, T = %d)\n", p.flops_per_token, l.seq);
  std::printf("  total FLOPs     %.3g\n\n", p.total_flops);

  std::printf("Batch\n");
  if (l.model_parallel > 1)
    std::printf("  layout          %d data-parallel replicas x %d-way model parallelism (an estimate)\n", l.data_parallel,
                l.model_parallel);
  else
    std::printf("  layout          %d data-parallel replica%s%s\n", l.data_parallel, l.data_parallel == 1 ? "" : "s",
                l.zero ? ", ZeRO-1" : "");
  std::printf("  global batch    %s tokens = %d x micro-batch %d x %d tokens x %lld accumulation step%s\n",
              plan::format_count(p.global_batch_tokens).c_str(), l.data_parallel, l.micro_batch, l.seq, static_cast<long long>(p.grad_accum),
              p.grad_accum == 1 ? "" : "s");
  std::printf("  steps           %s\n\n", with_commas(double(p.steps)).c_str());

  auto row = [](const char* name, uint64_t a, uint64_t b, const char* tail = "") {
    std::printf("  %-32s %8.2f %8.2f%s\n", name, double(a) / kGiB, double(b) / kGiB, tail);
  };
  const plan::Memory& z0 = p.memory_zero0;
  const plan::Memory& z1 = p.memory_zero1;
  std::printf("Memory per GPU (GiB)                ZeRO-0   ZeRO-1\n");
  row("weights (bf16)", z0.weights, z1.weights);
  row("gradients (bf16)", z0.grads, z1.grads);
  row("master weights (fp32)", z0.master, z1.master);
  row("AdamW m + v (fp32)", z0.adam, z1.adam);
  std::string act = strprintf("activations (b%d x %d)%s", l.micro_batch, l.seq, l.recompute ? ", recompute" : "");
  std::string other = strprintf("   (%s: %.2f)", l.recompute ? "without recompute" : "with recompute",
                                double(l.recompute ? p.activations_plain : p.activations_recompute) / kGiB);
  row(act.c_str(), z0.activations, z1.activations, other.c_str());
  row("final norm + logits (fp32)", z0.output, z1.output);
  row("total", z0.total(), z1.total(),
      strprintf("   usable %.1f of %.1f (this plan: ZeRO-%d)", p.usable_bytes / kGiB, p.gpu.hbm_bytes / kGiB, l.zero)
          .c_str());
  std::printf("\nVerdict: %s\n\n", p.verdict.c_str());

  auto comm = [](const plan::CommCost& cc) {
    return strprintf("NVLink/PCIe %s, network %s, latency %s over %lld calls", seconds_str(cc.intra_s).c_str(),
                     seconds_str(cc.inter_s).c_str(), seconds_str(cc.latency_s).c_str(),
                     static_cast<long long>(cc.calls));
  };
  std::printf("Step time\n");
  std::printf("  compute              %10s   %.3g FLOP per GPU at %.0f%% of %.0f TFLOP/s%s\n",
              seconds_str(p.compute_s).c_str(), p.hardware_flops_per_gpu_step, p.efficiency * 100,
              p.gpu.peak_flops / 1e12, l.recompute ? " (incl. recomputation)" : "");
  std::printf("  %-20s %10s   %s\n", l.zero ? "grad reduce-scatter" : "grad all-reduce", seconds_str(p.grad_comm.total()).c_str(),
              comm(p.grad_comm).c_str());
  if (l.zero)
    std::printf("  %-20s %10s   %s\n", "param all-gather", seconds_str(p.param_comm.total()).c_str(), comm(p.param_comm).c_str());
  std::printf("  hidden by compute    %10s   overlapped with backward%s\n", ("-" + seconds_str(p.hidden_s)).c_str(),
              l.zero ? " / the next forward" : "");
  std::printf("  optimizer            %10s   AdamW update, memory-bound\n", seconds_str(p.optimizer_s).c_str());
  std::printf("  step                 %10s   (exposed communication %s)\n\n", seconds_str(p.step_s).c_str(),
              seconds_str(p.exposed_s).c_str());

  std::printf("Throughput       %s tokens/s (%s per GPU), MFU %.1f%%\n", plan::format_count(p.tokens_per_s).c_str(),
              plan::format_count(p.tokens_per_s / p.options.gpus).c_str(), p.mfu * 100);
  std::printf("Time             %.2f days wall clock, %s GPU-hours\n", p.days, with_commas(p.gpu_hours).c_str());
  if (!p.notes.empty()) {
    std::printf("\nNotes\n");
    for (const std::string& n : p.notes) std::printf("  - %s\n", n.c_str());
  }
}

}  // namespace

Runner add_plan(CLI::App& app) {
  auto* cmd = app.add_subcommand("plan", "Cost of a training run on many GPUs: memory, step time, MFU, days, GPU-hours");
  auto model = std::make_shared<std::string>();
  auto dims = std::make_shared<plan::DimOverrides>();
  auto o = std::make_shared<plan::PlanOptions>();
  auto tokens = std::make_shared<std::string>();
  auto gpus = std::make_shared<std::string>();
  auto batch = std::make_shared<std::string>();
  auto json = std::make_shared<std::string>();
  auto json_stdout = std::make_shared<bool>(false);
  auto tie = std::make_shared<bool>(false);
  auto untie = std::make_shared<bool>(false);
  auto recompute = std::make_shared<bool>(false);
  auto no_recompute = std::make_shared<bool>(false);
  const auto positive = CLI::Range(1, 1 << 30);
  cmd->add_option("--model", *model,
                  "Model: tiny, small, 33m, 124m (ours, V 32000), gpt2-124m/350m/774m/1.5b, llama-7b/13b/70b (Llama 2), "
                  "llama3-8b/70b/405b; 7b, 13b, 70b, 8b, 405b are aliases")
      ->required();
  cmd->add_option("--dim", dims->dim, "Override the width C")->check(positive);
  cmd->add_option("--layers", dims->layers, "Override the layers L")->check(positive);
  cmd->add_option("--heads", dims->heads, "Override the attention heads H")->check(positive);
  cmd->add_option("--kv-heads", dims->kv_heads, "Override the key/value heads")->check(positive);
  cmd->add_option("--ffn", dims->ffn, "Override the MLP hidden size F")->check(positive);
  cmd->add_option("--head-dim", dims->head_dim, "Override the head size D")->check(positive);
  cmd->add_option("--vocab", dims->vocab, "Override the vocabulary size V")->check(positive);
  auto* tie_flag = cmd->add_flag("--tie", *tie, "Tie the LM head to the embedding");
  cmd->add_flag("--untie", *untie, "A separate LM head (GPT-2 models are tied by default)")->excludes(tie_flag);
  cmd->add_option("--tokens", *tokens, "Training tokens: 2e12, 2T, 500B, ...")->required();
  cmd->add_option("--gpus", *gpus, "Number of GPUs: 10000, 10k, ...")->required();
  cmd->add_option("--gpu", o->gpu, "GPU: h100, h200, a100-80 (a100), a100-40")->capture_default_str();
  cmd->add_option("--interconnect", o->interconnect,
                  "INTRA+INTER links: nvlink4|nvlink3|pcie5|pcie4 + ib400|ib200|ib100|roce400|roce200|eth100, or INTER "
                  "alone (default: nvlink4+ib400 for H100/H200, nvlink3+ib200 for A100)");
  cmd->add_option("--gpus-per-node", o->gpus_per_node, "GPUs per node")->capture_default_str()->check(CLI::Range(1, 1024));
  cmd->add_option("--global-batch-tokens", *batch, "Tokens per optimizer step (default 4Mi = 4,194,304)");
  cmd->add_option("--seq", o->seq, "Sequence length (default: the model's context)")->check(CLI::Range(1, 1 << 24));
  cmd->add_option("--micro-batch", o->micro_batch, "Sequences per GPU per forward/backward (default: the largest that fits)")
      ->check(positive);
  cmd->add_option("--zero", o->zero, "0: plain data parallel, 1: ZeRO-1 (default: 1 with more than one replica)")
      ->check(CLI::Range(0, 1));
  auto* rc = cmd->add_flag("--recompute", *recompute, "Recompute activations in backward (default: only if needed to fit)");
  auto* no_rc = cmd->add_flag("--no-recompute", *no_recompute, "Never recompute activations");
  rc->excludes(no_rc);
  cmd->add_option("--model-parallel", o->model_parallel,
                  "Estimate as if N-way tensor/pipeline parallelism were used (this version cannot run it)")
      ->check(positive);
  cmd->add_option("--efficiency", o->efficiency, "Fraction of peak FLOP/s compute reaches (default: the GPU's calibrated value)")
      ->check(CLI::Range(0.01, 1.0));
  // --json means "JSON to stdout" in every command; the file is --json-out.
  cmd->add_option("--json-out", *json, "Also write the plan as JSON to this file");
  cmd->add_flag("--json", *json_stdout, "Print the plan as JSON to stdout instead of the report");
  return [=]() {
    plan::DimOverrides d = *dims;
    if (*tie) d.tie = 1;
    if (*untie) d.tie = 0;
    plan::PlanModel m = plan::plan_model(*model, d);
    plan::PlanOptions opts = *o;
    opts.tokens = plan::parse_count(*tokens, "--tokens");
    const double g = plan::parse_count(*gpus, "--gpus");
    if (g > 1e7) throw user_error("--gpus", "%s is more GPUs than this planner models (at most 10M)", gpus->c_str());
    opts.gpus = int(g);
    if (!batch->empty()) opts.global_batch_tokens = plan::parse_count(*batch, "--global-batch-tokens");
    opts.recompute = *recompute ? 1 : (*no_recompute ? 0 : -1);
    const plan::Plan plan = plan::make_plan(m, opts);
    // The file first: a path that cannot be written is an error before any report.
    const std::string json_text = plan::plan_to_json(plan).dump(2) + "\n";
    if (!json->empty()) atomic_write_file(*json, json_text);
    if (*json_stdout) std::fputs(json_text.c_str(), stdout);
    else print_report(plan);
    return 0;
  };
}

}  // namespace tlm::cli
