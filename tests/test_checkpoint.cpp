// Checkpoints: atomic write and manifest verification, corruption detection (flipped byte,
// truncation, missing file, missing manifest), newest-valid selection, keep-k pruning, cleanup
// of killed saves; AdamW state round trip; the LR schedule; training options (model resolution,
// JSON round trip and the resume policy).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/check.h"
#include "core/file.h"
#include "model/params.h"
#include "store/checkpoint.h"
#include "train/lr_schedule.h"
#include "train/optimizer.h"
#include "train/train_options.h"
#include "fixtures.h"

namespace fs = std::filesystem;

namespace tlm {
namespace {

using testing::TempDir;

// A checkpoint with the required files holding recognisable bytes.
std::string write_fake(const std::string& out, int64_t step, size_t model_bytes = 4096) {
  CheckpointWriter w(out, step);
  std::string model(model_bytes, '\0');
  for (size_t i = 0; i < model.size(); ++i) model[i] = char((i * 31 + size_t(step)) & 0xff);
  atomic_write_file(w.file("model.safetensors"), model);
  atomic_write_file(w.file("optimizer.safetensors"), model + model);
  atomic_write_file(w.file("state.json"), "{\"step\": " + std::to_string(step) + "}\n");
  atomic_write_file(w.file("config.json"), "{}\n");
  atomic_write_file(w.file("tokenizer.json"), "{}\n");
  return w.commit();
}

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Checkpoint, NamesSortByStep) {
  EXPECT_EQ(checkpoint_name(100), "step_00000100");
  EXPECT_EQ(checkpoint_name(0), "step_00000000");
  EXPECT_LT(checkpoint_name(99), checkpoint_name(100));
}

TEST(Checkpoint, CommitWritesAVerifiableDirectoryAtomically) {
  TempDir out;
  std::string path = write_fake(out.path(), 7);
  EXPECT_EQ(path, out / "step_00000007");
  EXPECT_EQ(entries(out.path()), (std::vector<std::string>{"step_00000007"}));  // no temporaries left
  EXPECT_EQ(entries(path), (std::vector<std::string>{"config.json", "manifest.json", "model.safetensors",
                                                     "optimizer.safetensors", "state.json", "tokenizer.json"}));
  EXPECT_EQ(verify_checkpoint(path), "");
  auto m = nlohmann::json::parse(read_file(path + "/manifest.json"));
  EXPECT_EQ(m["step"], 7);
  EXPECT_EQ(m["files"]["model.safetensors"]["bytes"], 4096);
  EXPECT_EQ(m["files"]["model.safetensors"]["xxh3"].get<std::string>().size(), 16u);
}

TEST(Checkpoint, VerifyDetectsEveryKindOfDamage) {
  TempDir out;
  auto fresh = [&](int64_t step) { return write_fake(out.path(), step); };
  {  // one flipped byte in the middle of the model
    std::string p = fresh(1);
    std::fstream f(p + "/model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(2000);
    f.put('\x7f' ^ char((2000 * 31 + 1) & 0xff));
    f.close();
    EXPECT_NE(verify_checkpoint(p).find("checksum"), std::string::npos) << verify_checkpoint(p);
  }
  {  // truncated optimizer state
    std::string p = fresh(2);
    fs::resize_file(p + "/optimizer.safetensors", 100);
    EXPECT_NE(verify_checkpoint(p).find("bytes"), std::string::npos) << verify_checkpoint(p);
  }
  {  // a file gone
    std::string p = fresh(3);
    fs::remove(p + "/state.json");
    EXPECT_NE(verify_checkpoint(p).find("missing"), std::string::npos) << verify_checkpoint(p);
  }
  {  // no manifest: an incomplete save
    std::string p = fresh(4);
    fs::remove(p + "/manifest.json");
    EXPECT_NE(verify_checkpoint(p).find("manifest"), std::string::npos);
  }
  {  // a manifest that does not list a required file
    std::string p = fresh(5);
    auto m = nlohmann::json::parse(read_file(p + "/manifest.json"));
    m["files"].erase("tokenizer.json");
    atomic_write_file(p + "/manifest.json", m.dump());
    EXPECT_NE(verify_checkpoint(p).find("tokenizer.json"), std::string::npos);
  }
  {  // garbage manifest
    std::string p = fresh(6);
    atomic_write_file(p + "/manifest.json", "{\"files\": ");
    EXPECT_NE(verify_checkpoint(p), "");
  }
  EXPECT_EQ(verify_checkpoint(fresh(7)), "");
}

TEST(Checkpoint, LatestValidSkipsDamagedNewerOnes) {
  TempDir out;
  EXPECT_FALSE(find_latest_checkpoint(out.path()).has_value());
  write_fake(out.path(), 10);
  write_fake(out.path(), 20);
  std::string p30 = write_fake(out.path(), 30);
  fs::create_directories(out / "step_00000040");  // a bare directory (no manifest)
  fs::create_directories(out / "notes");          // not a checkpoint name
  auto latest = find_latest_checkpoint(out.path(), false);
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->step, 30);
  fs::resize_file(p30 + "/model.safetensors", 10);
  latest = find_latest_checkpoint(out.path(), false);
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->step, 20);
  auto all = list_checkpoints(out.path());
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all.front().step, 10);
  EXPECT_EQ(all.back().step, 40);
  // resolve_checkpoint: a run directory gives its newest valid one; a bad checkpoint is an error.
  EXPECT_EQ(resolve_checkpoint(out.path()), out / "step_00000020");
  EXPECT_THROW(resolve_checkpoint(p30), UserError);
  EXPECT_THROW(resolve_checkpoint(out / "nope"), UserError);
  remove_checkpoints_after(out.path(), 20);
  EXPECT_EQ(list_checkpoints(out.path()).back().step, 20);
}

