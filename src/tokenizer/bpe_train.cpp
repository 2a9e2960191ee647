// The BPE merge loop (learn_bpe, train_bpe; the rules are in bpe_train.h).
//
// Training is bound by memory latency (random visits to words and pairs), so the layout is
// chosen to touch few cache lines per update and to allocate almost nothing per merge:
//  - Words: records [stamp, len, count, symbols...] in one flat uint32 array; a word shrinks in
//    place as merges apply. Single-symbol words are dropped up front (they hold no pair).
//  - Pairs: the record (count, word list head, stamps) sits in the open-addressing slot keyed
//    by (left << 32 | right), so an update is one probe. A pair is never erased: a merged pair
//    just has count 0.
//  - Pair -> words: per pair a linked list of 7-word blocks from one shared pool (blocks of a
//    merged pair go back to a free list). Lists are append-only and may go stale: a listed word
//    may no longer hold the pair, and a word may be listed twice. A merge rescans each listed
//    word once (the word's stamp skips repeats), so stale entries only cost a scan of a short
//    word, and nothing is ever removed from a list.
//  - Heap: entries (count, 8-byte prefix of the merged bytes, left, right) with lazy
//    invalidation. An entry's count is an upper bound of its pair's count: a pair whose count
//    rose during a merge gets a fresh entry, a pair whose count fell keeps its stale higher
//    entry, and an entry popped with a stale count is pushed back with the current one. So the
//    first popped entry whose count is current is the true best pair. The prefix decides most
//    byte ties without touching the token strings.
// The merge itself follows HF tokenizers' Word::merge: at each occurrence, left to right, the
// pairs (prev, a) and (b, next) lose the word's count and (prev, new) and (new, next) gain it,
// where prev is the already-rewritten left neighbour. Only the merged pair's own count is not
// tracked: every occurrence disappears, so it is set to 0.
//
// The loop is single-threaded: most merges (the low-count tail) touch a handful of words, far
// less work than a parallel region costs, and it keeps the result trivially deterministic.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "core/check.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/threads.h"
#include "tokenizer/bpe_train.h"

namespace tlm {
namespace {

constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();

inline uint64_t pair_key(uint32_t l, uint32_t r) { return (uint64_t(l) << 32) | r; }
inline uint32_t key_left(uint64_t key) { return static_cast<uint32_t>(key >> 32); }
inline uint32_t key_right(uint64_t key) { return static_cast<uint32_t>(key); }

// One pair's record, stored in the hash table slot itself so that an update costs one cache
// miss, not two (slot, then record).
struct PairSlot {
  static constexpr uint64_t kEmpty = ~uint64_t(0);  // no token id is kNone, so no pair has this key
  uint64_t key = kEmpty;
  int64_t count = 0;
  uint32_t head = kNone;       // newest block of the word list
  uint32_t fill = 0;           // entries used in the head block
  uint32_t last_word = kNone;  // last word appended, to skip the common immediate repeat
  uint32_t stamp = 0;          // merge that last raised the count (dedups the push list)
};

// (left, right) -> PairSlot, open addressing with linear probing, at most half full. Records
// move when the table grows, so a reference is only good until the next get().
class PairTable {
 public:
  PairTable() { slots_.assign(1 << 16, PairSlot{}); }
  // The record of `key`, inserted with count 0 if absent.
  PairSlot& get(uint64_t key) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    const size_t mask = slots_.size() - 1;
    for (size_t i = mix64(key) & mask;; i = (i + 1) & mask) {
      PairSlot& s = slots_[i];
      if (s.key == key) return s;
      if (s.key == PairSlot::kEmpty) {
        s.key = key;
        ++size_;
        return s;
      }
    }
  }
  template <class F>
  void for_each(F&& f) const {
    for (const PairSlot& s : slots_)
      if (s.key != PairSlot::kEmpty) f(s);
  }
  size_t size() const { return size_; }

