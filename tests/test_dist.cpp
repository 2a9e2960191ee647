// Data-parallel training across processes, on the real launcher (Open MPI's mpirun; CI runs as
// root, hence --allow-run-as-root, and has 2 cores, hence --oversubscribe):
//  - the communicator's collectives (this executable relaunches itself under mpirun -np 3);
//  - -np 2 with micro-batch b equals -np 1 with --grad-accum 2 (same tokens per step), with and
//    without ZeRO-1; ZeRO-1 equals plain data parallel; a fixed process count is bit-identical
//    run to run;
//  - failures: one rank killed (SIGKILL) or hung ends the job non-zero within 60 s with the rank
//    named, the last checkpoint stays valid and --resume continues at -np 1 and at -np 2;
//  - a NaN on one rank makes every rank skip the step.
// Failure and NaN injection use the test-only TLM_TEST_FAULT / TLM_TEST_INJECT_NAN_STEP hooks.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "dist/comm.h"
#include "dist/data_parallel.h"
#include "io/safetensors.h"
#include "model/params.h"
#include "store/checkpoint.h"
#include "fixtures.h"
#include "train_fixture.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace tlm {
namespace {

using testing::Env;
using testing::RunResult;
using testing::TempDir;
using testing::have_mpirun;
using testing::mpirun;

// --- the communicator, run by 3 ranks -------------------------------------------------------

// Every collective against values each rank can compute for itself. Runs inside mpirun.
void check_collectives() {
  auto comm = dist::make_mpi_comm();
  comm->set_timeout(60);
  const int r = comm->rank(), n = comm->size();
  ASSERT_EQ(n, 3);
  ASSERT_STREQ(comm->backend(), "mpi");

  std::vector<float> f(7);
  std::vector<double> d(5);
  for (size_t i = 0; i < f.size(); ++i) f[i] = float(r) + 0.5f * float(i);
  for (size_t i = 0; i < d.size(); ++i) d[i] = double(r) * 1e-3 + double(i);
  comm->all_reduce_sum(f.data(), f.size());
  comm->all_reduce_sum(d.data(), d.size());
  for (size_t i = 0; i < f.size(); ++i) EXPECT_EQ(f[i], 3.0f + 1.5f * float(i)) << i;  // exact: small halves
  for (size_t i = 0; i < d.size(); ++i) EXPECT_NEAR(d[i], 3e-3 + 3.0 * double(i), 1e-12) << i;

  // Uneven parts {4, 3, 3}: rank k's part of the sum starts at 0, 4, 7.
  const std::vector<size_t> counts = dist::split_counts(10, n);
  ASSERT_EQ(counts, (std::vector<size_t>{4, 3, 3}));
  const dist::Shards sh(10, r, n);
  std::vector<float> full(10), part(counts[size_t(r)]);
  for (size_t i = 0; i < full.size(); ++i) full[i] = float((r + 1) * int(i));
  comm->reduce_scatter_sum(full.data(), part.data(), counts);
  for (size_t j = 0; j < part.size(); ++j) EXPECT_EQ(part[j], float(6 * (sh.lo + j))) << j;

  std::vector<float> all(10, -1.0f);
  for (size_t i = sh.lo; i < sh.hi; ++i) all[i] = float(100 * r + int(i));
  comm->all_gather(all.data(), counts);
  for (int k = 0; k < n; ++k) {
    dist::Shards s(10, k, n);
    for (size_t i = s.lo; i < s.hi; ++i) EXPECT_EQ(all[i], float(100 * k + int(i))) << i;
  }

  std::vector<float> gathered(r == 1 ? 10 : 0, -1.0f), mine(part.size(), float(r));
  comm->gather(mine.data(), gathered.data(), counts, 1);
  if (r == 1)
    for (int k = 0; k < n; ++k) {
      dist::Shards s(10, k, n);
      for (size_t i = s.lo; i < s.hi; ++i) EXPECT_EQ(gathered[i], float(k)) << i;
    }

  char msg[16] = {};
  if (r == 2) std::snprintf(msg, sizeof msg, "from two");
  comm->broadcast(msg, sizeof msg, 2);
  EXPECT_STREQ(msg, "from two");
  comm->barrier();

  // Gradient buckets over a real layout: started as backward would report readiness, every
  // element is summed exactly once (twice would give 18, never 6).
  ModelConfig cfg = ModelConfig::preset("tiny");
  cfg.vocab_size = 320;
  ParamLayout layout(cfg);
  std::vector<float> g(layout.total(), float(r + 1));
  dist::GradBuckets buckets(*comm, layout, 4096);
  EXPECT_GT(buckets.num_buckets(), 3u);
  for (int l = cfg.n_layers; l >= 0; --l) {
    const ParamInfo* p = layout.find(l == cfg.n_layers ? "model.norm.weight"
                                                       : strprintf("model.layers.%d.input_layernorm.weight", l));
    ASSERT_NE(p, nullptr);
    buckets.ready(g.data(), p->offset);
  }
  buckets.finish(g.data());
  for (size_t i = 0; i < g.size(); ++i)
    if (g[i] != 6.0f) FAIL() << "gradient " << i << " = " << g[i];
}

TEST(Communicator, CollectivesOnThreeRanks) {
  if (dist::detect_launch().size > 1) {  // the relaunched copy, inside mpirun
    check_collectives();
    return;
  }
  ASSERT_TRUE(dist::have_mpi()) << "this build has no MPI: install libopenmpi-dev (scripts/setup.sh)";
  ASSERT_TRUE(have_mpirun()) << "mpirun not found: install openmpi-bin (scripts/setup.sh)";
  TempDir dir;
  RunResult r = testing::run_program(
      mpirun(3, {fs::read_symlink("/proc/self/exe").string(), "--gtest_filter=Communicator.CollectivesOnThreeRanks",
               "--gtest_color=no"}),
      dir.path());
  EXPECT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("[  PASSED  ] 1 test"), std::string::npos) << r.out;
}

