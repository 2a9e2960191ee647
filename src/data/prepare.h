// `tweetlm prepare`: raw tweets in, a clean, de-duplicated, split corpus out.
//
// Pipeline per batch of records (reader.h): parse -> filter (retweets, language) -> normalize
// (in parallel) -> length filter -> exact and near-duplicate removal -> hash split -> write.
// The first stages are parallel; de-duplication and writing run in source order, so output is
// identical whatever the thread count. Memory holds one batch plus the dedup sets, never the
// corpus. Outputs are written atomically: an interrupted run leaves no partial files.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/dedup.h"
#include "data/normalize.h"
#include "data/reader.h"
#include "data/split.h"

namespace tlm {

struct PrepareOptions {
  std::vector<std::string> inputs;
  std::string outdir;
  ReadOptions read;
  NormalizeOptions normalize;
  bool keep_retweets = false;
  std::vector<std::string> langs;  // keep only these languages (tweets without `lang` pass)
  // --since/--until: keep tweets with since <= created_at <= until (Unix seconds, UTC, bounds as
  // parse_date_bound gives them); with either set, a tweet without a readable created_at is
  // dropped (counted as undated).
  std::optional<int64_t> since, until;
  size_t min_chars = 3;            // code points after normalization
  double near_dup = 0;             // Jaccard threshold for near-duplicates; 0 = off
  SplitFractions split;
  bool strict = false;             // a malformed record is fatal instead of skipped
  size_t max_examples = 10;        // malformed records printed / kept in the report
};

struct PrepareReport {
  struct FileInfo {
    std::string path, format;
    uint64_t tweets = 0, malformed = 0, bytes = 0;
  };
  std::vector<FileInfo> files;
  uint64_t read_by_format[static_cast<int>(SourceFormat::count_)] = {};
  uint64_t records = 0;    // tweets parsed + malformed records
  uint64_t malformed = 0;
  std::vector<std::string> malformed_examples;  // "file:line: problem"
  uint64_t out_of_range = 0, undated = 0;  // --since/--until
  uint64_t retweets = 0, wrong_lang = 0, empty = 0, too_short = 0, duplicates = 0, near_duplicates = 0;
  uint64_t repaired_utf8 = 0;
  uint64_t kept = 0;
  uint64_t split_counts[3] = {};
  uint64_t bytes_in = 0, bytes_out = 0;
  double seconds = 0;
  int threads = 1;
  std::map<std::string, uint64_t> languages;  // of kept tweets; "unknown" when absent
  std::vector<uint64_t> length_hist;          // kept tweets by code points, buckets of 20, last is 280+
  MinHashParams near_dup_params;
  uint64_t dedup_memory_bytes = 0;
  std::vector<std::string> outputs;

  static constexpr int kLengthBucket = 20, kLengthBuckets = 15;
  nlohmann::json to_json() const;
  std::string summary() const;
};

PrepareReport prepare(const PrepareOptions& options);

}  // namespace tlm