TEST(Checkpoint, KeepPrunesOldestAndReplacesSameStep) {
  TempDir out;
  for (int s = 1; s <= 5; ++s) {
    write_fake(out.path(), s);
    prune_checkpoints(out.path(), 2);
  }
  EXPECT_EQ(entries(out.path()), (std::vector<std::string>{"step_00000004", "step_00000005"}));
  // Saving a step that exists replaces it with a valid one.
  fs::resize_file(out / "step_00000005/model.safetensors", 1);
  write_fake(out.path(), 5, 100);
  EXPECT_EQ(verify_checkpoint(out / "step_00000005"), "");
  EXPECT_EQ(fs::file_size(out / "step_00000005/model.safetensors"), 100u);
  EXPECT_EQ(entries(out.path()), (std::vector<std::string>{"step_00000004", "step_00000005"}));
  prune_checkpoints(out.path(), 0);  // keep all
  EXPECT_EQ(list_checkpoints(out.path()).size(), 2u);
}

TEST(Checkpoint, AnUncommittedSaveLeavesNoCheckpoint) {
  TempDir out;
  {
    CheckpointWriter w(out.path(), 3);
    atomic_write_file(w.file("model.safetensors"), "x");
  }  // destroyed without commit (an exception during the save)
  EXPECT_TRUE(list_checkpoints(out.path()).empty());
  EXPECT_TRUE(entries(out.path()).empty());
  // What a killed save leaves: a hidden temporary, never listed, removed by the next run.
  fs::create_directories(out / ".tmp-step_00000009");
  fs::create_directories(out / ".trash-step_00000001.123");
  EXPECT_TRUE(list_checkpoints(out.path()).empty());
  remove_stale_temporaries(out.path());
  EXPECT_TRUE(entries(out.path()).empty());
}

ModelConfig small_config() {
  ModelConfig c = ModelConfig::preset("tiny");
  c.vocab_size = 50;
  c.dim = 16, c.n_heads = 2, c.n_kv_heads = 1, c.head_dim = 8, c.ffn_dim = 32, c.n_layers = 2;
  return c;
}

TEST(Optimizer, StateRoundTripsExactly) {
  TempDir dir;
  for (bool tied : {false, true}) {
    ModelConfig c = small_config();
    c.tied_embeddings = tied;
    ParamLayout layout(c);
    AdamW a(layout);
    std::vector<float> params(layout.total()), grads(layout.total());
    for (size_t i = 0; i < params.size(); ++i) {
      params[i] = 0.01f * float(int(i % 19) - 9);
      grads[i] = 0.1f * std::sin(float(i));
    }
    ops::AdamWHyper h;
    h.weight_decay = 0.1f;
    a.step(params.data(), grads.data(), h, 1.0f);
    a.step(params.data(), grads.data(), h, 0.5f);
    a.save(dir / "opt.safetensors");
    AdamW b(layout);
    b.load(dir / "opt.safetensors");
    EXPECT_EQ(b.t(), 2);
    EXPECT_EQ(0, std::memcmp(a.m(), b.m(), layout.total() * sizeof(float)));
    EXPECT_EQ(0, std::memcmp(a.v(), b.v(), layout.total() * sizeof(float)));
    // Decay applies to matrices only: a norm weight with zero gradient does not move.
    const ParamInfo* norm = layout.find("model.norm.weight");
    ASSERT_NE(norm, nullptr);
    std::vector<float> p2(params), g0(layout.total(), 0.0f);
    AdamW c2(layout);
    c2.step(p2.data(), g0.data(), h, 1.0f);
    EXPECT_EQ(p2[norm->offset], params[norm->offset]);
    const ParamInfo* q = layout.find("model.layers.0.self_attn.q_proj.weight");
    ASSERT_NE(q, nullptr);
    size_t i = q->offset;
    while (params[i] == 0.0f) ++i;
    EXPECT_NE(p2[i], params[i]);
  }
  // A file for another model is refused with a UserError.
  ModelConfig other = small_config();
  other.dim = 32, other.head_dim = 16;
  ParamLayout lo(other);
  AdamW c(lo);
  EXPECT_THROW(c.load(dir / "opt.safetensors"), UserError);
}