TEST(Communicator, SplitCountsAndLaunchDetection) {
  EXPECT_EQ(dist::split_counts(7, 1), (std::vector<size_t>{7}));
  const std::vector<size_t> few = dist::split_counts(2, 4);
  ASSERT_EQ(few.size(), 4u);
  EXPECT_EQ(few[0] + few[1], 2u);
  EXPECT_EQ(few[2] + few[3], 0u) << few[2] << " " << few[3];
  dist::Shards s(11, 2, 4);  // {3, 3, 3, 2}
  EXPECT_EQ(s.lo, 6u);
  EXPECT_EQ(s.hi, 9u);
  auto self = dist::make_self_comm();
  EXPECT_EQ(self->size(), 1);
  float x[3] = {1, 2, 3}, y[3] = {};
  self->all_reduce_sum(x, 3);
  self->reduce_scatter_sum(x, y, {3});
  EXPECT_EQ(y[2], 3.0f);
  ::setenv("SLURM_PROCID", "3", 1);
  ::setenv("SLURM_NTASKS", "8", 1);
  ::setenv("SLURM_LOCALID", "1", 1);
  dist::LaunchInfo li = dist::detect_launch();
  if (std::getenv("OMPI_COMM_WORLD_SIZE") == nullptr) {
    EXPECT_EQ(li.launcher, "srun");
    EXPECT_EQ(li.rank, 3);
    EXPECT_EQ(li.size, 8);
    EXPECT_EQ(li.local_rank, 1);
  }
  ::setenv("SLURM_PROCID", "9", 1);  // rank beyond the size: not a launch
  if (std::getenv("OMPI_COMM_WORLD_SIZE") == nullptr) {
    EXPECT_EQ(dist::detect_launch().size, 1);
  }
  ::unsetenv("SLURM_PROCID");
  ::unsetenv("SLURM_NTASKS");
  ::unsetenv("SLURM_LOCALID");
}