 private:
  void grow() {
    std::vector<PairSlot> old = std::move(slots_);
    slots_.assign(old.size() * 2, PairSlot{});
    const size_t mask = slots_.size() - 1;
    for (const PairSlot& s : old) {
      if (s.key == PairSlot::kEmpty) continue;
      size_t i = mix64(s.key) & mask;
      while (slots_[i].key != PairSlot::kEmpty) i = (i + 1) & mask;
      slots_[i] = s;
    }
  }
  std::vector<PairSlot> slots_;
  size_t size_ = 0;
};

struct WordBlock {
  static constexpr uint32_t kSize = 7;
  uint32_t words[kSize];
  uint32_t next;
};

struct HeapEntry {
  int64_t count;
  uint64_t prefix;  // first 8 bytes of the merged token, big-endian, zero-padded
  uint32_t left, right;
};

// Words live in one uint32 array, each as a record [stamp, len, count lo, count hi, symbols...]
// padded to an even length, so one visit reads one or two cache lines. A word's id is its
// offset / 2, which keeps ids 32-bit up to 8 G array entries.
constexpr size_t kWordHeader = 4;

class Trainer {
 public:
  Trainer(const WordCounts& words, const BpeTrainOptions& opt) : opt_(opt) {
    min_count_ = static_cast<int64_t>(std::max<uint64_t>(opt.min_frequency, 1));
    k_ = static_cast<uint32_t>(opt.special_tokens.size());
    for (const std::string& s : opt.special_tokens) tokens_.push_back(s);
    for (int b = 0; b < 256; ++b) {
      by_bytes_.emplace(std::string(1, static_cast<char>(b)), static_cast<uint32_t>(tokens_.size()));
      tokens_.emplace_back(1, static_cast<char>(b));
    }
    load_words(words);
    count_pairs();
  }

  BpeTrainResult run() {
    const size_t target = opt_.vocab_size;
    const size_t start = tokens_.size();
    Progress progress("BPE merges", static_cast<double>(target > start ? target - start : 0));
    while (tokens_.size() < target && !heap_.empty()) {
      std::pop_heap(heap_.begin(), heap_.end(), heap_less_);
      HeapEntry e = heap_.back();
      heap_.pop_back();
      const uint64_t key = pair_key(e.left, e.right);
      const int64_t current = pairs_.get(key).count;
      if (current != e.count) {
        if (current >= min_count_) push(e.left, e.right, current, e.prefix);
        continue;
      }
      if (current < min_count_) break;  // cannot happen (only such entries are pushed); kept as a guard
      apply_merge(e.left, e.right);
      if ((merges_.size() & 63) == 0)
        progress.update(static_cast<double>(tokens_.size() - start),
                        strprintf("vocab %zu  count %lld", tokens_.size(), static_cast<long long>(current)));
    }
    progress.update(static_cast<double>(tokens_.size() - start));
    progress.finish(strprintf("vocab %zu  %zu merges", tokens_.size(), merges_.size()));
    return {std::move(tokens_), std::move(merges_)};
  }

 private:
  uint32_t* word(uint32_t w) { return &data_[size_t(w) * 2]; }
  static int64_t word_count(const uint32_t* rec) {
    int64_t c;
    std::memcpy(&c, rec + 2, sizeof c);
    return c;
  }

  void load_words(const WordCounts& words) {
    size_t size = 0;
    words.for_each([&](std::string_view w, uint64_t) {
      if (w.size() > 1) size += kWordHeader + w.size() + (w.size() & 1);
    });
    TLM_CHECK(size / 2 < kNone, "%zu symbols in distinct pre-tokens: word ids are 32-bit", size);
    data_.reserve(size);
    words.for_each([&](std::string_view w, uint64_t c) {
      if (w.size() < 2) return;
      const uint32_t header[kWordHeader] = {0, static_cast<uint32_t>(w.size()), 0, 0};
      data_.insert(data_.end(), header, header + kWordHeader);
      const int64_t count = static_cast<int64_t>(c);
      std::memcpy(&data_[data_.size() - 2], &count, sizeof count);
      for (unsigned char ch : w) data_.push_back(k_ + ch);
      if (w.size() & 1) data_.push_back(0);
    });
  }

  void count_pairs() {
    for (size_t off = 0; off < data_.size();) {
      const uint32_t w = static_cast<uint32_t>(off / 2);
      const uint32_t* rec = word(w);
      const uint32_t n = rec[1];
      const int64_t c = word_count(rec);
      const uint32_t* s = rec + kWordHeader;
      for (uint32_t i = 0; i + 1 < n; ++i) {
        PairSlot& p = pairs_.get(pair_key(s[i], s[i + 1]));
        p.count += c;
        add_word(p, w);
      }
      off += kWordHeader + n + (n & 1);
    }
    heap_.reserve(pairs_.size());
    pairs_.for_each([&](const PairSlot& p) {
      if (p.count >= min_count_) {
        const uint32_t l = key_left(p.key), r = key_right(p.key);
        heap_.push_back({p.count, prefix(l, r), l, r});
      }
    });
    std::make_heap(heap_.begin(), heap_.end(), heap_less_);
  }

