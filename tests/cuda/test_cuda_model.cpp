// The Llama model on the CUDA device (model/cuda/llama_cuda.cu) against the CPU model in fp32
// (model/llama.cpp) from the same weights and batches: logits and loss, every parameter's
// gradient, a short AdamW training run, run-to-run determinism, and the host<->device copies.
// A tiny config keeps the emulator run short; the batches hold several documents per sequence
// (eos inside them), so document masking and restarting positions are exercised, and every
// 5th target is masked.
//
// Tolerances (the GPU keeps bf16 weights, activations and products; the CPU is all fp32):
//  - logits: nmse <= 1e-3; loss: 2e-2 relative.
//  - gradients: nmse <= 1e-2 for every tensor of the layout.
//  - training: |loss_gpu - loss_cpu| <= 0.03 + 2% of the CPU loss at each of 10 steps.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "core/check.h"
#include "cuda/cuda_test.h"
#include "model/batch.h"
#include "model/llama.h"
#include "model/llama_cuda.h"
#include "ops/adamw.h"
#include "train/optimizer.h"

namespace tlm::testing {
namespace {

constexpr int kB = 2, kT = 32;

ModelConfig tiny_config(bool tied) {
  ModelConfig c;
  c.vocab_size = 320;
  c.max_seq_len = kT;
  c.dim = 64;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.head_dim = 16;
  c.ffn_dim = 176;
  c.tied_embeddings = tied;
  return c;
}

// B sequences with eos (id 0) at a few places (two in a row: a one-token document). Tokens are
// drawn mostly from a small set, so a tiny model lowers its loss within a few steps. Targets are
// the next token (a random one at the end), every 5th masked (-1).
Batch make_batch(const ModelConfig& cfg, uint64_t seed) {
  const std::vector<std::vector<int>> eos_at = {{0, 9, 10, 20}, {5, 17, 30}};
  Batch b;
  b.resize(kB, kT);
  Rng rng(seed, 1);
  for (auto& t : b.tokens)
    t = int32_t(rng.below(4) ? 1 + rng.below(24) : 1 + rng.below(uint32_t(cfg.vocab_size - 1)));
  for (int s = 0; s < kB; ++s)
    for (int p : eos_at[s]) b.tokens[size_t(s) * kT + p] = 0;
  b.compute_documents(0);
  for (int s = 0; s < kB; ++s)
    for (int t = 0; t < kT; ++t) {
      size_t i = size_t(s) * kT + t;
      b.targets[i] = t + 1 < kT ? b.tokens[i + 1] : int32_t(rng.below(uint32_t(cfg.vocab_size)));
      if (i % 5 == 2) b.targets[i] = -1;
    }
  return b;
}

std::vector<float> slice(const std::vector<float>& v, const ParamInfo& p) {
  return std::vector<float>(v.begin() + long(p.offset), v.begin() + long(p.offset + p.size));
}

bool all_finite(const std::vector<float>& v) {
  for (float x : v)
    if (!std::isfinite(x)) return false;
  return true;
}

class CudaModel : public ::testing::TestWithParam<bool> {};  // tied embeddings or not

// a) + b): one forward and backward on both models from the same weights.
TEST_P(CudaModel, ForwardAndBackwardMatchCpu) {
  TLM_REQUIRE_CUDA();
  const ModelConfig cfg = tiny_config(GetParam());
  Llama cpu(cfg, kB, kT);
  cpu.init(123);
  auto gpu = make_cuda_llama(cfg, kB, kT);
  ASSERT_EQ(gpu->num_params(), cpu.num_params());
  gpu->upload_params(cpu.params());
  const Batch batch = make_batch(cfg, 5);
  const size_t NV = size_t(kB) * kT * cfg.vocab_size;

  const float loss_cpu = cpu.forward(batch), loss_gpu = gpu->forward(batch);
  std::vector<float> logits_gpu(NV);
  gpu->download_logits(logits_gpu.data());
  std::vector<float> logits_cpu(cpu.logits(), cpu.logits() + NV);
  const double logits_nmse = nmse(logits_gpu, logits_cpu);
  EXPECT_LT(logits_nmse, 1e-3);
  EXPECT_TRUE(std::isfinite(loss_gpu));
  EXPECT_NEAR(loss_gpu, loss_cpu, 2e-2 * loss_cpu);

  cpu.zero_grad();
  cpu.backward(batch, 0.5f);
  gpu->zero_grad();
  gpu->backward(batch, 0.5f);
  std::vector<float> g_gpu(gpu->num_params()), g_cpu(cpu.grads(), cpu.grads() + cpu.num_params());
  gpu->download_grads(g_gpu.data());
  EXPECT_TRUE(all_finite(g_gpu));
  double worst = 0;
  for (const ParamInfo& p : cpu.layout().params()) {
    const double e = nmse(slice(g_gpu, p), slice(g_cpu, p));
    EXPECT_LT(e, 1e-2) << p.name;
    worst = std::max(worst, e);
  }
  std::printf("loss cpu %.5f gpu %.5f, logits nmse %.2e, worst gradient nmse %.2e\n", loss_cpu, loss_gpu, logits_nmse,
              worst);
  // The whole buffer is each storage range once (a tied lm_head is the embedding's range).
  double ss = 0;
  for (float g : g_gpu) ss += double(g) * g;
  EXPECT_NEAR(gpu->grad_sum_squares(), ss, 1e-5 * ss);

  // Gradients accumulate across backward calls (micro-batches): twice the same batch = 2x.
  EXPECT_TRUE(std::isfinite(gpu->forward(batch)));
  gpu->backward(batch, 0.5f);
  std::vector<float> g2(gpu->num_params());
  gpu->download_grads(g2.data());
  for (auto& g : g_gpu) g *= 2;
  EXPECT_LT(nmse(g2, g_gpu), 1e-10);
}

INSTANTIATE_TEST_SUITE_P(Embeddings, CudaModel, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? std::string("tied") : std::string("untied"); });

// c): 10 AdamW steps with global-norm clipping, as the trainer does them, on both models
// (untied only: the emulator's time goes mostly here).
TEST(CudaModelTraining, TracksCpu) {
  TLM_REQUIRE_CUDA();
  const ModelConfig cfg = tiny_config(false);
  Llama cpu(cfg, kB, kT);
  cpu.init(7);
  auto gpu = make_cuda_llama(cfg, kB, kT);
  gpu->upload_params(cpu.params());
  AdamW adam(cpu.layout());
  const Batch batches[2] = {make_batch(cfg, 11), make_batch(cfg, 12)};
  ops::AdamWHyper h;
  h.lr = 3e-3f;
  h.weight_decay = 0.1f;
  const float max_norm = 1.0f;
  std::vector<float> curve_cpu, curve_gpu;
  for (int step = 0; step < 10; step++) {
    const Batch& b = batches[step % 2];
    cpu.zero_grad();
    curve_cpu.push_back(cpu.forward(b));
    cpu.backward(b);
    adam.step(cpu.params(), cpu.grads(), h,
              ops::clip_scale(std::sqrt(ops::sum_squares(cpu.grads(), cpu.num_params())), max_norm));
    gpu->zero_grad();
    curve_gpu.push_back(gpu->forward(b));
    gpu->backward(b);
    gpu->adamw_step(h, ops::clip_scale(std::sqrt(gpu->grad_sum_squares()), max_norm));
  }
  EXPECT_EQ(gpu->adam_t(), 10);
  for (int s = 0; s < 10; s++) std::printf("step %d: loss cpu %.5f gpu %.5f\n", s, curve_cpu[s], curve_gpu[s]);
  for (int s = 0; s < 10; s++)
    EXPECT_NEAR(curve_gpu[s], curve_cpu[s], 0.03 + 0.02 * curve_cpu[s]) << "step " << s;
  EXPECT_LT(curve_gpu[9], curve_gpu[0] - 0.5f);
  EXPECT_LT(curve_gpu[8], curve_gpu[0] - 0.5f);
  // The moments follow the CPU's too (loosely: they integrate bf16 gradients).
  std::vector<float> m(gpu->num_params()), v(gpu->num_params());
  gpu->download_adam(m.data(), v.data());
  EXPECT_LT(nmse(m, std::vector<float>(adam.m(), adam.m() + m.size())), 5e-2);
}

// d): two fresh models, same weights and batches: the same loss and weights, bit for bit.
// Two runs give the same bits; a third with recompute (activations re-run in backward) too,
// in less device memory.
TEST(CudaModelDeterminism, SameBitsTwiceAndWithRecompute) {
  TLM_REQUIRE_CUDA();
  const ModelConfig cfg = tiny_config(false);
  Llama init(cfg, 0, 0);
  init.init(99);
  const Batch batches[2] = {make_batch(cfg, 21), make_batch(cfg, 22)};
  ops::AdamWHyper h;
  h.lr = 1e-3f;
  h.weight_decay = 0.1f;
  std::vector<float> losses[3], params[3];
  double norms[3][3];
  size_t bytes[3];
  for (int run = 0; run < 3; run++) {
    auto gpu = make_cuda_llama(cfg, kB, kT, false, /*recompute=*/run == 2);
    bytes[run] = gpu->device_bytes();
    gpu->upload_params(init.params());
    for (int step = 0; step < 3; step++) {
      gpu->zero_grad();
      losses[run].push_back(gpu->forward(batches[step % 2]));
      gpu->backward(batches[step % 2]);
      norms[run][step] = gpu->grad_sum_squares();
      gpu->adamw_step(h, ops::clip_scale(std::sqrt(norms[run][step]), 1.0f));
    }
    params[run].resize(gpu->num_params());
    gpu->download_params(params[run].data());
  }
  for (int run : {1, 2}) {
    EXPECT_EQ(0, std::memcmp(losses[0].data(), losses[run].data(), 3 * sizeof(float))) << "run " << run;
    EXPECT_EQ(0, std::memcmp(norms[0], norms[run], sizeof(norms[0]))) << "run " << run;
    EXPECT_EQ(0, std::memcmp(params[0].data(), params[run].data(), params[0].size() * sizeof(float))) << "run " << run;
  }
  EXPECT_LT(bytes[2], bytes[0]) << "recompute holds no less device memory";
}

TEST(CudaModelMemory, RoundTripsAndChecks) {
  TLM_REQUIRE_CUDA();
  const ModelConfig cfg = tiny_config(true);
  auto gpu = make_cuda_llama(cfg, kB, kT);
  const size_t P = gpu->num_params();
  EXPECT_EQ(P, ParamLayout(cfg).total());
  EXPECT_GE(gpu->device_bytes(), P * (4 * sizeof(float) + sizeof(uint16_t)));

  std::vector<float> zero(P), got(P, 1.0f);
  gpu->download_params(got.data());
  EXPECT_EQ(got, zero);
  EXPECT_EQ(gpu->adam_t(), 0);

  auto params = randn_f(P, 1), m = randn_f(P, 2), v = randn_f(P, 3);
  params[0] = -0.0f, params[1] = 1e-40f;  // signed zero and a denormal travel as bits
  gpu->upload_params(params.data());
  gpu->download_params(got.data());
  EXPECT_EQ(0, std::memcmp(got.data(), params.data(), P * sizeof(float)));
  gpu->upload_adam(m.data(), v.data(), 7);
  std::vector<float> m2(P), v2(P);
  gpu->download_adam(m2.data(), v2.data());
  EXPECT_EQ(0, std::memcmp(m2.data(), m.data(), P * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(v2.data(), v.data(), P * sizeof(float)));
  EXPECT_EQ(gpu->adam_t(), 7);

  Batch big;
  big.resize(kB + 1, kT);
  EXPECT_THROW(gpu->forward(big), InternalError);
  Batch bad = make_batch(cfg, 1);
  bad.tokens[3] = cfg.vocab_size;
  EXPECT_THROW(gpu->forward(bad), InternalError);
  // Logits only: no loss, and no backward after it.
  Batch ok = make_batch(cfg, 2);
  EXPECT_TRUE(std::isnan(gpu->forward(ok, false)));
  EXPECT_THROW(gpu->backward(ok), InternalError);
}

}  // namespace
}  // namespace tlm::testing