// The NCCL communicator needs a GPU: without one it must refuse in one clear line (CI); with one
// (the device machine) a one-rank communicator comes up.
TEST(Communicator, NcclNeedsAGpuAndSaysSo) {
  if (!dist::have_nccl()) GTEST_SKIP() << "skipped: built without CUDA/NCCL";
  auto self = dist::make_self_comm();
  try {
    auto nccl = dist::make_nccl_comm(*self, 0);
    EXPECT_STREQ(nccl->backend(), "nccl");
    EXPECT_EQ(nccl->size(), 1);
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("no CUDA device"), std::string::npos) << e.what();
  }
}

// --- training across processes ---------------------------------------------------------------

class DistTrain : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    corpus_error_ = testing::make_tiny_corpus(dir_->path());
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    ASSERT_EQ(corpus_error_, "");
    ASSERT_TRUE(dist::have_mpi()) << "this build has no MPI: install libopenmpi-dev (scripts/setup.sh)";
    ASSERT_TRUE(have_mpirun()) << "mpirun not found: install openmpi-bin (scripts/setup.sh)";
  }
  static std::string path(const std::string& n) { return (*dir_) / n; }

  // 6 steps of a tiny model, one thread per rank, a checkpoint every 2 steps; `extra` adds flags
  // or overrides these (a flag with a value).
  static std::vector<std::string> train(const std::string& out, std::vector<std::string> extra) {
    std::vector<std::string> base = {"--steps", "6", "--save-every", "2", "--keep", "0", "--eval-every", "3"};
    std::vector<std::string> a = testing::tweetlm(
        {"-q", "-t", "1", "train", "--data", path("shards"), "--tokenizer", path("tok/tokenizer.json"), "--out", out,
         "--model", "tiny", "-T", "32", "-b", "2", "--sample-every", "0", "--peak-gflops", "100"});
    for (size_t i = 0; i < base.size(); i += 2)
      if (std::find(extra.begin(), extra.end(), base[i]) == extra.end()) a.insert(a.end(), {base[i], base[i + 1]});
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  static RunResult run(const std::vector<std::string>& argv, const Env& env = {}) {
    return testing::run_program(argv, dir_->path(), env);
  }
  // The reference runs, made once: -np 1 with --grad-accum 2, and -np 2 plain and with ZeRO-1.
  static const std::string& reference(const std::string& which) {
    static std::map<std::string, std::string> made;
    if (!made.count(which)) {
      std::string out = path("ref_" + which);
      RunResult r = which == "np1" ? run(train(out, {"--grad-accum", "2"}))
                                   : run(mpirun(2, train(out, which == "zero" ? std::vector<std::string>{"--zero", "1"}
                                                                              : std::vector<std::string>{})));
      EXPECT_EQ(r.rc, 0) << which << ": " << r.err;
      made[which] = out;
    }
    return made[which];
  }
  static std::vector<float> params(const std::string& run, int step) {
    SafetensorsFile f(run + "/" + checkpoint_name(step) + "/model.safetensors");
    std::vector<float> all;
    for (const auto& t : f.tensors()) {
      size_t numel = 1;
      for (size_t d : t.shape) numel *= d;
      std::vector<float> v(numel);
      f.read_f32(t.name, t.shape, v.data());
      all.insert(all.end(), v.begin(), v.end());
    }
    return all;
  }
  static float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
    EXPECT_EQ(a.size(), b.size());
    float m = 0;
    for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
    return m;
  }
  // Per training step: loss and gradient norm.
  static std::vector<std::pair<double, double>> losses(const std::string& run) {
    std::vector<std::pair<double, double>> out;
    for (const json& m : testing::read_metrics(run))
      if (m.contains("loss")) out.emplace_back(m["loss"].get<double>(), m["grad_norm"].get<double>());
    return out;
  }

  // Runs 2 ranks with --comm-timeout 2 and `fault` (TLM_TEST_FAULT) on rank 1 at step 3: the job
  // must end non-zero within 60 s, rank 0's line contain `diagnosis`, the last checkpoint verify.
  static void expect_fault_ends_job(const std::string& out, const std::string& fault, const std::string& diagnosis) {
    const auto t0 = std::chrono::steady_clock::now();
    RunResult r = run(mpirun(2, train(out, {"--comm-timeout", "2"})), {{"TLM_TEST_FAULT", fault}});
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_NE(r.rc, 0);
    EXPECT_LT(secs, 60.0);
    EXPECT_NE(r.err.find(diagnosis), std::string::npos) << r.err;
    ASSERT_FALSE(list_checkpoints(out).empty());
    EXPECT_EQ(verify_checkpoint(list_checkpoints(out).back().path), "");
  }

  static TempDir* dir_;
  static std::string corpus_error_;
};
TempDir* DistTrain::dir_ = nullptr;
std::string DistTrain::corpus_error_;

