// Peak measurement and attended-key counting for MFU (see mfu.h).
#include "train/mfu.h"

#include <algorithm>
#include <chrono>

#include "core/buffer.h"
#include "ops/matmul.h"
#include "ops/matmul_bf16.h"

namespace tlm {

namespace {
// Calls `product` (2 n^3 FLOPs) for `seconds` after one warm-up call and returns the FLOP rate
// of the fastest call: a peak, so a busy machine lowers it less than an average would (an
// average taken while another process held a core once gave "MFU 500%").
template <typename Product>
double best_gflops(Product product, int n, double seconds) {
  product();  // warm-up: threads, pages, JIT
  using clock = std::chrono::steady_clock;
  auto start = clock::now();
  double best = 1e30, elapsed = 0;
  do {
    auto t0 = clock::now();
    product();
    auto t1 = clock::now();
    best = std::min(best, std::chrono::duration<double>(t1 - t0).count());
    elapsed = std::chrono::duration<double>(t1 - start).count();
  } while (elapsed < seconds);
  return 2.0 * double(n) * n * n / best / 1e9;
}
}  // namespace

double measure_sgemm_gflops(double seconds) {
  constexpr int n = 1024;
  AlignedBuffer<float> a(size_t(n) * n, false), b(size_t(n) * n, false), c(size_t(n) * n, false);
  // Small, varied values: denormals or NaNs would make the timing meaningless.
  for (size_t i = 0; i < a.size(); ++i) {
    a[i] = float(int(i % 17) - 8) * 0.01f;
    b[i] = float(int(i % 13) - 6) * 0.01f;
  }
  return best_gflops([&] { ops::matmul_forward(c.data(), a.data(), b.data(), n, n, n); }, n, seconds);
}

double measure_bf16_gflops(double seconds) {
  constexpr int n = 1024;
  AlignedBuffer<float> f(size_t(n) * n, false), c(size_t(n) * n, false);
  for (size_t i = 0; i < f.size(); ++i) f[i] = float(int(i % 17) - 8) * 0.01f;
  // As the model runs it: weights packed once, the input already rounded, only the product timed.
  AlignedBuffer<ops::bf16> a(f.size(), false);
  AlignedBuffer<uint8_t> w(ops::bf16_weight_bytes(n, n), false);
  ops::to_bf16(a.data(), f.data(), f.size());
  ops::pack_bf16_weight(w.data(), f.data(), n, n);
  return best_gflops([&] { ops::matmul_bf16_forward_rounded(c.data(), a.data(), w.data(), n, n, n); }, n, seconds);
}

double mean_attended_keys(const Batch& batch) {
  if (batch.pos.empty()) return 0;
  double sum = 0;
  for (int32_t p : batch.pos) sum += double(p) + 1.0;
  return sum / double(batch.pos.size());
}

double gpu_bf16_peak_gflops(const std::string& name) {
  // Datasheet dense (not sparse) bf16 tensor-core peaks. PCIe H100s are slower (756).
  struct Peak {
    const char* key;
    double tflops;
  };
  static constexpr Peak kPeaks[] = {{"H200", 989.4}, {"H100 PCIe", 756.0}, {"H100", 989.4}, {"GH200", 989.4},
                                    {"A100", 312.0}, {"L40S", 362.1},      {"A10", 125.0},  {"L4", 121.0}};
  for (const Peak& p : kPeaks)
    if (name.find(p.key) != std::string::npos) return p.tflops * 1e3;
  return 0;
}

}  // namespace tlm
