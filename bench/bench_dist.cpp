// bench_dist: data-parallel training across processes on this machine, measured on the real
// `tweetlm train` under mpirun, plus the all-reduce bandwidth of our MPI communicator.
//
//   bench_dist [--configs A,B] [--steps N] [--json bench_dist.json]
//
// Training rows (configs A and B of bench/train_cpu, fp32, vocabulary padded to 8192): one
// process with 2 threads and with 1 thread, and 2 processes with 1 thread each, plain data
// parallel and ZeRO-1, each rank with the same micro-batch (weak scaling: 2 ranks process twice
// the tokens per step). Weak-scaling efficiency = tokens/s at -np 2 / (2 x tokens/s at -np 1, 1
// thread): how much of a second core's worth the second rank delivers. Step times are the median
// over the measured steps of metrics.jsonl. The corpus is synthetic tweets (bench/synthetic_tweets)
// prepared, with a tokenizer trained and the shards written, in a RAM scratch directory.
//
// All-reduce rows: bench_dist relaunches itself under mpirun -np 2 (--allreduce-worker) and times
// all_reduce_sum over 1..64 MB float buffers; bus bandwidth = 2 (n - 1) / n x bytes / time (the
// nccl-tests convention, comparable across rank counts), beside Open MPI's blocking
// MPI_Allreduce (the peer, which has no timeout) in the same run.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "bench_util.h"
#include "core/check.h"
#include "dist/comm.h"
#include "synthetic_tweets.h"