// Same tokens per step, summed in another order: fp32 rounding only. Measured: losses equal to
// ~1e-7 relative, parameters within 6e-8 after 6 steps; the bounds leave 100x margin.
TEST_F(DistTrain, TwoRanksEqualOneRankWithGradAccum) {
  for (const char* which : {"dp", "zero"}) {
    auto one = losses(reference("np1")), two = losses(reference(which));
    ASSERT_EQ(one.size(), 6u);
    ASSERT_EQ(two.size(), 6u) << which;
    for (size_t i = 0; i < one.size(); ++i) {
      EXPECT_NEAR(two[i].first, one[i].first, 1e-5 * one[i].first) << which << " step " << i + 1;
      EXPECT_NEAR(two[i].second, one[i].second, 1e-4 * one[i].second) << which << " step " << i + 1;
    }
    EXPECT_LT(max_abs_diff(params(reference("np1"), 6), params(reference(which), 6)), 1e-5f) << which;
  }
}

// ZeRO-1 reduce-scatters where plain data parallel all-reduces, then updates shards: the same
// arithmetic per element. Measured identical at 2 ranks; bound 1e-6.
TEST_F(DistTrain, ZeroOneEqualsPlainDataParallel) {
  EXPECT_LT(max_abs_diff(params(reference("dp"), 6), params(reference("zero"), 6)), 1e-6f);
  EXPECT_LT(max_abs_diff(params(reference("dp"), 4), params(reference("zero"), 4)), 1e-6f);
}

TEST_F(DistTrain, FixedProcessCountIsBitIdentical) {
  std::string again = path("zero_again");
  RunResult r = run(mpirun(2, train(again, {"--zero", "1"})));
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(testing::loss_curve(testing::read_metrics(again)),
            testing::loss_curve(testing::read_metrics(reference("zero"))));
}

TEST_F(DistTrain, KilledRankEndsTheJobAndResumeWorksAtOneAndTwo) {
  std::string out = path("killed");
  const auto t0 = std::chrono::steady_clock::now();
  RunResult r = run(mpirun(2, train(out, {"--zero", "1"})), {{"TLM_TEST_FAULT", "kill:1:4"}});
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_NE(r.rc, 0);
  EXPECT_LT(secs, 60.0);
  EXPECT_NE((r.out + r.err).find("rank 1"), std::string::npos) << r.out << r.err;  // mpirun names it
  // Step 2 was saved before the kill at step 4 and verifies; nothing later exists.
  auto cks = list_checkpoints(out);
  ASSERT_EQ(cks.size(), 1u);
  EXPECT_EQ(cks[0].step, 2);
  EXPECT_EQ(verify_checkpoint(cks[0].path), "");

  fs::copy(out, out + "_np1", fs::copy_options::recursive);
  RunResult two = run(mpirun(2, train(out, {"--zero", "1", "--resume"})));
  ASSERT_EQ(two.rc, 0) << two.err;
  // Resumed at the same process count: exactly the uninterrupted run.
  EXPECT_EQ(testing::loss_curve(testing::read_metrics(out)),
            testing::loss_curve(testing::read_metrics(reference("zero"))));
  RunResult one = run(train(out + "_np1", {"--resume"}));
  ASSERT_EQ(one.rc, 0) << one.err;
  EXPECT_NE(one.err.find("was trained by 2 processes, this run has 1"), std::string::npos) << one.err;
  EXPECT_EQ(list_checkpoints(out + "_np1").back().step, 6);
  EXPECT_EQ(losses(out + "_np1").size(), 6u);
}

