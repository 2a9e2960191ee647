// The whole model against PyTorch (DESIGN.md "Tests", tier 3): the same weights (our
// safetensors, HF names), the same packed batch (several documents per sequence, some targets
// masked), run through tests/torch/reference.py (a plain PyTorch Llama in tools/torch). We compare
// logits, loss, every parameter gradient by name, and a 10-step AdamW loss curve with weight
// decay and global-norm clipping. Everything is fp32 on both sides, so differences come only
// from summation order and libm; the tolerances below leave ~10-100x room over what is measured.
//
// /usr/bin/python3 with torch and numpy is a hard requirement (CI installs python3-torch): if it
// is missing the test fails and says what to install, it never skips.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/file.h"
#include "core/rng.h"
#include "io/safetensors.h"
#include "model/batch.h"
#include "model/llama.h"
#include "store/params_io.h"
#include "ops/adamw.h"
#include "fixtures.h"

namespace tlm {
namespace {

const char* kPython = "/usr/bin/python3";
const std::string kReference = std::string(TLM_TEST_DATA) + "/../torch/reference.py";

using testing::TempDir;

// Runs a shell command, returns its exit status and (stdout + stderr).
int run(const std::string& cmd, std::string* output) {
  output->clear();
  std::FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) output->append(buf, n);
  return ::pclose(p);
}

// Empty when the reference can run; otherwise what is missing, for the failure message.
std::string missing_python() {
  if (::access(kPython, X_OK) != 0) return std::string(kPython) + " not found (apt install python3 python3-numpy python3-torch)";
  std::string out;
  if (run(std::string(kPython) + " -c 'import numpy'", &out) != 0)
    return std::string(kPython) + " has no numpy (apt install python3-numpy): " + out;
  if (run(std::string(kPython) + " -c 'import torch'", &out) != 0)
    return std::string(kPython) + " has no torch (apt install python3-torch): " + out;
  if (::access(kReference.c_str(), R_OK) != 0) return kReference + " not found";
  return "";
}

struct Case {
  const char* name;
  ModelConfig cfg;
  int B, T;
  std::vector<std::vector<int>> eos_at;  // per sequence, the positions of end-of-text (id 0)
};

// B sequences of random tokens (ids 1..V-1) with eos (id 0) at the given places: each eos opens a
// new document (two in a row make a one-token document). Targets are the next token (the last
// position gets a random one), with every 5th target masked (-1) to exercise the loss mask.
Batch make_batch(const Case& c, uint64_t seed) {
  Batch b;
  b.resize(c.B, c.T);
  Rng rng(seed, 1);
  for (auto& t : b.tokens) t = int32_t(1 + rng.below(uint32_t(c.cfg.vocab_size - 1)));
  for (int s = 0; s < c.B; ++s)
    for (int p : c.eos_at[s]) b.tokens[size_t(s) * c.T + p] = 0;
  b.compute_documents(0);
  for (int s = 0; s < c.B; ++s) {
    for (int t = 0; t < c.T; ++t) {
      size_t i = size_t(s) * c.T + t;
      b.targets[i] = t + 1 < c.T ? b.tokens[i + 1] : int32_t(rng.below(uint32_t(c.cfg.vocab_size)));
      if (i % 5 == 2) b.targets[i] = -1;
    }
  }
  return b;
}

// Random init (our seeded init), then spread out so the comparison is not trivially satisfied:
// matrices x8 (std 0.16, logits O(1)), norm weights 1 +- 0.3 (so a norm weight that is applied
// wrongly, or not at all, shows).
void init_for_test(Llama& model, uint64_t seed) {
  model.init(seed);
  Rng rng(seed, 999);
  for_each_param(model.layout(), [&](const ParamInfo& p) {
    float* x = model.params() + p.offset;
    for (size_t i = 0; i < p.size; ++i) x[i] = p.is_norm ? 1.0f + 0.3f * (2 * rng.uniform() - 1) : 8.0f * x[i];
  });
}

struct Diff {
  double max_abs = 0, max_ref = 0, rel_l2 = 0;
};

Diff compare(const float* ours, const float* ref, size_t n) {
  Diff d;
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    double e = double(ours[i]) - double(ref[i]);
    d.max_abs = std::max(d.max_abs, std::fabs(e));
    d.max_ref = std::max(d.max_ref, std::fabs(double(ref[i])));
    num += e * e;
    den += double(ref[i]) * double(ref[i]);
  }
  d.rel_l2 = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
  return d;
}

