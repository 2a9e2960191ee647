// The BPE merge loop (learn_bpe, train_bpe; the rules are in train.h).
//
// Data layout, chosen so that a merge touches little memory and allocates almost nothing:
//  - Words: one flat array of token ids, each word a [start, start + len) range that shrinks in
//    place as merges apply; single-symbol words are dropped up front (they hold no pair).
//  - Pairs: records in one vector, found through an open-addressing table keyed by
//    (left << 32 | right). A pair is never erased: a merged pair just has count 0.
//  - Pair -> words: per pair a linked list of 7-word blocks from one shared pool (blocks of a
//    merged pair go back to a free list). Lists are append-only and may go stale: a listed word
//    may no longer hold the pair, and a word may be listed twice. A merge rescans each listed
//    word once (a per-word stamp skips repeats), so stale entries only cost a scan of a short
//    word, and no removal is ever needed.
//  - Heap: entries (count, 8-byte prefix of the merged bytes, pair) with lazy invalidation. An
//    entry's count is an upper bound of its pair's count: a pair whose count rose during a merge
//    gets a fresh entry, a pair whose count fell keeps its stale higher entry, and an entry popped
//    with a stale count is pushed back with the current one. So the first popped entry whose
//    count is current is the true best pair. The prefix decides most byte ties without touching
//    the token strings.
// The merge itself follows HF tokenizers' Word::merge: at each occurrence, left to right, the
// pairs (prev, a) and (b, next) lose the word's count and (prev, new) and (new, next) gain it,
// where prev is the already-rewritten left neighbour. Only the merged pair's own count is not
// tracked: every occurrence disappears, so it is set to 0.
//
// The loop is single-threaded: per merge it does far less work than a thread fork would cost
// on the typical low-count merges, and it keeps the result trivially deterministic.
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
#include "tokenizer/train.h"

namespace tlm {
namespace {

constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();

inline uint64_t pair_key(uint32_t l, uint32_t r) { return (uint64_t(l) << 32) | r; }

// uint64 key -> uint32 value, open addressing; the all-ones key (pair (kNone, kNone)) marks
// an empty slot, and no token id is kNone.
class PairTable {
 public:
  PairTable() { slots_.assign(1 << 16, Slot{}); }
  // The value of `key`, or `value` after inserting it; `inserted` says which.
  uint32_t find_or_insert(uint64_t key, uint32_t value, bool& inserted) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    const size_t mask = slots_.size() - 1;
    for (size_t i = mix64(key) & mask;; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (s.key == key) {
        inserted = false;
        return s.value;
      }
      if (s.key == kEmpty) {
        s.key = key;
        s.value = value;
        ++size_;
        inserted = true;
        return value;
      }
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t(0);
  struct Slot {
    uint64_t key = kEmpty;
    uint32_t value = 0;
  };
  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.size() * 2, Slot{});
    const size_t mask = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.key == kEmpty) continue;
      size_t i = mix64(s.key) & mask;
      while (slots_[i].key != kEmpty) i = (i + 1) & mask;
      slots_[i] = s;
    }
  }
  std::vector<Slot> slots_;
  size_t size_ = 0;
};

struct Pair {
  int64_t count = 0;
  uint32_t left = 0, right = 0;
  uint32_t head = kNone;       // newest block of the word list
  uint32_t last_word = kNone;  // last word appended, to skip the common immediate repeat
  uint32_t stamp = 0;          // merge that last raised the count (dedups the push list)
  uint32_t fill = 0;           // entries used in the head block
};

struct WordBlock {
  static constexpr uint32_t kSize = 7;
  uint32_t words[kSize];
  uint32_t next;
};

