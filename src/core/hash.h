// Hashing: xxHash (XXH3 64-bit) for de-duplication keys, splits and file checksums. XXH3 is
// fast enough that hashing is never the bottleneck, and stable across versions and machines,
// so a hash written today (a split assignment, a checksum) means the same thing tomorrow.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tlm {

uint64_t hash64(const void* data, size_t n, uint64_t seed = 0);
// A 64-bit hash as the 16 hex digits written into manifests, shard headers and state.json.
std::string hex64(uint64_t v);
inline uint64_t hash64(std::string_view s, uint64_t seed = 0) { return hash64(s.data(), s.size(), seed); }

// Incremental hashing for checksums of streams (gives the same value as hash64 over the
// concatenation with seed 0).
class Hasher {
 public:
  Hasher();
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;
  void update(const void* data, size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  uint64_t digest() const;

 private:
  void* state_;
};

// A fast 64-bit mixer (the SplitMix64 finaliser) for deriving many hashes from one.
inline uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace tlm
