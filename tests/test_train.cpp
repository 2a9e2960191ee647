// `tweetlm train` and `tweetlm eval ppl` end to end, on the real binary (TLM_BINARY): a small
// synthetic tweet corpus goes through `tokenizer train` and `tokenize`, then tiny models train
// for a few steps. Covered: metrics and checkpoints, a resumed run bit-identical to an
// uninterrupted one, SIGTERM (finish the step, save, exit 0), SIGKILL at random moments
// (including during saves) never leaving a checkpoint that --resume would load but is corrupt,
// non-finite steps skipped and counted (TLM_TEST_INJECT_NAN_STEP, a test-only hook), and the
// errors users meet (wrong tokenizer, existing run, changed -b on resume).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/file.h"
#include "core/hash.h"
#include "core/rng.h"
#include "io/safetensors.h"
#include "model/params.h"
#include "store/params_io.h"
#include "ops/adamw.h"
#include "store/checkpoint.h"
#include "train/optimizer.h"
#include "fixtures.h"
#include "train_fixture.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace tlm {
namespace {

using testing::TempDir;

using testing::RunResult;
using Result = RunResult;

pid_t spawn(const std::vector<std::string>& args, const std::string& out, const std::string& err,
            const testing::Env& env = {}) {
  return testing::spawn_program(testing::tweetlm(args), out, err, env);
}
using testing::wait_exit;

class TrainCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    std::string err = testing::make_tiny_corpus(dir_->path());
    ASSERT_EQ(err, "");
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string path(const std::string& n) { return (*dir_) / n; }

  static Result run(const std::vector<std::string>& args, const testing::Env& env = {}) {
    return testing::run_program(testing::tweetlm(args), dir_->path(), env);
  }

  // A tiny model, quick steps; the peak is given so no run spends 0.3 s measuring it. One
  // thread unless asked: CI runs tests side by side on 2 cores, where OpenMP teams that
  // oversubscribe the machine slow a step down ten-fold.
  static std::vector<std::string> train_args(const std::string& out, std::vector<std::string> extra,
                                             const std::string& threads = "1") {
    std::vector<std::string> a = {"-q",         "-t",  threads, "train",    "--data", path("shards"), "--tokenizer",
                                  path("tok/tokenizer.json"), "--out", out,        "--model",
                                  "tiny",       "-T",       "32",     "-b",        "2",
                                  "--peak-gflops", "100"};
    a.insert(a.end(), extra.begin(), extra.end());
    if (std::find(a.begin(), a.end(), "--sample-every") == a.end()) a.insert(a.end(), {"--sample-every", "0"});
    return a;
  }
  // A smaller model still (C32 L1) for the many-process tests.
  static std::vector<std::string> mini_args(const std::string& out, std::vector<std::string> extra) {
    std::vector<std::string> more = {"--dim", "32", "--layers", "1", "--heads", "2", "--ffn", "64"};
    more.insert(more.end(), extra.begin(), extra.end());
    return train_args(out, more);
  }

  static std::vector<json> metrics(const std::string& run_dir) { return testing::read_metrics(run_dir); }
  static std::vector<std::string> curve(const std::vector<json>& m) { return testing::loss_curve(m); }

  static std::string file_hash(const std::string& p) {
    MappedFile m(p);
    return std::to_string(hash64(m.data(), m.size()));
  }

  static TempDir* dir_;
};
TempDir* TrainCli::dir_ = nullptr;

// Loads a checkpoint the way --resume does; throws if anything is wrong; true if all finite.
bool load_checkpoint_fully(const std::string& dir) {
  CheckpointInfo info = read_checkpoint(dir);
  ParamLayout layout(info.config);
  std::vector<float> params(layout.total());
  load_params(SafetensorsFile(info.model_path), layout, params.data());
  AdamW adam(layout);
  adam.load(dir + "/optimizer.safetensors");
  return std::isfinite(ops::sum_squares(params.data(), params.size())) &&
         std::isfinite(ops::sum_squares(adam.m(), params.size())) && std::isfinite(ops::sum_squares(adam.v(), params.size()));
}

