// bench_sgemm: which Debian BLAS should tweetlm link, and what is this machine's fp32 matmul
// peak (the denominator of our MFU)? Times cblas_sgemm of OpenBLAS (OpenMP and pthread builds)
// and BLIS (OpenMP build) on the shapes a training step runs: the forward products
// (inp @ W^T), and the two backward products (dout @ W, dout^T @ inp), for the 33M model of the
// training benchmark (N = B*T = 2048, C = 512, F = 1376, V = 8192). Each library runs in its
// own child process (two builds of OpenBLAS share a soname, so one process cannot load both).
//
//   bench_sgemm [--threads N] [--json FILE] [--reps R]
#include <dlfcn.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench_util.h"
#include "core/buffer.h"
#include "core/file.h"
#include "core/rng.h"

namespace {

using nlohmann::json;

struct Library {
  const char* name;
  const char* path;
};
const Library kLibraries[] = {
    {"openblas-openmp", "/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0"},
    {"openblas-pthread", "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0"},
    {"blis-openmp", "/usr/lib/x86_64-linux-gnu/blis-openmp/libblis.so.4"},
};

// cblas enums (identical in every cblas.h): RowMajor 101, NoTrans 111, Trans 112.
using SgemmFn = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);

struct Shape {
  const char* what;
  int M, N, K;
  bool trans_a, trans_b;
};

// The products of one layer of config B and its head, forward and backward.
const Shape kShapes[] = {
    {"qkv fwd   [2048x512]@[1536x512]^T", 2048, 1536, 512, false, true},
    {"gateup fwd[2048x512]@[2752x512]^T", 2048, 2752, 512, false, true},
    {"down fwd  [2048x1376]@[512x1376]^T", 2048, 512, 1376, false, true},
    {"head fwd  [2048x512]@[8192x512]^T", 2048, 8192, 512, false, true},
    {"head dinp [2048x8192]@[8192x512]", 2048, 512, 8192, false, false},
    {"head dW   [2048x8192]^T@[2048x512]", 8192, 512, 2048, true, false},
    {"gateup dW [2048x2752]^T@[2048x512]", 2752, 512, 2048, true, false},
};

json run_library(const Library& lib, int threads, int reps) {
  void* h = dlopen(lib.path, RTLD_NOW | RTLD_LOCAL);
  if (!h) return json{{"library", lib.name}, {"error", std::string("cannot load ") + lib.path}};
  auto sgemm = reinterpret_cast<SgemmFn>(dlsym(h, "cblas_sgemm"));
  if (!sgemm) return json{{"library", lib.name}, {"error", "no cblas_sgemm"}};
  omp_set_num_threads(threads);
  if (auto set = reinterpret_cast<void (*)(int)>(dlsym(h, "openblas_set_num_threads"))) set(threads);
  if (auto set = reinterpret_cast<void (*)(int)>(dlsym(h, "bli_thread_set_num_threads"))) set(threads);

  json rows = json::array();
  double flops_total = 0, seconds_total = 0;
  for (const Shape& s : kShapes) {
    tlm::AlignedBuffer<float> a(size_t(s.M) * s.K, false), b(size_t(s.K) * s.N, false), c(size_t(s.M) * s.N);
    tlm::Rng rng(1);
    for (auto& x : a) x = rng.uniform() - 0.5f;
    for (auto& x : b) x = rng.uniform() - 0.5f;
    int lda = s.trans_a ? s.M : s.K, ldb = s.trans_b ? s.K : s.N;
    auto call = [&] {
      sgemm(101, s.trans_a ? 112 : 111, s.trans_b ? 112 : 111, s.M, s.N, s.K, 1.0f, a.data(), lda, b.data(), ldb,
            0.0f, c.data(), s.N);
    };
    call();  // warm-up: thread pool start, page faults
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
      double t0 = tlm::bench::now_s();
      call();
      best = std::min(best, tlm::bench::now_s() - t0);
    }
    double flops = 2.0 * s.M * s.N * s.K;
    flops_total += flops, seconds_total += best;
    rows.push_back({{"shape", s.what}, {"seconds", best}, {"gflops", flops / best / 1e9}});
  }
  return json{{"library", lib.name}, {"threads", threads}, {"shapes", rows},
              {"gflops_mix", flops_total / seconds_total / 1e9}};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_sgemm: Debian BLAS libraries on the shapes of a training step"};
  int threads = 2, reps = 5;
  std::string json_path = "bench_sgemm.json", only;
  app.add_option("--threads", threads, "Threads for every library")->capture_default_str();
  app.add_option("--reps", reps, "Timed repetitions per shape (best is kept)")->capture_default_str();
  app.add_option("--json", json_path, "Write the results here")->capture_default_str();
  app.add_option("--only", only, "(internal) run one library and print its JSON");
  CLI11_PARSE(app, argc, argv);

  if (!only.empty()) {
    for (const Library& lib : kLibraries)
      if (only == lib.name) {
        std::printf("%s\n", run_library(lib, threads, reps).dump().c_str());
        return 0;
      }
    std::fprintf(stderr, "bench_sgemm: unknown library %s\n", only.c_str());
    return 2;
  }

  json results = json::array();
  for (const Library& lib : kLibraries) {
    std::string cmd = tlm::bench::shell_quote(argv[0]) + " --only " + lib.name + " --threads " +
                      std::to_string(threads) + " --reps " + std::to_string(reps);
    std::string out;
    tlm::bench::run_capture(cmd, &out);
    json r = json::parse(out, nullptr, false);
    if (r.is_discarded()) r = json{{"library", lib.name}, {"error", "child failed"}};
    results.push_back(r);
  }

  std::printf("sgemm GFLOP/s, %d threads, %s (best of %d)\n\n| shape |", threads, tlm::bench::cpu_model().c_str(),
              reps);
  for (const auto& r : results) std::printf(" %s |", r["library"].get<std::string>().c_str());
  std::printf("\n| --- |");
  for (size_t i = 0; i < results.size(); i++) std::printf(" ---: |");
  std::printf("\n");
  for (size_t s = 0; s < std::size(kShapes); s++) {
    std::printf("| %s |", kShapes[s].what);
    for (const auto& r : results)
      if (r.contains("shapes")) std::printf(" %.1f |", r["shapes"][s]["gflops"].get<double>());
      else std::printf(" %s |", r.value("error", "?").c_str());
    std::printf("\n");
  }
  std::printf("| **all shapes (time-weighted)** |");
  for (const auto& r : results)
    if (r.contains("gflops_mix")) std::printf(" **%.1f** |", r["gflops_mix"].get<double>());
    else std::printf(" - |");
  std::printf("\n");
  tlm::atomic_write_file(json_path, json{{"benchmark", "sgemm"}, {"cpu", tlm::bench::cpu_model()},
                                         {"threads", threads}, {"results", results}}.dump(2) + "\n");
  std::printf("\nwrote %s\n", json_path.c_str());
  return 0;
}
