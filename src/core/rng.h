// A counter-based random number generator: Philox4x32-10 (Salmon et al., SC'11), the generator
// cuRAND and PyTorch use on GPUs. Every value is a pure function of (seed, stream, counter), so
// any position in any stream can be reproduced without replaying it: a resumed run, a rank of a
// distributed job, or a CUDA thread all draw exactly the numbers they would have drawn.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>

namespace tlm {

// One Philox4x32-10 block: 128 random bits for (key, counter).
inline std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> ctr, std::array<uint32_t, 2> key) {
  constexpr uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = uint64_t(M0) * ctr[0], p1 = uint64_t(M1) * ctr[2];
    ctr = {uint32_t(p1 >> 32) ^ ctr[1] ^ key[0], uint32_t(p1), uint32_t(p0 >> 32) ^ ctr[3] ^ key[1], uint32_t(p0)};
    key[0] += W0;
    key[1] += W1;
  }
  return ctr;
}

class Rng {
 public:
  explicit Rng(uint64_t seed = 0, uint64_t stream = 0) : seed_(seed), stream_(stream) {}

  uint64_t seed() const { return seed_; }
  uint64_t stream() const { return stream_; }
  // Number of 32-bit values drawn so far; with seek() this is the whole state.
  uint64_t position() const { return pos_; }
  void seek(uint64_t position) { pos_ = position; }

  // The 32-bit value at `position` of this stream, without changing the state.
  uint32_t at(uint64_t position) const {
    uint64_t block = position >> 2;
    auto r = philox4x32({uint32_t(block), uint32_t(block >> 32), uint32_t(stream_), uint32_t(stream_ >> 32)},
                        {uint32_t(seed_), uint32_t(seed_ >> 32)});
    return r[position & 3];
  }

  uint32_t next_u32() { return at(pos_++); }
  uint64_t next_u64() { return (uint64_t(next_u32()) << 32) | next_u32(); }
  // Uniform in [0, 1) with 24 random bits (exactly representable as float).
  float uniform() { return float(next_u32() >> 8) * (1.0f / 16777216.0f); }
  // Uniform integer in [0, n), unbiased (Lemire's method with rejection).
  uint32_t below(uint32_t n) {
    uint64_t m = uint64_t(next_u32()) * n;
    if (uint32_t(m) < n) {
      uint32_t t = uint32_t(-n) % n;
      while (uint32_t(m) < t) m = uint64_t(next_u32()) * n;
    }
    return uint32_t(m >> 32);
  }
  // Standard normal via Box-Muller (uses two draws, returns one: keeps positions simple).
  float normal() {
    float u1 = (float(next_u32() >> 8) + 1.0f) * (1.0f / 16777217.0f);
    float u2 = uniform();
    return std::sqrt(-2.0f * std::log(u1)) * std::cos(6.28318530718f * u2);
  }

 private:
  uint64_t seed_, stream_, pos_ = 0;
};

}  // namespace tlm
