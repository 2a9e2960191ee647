// `tweetlm train --device cuda` end to end (on the GPU, or in the emulator build through
// tweetlm_emu): the loss curve of a GPU run follows the CPU fp32 run from the same seed within
// the bf16 tolerance, GPU runs repeat bit for bit, and checkpoints move between devices: a
// CPU run resumed on the GPU and a GPU run resumed on the CPU continue the same schedule.
//
// Tolerance: bf16 activations and products differ from fp32 by ~0.4% per rounding; over a few
// steps of a tiny model the per-step loss stays within 0.03 + 1% of the CPU loss (measured on
// the emulator: < 0.01).
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cuda/cuda_test.h"
#include "fixtures.h"
#include "train_fixture.h"

namespace tlm::testing {
namespace {

using nlohmann::json;

class CudaTrain : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (cuda::device_count() == 0) return;
    dir_ = new TempDir;
    corpus_error_ = make_tiny_corpus(dir_->path());
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    TLM_REQUIRE_CUDA();
    ASSERT_EQ(corpus_error_, "");
  }
  static std::string path(const std::string& n) { return (*dir_) / n; }
  static std::vector<std::string> train_args(const std::string& out, const std::string& device,
                                             const std::vector<std::string>& extra, const std::string& batch = "4") {
    std::vector<std::string> a = {"-q", "-t", "1", "train", "--data", path("shards"), "--tokenizer",
                                  path("tok/tokenizer.json"), "--out", path(out), "--model", "tiny", "-T", "32",
                                  "-b", batch, "--peak-gflops", "100", "--sample-every", "0", "--seed", "5",
                                  "--lr", "3e-3", "--warmup", "2", "--device", device};
    a.insert(a.end(), extra.begin(), extra.end());
    return tweetlm(a);
  }
  static RunResult train(const std::string& out, const std::string& device, const std::vector<std::string>& extra) {
    return run_program(train_args(out, device, extra), dir_->path());
  }
  // Continues the run in `out` on `device` (the checkpoint supplies everything else).
  static RunResult resume(const std::string& out, const std::string& device) {
    return run_program(tweetlm({"-q", "-t", "1", "train", "--out", path(out), "--resume", "--device", device,
                                "--sample-every", "0", "--peak-gflops", "100"}),
                       dir_->path());
  }
  static std::vector<double> losses(const std::string& out) {
    std::vector<double> l;
    for (const json& r : read_metrics(path(out)))
      if (r.contains("loss")) l.push_back(r["loss"].get<double>());
    return l;
  }
  static void expect_close(const std::vector<double>& gpu, const std::vector<double>& cpu) {
    ASSERT_EQ(gpu.size(), cpu.size());
    for (size_t i = 0; i < cpu.size(); i++)
      EXPECT_NEAR(gpu[i], cpu[i], 0.03 + 0.01 * cpu[i]) << "step " << i + 1;
  }
  static TempDir* dir_;
  static std::string corpus_error_;
};
TempDir* CudaTrain::dir_ = nullptr;
std::string CudaTrain::corpus_error_;

TEST_F(CudaTrain, TracksTheCpuCurveAndRepeatsExactly) {
  const std::vector<std::string> run = {"--steps", "8", "--eval-every", "4"};
  RunResult cpu = train("cpu", "cpu", run), gpu = train("gpu", "cuda", run), again = train("gpu2", "cuda", run);
  ASSERT_EQ(cpu.rc, 0) << cpu.err;
  ASSERT_EQ(gpu.rc, 0) << gpu.err;
  ASSERT_EQ(again.rc, 0) << again.err;
  const auto c = losses("cpu"), g = losses("gpu");
  expect_close(g, c);
  EXPECT_LT(g.back(), g.front() - 0.3) << "the GPU run does not learn";
  EXPECT_EQ(losses("gpu2"), g) << "two GPU runs from the same seed differ";
  // Validation losses are recorded too, and close.
  std::vector<double> vc, vg;
  for (const json& r : read_metrics(path("cpu")))
    if (r.contains("val_loss")) vc.push_back(r["val_loss"].get<double>());
  for (const json& r : read_metrics(path("gpu")))
    if (r.contains("val_loss")) vg.push_back(r["val_loss"].get<double>());
  ASSERT_EQ(vg.size(), 2u);
  expect_close(vg, vc);
}