struct HeapEntry {
  int64_t count;
  uint64_t prefix;  // first 8 bytes of the merged token, big-endian, zero-padded
  uint32_t pair;
};

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
      const int64_t current = pairs_[e.pair].count;
      if (current != e.count) {
        if (current >= min_count_) push(e.pair, current, e.prefix);
        continue;
      }
      if (current < min_count_) break;  // cannot happen (only such entries are pushed); kept as a guard
      apply_merge(e.pair);
      progress.update(static_cast<double>(tokens_.size() - start),
                      strprintf("vocab %zu  count %lld", tokens_.size(), static_cast<long long>(current)));
    }
    progress.update(static_cast<double>(tokens_.size() - start));
    progress.finish(strprintf("vocab %zu  %zu merges", tokens_.size(), merges_.size()));
    return {std::move(tokens_), std::move(merges_)};
  }

 private:
  void load_words(const WordCounts& words) {
    size_t symbols = 0, n = 0;
    words.for_each([&](std::string_view w, uint64_t) {
      if (w.size() > 1) symbols += w.size(), ++n;
    });
    TLM_CHECK(n < kNone, "%zu distinct pre-tokens: word ids are 32-bit", n);
    sym_.reserve(symbols);
    wstart_.reserve(n + 1);
    wlen_.reserve(n);
    wcount_.reserve(n);
    words.for_each([&](std::string_view w, uint64_t c) {
      if (w.size() < 2) return;
      wstart_.push_back(sym_.size());
      wlen_.push_back(static_cast<uint32_t>(w.size()));
      wcount_.push_back(static_cast<int64_t>(c));
      for (unsigned char ch : w) sym_.push_back(k_ + ch);
    });
    wstamp_.assign(wlen_.size(), 0);
  }

  void count_pairs() {
    for (uint32_t w = 0; w < wlen_.size(); ++w) {
      const uint32_t* s = &sym_[wstart_[w]];
      for (uint32_t i = 0; i + 1 < wlen_[w]; ++i) {
        const uint32_t pid = pair_id(s[i], s[i + 1]);
        pairs_[pid].count += wcount_[w];
        add_word(pid, w);
      }
    }
    heap_.reserve(pairs_.size());
    for (uint32_t p = 0; p < pairs_.size(); ++p)
      if (pairs_[p].count >= min_count_) heap_.push_back({pairs_[p].count, prefix(p), p});
    std::make_heap(heap_.begin(), heap_.end(), heap_less_);
  }

  uint32_t pair_id(uint32_t l, uint32_t r) {
    bool inserted = false;
    uint32_t id = index_.find_or_insert(pair_key(l, r), static_cast<uint32_t>(pairs_.size()), inserted);
    if (inserted) {
      Pair p;
      p.left = l;
      p.right = r;
      pairs_.push_back(p);
    }
    return id;
  }

  void add_word(uint32_t pid, uint32_t w) {
    Pair& p = pairs_[pid];
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

  uint64_t prefix(uint32_t pid) const {
    const std::string& l = tokens_[pairs_[pid].left];
    const std::string& r = tokens_[pairs_[pid].right];
    uint64_t v = 0;
    size_t n = 0;
    for (size_t i = 0; i < l.size() && n < 8; ++i, ++n) v = (v << 8) | static_cast<unsigned char>(l[i]);
    for (size_t i = 0; i < r.size() && n < 8; ++i, ++n) v = (v << 8) | static_cast<unsigned char>(r[i]);
    return n < 8 ? v << (8 * (8 - n)) : v;
  }

  // <0, 0, >0 as left+right of pair a compares with that of pair b (unsigned bytes).
  int compare_merged(uint32_t a, uint32_t b) const {
    const std::string* sa[2] = {&tokens_[pairs_[a].left], &tokens_[pairs_[a].right]};
    const std::string* sb[2] = {&tokens_[pairs_[b].left], &tokens_[pairs_[b].right]};
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

  void push(uint32_t pid, int64_t count, uint64_t pre) {
    heap_.push_back({count, pre, pid});
    std::push_heap(heap_.begin(), heap_.end(), heap_less_);
  }

  // Applies the delta of one pair occurrence change in word w (see the file comment).
  void change(uint32_t l, uint32_t r, int64_t delta, uint32_t w) {
    const uint32_t pid = pair_id(l, r);
    if (pid == merging_) return;
    Pair& p = pairs_[pid];
    p.count += delta;
    if (delta > 0) {
      if (p.stamp != stamp_) {
        p.stamp = stamp_;
        raised_.push_back(pid);
      }
      add_word(pid, w);
    }
  }

  void merge_word(uint32_t w, uint32_t a, uint32_t b, uint32_t x) {
    uint32_t* s = &sym_[wstart_[w]];
    const uint32_t n = wlen_[w];
    const int64_t c = wcount_[w];
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
    wlen_[w] = o;
  }

  void apply_merge(uint32_t pid) {
    const uint32_t a = pairs_[pid].left, b = pairs_[pid].right;
    std::string bytes = tokens_[a] + tokens_[b];
    uint32_t x;
    auto it = by_bytes_.find(bytes);
    if (it != by_bytes_.end()) {
      x = it->second;
    } else {
      x = static_cast<uint32_t>(tokens_.size());
      by_bytes_.emplace(bytes, x);
      tokens_.push_back(std::move(bytes));
    }
    merges_.emplace_back(a, b);

    // Take the pair's word list out first: merging appends to other pairs' lists, which may
    // grow the block pool.
    words_.clear();
    for (uint32_t blk = pairs_[pid].head, fill = pairs_[pid].fill; blk != kNone;) {
      words_.insert(words_.end(), blocks_[blk].words, blocks_[blk].words + fill);
      const uint32_t next = blocks_[blk].next;
      blocks_[blk].next = free_block_;
      free_block_ = blk;
      blk = next;
      fill = WordBlock::kSize;
    }
    pairs_[pid].head = kNone;
    pairs_[pid].fill = 0;
    pairs_[pid].last_word = kNone;

    ++stamp_;
    merging_ = pid;
    raised_.clear();
    for (uint32_t w : words_) {
      if (wstamp_[w] == stamp_) continue;
      wstamp_[w] = stamp_;
      merge_word(w, a, b, x);
    }
    merging_ = kNone;
    pairs_[pid].count = 0;
    for (uint32_t q : raised_)
      if (pairs_[q].count >= min_count_) push(q, pairs_[q].count, prefix(q));
  }

  const BpeTrainOptions& opt_;
  int64_t min_count_ = 1;
  uint32_t k_ = 0;
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, uint32_t> by_bytes_;  // non-special tokens
  std::vector<std::pair<uint32_t, uint32_t>> merges_;

  std::vector<uint32_t> sym_;
  std::vector<size_t> wstart_;
  std::vector<uint32_t> wlen_;
  std::vector<int64_t> wcount_;
  std::vector<uint32_t> wstamp_;

  PairTable index_;
  std::vector<Pair> pairs_;
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
      if (x.pair == y.pair) return false;
      if (int c = t->compare_merged(x.pair, y.pair)) return c > 0;
      const Pair& p = t->pairs_[x.pair];
      const Pair& q = t->pairs_[y.pair];
      return std::make_pair(p.left, p.right) > std::make_pair(q.left, q.right);
    }
  };
  HeapLess heap_less_{this};

  uint32_t stamp_ = 0, merging_ = kNone;
  std::vector<uint32_t> words_, raised_;
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
  log_info("counted %llu pre-tokens (%zu unique) in %.2fs on %d threads",
           static_cast<unsigned long long>(words.total()), words.unique(), s, num_threads());
  return train_bpe(words, opt);
}

}  // namespace tlm