  void add_word(PairSlot& p, uint32_t w) {
    if (p.last_word == w) return;
    p.last_word = w;
    if (p.head == kNone || p.fill == WordBlock::kSize) {
      uint32_t b;
      if (free_block_ != kNone) {
        b = free_block_;
        free_block_ = blocks_[b].next;
      } else {
        b = static_cast<uint32_t>(blocks_.size());
        blocks_.emplace_back();
      }
      blocks_[b].next = p.head;
      p.head = b;
      p.fill = 0;
    }
    blocks_[p.head].words[p.fill++] = w;
  }

  uint64_t prefix(uint32_t left, uint32_t right) const {
    const std::string& l = tokens_[left];
    const std::string& r = tokens_[right];
    uint64_t v = 0;
    size_t n = 0;
    for (size_t i = 0; i < l.size() && n < 8; ++i, ++n) v = (v << 8) | static_cast<unsigned char>(l[i]);
    for (size_t i = 0; i < r.size() && n < 8; ++i, ++n) v = (v << 8) | static_cast<unsigned char>(r[i]);
    return n < 8 ? v << (8 * (8 - n)) : v;
  }

  // <0, 0, >0 as the merged bytes of x compare with those of y (unsigned bytes).
  int compare_merged(const HeapEntry& x, const HeapEntry& y) const {
    const std::string* sa[2] = {&tokens_[x.left], &tokens_[x.right]};
    const std::string* sb[2] = {&tokens_[y.left], &tokens_[y.right]};
    size_t ia = 0, ib = 0, pa = 0, pb = 0;  // segment and position in it
    for (;;) {
      while (ia < 2 && pa == sa[ia]->size()) ++ia, pa = 0;
      while (ib < 2 && pb == sb[ib]->size()) ++ib, pb = 0;
      if (ia == 2 || ib == 2) return (ia == 2 ? 0 : 1) - (ib == 2 ? 0 : 1);
      const size_t n = std::min(sa[ia]->size() - pa, sb[ib]->size() - pb);
      if (int c = std::memcmp(sa[ia]->data() + pa, sb[ib]->data() + pb, n)) return c;
      pa += n;
      pb += n;
    }
  }

  void push(uint32_t l, uint32_t r, int64_t count, uint64_t pre) {
    heap_.push_back({count, pre, l, r});
    std::push_heap(heap_.begin(), heap_.end(), heap_less_);
  }

  // Applies one pair occurrence change in word w (see the file comment).
  void change(uint32_t l, uint32_t r, int64_t delta, uint32_t w) {
    const uint64_t key = pair_key(l, r);
    if (key == merging_) return;
    PairSlot& p = pairs_.get(key);
    p.count += delta;
    if (delta > 0) {
      if (p.stamp != stamp_) {
        p.stamp = stamp_;
        raised_.push_back(key);
      }
      add_word(p, w);
    }
  }

  void merge_word(uint32_t w, uint32_t a, uint32_t b, uint32_t x) {
    uint32_t* rec = word(w);
    uint32_t* s = rec + kWordHeader;
    const uint32_t n = rec[1];
    const int64_t c = word_count(rec);
    uint32_t r = 0, o = 0;
    while (r < n) {
      if (r + 1 < n && s[r] == a && s[r + 1] == b) {
        if (o > 0) {
          change(s[o - 1], a, -c, w);
          change(s[o - 1], x, c, w);
        }
        if (r + 2 < n) {
          change(b, s[r + 2], -c, w);
          change(x, s[r + 2], c, w);
        }
        s[o++] = x;
        r += 2;
      } else {
        s[o++] = s[r++];
      }
    }
    rec[1] = o;  // the record keeps its size; the tail is just unused
  }

  void apply_merge(uint32_t a, uint32_t b) {
    std::string bytes = tokens_[a] + tokens_[b];
    uint32_t x;
    auto it = by_bytes_.find(bytes);
    if (it != by_bytes_.end()) {
      x = it->second;  // not expected to happen (bpe_train.h); a well-defined fallback, as in HF
    } else {
      x = static_cast<uint32_t>(tokens_.size());
      by_bytes_.emplace(bytes, x);
      tokens_.push_back(std::move(bytes));
    }
    merges_.emplace_back(a, b);

    // Take the pair's word list out first: merging appends to other pairs' lists, which may
    // grow the block pool and move the table's records.
    const uint64_t key = pair_key(a, b);
    words_.clear();
    {
      PairSlot& p = pairs_.get(key);
      for (uint32_t blk = p.head, fill = p.fill; blk != kNone;) {
        words_.insert(words_.end(), blocks_[blk].words, blocks_[blk].words + fill);
        const uint32_t next = blocks_[blk].next;
        blocks_[blk].next = free_block_;
        free_block_ = blk;
        blk = next;
        fill = WordBlock::kSize;
      }
      p.head = kNone;
      p.fill = 0;
      p.last_word = kNone;
    }

    ++stamp_;
    merging_ = key;
    raised_.clear();
    constexpr size_t kAhead = 8;  // word visits are random accesses: prefetch a few ahead
    for (size_t i = 0; i < words_.size(); ++i) {
      if (i + kAhead < words_.size()) __builtin_prefetch(word(words_[i + kAhead]));
      const uint32_t w = words_[i];
      uint32_t* rec = word(w);
      if (rec[0] == stamp_) continue;
      rec[0] = stamp_;
      merge_word(w, a, b, x);
    }
    merging_ = PairSlot::kEmpty;
    pairs_.get(key).count = 0;
    for (uint64_t q : raised_) {
      const int64_t c = pairs_.get(q).count;
      if (c >= min_count_) push(key_left(q), key_right(q), c, prefix(key_left(q), key_right(q)));
    }
  }

