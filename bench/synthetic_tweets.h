// A deterministic generator of synthetic Twitter API v2 JSON lines for benchmarks.
//
// The point is realistic parsing and normalization work, not realistic language: objects carry
// the fields and nesting the v2 API returns (public_metrics, entities, referenced_tweets,
// note_tweet), and texts mix what the normalizer has to handle (mentions, t.co links, hashtags,
// HTML-escaped &<>, emoji with ZWJ/variation selectors, decomposed accents, pt/es/ja/ar text,
// \u-escaped lines), with ~5% exact duplicates and ~3% retweets. Every tweet draws from its own
// Philox stream (tlm::Rng with stream = tweet index), so the output is a pure function of
// (seed, size) and kGeneratorVersion names it: bump it whenever the bytes would change, so a
// cached file from an older generator is never reused.
#pragma once

#include <cstdint>
#include <string>

namespace tlm::bench {

inline constexpr const char* kGeneratorVersion = "gen4";

struct GeneratedFile {
  std::string path;
  uint64_t bytes = 0;
  uint64_t tweets = 0;  // 0 when an existing file was reused (not counted again)
  bool reused = false;
  double seconds = 0;
};

// Returns `dir`/tweets-v2-<version>-<size_mb>mb.jsonl, generating it (exactly size_mb * 2^20
// bytes, the tail padded with one blank line) unless a file of that name and size exists.
GeneratedFile ensure_synthetic_file(const std::string& dir, uint64_t size_mb, uint64_t seed = 1);

// Copies the first `mb` * 2^20 bytes of `src`, cut back to the last line end, to `dst` unless
// `dst` exists with that size already. Returns the bytes in `dst`.
uint64_t ensure_slice(const std::string& src, const std::string& dst, uint64_t mb);

}  // namespace tlm::bench