TEST_F(DistTrain, HungRankIsNamedAndTheJobEnds) {
  expect_fault_ends_job(path("hung"), "hang:1:3",
                        "rank 1 answered but never reached this collective (hung computing or in I/O)");
}

// The pid of rank `rank` under the launcher `launcher`: the process below it whose environment
// has OMPI_COMM_WORLD_RANK=rank (Open MPI sets it in every rank), or -1.
pid_t rank_pid(pid_t launcher, int rank) {
  // /proc files report size 0, so they are read as streams.
  auto slurp = [](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::string want = "OMPI_COMM_WORLD_RANK=" + std::to_string(rank);
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string stat = slurp(e.path() / "stat");
    const size_t paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    int ppid = -1;
    if (std::sscanf(stat.c_str() + paren + 1, " %*c %d", &ppid) != 1 || ppid != launcher) continue;
    const std::string env = slurp(e.path() / "environ");
    for (size_t at = 0; at < env.size();) {
      const size_t end = env.find('\0', at);
      if (env.compare(at, (end == std::string::npos ? env.size() : end) - at, want) == 0) return std::stoi(name);
      if (end == std::string::npos) break;
      at = end + 1;
    }
  }
  return -1;
}

// SIGTERM reaching one rank only (here rank 1, which does not save) stops the whole job: the stop
// decision is all-reduced, so all ranks finish the same step and rank 0 saves it. (SIGTERM to
// mpirun is forwarded to every rank, but mpirun follows it with SIGKILL after
// odls_base_sigkill_timeout, 1 s by default, which a loaded machine's step plus fsync'd save can
// exceed: docs/distributed.md says how to launch so that ranks get the time.)
TEST_F(DistTrain, SigtermStopsEveryRankAtOneStepWithACheckpoint) {
  std::string out = path("term");
  std::vector<std::string> argv = mpirun(2, train(out, {"--steps", "100000", "--save-every", "0", "--eval-every", "0"}));
  pid_t pid = testing::spawn_program(argv, path("term.out"), path("term.err"));
  const auto start = std::chrono::steady_clock::now();
  while (testing::read_metrics(out).size() < 3 && std::chrono::steady_clock::now() - start < std::chrono::seconds(60))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_GE(testing::read_metrics(out).size(), 3u) << read_file(path("term.err"));
  const pid_t rank1 = rank_pid(pid, 1);
  if (rank1 <= 0) ::kill(pid, SIGKILL);
  ASSERT_GT(rank1, 0) << "no process under mpirun has OMPI_COMM_WORLD_RANK=1";
  ::kill(rank1, SIGTERM);
  EXPECT_EQ(testing::wait_exit(pid), 0) << read_file(path("term.err"));
  auto cks = list_checkpoints(out);
  ASSERT_EQ(cks.size(), 1u) << read_file(path("term.err"));
  EXPECT_EQ(verify_checkpoint(cks[0].path), "");
  EXPECT_EQ(cks[0].step, int64_t(testing::read_metrics(out).size()));  // the last logged step
  EXPECT_NE(read_file(path("term.out")).find("stopped at step"), std::string::npos) << read_file(path("term.out"));
}

// A stopped process (SIGSTOP: every thread frozen, as a machine that stops responding) answers
// nothing: it is named as dead or stopped.
TEST_F(DistTrain, StoppedRankIsNamedAndTheJobEnds) {
  expect_fault_ends_job(path("stopped"), "stop:1:3", "rank 1 did not answer (dead or stopped)");
}

TEST_F(DistTrain, NanOnOneRankIsSkippedByAll) {
  std::string out = path("nan");
  RunResult r = run(mpirun(2, train(out, {"--zero", "1"})), {{"TLM_TEST_INJECT_NAN_STEP", "3"}});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("1 skipped steps"), std::string::npos) << r.out;
  int skipped = 0;
  for (const json& m : testing::read_metrics(out))
    if (m.value("skipped", false)) {
      ++skipped;
      EXPECT_EQ(m["step"], 3);
    }
  EXPECT_EQ(skipped, 1);
}

}  // namespace
}  // namespace tlm