  const BpeTrainOptions& opt_;
  int64_t min_count_ = 1;
  uint32_t k_ = 0;
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, uint32_t> by_bytes_;  // non-special tokens
  std::vector<std::pair<uint32_t, uint32_t>> merges_;

  std::vector<uint32_t> data_;  // word records

  PairTable pairs_;
  std::vector<WordBlock> blocks_;
  uint32_t free_block_ = kNone;

  std::vector<HeapEntry> heap_;
  // std heaps are max-heaps on this "less": lower count, then larger merged bytes, then
  // larger (left, right) rank lower.
  struct HeapLess {
    const Trainer* t;
    bool operator()(const HeapEntry& x, const HeapEntry& y) const {
      if (x.count != y.count) return x.count < y.count;
      if (x.prefix != y.prefix) return x.prefix > y.prefix;
      if (x.left == y.left && x.right == y.right) return false;
      if (int c = t->compare_merged(x, y)) return c > 0;
      return std::make_pair(x.left, x.right) > std::make_pair(y.left, y.right);
    }
  };
  HeapLess heap_less_{this};

  uint32_t stamp_ = 0;
  uint64_t merging_ = PairSlot::kEmpty;
  std::vector<uint32_t> words_;
  std::vector<uint64_t> raised_;
};

void check_options(const BpeTrainOptions& opt) {
  std::unordered_set<std::string> seen;
  for (const std::string& s : opt.special_tokens) {
    if (s.empty()) throw UserError("special tokens", "a special token is empty");
    if (!seen.insert(s).second) throw UserError("special tokens", "\"" + s + "\" is given twice");
  }
  const size_t base = opt.special_tokens.size() + 256;
  if (opt.vocab_size < base)
    throw user_error("vocab size", "%zu is smaller than the 256 byte tokens plus %zu special tokens (%zu)",
                     opt.vocab_size, opt.special_tokens.size(), base);
  if (opt.vocab_size > size_t(std::numeric_limits<uint32_t>::max()))
    throw user_error("vocab size", "%zu does not fit 32-bit token ids", opt.vocab_size);
}

}  // namespace

BpeTrainResult learn_bpe(const WordCounts& words, const BpeTrainOptions& opt) {
  check_options(opt);
  Trainer trainer(words, opt);
  return trainer.run();
}

Tokenizer train_bpe(const WordCounts& words, const BpeTrainOptions& opt) {
  BpeTrainResult r = learn_bpe(words, opt);
  std::vector<AddedToken> added;
  for (size_t i = 0; i < opt.special_tokens.size(); ++i)
    added.push_back({static_cast<uint32_t>(i), opt.special_tokens[i], true});
  return Tokenizer(std::move(r.tokens), std::move(r.merges), std::move(added));
}

Tokenizer train_bpe(const std::vector<std::string>& inputs, const BpeTrainOptions& opt) {
  check_options(opt);  // before reading the corpus, so a bad flag fails at once
  auto t0 = std::chrono::steady_clock::now();
  WordCounts words = count_words(inputs);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (words.total() == 0)  // else: a tokenizer of bytes and specials only, which no one wants
    throw UserError(inputs.size() == 1 ? inputs[0] : std::string("--input"),
                    "no text to train on (the input is empty; a prepared corpus folder is read for its "
                    "train.jsonl and val.jsonl)");
  const int threads = num_threads();
  log_info("counted %llu pre-tokens (%zu unique) in %.2fs on %d thread%s",
           static_cast<unsigned long long>(words.total()), words.unique(), s, threads, threads == 1 ? "" : "s");
  return train_bpe(words, opt);
}

}  // namespace tlm