#ifdef TLM_HAVE_MPI
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace {

using nlohmann::json;
using tlm::bench::now_s;
using tlm::bench::run_capture;
using tlm::bench::shell_quote;

struct Config {
  const char* name;
  int T, C, L, H, F, B;
};
const Config kConfigs[] = {{"A", 128, 256, 4, 4, 688, 16}, {"B", 256, 512, 8, 8, 1376, 8}};

std::string self_path() { return std::filesystem::read_symlink("/proc/self/exe").string(); }

std::string mpirun(int np) { return "mpirun --allow-run-as-root --oversubscribe --bind-to none -np " + std::to_string(np); }

int run_or_die(const std::string& cmd) {
  std::string out;
  int rc = run_capture(cmd + " 2>&1", &out);
  if (rc != 0) throw tlm::UserError("bench_dist", "command failed: " + cmd + "\n" + out);
  return rc;
}

// Median step time (ms) and tokens/s over the steps after `warmup`, from metrics.jsonl.
std::pair<double, double> step_stats(const std::string& run_dir, int warmup) {
  std::ifstream f(run_dir + "/metrics.jsonl");
  std::vector<double> ms, tps;
  std::string line;
  while (std::getline(f, line)) {
    json j = json::parse(line);
    if (!j.contains("ms") || j["step"].get<int>() <= warmup) continue;
    ms.push_back(j["ms"].get<double>());
    tps.push_back(j["tokens_per_s"].get<double>());
  }
  if (ms.empty()) throw tlm::UserError(run_dir, "no measured steps in metrics.jsonl");
  std::sort(ms.begin(), ms.end());
  std::sort(tps.begin(), tps.end());
  return {ms[ms.size() / 2], tps[tps.size() / 2]};
}

int allreduce_worker(int iters) {
  auto comm = tlm::dist::make_mpi_comm();
  json rows = json::array();
  for (int mb : {1, 2, 4, 8, 16, 32, 64}) {
    size_t n = size_t(mb) << 18;  // floats
    std::vector<float> buf(n, 1.0f);
    comm->all_reduce_sum(buf.data(), n);  // warm-up
    comm->barrier();
    double t0 = now_s();
    for (int i = 0; i < iters; ++i) comm->all_reduce_sum(buf.data(), n);
    double secs = (now_s() - t0) / iters;
    double bytes = double(n) * sizeof(float), world = comm->size();
    // The peer: Open MPI's own blocking MPI_Allreduce, which cannot time out (ours polls a
    // non-blocking one against --comm-timeout and answers liveness pings meanwhile).
    double peer = 0;
#ifdef TLM_HAVE_MPI
    MPI_Allreduce(MPI_IN_PLACE, buf.data(), int(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Barrier(MPI_COMM_WORLD);
    t0 = now_s();
    for (int i = 0; i < iters; ++i) MPI_Allreduce(MPI_IN_PLACE, buf.data(), int(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    peer = (now_s() - t0) / iters;
#endif
    rows.push_back({{"mb", mb}, {"ms", secs * 1e3}, {"algbw_gbs", bytes / secs / 1e9},
                    {"busbw_gbs", 2 * (world - 1) / world * bytes / secs / 1e9},
                    {"peer_mpi_allreduce_ms", peer * 1e3},
                    {"peer_busbw_gbs", peer > 0 ? 2 * (world - 1) / world * bytes / peer / 1e9 : 0.0}});
  }
  if (comm->rank() == 0) std::printf("%s\n", rows.dump().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_dist: data-parallel training and all-reduce bandwidth with mpirun on this machine"};
  std::string configs = "A,B", json_path = "bench_dist.json", tweetlm = TLM_BINARY;
  int steps = 6, warmup = 2, iters = 20;
  bool worker = false;
  app.add_option("--configs", configs, "Comma-separated subset of A, B")->capture_default_str();
  app.add_option("--steps", steps, "Steps per training run (the first --warmup are not timed)")->capture_default_str();
  app.add_option("--warmup", warmup, "Untimed steps")->capture_default_str();
  app.add_option("--iters", iters, "All-reduce repetitions per size")->capture_default_str();
  app.add_option("--tweetlm", tweetlm, "The tweetlm binary")->capture_default_str();
  app.add_option("--json", json_path, "Write the results here")->capture_default_str();
  app.add_flag("--allreduce-worker", worker, "(internal) run the all-reduce timing as an MPI rank");
  CLI11_PARSE(app, argc, argv);
  try {
    if (worker) return allreduce_worker(iters);
    if (std::system("command -v mpirun >/dev/null 2>&1") != 0)
      throw tlm::UserError("mpirun", "not found: install openmpi-bin (scripts/setup.sh)");
    const std::string dir = tlm::bench::make_temp_dir("/tmp", "tlm-bench-dist-");
    const std::string bin = shell_quote(tweetlm);
    std::fprintf(stderr, "bench_dist: preparing a synthetic corpus in %s\n", dir.c_str());
    auto gen = tlm::bench::ensure_synthetic_file(dir, 16);
    run_or_die(bin + " -q prepare -i " + shell_quote(gen.path) + " -o " + dir + "/prep");
    run_or_die(bin + " -q tokenizer train -i " + dir + "/prep -o " + dir + "/tok/tokenizer.json --vocab 4096");
    run_or_die(bin + " -q tokenize -i " + dir + "/prep --tokenizer " + dir + "/tok/tokenizer.json -o " + dir + "/shards");

    json out = {{"cpu", tlm::bench::cpu_model()}, {"steps", steps}, {"warmup", warmup}, {"train", json::array()}};
    std::printf("| config | processes x threads | optimizer | tokens/step | ms/step | tokens/s | vs 1 x 2 | weak-scaling eff. |\n");
    std::printf("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |\n");
    for (const Config& c : kConfigs) {
      if (configs.find(c.name) == std::string::npos) continue;
      struct Run {
        int np, threads;
        bool zero;
      };
      double base2 = 0, base1 = 0;
      for (Run r : {Run{1, 2, false}, Run{1, 1, false}, Run{2, 1, false}, Run{2, 1, true}}) {
        std::string run_dir = dir + "/run_" + c.name + std::to_string(r.np) + std::to_string(r.threads) + (r.zero ? "z" : "");
        std::string cmd = (r.np > 1 ? mpirun(r.np) + " " : std::string()) + bin + " -q -t " + std::to_string(r.threads) +
                          " train --data " + dir + "/shards --tokenizer " + dir + "/tok/tokenizer.json --out " + run_dir +
                          tlm::strprintf(" --dim %d --layers %d --heads %d --ffn %d --vocab 8192 -T %d -b %d", c.C, c.L,
                                         c.H, c.F, c.T, c.B) +
                          tlm::strprintf(" --steps %d --eval-every 0 --save-every 0 --sample-every 0 --peak-gflops 100",
                                         steps) +
                          (r.zero ? " --zero 1" : "");
        std::fprintf(stderr, "bench_dist: config %s, %d x %d%s\n", c.name, r.np, r.threads, r.zero ? ", ZeRO-1" : "");
        run_or_die(cmd);
        auto [ms, tps] = step_stats(run_dir, warmup);
        if (r.np == 1 && r.threads == 2) base2 = tps;
        if (r.np == 1 && r.threads == 1) base1 = tps;
        double eff = r.np > 1 && base1 > 0 ? tps / (r.np * base1) : 0;
        std::printf("| %s | %d x %d | %s | %d | %.0f | %.0f | %.2fx | %s |\n", c.name, r.np, r.threads,
                    r.zero ? "ZeRO-1" : "replicated", c.B * c.T * r.np, ms, tps, base2 > 0 ? tps / base2 : 0.0,
                    eff > 0 ? tlm::strprintf("%.0f%%", 100 * eff).c_str() : "-");
        std::fflush(stdout);
        out["train"].push_back({{"config", c.name}, {"np", r.np}, {"threads", r.threads}, {"zero", r.zero},
                                {"tokens_per_step", c.B * c.T * r.np}, {"ms_per_step", ms}, {"tokens_per_s", tps},
                                {"weak_scaling_efficiency", eff}});
      }
    }

    std::string ar;
    if (run_capture(mpirun(2) + " " + shell_quote(self_path()) + " --allreduce-worker --iters " + std::to_string(iters),
                    &ar) != 0)
      throw tlm::UserError("bench_dist", "the all-reduce workers failed:\n" + ar);
    json rows = json::parse(ar.substr(ar.find('[')));
    std::printf("\n| all-reduce, 2 ranks | tweetlm ms | tweetlm bus GB/s | MPI_Allreduce ms | MPI_Allreduce bus GB/s |\n"
                "| ---: | ---: | ---: | ---: | ---: |\n");
    for (const json& r : rows)
      std::printf("| %d MB | %.2f | %.2f | %.2f | %.2f |\n", r["mb"].get<int>(), r["ms"].get<double>(),
                  r["busbw_gbs"].get<double>(), r["peer_mpi_allreduce_ms"].get<double>(),
                  r["peer_busbw_gbs"].get<double>());
    out["allreduce"] = rows;
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    std::ofstream(json_path) << out.dump(2) << "\n";
    std::printf("\nwrote %s\n", json_path.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_dist: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