TEST_F(TrainCli, TrainsWritesMetricsAndCheckpoints) {
  const std::string out = path("run_basic");
  auto args = train_args(out, {"--steps", "6", "--eval-every", "3", "--save-every", "2", "--keep", "2",
                                "--sample-every", "3"});
  args.erase(args.begin());  // not quiet: the progress lines are checked too
  Result r = run(args);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("trained at step 6/6"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("step 1/6 | loss 5."), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(" tokens/s | MFU "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("step 6 | val loss "), std::string::npos) << r.err;
  size_t samples = 0;
  for (size_t p = r.err.find("sample | "); p != std::string::npos; p = r.err.find("sample | ", p + 1)) ++samples;
  EXPECT_EQ(samples, 6u);  // 3 tweets at steps 3 and 6
  auto m = metrics(out);
  std::vector<int64_t> steps, evals;
  for (const json& rec : m) {
    if (rec.contains("val_loss")) {
      evals.push_back(rec["step"]);
      EXPECT_TRUE(std::isfinite(rec["val_loss"].get<double>()));
      continue;
    }
    steps.push_back(rec["step"]);
    for (const char* k : {"loss", "lr", "grad_norm", "ms", "tokens_per_s", "mfu"}) ASSERT_TRUE(rec.contains(k)) << k;
    EXPECT_TRUE(std::isfinite(rec["loss"].get<double>()));
    EXPECT_GT(rec["mfu"].get<double>(), 0.0);
  }
  EXPECT_EQ(steps, (std::vector<int64_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(evals, (std::vector<int64_t>{3, 6}));
  // The untrained model predicts ~uniformly over 320 tokens: loss near ln(320) = 5.77.
  EXPECT_NEAR(m.front()["loss"].get<double>(), std::log(320.0), 0.5);
  // --keep 2: steps 4 and 6 remain, both valid and complete.
  auto cks = list_checkpoints(out);
  ASSERT_EQ(cks.size(), 2u);
  EXPECT_EQ(cks[0].step, 4);
  EXPECT_EQ(cks[1].step, 6);
  for (const auto& c : cks) {
    EXPECT_EQ(verify_checkpoint(c.path), "");
    EXPECT_TRUE(load_checkpoint_fully(c.path));
  }
  json state = json::parse(read_file(cks[1].path + "/state.json"));
  EXPECT_EQ(state["step"], 6);
  EXPECT_EQ(state["world_size"], 1);
  EXPECT_EQ(state["config"]["hidden_size"], 128);
  EXPECT_EQ(state["options"]["batch"], 2);
  EXPECT_EQ(state["options"]["steps"], 6);
  EXPECT_EQ(state["tokenizer"]["vocab_xxh3"].get<std::string>().size(), 16u);
  EXPECT_EQ(read_file(cks[1].path + "/tokenizer.json"), read_file(path("tok/tokenizer.json")));
  EXPECT_EQ(json::parse(read_file(cks[1].path + "/config.json"))["model_type"], "llama");

  // A second fresh run into the same directory is refused; a finished run resumed has nothing to do.
  r = run(train_args(out, {"--steps", "6"}));
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("already holds checkpoints"), std::string::npos) << r.err;
  r = run({"-q", "-t", "1", "train", "--out", out, "--resume", "--peak-gflops", "100"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("nothing to do"), std::string::npos) << r.out;

  // eval ppl on the final checkpoint: same windows and batch as the training's last
  // evaluation (the whole val split, -b 2), so the same loss exactly.
  r = run({"-t", "1", "eval", "ppl", "-m", out, "--data", path("shards"), "--json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  json e = json::parse(r.out);
  EXPECT_EQ(e["step"], 6);
  EXPECT_EQ(e["loss"].get<double>(), m.back()["val_loss"].get<double>());
  EXPECT_NEAR(e["perplexity"].get<double>(), std::exp(e["loss"].get<double>()), 1e-9);
  EXPECT_EQ(e["tokens"].get<uint64_t>(), e["windows"].get<uint64_t>() * 32);
  EXPECT_GT(e["bytes"].get<uint64_t>(), e["tokens"].get<uint64_t>());  // BPE tokens average > 1 byte
  EXPECT_NEAR(e["bits_per_byte"].get<double>(),
              e["loss"].get<double>() * e["tokens"].get<double>() / std::log(2.0) / e["bytes"].get<double>(), 1e-9);
  r = run({"eval", "ppl", "-m", cks[0].path, "--data", path("shards"), "--split", "test", "--tokens", "64"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("perplexity"), std::string::npos);
  EXPECT_NE(r.out.find("64 tokens"), std::string::npos) << r.out;
}

TEST_F(TrainCli, ResumedRunIsBitIdentical) {
  const std::string a = path("run_a"), b = path("run_b");
  const std::vector<std::string> common = {"--steps",      "8", "--grad-accum", "2", "--eval-every", "3",
                                           "--save-every", "3", "--dim",        "64", "--ffn",        "128"};
  // Two threads: the parallel ops must be as deterministic across a resume as serial ones.
  Result r = run(train_args(a, common, "2"));
  ASSERT_EQ(r.rc, 0) << r.err;
  auto extra = common;
  extra.insert(extra.end(), {"--stop-after", "4"});
  r = run(train_args(b, extra, "2"));
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("stopped at step 4/8"), std::string::npos) << r.out;
  ASSERT_EQ(list_checkpoints(b).back().step, 4);
  // Resume with no other flags: data, tokenizer, model and schedule come from the checkpoint.
  r = run({"-q", "-t", "2", "train", "--out", b, "--resume", "--peak-gflops", "100"});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto ma = metrics(a), mb = metrics(b);
  ASSERT_EQ(ma.size(), 8u + 3u);  // 8 steps, evaluations at 3, 6, 8
  EXPECT_EQ(curve(ma), curve(mb));
  EXPECT_EQ(file_hash(a + "/step_00000008/model.safetensors"), file_hash(b + "/step_00000008/model.safetensors"));
  EXPECT_EQ(file_hash(a + "/step_00000008/optimizer.safetensors"),
            file_hash(b + "/step_00000008/optimizer.safetensors"));
  // A resumed run must keep what decides the data order.
  r = run({"-q", "train", "--out", b, "--resume", "-b", "4", "--steps", "10"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("-b: is 4 but"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);
}

TEST_F(TrainCli, SigtermFinishesTheStepSavesAndExitsCleanly) {
  const std::string out = path("run_term");
  pid_t pid = spawn(mini_args(out, {"--steps", "100000", "--save-every", "0", "--eval-every", "0"}), path("term.out"),
                    path("term.err"));
  auto start = std::chrono::steady_clock::now();
  while (metrics(out).size() < 3 && std::chrono::steady_clock::now() - start < std::chrono::seconds(60))
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_GE(metrics(out).size(), 3u) << read_file(path("term.err"));
  ::kill(pid, SIGTERM);
  ASSERT_EQ(wait_exit(pid), 0) << read_file(path("term.err"));
  auto m = metrics(out);
  auto cks = list_checkpoints(out);
  ASSERT_EQ(cks.size(), 1u);
  EXPECT_EQ(cks[0].step, m.back()["step"].get<int64_t>());  // the step in progress finished and was saved
  EXPECT_EQ(verify_checkpoint(cks[0].path), "");
  EXPECT_NE(read_file(path("term.out")).find("stopped at step"), std::string::npos);
}

TEST_F(TrainCli, SigkillAtRandomMomentsNeverLeavesALoadableCorruptCheckpoint) {
  const std::string ref = path("run_ref"), out = path("run_kill");
  const std::vector<std::string> flags = {"--steps", "30", "--save-every", "1", "--keep", "2", "--eval-every", "10"};
  auto t0 = std::chrono::steady_clock::now();
  Result r = run(mini_args(ref, flags));
  ASSERT_EQ(r.rc, 0) << r.err;
  // Kill delays are fractions of how long a whole run takes on this machine, so a fast machine
  // does not finish the run before enough kills landed (nor a slow one see only start-ups).
  const auto full_us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
  const uint32_t early_us = uint32_t(std::max<int64_t>(1000, full_us.count() / 4));
  const uint32_t late_us = uint32_t(std::max<int64_t>(1000, full_us.count() / 20));
  auto resume_flags = flags;
  resume_flags.push_back("--resume");
  Rng rng(2024);
  int kills = 0, kills_in_save = 0;
  for (int round = 0; round < 8; ++round) {
    size_t before = metrics(out).size();
    pid_t pid = spawn(mini_args(out, resume_flags), path("kill.out"), path("kill.err"));
    // Half the kills land at a random moment after start-up (loading, resuming, early steps),
    // half a random moment after training visibly progressed (mid-step or mid-save).
    if (round % 2) {
      auto start = std::chrono::steady_clock::now();
      while (metrics(out).size() <= before + 1 && std::chrono::steady_clock::now() - start < std::chrono::seconds(30))
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::this_thread::sleep_for(std::chrono::microseconds(rng.below(round % 2 ? late_us : early_us)));
    ::kill(pid, SIGKILL);
    int rc = wait_exit(pid);
    ASSERT_TRUE(rc == 128 + SIGKILL || rc == 0) << "rc " << rc << ": " << read_file(path("kill.err"));
    if (rc == 128 + SIGKILL) ++kills;
    if (!fs::exists(out)) continue;  // killed during start-up, before OUT was created
    for (const auto& e : fs::directory_iterator(out))  // a kill that landed inside a save
      if (e.path().filename().string().rfind(".tmp-", 0) == 0) ++kills_in_save;
    // Every checkpoint that verifies must load completely and hold finite values.
    for (const auto& c : list_checkpoints(out)) {
      if (!verify_checkpoint(c.path).empty()) continue;
      EXPECT_NO_THROW(EXPECT_TRUE(load_checkpoint_fully(c.path))) << c.path;
    }
    if (rc == 0) break;  // the run finished before the kill
  }
  EXPECT_GE(kills, 3);
  std::printf("%d kills, %d of them during a save\n", kills, kills_in_save);  // not asserted: timing
  r = run(mini_args(out, resume_flags));
  ASSERT_EQ(r.rc, 0) << r.err;
  // However often it was killed, the finished run has the curve of the uninterrupted one.
  EXPECT_EQ(curve(metrics(ref)), curve(metrics(out)));
  EXPECT_EQ(file_hash(ref + "/step_00000030/model.safetensors"), file_hash(out + "/step_00000030/model.safetensors"));
  for (const auto& e : fs::directory_iterator(out))
    EXPECT_NE(e.path().filename().string()[0], '.') << "left behind: " << e.path();
}

TEST_F(TrainCli, NonFiniteStepsAreSkippedCountedAndAbortAfterARow) {
  const std::string out = path("run_nan");
  Result r = run(mini_args(out, {"--steps", "5", "--save-every", "1", "--keep", "0", "--eval-every", "0"}),
                 {{"TLM_TEST_INJECT_NAN_STEP", "3"}});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.err.find("step 3: non-finite gradient norm: update skipped"), std::string::npos) << r.err;
  auto m = metrics(out);
  ASSERT_EQ(m.size(), 6u);  // 5 steps + the final evaluation
  EXPECT_TRUE(m[2].value("skipped", false));
  EXPECT_TRUE(m[2]["grad_norm"].is_null());  // NaN is written as null
  EXPECT_FALSE(m[3].value("skipped", false));
  // The skipped step changed nothing: steps 2 and 3 hold the same parameters and moments.
  EXPECT_EQ(file_hash(out + "/step_00000002/model.safetensors"), file_hash(out + "/step_00000003/model.safetensors"));
  EXPECT_EQ(file_hash(out + "/step_00000002/optimizer.safetensors"),
            file_hash(out + "/step_00000003/optimizer.safetensors"));
  EXPECT_NE(file_hash(out + "/step_00000003/model.safetensors"), file_hash(out + "/step_00000004/model.safetensors"));
  json state = json::parse(read_file(out + "/step_00000005/state.json"));
  EXPECT_EQ(state["bad_steps"]["total"], 1);
  EXPECT_EQ(state["bad_steps"]["in_a_row"], 0);
  EXPECT_EQ(state["optimizer"]["t"], 4);  // 5 steps, 4 updates

  const std::string out2 = path("run_nan_abort");
  r = run(mini_args(out2, {"--steps", "8", "--save-every", "1", "--keep", "0", "--max-bad-steps", "3"}),
          {{"TLM_TEST_INJECT_NAN_STEP", "2,3,4,5"}});
  EXPECT_EQ(r.rc, 2) << r.err;
  std::string last = r.err.substr(r.err.rfind('\n', r.err.size() - 2) + 1);
  EXPECT_NE(last.find("tweetlm: error: training: 3 steps in a row had a non-finite"), std::string::npos) << r.err;
  auto cks = list_checkpoints(out2);
  ASSERT_FALSE(cks.empty());
  EXPECT_LT(cks.back().step, 4);  // aborted at step 4, before saving it
  for (const auto& c : cks) {
    EXPECT_EQ(verify_checkpoint(c.path), "");
    EXPECT_TRUE(load_checkpoint_fully(c.path)) << c.path;  // no NaN ever reached a checkpoint
  }
}

TEST_F(TrainCli, UserErrorsAreOneLine) {
  // A tokenizer other than the shards' one.
  Result r = run({"-q", "tokenizer", "train", "-i", path("prep"), "-o", path("tok2/tokenizer.json"), "--vocab", "300",
                  "--min-frequency", "1"});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto args = train_args(path("run_err"), {"--steps", "2"});
  for (auto& a : args)
    if (a == path("tok/tokenizer.json")) a = path("tok2/tokenizer.json");
  r = run(args);
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("does not match the shards"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  // Shards that are not a shard directory; a missing --tokenizer.
  args = train_args(path("run_err2"), {"--steps", "2"});
  for (auto& a : args)
    if (a == path("shards")) a = path("prep");
  r = run(args);
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("meta.json"), std::string::npos) << r.err;
  r = run({"-q", "train", "--data", path("shards"), "--out", path("run_err3")});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("--tokenizer"), std::string::npos) << r.err;
  r = run({"eval", "ppl", "-m", path("nope"), "--data", path("shards")});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("nope: no such model directory"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace tlm