void write_text(const std::string& path, const std::string& text) { atomic_write_file(path, text); }

void check_against_torch(const Case& c) {
  std::string missing = missing_python();
  ASSERT_TRUE(missing.empty()) << "the PyTorch reference test needs " << kPython
                               << " with numpy and torch (Debian python3-torch): " << missing;
  const ModelConfig& cfg = c.cfg;
  Llama model(cfg, c.B, c.T);
  init_for_test(model, 1234);
  Batch batch = make_batch(c, 77);
  const float lr = 1e-2f, beta1 = 0.9f, beta2 = 0.95f, eps = 1e-8f, wd = 0.1f;
  const int steps = 10;

  // Ours first, on a copy of the initial weights kept for the file.
  const size_t P = model.num_params();
  std::vector<float> init(model.params(), model.params() + P);
  TempDir dir;
  save_params(dir / "model.safetensors", model.layout(), init.data(), {{"format", "pt"}});
  write_text(dir / "config.json", cfg.to_hf_json().dump(2));
  std::vector<TensorOut> bt;
  std::vector<size_t> shape = {size_t(c.B), size_t(c.T)};
  bt.push_back({"tokens", DType::I32, shape, batch.tokens.data()});
  bt.push_back({"targets", DType::I32, shape, batch.targets.data()});
  bt.push_back({"pos", DType::I32, shape, batch.pos.data()});
  bt.push_back({"doc_start", DType::I32, shape, batch.doc_start.data()});
  write_safetensors(dir / "batch.safetensors", bt);

  const size_t N = size_t(c.B) * c.T, V = size_t(cfg.vocab_size);
  model.zero_grad();
  float loss = model.forward(batch);
  std::vector<float> logits(model.logits(), model.logits() + N * V);
  model.backward(batch);
  std::vector<float> grads(model.grads(), model.grads() + P);

  // The training loop the trainer runs: global norm, clip factor, AdamW per range with decay as
  // the layout says (matrices yes; norms and the embedding no).
  // Clip below the measured initial norm, so clipping is active for (at least) the first steps.
  const float clip = float(0.5 * std::sqrt(ops::sum_squares(grads.data(), P)));
  std::vector<float> m(P, 0.0f), v(P, 0.0f), curve, norms;
  for (int step = 1; step <= steps; ++step) {
    model.zero_grad();
    curve.push_back(model.forward(batch));
    model.backward(batch);
    double norm = std::sqrt(ops::sum_squares(model.grads(), P));
    norms.push_back(float(norm));
    float scale = ops::clip_scale(norm, clip);
    for_each_param(model.layout(), [&](const ParamInfo& p) {
      ops::AdamWHyper h{lr, beta1, beta2, eps, p.decay ? wd : 0.0f};
      ops::adamw_update(model.params() + p.offset, model.grads() + p.offset, m.data() + p.offset,
                        v.data() + p.offset, p.size, h, step, scale);
    });
  }

  nlohmann::json opt = {{"lr", lr}, {"betas", {beta1, beta2}}, {"eps", eps}, {"wd", wd}, {"clip", clip},
                        {"steps", steps}};
  write_text(dir / "opt.json", opt.dump());
  std::string out;
  std::string cmd = std::string(kPython) + " " + kReference + " " + dir.path();
  ASSERT_EQ(run(cmd, &out), 0) << cmd << " failed:\n" << out;
  SafetensorsFile ref(dir / "out.safetensors");

  // Logits: max |ours - torch| <= 1e-4 * max(1, max |logit|).
  std::vector<float> ref_logits(N * V);
  ref.read_f32("logits", {N, V}, ref_logits.data());
  Diff dl = compare(logits.data(), ref_logits.data(), N * V);
  std::printf("[%s] logits: max|logit| %.3f, max abs diff %.3g, rel L2 %.3g\n", c.name, dl.max_ref, dl.max_abs,
              dl.rel_l2);
  EXPECT_LE(dl.max_abs, 1e-4 * std::max(1.0, dl.max_ref));
  EXPECT_GT(dl.max_ref, 1.0) << "logits too small for the comparison to mean much";

  // Loss: relative 1e-5.
  float ref_loss;
  ref.read_f32("loss", {1}, &ref_loss);
  std::printf("[%s] loss: ours %.7f torch %.7f rel diff %.3g\n", c.name, loss, ref_loss,
              std::fabs(loss - ref_loss) / ref_loss);
  EXPECT_NEAR(loss, ref_loss, 1e-5 * ref_loss);

  // Gradients, by name: relative L2 error <= 1e-4 and max abs error <= 1e-4 x the tensor's
  // largest reference entry (every tensor, tied embeddings included).
  double worst_rel = 0, worst_abs = 0;
  std::string worst_name;
  int compared = 0;
  for_each_param(model.layout(), [&](const ParamInfo& p) {
    std::vector<float> g(p.size);
    ref.read_f32("grad." + p.name, p.shape, g.data());
    Diff d = compare(grads.data() + p.offset, g.data(), p.size);
    EXPECT_LE(d.rel_l2, 1e-4) << p.name;
    EXPECT_LE(d.max_abs, 1e-4 * d.max_ref) << p.name;
    EXPECT_GT(d.max_ref, 0.0) << p.name << ": a zero gradient compares nothing";
    if (d.rel_l2 > worst_rel) worst_rel = d.rel_l2, worst_name = p.name;
    worst_abs = std::max(worst_abs, d.max_ref > 0 ? d.max_abs / d.max_ref : 0.0);
    ++compared;
  });
  EXPECT_EQ(compared, int(model.layout().params().size()));
  std::printf("[%s] gradients: %d tensors, worst rel L2 %.3g (%s), worst max abs / max|ref| %.3g\n", c.name,
              compared, worst_rel, worst_name.c_str(), worst_abs);

  // Training: per-step loss and gradient norm within relative 1e-4.
  std::vector<float> ref_curve(steps), ref_norms(steps);
  ref.read_f32("curve", {size_t(steps)}, ref_curve.data());
  ref.read_f32("grad_norm", {size_t(steps)}, ref_norms.data());
  double worst_curve = 0, worst_norm = 0;
  for (int k = 0; k < steps; ++k) {
    double rc = std::fabs(curve[k] - ref_curve[k]) / std::fabs(ref_curve[k]);
    double rn = std::fabs(norms[k] - ref_norms[k]) / std::fabs(ref_norms[k]);
    EXPECT_LE(rc, 1e-4) << "step " << k << ": ours " << curve[k] << " torch " << ref_curve[k];
    EXPECT_LE(rn, 1e-4) << "grad norm at step " << k << ": ours " << norms[k] << " torch " << ref_norms[k];
    worst_curve = std::max(worst_curve, rc), worst_norm = std::max(worst_norm, rn);
  }
  std::printf("[%s] curve: %.4f -> %.4f over %d steps (clip %.3g, initial norm %.3g); worst rel diff: loss %.3g, "
              "grad norm %.3g\n",
              c.name, curve.front(), curve.back(), steps, clip, norms.front(), worst_curve, worst_norm);
  EXPECT_FLOAT_EQ(curve[0], loss) << "step 1's loss is the loss at the initial weights";
  EXPECT_LT(curve.back(), curve.front() - 0.1f) << "training should make progress, or the curve tests little";
}

