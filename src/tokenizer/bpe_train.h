// Byte-level BPE training: count pre-tokens over a corpus, then learn merges.
//
// Counting (WordCounts, count_words): every text is split by the GPT-2 pre-tokenizer
// (pretokenize.h) and identical pieces are counted. Each OpenMP thread counts into its own
// table and the tables are merged at the end; counts are sums, so the result does not depend on
// the thread count. Memory is proportional to the unique pieces, never to the corpus.
//
// Training (train_bpe) is the incremental algorithm of Hugging Face tokenizers and
// sentencepiece: words are arrays of token ids with their counts, a pair -> count table, a
// pair -> words index and a max-heap of (count, pair) with lazy invalidation. A merge visits only
// the words that contain the pair and adjusts the counts of the pairs around each occurrence.
//
// Rules (the naive trainer in tests/test_tokenizer_train.cpp states the same ones):
//  - The count of a pair is the sum over words of (word count) x (adjacent occurrences in the
//    word), overlapping occurrences included ("aaa" holds (a, a) twice).
//  - A merge replaces the occurrences in each word left to right, non-overlapping.
//  - The pair merged next is the one with the highest count; ties go to the pair whose merged
//    token's raw bytes are lexicographically smaller (as unsigned bytes, a prefix before its
//    extensions), then to the smaller (left id, right id). This order is total, so the merges
//    are a function of the word counts alone.
//  - Training stops when the vocabulary holds vocab_size tokens or the best count is below
//    min_frequency (a pair seen fewer times is never merged).
//  - Every merge makes a new token. (It cannot remake an existing one: a word span that is two
//    adjacent tokens has kept its outer boundaries since the start, so it was segmented exactly
//    as its bytes alone would be; once those bytes are one token, no span with the same bytes
//    can be two tokens later.) Should it ever happen, the merge reuses the token's id, as HF
//    tokenizers does.
//
// Vocabulary layout: special tokens at ids 0..k-1 in the given order, the 256 single bytes at
// ids k..k+255 in byte order, then one token per new merge result in merge order. Special
// token strings inside training texts are ordinary text here: they are split and counted like
// any other characters, never learned as one token.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace tlm {

struct BpeTrainOptions {
  size_t vocab_size = 32000;        // total, including special tokens and the 256 byte tokens
  uint64_t min_frequency = 2;       // a pair seen fewer times is never merged (training stops)
  std::vector<std::string> special_tokens = default_special_tokens();  // ids 0..k-1 in this order
};

// Pre-token (word) counts. An open-addressing table of (hash, bytes, count) whose bytes live in
// one arena, so counting allocates per table growth, not per word.
class WordCounts {
 public:
  WordCounts() = default;
  WordCounts(WordCounts&&) noexcept = default;
  WordCounts& operator=(WordCounts&&) noexcept = default;
  WordCounts(const WordCounts&) = delete;
  WordCounts& operator=(const WordCounts&) = delete;

  // Pre-tokenizes `text` and counts its pieces.
  void add_text(std::string_view text);
  // Counts one piece `count` more times.
  void add_word(std::string_view word, uint64_t count = 1);
  // Adds all of `other`'s counts to this table (other is left empty).
  void merge(WordCounts&& other);

  size_t unique() const { return unique_; }
  uint64_t total() const { return total_; }
  // Count of one piece; 0 if never seen.
  uint64_t count(std::string_view word) const;
  // Visits every (piece, count) in table order, which depends on insertion history: callers
  // that need an order sort (sorted() does).
  template <class F>
  void for_each(F&& f) const {
    for (const Slot& s : slots_)
      if (s.count) f(std::string_view(arena_.data() + s.offset, s.len), s.count);
  }
  // All pieces by count (descending), then bytes: a deterministic listing.
  std::vector<std::pair<std::string, uint64_t>> sorted() const;

 private:
  struct Slot {
    uint64_t hash = 0;
    uint64_t offset = 0;  // into arena_
    uint64_t count = 0;   // 0 marks an empty slot
    uint32_t len = 0;
  };
  void insert(uint64_t hash, std::string_view word, uint64_t count);
  void grow();

  std::vector<Slot> slots_;  // power-of-two size, at most half full
  std::vector<char> arena_;
  size_t unique_ = 0;
  uint64_t total_ = 0;
  std::vector<std::string_view> pieces_;  // scratch for add_text
};

// Counts the pre-tokens of every text in `inputs`, each one of:
//  - a prepared corpus directory (`tweetlm prepare` output): its train.jsonl and val.jsonl;
//  - a .jsonl file: one JSON object per line, its "text" string field;
//  - any other file: plain text, one text per line (a trailing '\r' is dropped).
// Empty lines are skipped. A missing or unreadable input, a malformed JSON line or a line
// without a "text" string is a UserError naming the file (and line). Parallel over threads.
WordCounts count_words(const std::vector<std::string>& inputs);

// Learns merges from word counts (see the rules above). UserError on bad options (vocab_size
// too small for the byte tokens and special tokens, empty or duplicate special tokens).
Tokenizer train_bpe(const WordCounts& words, const BpeTrainOptions& opt);
// count_words + train_bpe, logging the counting time.
Tokenizer train_bpe(const std::vector<std::string>& inputs, const BpeTrainOptions& opt);

// The merge loop without building a Tokenizer: the vocabulary (raw bytes; special tokens as
// their content) and the merges in rank order. train_bpe wraps it; tests and benchmarks use it
// to look at the learned merges directly.
struct BpeTrainResult {
  std::vector<std::string> tokens;
  std::vector<std::pair<uint32_t, uint32_t>> merges;
};
BpeTrainResult learn_bpe(const WordCounts& words, const BpeTrainOptions& opt);

}  // namespace tlm
