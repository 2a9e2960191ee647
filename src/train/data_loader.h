// Training and evaluation data: the token shards of one split seen as one stream, cut into
// fixed windows of T + 1 tokens (T inputs, and the T next tokens as targets), and a loader that
// hands out B windows per micro-batch.
//
// Design decisions:
//  - Windows are fixed: window w holds stream tokens [w T, w T + T + 1). Consecutive windows
//    share one token (the last target of w is the first input of w + 1), so every token is
//    predicted exactly once per epoch. A window may begin inside a tweet; compute_documents
//    treats index 0 of a sequence as a document start, so attention still never crosses a
//    tweet and positions restart at every eos, as in generation.
//  - Order: each epoch visits every window once, in a Fisher-Yates permutation drawn from the
//    counter-based Philox generator keyed by (seed, epoch). The whole data state is therefore
//    (epoch, index), two integers that go into state.json; a resumed run regenerates the same
//    permutation and continues at the same window, bit for bit.
//  - Data parallel: all ranks walk the same sequence of windows; each micro-batch consumes
//    world x B of them and rank r takes the r-th block of B. Ranks see disjoint windows and
//    share one position, so the state is the same on every rank.
//  - Shards are memory-mapped and validated once (checksum and every token id < vocabulary:
//    an id out of range would index past the embedding table).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/shards.h"
#include "model/batch.h"

namespace tlm {

// What `tweetlm tokenize` records in SHARD_DIR/meta.json about the tokenizer.
struct ShardMeta {
  uint64_t vocab_size = 0;
  int32_t eos_id = -1;
  std::string vocab_xxh3;  // tokenizer_fingerprint, 16 hex digits
};
// Reads DIR/meta.json; a missing or malformed file is a UserError naming it.
ShardMeta read_shard_meta(const std::string& dir);

// The shards of one split, concatenated into one stream of token ids.
class TokenDataset {
 public:
  TokenDataset() = default;
  // Opens DIR/<split>_NNNNNN.bin. An empty split (no shards) is allowed: size() == 0.
  TokenDataset(const std::string& dir, const std::string& split, ShardCheck check = ShardCheck::full);
  // A stream held in memory (text tokenized on the fly: `eval ppl --text`); `name` stands for
  // the directory in messages.
  static TokenDataset from_tokens(std::vector<uint32_t> ids, uint32_t vocab_size, const std::string& name);
  TokenDataset(TokenDataset&&) = default;
  TokenDataset& operator=(TokenDataset&&) = default;

  const std::string& dir() const { return dir_; }
  const std::string& split() const { return split_; }
  uint64_t size() const { return starts_.empty() ? 0 : starts_.back(); }
  size_t num_shards() const { return shards_.size(); }
  // The largest vocabulary size among the shard headers (ids are below it).
  uint32_t vocab_size() const { return vocab_size_; }
  // Copies stream tokens [begin, begin + n) into out, crossing shard boundaries as needed.
  void copy(uint64_t begin, uint64_t n, int32_t* out) const;

 private:
  std::string dir_, split_;
  std::vector<ShardFile> shards_;
  std::vector<uint32_t> memory_;  // from_tokens: the whole stream (no shards)
  std::vector<uint64_t> starts_;  // starts_[i] = first stream index of shard i; back() = total
  uint32_t vocab_size_ = 0;
};

// Number of full windows of T + 1 tokens with stride T in n tokens.
inline uint64_t num_windows(uint64_t tokens, int T) { return tokens > 0 ? (tokens - 1) / uint64_t(T) : 0; }

// Fills sequence `row` of `batch` (resized by the caller) from window `w`: tokens and targets.
void fill_window(const TokenDataset& data, uint64_t w, int T, Batch& batch, int row);

// Where the loader is: the index-th window of epoch `epoch`'s permutation comes next.
struct LoaderPosition {
  uint64_t epoch = 0;
  uint64_t index = 0;
  bool operator==(const LoaderPosition&) const = default;
};

class DataLoader {
 public:
  // B windows of T tokens per micro-batch for rank `rank` of `world`. Throws a UserError if the
  // split has no full window (fewer than T + 1 tokens).
  DataLoader(const TokenDataset& data, int B, int T, uint64_t seed, int rank = 0, int world = 1);

  uint64_t num_windows() const { return windows_; }
  int B() const { return B_; }
  int T() const { return T_; }
  LoaderPosition position() const { return pos_; }
  // Continue from a saved position. UserError if the index is beyond the epoch.
  void seek(LoaderPosition p);

  // The window at `slot` of epoch `epoch`'s order (tests; the trainer uses next()).
  uint64_t window_at(uint64_t epoch, uint64_t slot);
  // Fills `batch` (resized to B x T) with this rank's next B windows, computes the document
  // positions from eos_id and advances the shared position by world x B windows (wrapping into
  // the next epoch, whose permutation is different).
  void next(Batch& batch, int32_t eos_id);

  // Replay (continued pre-training, `train --replay DIR:FRACTION`): a share `fraction` of the
  // rows of every batch comes from `data` (old shards), each source in its own shuffled order.
  // Batch n holds R(n) = floor((n+1)·B·F) - floor(n·B·F) replay rows (F: the fractions' sum),
  // so the share is exact over any run of batches; replay row m goes to source i with
  // probability fraction_i / F by a counter-based draw at m. Everything is a function of the
  // batch count and the sources' positions: the same on every rank, and continued by a resume.
  // The fractions must be in (0, 1) and sum below 1.
  void add_replay(const TokenDataset& data, double fraction);
  size_t num_replay() const { return replay_.size(); }
  DataLoader& replay(size_t i) { return *replay_[i].loader; }
  const DataLoader& replay(size_t i) const { return *replay_[i].loader; }
  // Batches drawn so far (next() calls): with the positions, the state of a mixed loader.
  uint64_t batches() const { return batches_; }
  void seek_batches(uint64_t n) { batches_ = n; }

 private:
  const std::vector<uint64_t>& order(uint64_t epoch);
  // Rows [row0, row0 + rows) of `batch` from this rank's next `rows` windows; the shared
  // position advances by world x rows.
  void next_rows(Batch& batch, int row0, int rows);

  const TokenDataset* data_;
  int B_, T_;
  uint64_t seed_;
  int rank_, world_;
  uint64_t windows_;
  LoaderPosition pos_;
  uint64_t order_epoch_ = UINT64_MAX;
  std::vector<uint64_t> order_;
  struct Replay {
    std::unique_ptr<DataLoader> loader;  // one row at a time
    double fraction;
  };
  std::vector<Replay> replay_;
  double replay_total_ = 0;
  uint64_t batches_ = 0;
};

// The evaluation windows: the first `max_tokens` / T windows of the split in stream order (all
// of them when max_tokens is 0), the same set at every evaluation and in every run. Rank r of
// `world` takes windows r, r + world, ...
std::vector<uint64_t> eval_windows(const TokenDataset& data, int T, uint64_t max_tokens, int rank = 0, int world = 1);

}  // namespace tlm