ModelConfig config(int V, int C, int L, int H, int KVH, int D, int F, int T, bool tied, float theta, float eps) {
  ModelConfig c;
  c.vocab_size = V, c.dim = C, c.n_layers = L, c.n_heads = H, c.n_kv_heads = KVH, c.head_dim = D, c.ffn_dim = F;
  c.max_seq_len = T, c.tied_embeddings = tied, c.rope_theta = theta, c.norm_eps = eps;
  return c;
}

// Odd vocabulary, grouped-query attention (2 query heads per KV head), head_dim != C / H,
// untied lm_head; documents of several lengths, one starting mid-sequence at every row, one of
// length one (two eos in a row), and a sequence that is a single document.
TEST(ModelTorch, GroupedQueryUntiedMatchesPyTorch) {
  Case c{"gqa-untied", config(97, 48, 2, 4, 2, 12, 80, 32, false, 10000.0f, 1e-5f), 3, 24,
         {{0, 7, 15}, {}, {3, 4, 20, 23}}};
  check_against_torch(c);
}

// Tied embeddings (the embedding gradient gets both uses), one KV head per query head, another
// RoPE theta and norm eps, sequences that start without an eos.
TEST(ModelTorch, TiedMultiHeadMatchesPyTorch) {
  Case c{"mha-tied", config(64, 32, 2, 4, 4, 8, 64, 16, true, 500000.0f, 1e-6f), 2, 16, {{5, 9}, {1, 2, 12}}};
  check_against_torch(c);
}

}  // namespace
}  // namespace tlm
