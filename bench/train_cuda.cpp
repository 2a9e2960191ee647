// train_cuda: one bf16 training step on the GPU (forward, backward, global-norm clipping,
// AdamW: model/llama_cuda.h) against PyTorch with torch.compile, SDPA (flash) attention and
// fused AdamW (bench/peer_train_cuda.py) in the same run, on a 124M and a ~350M Llama at
// T = 1024. MFU is reported twice: against the datasheet dense bf16 peak (989 TFLOP/s on
// H100/H200 SXM, how published MFUs are quoted) and against the cuBLASLt bf16 rate measured here
// on an 8192^3 product (what this GPU actually sustains). Random tokens without end-of-text: one
// document per sequence, so both engines do the same causal attention work.
//
//   train_cuda [--configs 124m,350m] [--steps N] [--warmup N] [--batch B] [--no-peer]
//              [--peer-script FILE] [--json FILE]
#include <CLI/CLI.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "bench_model.h"
#include "bench_util.h"
#include "core/check.h"
#include "core/file.h"
#include "core/rng.h"
#include "model/llama.h"
#include "model/llama_cuda.h"
#include "ops/cuda_device.h"
#include "ops/matmul.h"
#include "train/mfu.h"

namespace {

using nlohmann::json;
using tlm::bench::BenchModel;
using tlm::bench::model_config;
const BenchModel kConfigs[] = {
    {"124m", 32768, 1024, 768, 12, 12, 2048, 16},
    {"350m", 32768, 1024, 1024, 24, 16, 2816, 8},
};

// TFLOP/s of an n^3 bf16 product through our cuBLASLt matmul (the GPU's sustained peak).
double measured_matmul_tflops(int n, int reps) {
  tlm::cuda::DeviceBuffer<uint16_t> a(size_t(n) * n), b(size_t(n) * n), c(size_t(n) * n);
  a.zero(), b.zero();
  tlm::ops::cuda::matmul_forward(c.data(), a.data(), b.data(), n, n, n);  // plan + warm-up
  tlm::cuda::synchronize();
  double t0 = tlm::bench::now_s();
  for (int i = 0; i < reps; i++) tlm::ops::cuda::matmul_forward(c.data(), a.data(), b.data(), n, n, n);
  tlm::cuda::synchronize();
  return 2.0 * double(n) * n * n * reps / (tlm::bench::now_s() - t0) / 1e12;
}

json run_ours(const BenchModel& bc, int steps, int warmup) {
  const tlm::ModelConfig cfg = model_config(bc);
  tlm::Llama host(cfg, 0, bc.T);  // weights only
  host.init(1234);
  auto model = tlm::make_cuda_llama(cfg, bc.B, bc.T);
  model->upload_params(host.params());
  tlm::Batch batch;
  batch.resize(bc.B, bc.T);
  tlm::Rng rng(7);
  double t_total = 0, first_loss = 0, last_loss = 0;
  for (int step = 0; step < warmup + steps; step++) {
    for (auto& t : batch.tokens) t = 1 + int(rng.below(uint32_t(bc.V - 1)));
    for (int b = 0; b < bc.B; b++)
      for (int t = 0; t < bc.T; t++)
        batch.targets[size_t(b) * bc.T + t] =
            t + 1 < bc.T ? batch.tokens[size_t(b) * bc.T + t + 1] : 1 + int(rng.below(uint32_t(bc.V - 1)));
    batch.compute_documents(0);
    tlm::cuda::synchronize();
    const double t0 = tlm::bench::now_s();
    model->zero_grad();
    const float loss = model->forward(batch);
    model->backward(batch);
    const double norm = std::sqrt(model->grad_sum_squares());
    tlm::ops::AdamWHyper h;
    h.lr = 1e-4f;
    h.weight_decay = 0.1f;
    model->adamw_step(h, tlm::ops::clip_scale(norm, 1.0f));
    tlm::cuda::synchronize();
    const double dt = tlm::bench::now_s() - t0;
    if (step == 0) first_loss = loss;
    last_loss = loss;
    if (step >= warmup) t_total += dt;
  }
  const double tok_s = double(bc.B) * bc.T * steps / t_total;
  return {{"engine", "tweetlm"},
          {"tokens_per_s", tok_s},
          {"step_ms", 1e3 * t_total / steps},
          {"first_loss", first_loss},
          {"last_loss", last_loss},
          {"device_mem_gb", double(model->device_bytes()) / (1 << 30)}};
}

json run_peer(const std::string& script, const BenchModel& bc, int steps, int warmup) {
  // The device image's python3 is the one with PyTorch (CUDA); not Debian's.
  return tlm::bench::run_peer_script("python3", script, bc,
                                     "--steps " + std::to_string(steps) + " --warmup " + std::to_string(warmup));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"train_cuda: our bf16 GPU training step vs PyTorch torch.compile + SDPA, same GPU, same run"};
  std::string configs = "124m,350m", json_path = "train_cuda.json";
  std::string peer_script = std::string(TLM_SOURCE_DIR) + "/bench/peer_train_cuda.py";
  int steps = 10, warmup = 3, batch = 0;
  bool no_peer = false;
  app.add_option("--configs", configs, "Comma-separated subset of 124m, 350m")->capture_default_str();
  app.add_option("--steps", steps, "Timed steps per config")->capture_default_str();
  app.add_option("--warmup", warmup, "Untimed steps first (plans, compilation)")->capture_default_str();
  app.add_option("--batch", batch, "Sequences per step for every config (default: 16 for 124m, 8 for 350m)");
  app.add_option("--peer-script", peer_script, "The PyTorch peer")->capture_default_str();
  app.add_flag("--no-peer", no_peer, "Only run ours");
  app.add_option("--json", json_path, "Write the results here")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    if (tlm::cuda::device_count() == 0) {
      std::fprintf(stderr, "train_cuda: no CUDA device: nothing to measure\n");
      return 2;
    }
    const std::string device = tlm::cuda::device_name();
    const double datasheet = tlm::gpu_bf16_peak_gflops(device) / 1e3;
    const double measured = measured_matmul_tflops(8192, 20);
    std::printf("device: %s; bf16 peak: datasheet %.0f TFLOP/s, measured cuBLASLt 8192^3 %.0f TFLOP/s\n",
                device.c_str(), datasheet, measured);
    std::printf("| config | params | B x T | tweetlm tok/s | ms/step | MFU (datasheet / measured) | torch.compile tok/s "
                "| ratio |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
    json rows = json::array();
    std::stringstream list(configs);
    for (std::string name; std::getline(list, name, ',');) {
      const BenchModel* found = nullptr;
      for (const auto& c : kConfigs)
        if (c.name == name) found = &c;
      if (!found) throw tlm::user_error("--configs", "unknown config '%s' (expected 124m or 350m)", name.c_str());
      BenchModel bc = *found;
      if (batch > 0) bc.B = batch;
      const tlm::ModelConfig cfg = model_config(bc);
      const double flops_per_token = cfg.train_flops_per_token((bc.T + 1) / 2.0);
      json ours = run_ours(bc, steps, warmup);
      json peer = no_peer ? json{{"skipped", true}} : run_peer(peer_script, bc, steps, warmup);
      const double tflops = ours["tokens_per_s"].get<double>() * flops_per_token / 1e12;
      ours["mfu_datasheet"] = datasheet > 0 ? tflops / datasheet : 0.0;
      ours["mfu_measured"] = tflops / measured;
      const double peer_tok = peer.value("tokens_per_s", 0.0);
      std::printf("| %s | %.0fM | %d x %d | %.0f | %.1f | %.1f%% / %.1f%% | %s | %s |\n", bc.name.c_str(),
                  double(cfg.num_params()) / 1e6, bc.B, bc.T, ours["tokens_per_s"].get<double>(),
                  ours["step_ms"].get<double>(), 100 * ours["mfu_datasheet"].get<double>(),
                  100 * ours["mfu_measured"].get<double>(), peer_tok > 0 ? tlm::strprintf("%.0f", peer_tok).c_str() : "-",
                  peer_tok > 0 ? tlm::strprintf("%.2fx", ours["tokens_per_s"].get<double>() / peer_tok).c_str() : "-");
      std::fflush(stdout);
      rows.push_back({{"config", bc.name}, {"V", bc.V}, {"T", bc.T}, {"C", bc.C}, {"L", bc.L}, {"H", bc.H},
                      {"F", bc.F}, {"B", bc.B}, {"params", cfg.num_params()}, {"flops_per_token", flops_per_token},
                      {"ours", ours}, {"peer", peer}});
    }
    json result = {{"benchmark", "train_cuda"}, {"device", device}, {"datasheet_tflops", datasheet},
                   {"measured_matmul_tflops", measured}, {"rows", rows}};
    tlm::atomic_write_file(json_path, result.dump(2) + "\n");
    std::printf("wrote %s\n", json_path.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_cuda: %s\n", e.what());
    return 1;
  }
  return 0;
}