TEST(LrSchedule, WarmupThenCosineToMinimum) {
  LrSchedule s{1e-3, 1e-4, 10, 110};
  EXPECT_DOUBLE_EQ(s.lr_at(0), 1e-4);   // 1/10 of the peak
  EXPECT_DOUBLE_EQ(s.lr_at(4), 5e-4);
  EXPECT_DOUBLE_EQ(s.lr_at(9), 1e-3);   // the last warmup step reaches the peak
  EXPECT_DOUBLE_EQ(s.lr_at(10), 1e-3);  // the cosine starts at the peak
  // Halfway through the decay (p = 0.5): the mean of lr and min_lr. Steps 10..109, span 99.
  LrSchedule h{1e-3, 1e-4, 0, 101};
  EXPECT_NEAR(h.lr_at(50), 5.5e-4, 1e-15);
  EXPECT_DOUBLE_EQ(s.lr_at(109), 1e-4);  // the last step uses min_lr
  EXPECT_DOUBLE_EQ(s.lr_at(500), 1e-4);  // past the end: clamped
  for (int64_t t = 10; t < 109; ++t) EXPECT_GE(s.lr_at(t), s.lr_at(t + 1));  // monotone decay
  LrSchedule none{2e-3, 2e-3, 0, 5};
  for (int64_t t = 0; t < 5; ++t) EXPECT_DOUBLE_EQ(none.lr_at(t), 2e-3);
  LrSchedule one{1e-3, 0, 0, 1};
  EXPECT_DOUBLE_EQ(one.lr_at(0), 1e-3);
}

TEST(TrainOptions, ResolveModel) {
  ModelSpec spec;
  ModelConfig c = resolve_model(spec, 300, 32);
  EXPECT_EQ(c.dim, 128);
  EXPECT_EQ(c.vocab_size, 300);
  EXPECT_EQ(c.max_seq_len, 32);
  spec.preset = "small";
  spec.dim = 96;
  spec.heads = 3;
  spec.vocab = 320;
  spec.tie = true;
  c = resolve_model(spec, 300, 64);
  EXPECT_EQ(c.head_dim, 32);
  EXPECT_EQ(c.n_kv_heads, 3);
  EXPECT_EQ(c.ffn_dim, 256);  // 8/3 * 96 = 256
  EXPECT_EQ(c.n_layers, 4);   // from the preset
  EXPECT_EQ(c.vocab_size, 320);
  EXPECT_TRUE(c.tied_embeddings);
  spec.vocab = 200;
  EXPECT_THROW(resolve_model(spec, 300, 64), UserError);  // smaller than the tokenizer's
  spec.vocab = 0;
  spec.heads = 5;
  EXPECT_THROW(resolve_model(spec, 300, 64), UserError);  // 5 does not divide 96
  spec.preset = "huge";
  EXPECT_THROW(resolve_model(spec, 300, 64), UserError);
}

TEST(TrainOptions, JsonRoundTripAndResumePolicy) {
  TrainOptions o;
  o.data_dir = "shards";
  o.B = 4, o.T = 64, o.grad_accum = 2, o.lr = 3e-4, o.min_lr = 3e-5, o.warmup = 7, o.steps = 100, o.seed = 9;
  o.eval_every = 11, o.stop_after = 50;
  nlohmann::json j = options_to_json(o);
  const TrainOptions defaults;
  TrainOptions back = options_from_json(nlohmann::json::parse(j.dump()), defaults, "test");
  EXPECT_EQ(options_to_json(back), j);

  TrainOptions cli;  // defaults, as if only some flags were given
  cli.out_dir = "run";
  cli.eval_every = 5;
  TrainOptions r = merge_resume_options(cli, {"eval_every"}, j, "ckpt");
  EXPECT_EQ(r.B, 4);
  EXPECT_EQ(r.T, 64);
  EXPECT_EQ(r.lr, 3e-4);
  EXPECT_EQ(r.steps, 100);
  EXPECT_EQ(r.eval_every, 5);   // given: replaces
  EXPECT_EQ(r.stop_after, 0);   // one invocation's stop request is not inherited
  EXPECT_EQ(r.out_dir, "run");  // never stored
  EXPECT_TRUE(r.resume);

  cli.B = 8;  // a different micro-batch would change the data order
  try {
    merge_resume_options(cli, {"batch"}, j, "ckpt");
    FAIL() << "a different -b must be refused";
  } catch (const UserError& e) {
    EXPECT_EQ(e.input(), "-b");
  }
  cli.B = 4;
  EXPECT_NO_THROW(merge_resume_options(cli, {"batch"}, j, "ckpt"));  // the same value is fine
  cli.steps = 200;
  r = merge_resume_options(cli, {"steps"}, j, "ckpt");  // extending: allowed (warned)
  EXPECT_EQ(r.steps, 200);
  cli.tokens = 5000;
  r = merge_resume_options(cli, {"tokens"}, j, "ckpt");
  EXPECT_EQ(r.steps, 0);  // recomputed from --tokens
  EXPECT_EQ(r.tokens, 5000u);
}

}  // namespace
}  // namespace tlm