TEST_F(CudaTrain, CheckpointsMoveBetweenCpuAndGpu) {
  const std::vector<std::string> run = {"--steps", "8", "--eval-every", "0"};
  ASSERT_EQ(train("ref", "cpu", run).rc, 0);
  // CPU for 4 steps, then the GPU takes over from the checkpoint.
  auto stop = run;
  stop.insert(stop.end(), {"--stop-after", "4"});
  RunResult a = train("c2g", "cpu", stop);
  ASSERT_EQ(a.rc, 0) << a.err;
  RunResult b = resume("c2g", "cuda");
  ASSERT_EQ(b.rc, 0) << b.err;
  expect_close(losses("c2g"), losses("ref"));
  // GPU for 4 steps, then the CPU.
  RunResult c = train("g2c", "cuda", stop);
  ASSERT_EQ(c.rc, 0) << c.err;
  RunResult d = resume("g2c", "cpu");
  ASSERT_EQ(d.rc, 0) << d.err;
  expect_close(losses("g2c"), losses("ref"));
}

TEST_F(CudaTrain, RecomputeGivesTheSameCurve) {
  const std::vector<std::string> run = {"--steps", "4", "--eval-every", "0"};
  auto with = run;
  with.push_back("--recompute");
  RunResult a = train("keep", "cuda", run), b = train("recompute", "cuda", with);
  ASSERT_EQ(a.rc, 0) << a.err;
  ASSERT_EQ(b.rc, 0) << b.err;
  EXPECT_EQ(losses("recompute"), losses("keep"));
}

// Data parallel on the GPU: -np 2 -b 2 sees the windows of -np 1 -b 2 --grad-accum 2 and sums
// the same gradients (over NCCL on GPUs; over MPI on the emulator, whose device memory is host
// memory), in another order: the curves agree to fp32 rounding.
TEST_F(CudaTrain, DataParallelMatchesGradientAccumulation) {
  if (!cuda::emulated() && cuda::device_count() < 2) GTEST_SKIP() << "skipped: needs 2 CUDA devices";
  ASSERT_TRUE(have_mpirun()) << "mpirun not found: install openmpi-bin (scripts/setup.sh)";
  const std::vector<std::string> run = {"--steps", "4", "--eval-every", "0"};
  auto accum = run;
  accum.insert(accum.end(), {"--grad-accum", "2"});
  RunResult one = run_program(train_args("np1", "cuda", accum, "2"), dir_->path());
  ASSERT_EQ(one.rc, 0) << one.err;
  RunResult two = run_program(mpirun(2, train_args("np2", "cuda", run, "2")), dir_->path());
  ASSERT_EQ(two.rc, 0) << two.out << two.err;
  EXPECT_EQ(json::parse(read_file(path("np2") + "/step_00000004/state.json")).value("world_size", 0), 2);
  const auto a = losses("np1"), b = losses("np2");
  ASSERT_EQ(a.size(), 4u);
  ASSERT_EQ(b.size(), a.size());
  for (size_t i = 0; i < a.size(); i++) EXPECT_NEAR(b[i], a[i], 1e-4) << "step " << i + 1;
}

TEST_F(CudaTrain, RefusesWhatTheGpuPathDoesNotDo) {
  RunResult r = train("bad1", "cuda", {"--steps", "2", "--dtype", "fp32"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("--dtype: fp32 is CPU-only"), std::string::npos) << r.err;
  r = train("bad2", "cpu", {"--steps", "2", "--recompute"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("--recompute: only with --device cuda"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace tlm::testing
