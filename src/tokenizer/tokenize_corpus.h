// `tweetlm tokenize`: a prepared corpus (train/val/test.jsonl from `tweetlm prepare`) in,
// token shards (data/shards.h) and meta.json out.
//
// Each tweet becomes its tokens followed by <|endoftext|>, so a loader can pack several tweets
// into one training sequence and still find every boundary. Lines are read in blocks and
// encoded in parallel chunks whose results are concatenated in input order: the shards are
// byte-identical whatever the thread count. meta.json is removed when a run starts and written
// (atomically) only when every shard is in place, so its presence means the directory is a
// complete, consistent set; it records the tokenizer's fingerprint so training can refuse
// shards made with a different vocabulary.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/shards.h"
#include "tokenizer/tokenizer.h"

namespace tlm {

struct TokenizeOptions {
  uint64_t shard_tokens = kDefaultShardTokens;  // most tokens per shard
  // The tokenizer.json the Tokenizer came from, if any: its bytes are hashed into meta.json and
  // its name is used in errors about the tokenizer.
  std::string tokenizer_path;
};

struct TokenizeSplitReport {
  std::string name;      // train, val, test
  bool present = false;  // <name>.jsonl existed in the prepared directory
  uint64_t documents = 0, tokens = 0, bytes_in = 0;
  double seconds = 0;
  std::vector<ShardInfo> shards;
};

struct TokenizeReport {
  std::string out_dir;
  uint64_t vocab_size = 0;
  uint32_t eos_id = 0, token_width = 0;
  uint64_t shard_tokens = 0;
  std::string tokenizer_path;  // empty when the tokenizer did not come from a file
  std::string tokenizer_file_hash;  // XXH3-64 of tokenizer.json's bytes, hex; empty without a file
  std::string vocab_hash;           // tokenizer_fingerprint(), hex
  std::vector<TokenizeSplitReport> splits;  // train, val, test, always in that order
  double seconds = 0;
  int threads = 1;

  // meta.json's contents (shard paths relative to out_dir), keys in a readable order.
  nlohmann::ordered_json to_json() const;
  // The table the CLI prints: one row per split.
  std::string summary() const;
};

TokenizeReport tokenize_corpus(const std::string& prepared_dir, const Tokenizer& tok, const std::string& out_dir,
                               const TokenizeOptions& options = {});

// XXH3-64 over everything that decides how text encodes (token bytes by id, merges in rank
// order, added tokens): equal fingerprints mean equal ids for any text, whatever JSON
// formatting the tokenizer file had.
uint64_t tokenizer_fingerprint(const Tokenizer& tok);

}  // namespace tlm
