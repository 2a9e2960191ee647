// Byte-level BPE encoding and decoding (see tokenizer.h).
//
// A piece is merged by the classic rule: repeatedly merge the adjacent pair with the lowest
// merge rank, leftmost first. Short pieces (nearly all of them in tweets) use a plain scan;
// long ones (a 10 kB run of emoji) use a heap over pair positions, O(n log n), so no input can
// make encoding quadratic. Results are cached per thread by piece bytes.
#include "tokenizer/tokenizer.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <queue>

#include "core/check.h"
#include "core/threads.h"
#include "core/utf8.h"
#include "tokenizer/pretokenize.h"

namespace tlm {

const std::vector<std::string>& default_special_tokens() {
  static const std::vector<std::string> tokens = {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"};
  return tokens;
}

Tokenizer::Tokenizer(std::vector<std::string> tokens, std::vector<std::pair<uint32_t, uint32_t>> merges,
                     std::vector<AddedToken> added)
    : tokens_(std::move(tokens)), merges_(std::move(merges)), added_(std::move(added)) {
  build_indexes();
}

void Tokenizer::build_indexes() {
  static std::atomic<uint64_t> next_uid{1};
  uid_ = next_uid++;
  by_bytes_.clear();
  merge_of_.clear();
  eos_ = -1;
  std::vector<bool> is_added(tokens_.size(), false);
  for (const AddedToken& a : added_) {
    if (a.id >= tokens_.size()) throw user_error("added_tokens", "id %u of '%s' is outside the vocabulary (size %zu)",
                                                 a.id, a.content.c_str(), tokens_.size());
    if (a.content.empty()) throw user_error("added_tokens", "token %u has empty content", a.id);
    tokens_[a.id] = a.content;
    is_added[a.id] = true;
    if (a.content == "<|endoftext|>") eos_ = a.id;
  }
  for (uint32_t id = 0; id < tokens_.size(); ++id) {
    if (is_added[id]) continue;
    auto [it, fresh] = by_bytes_.emplace(tokens_[id], id);
    if (!fresh) throw user_error("model.vocab", "token ids %u and %u spell the same bytes", it->second, id);
  }
  // Added tokens whose content is also an ordinary vocabulary entry (GPT-2's <|endoftext|>) are
  // reachable through the added-token split only, as in HF.
  // Vocabularies trained by HF hold only the bytes their corpus had. A byte without a token is
  // dropped when encoding, exactly as HF's BPE does without an unk token (so such a tokenizer
  // is lossless only on text made of known bytes; ours always have all 256).
  size_t byte_tokens = 0;
  for (int b = 0; b < 256; ++b) {
    auto it = by_bytes_.find(std::string(1, static_cast<char>(b)));
    byte_token_[b] = it == by_bytes_.end() ? kNoToken : it->second;
    byte_tokens += it != by_bytes_.end();
  }
  if (byte_tokens == 0 && !tokens_.empty())
    throw user_error("model.vocab", "no single-byte tokens: not a byte-level BPE vocabulary");
  merge_of_.reserve(merges_.size());
  for (uint32_t rank = 0; rank < merges_.size(); ++rank) {
    auto [l, r] = merges_[rank];
    if (l >= tokens_.size() || r >= tokens_.size())
      throw user_error("model.merges", "merge %u refers to a token id outside the vocabulary", rank);
    auto it = by_bytes_.find(tokens_[l] + tokens_[r]);
    if (it == by_bytes_.end())
      throw user_error("model.merges", "merge %u ('%s' + '%s') makes a token that is not in model.vocab", rank,
                       token_spelling(l).c_str(), token_spelling(r).c_str());
    // A later duplicate of a merge never applies (its earlier rank wins), as in HF.
    merge_of_.emplace((uint64_t(l) << 32) | r, std::make_pair(rank, it->second));
  }
}

int64_t Tokenizer::token_id(std::string_view bytes) const {
  for (const AddedToken& a : added_)
    if (a.content == bytes) return a.id;
  auto it = by_bytes_.find(std::string(bytes));
  // Both arms int64_t: with `-1 : it->second` the -1 would become uint32_t 4294967295.
  return it == by_bytes_.end() ? int64_t{-1} : int64_t{it->second};
}

namespace {

// Per-thread cache of encoded pieces. Keyed by the tokenizer's uid so two tokenizers used from
// one thread never see each other's entries; bounded so memory stays small on any input.
struct PieceCache {
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  uint64_t uid = 0;
  std::unordered_map<std::string, std::vector<uint32_t>, Hash, std::equal_to<>> map;
  static constexpr size_t kMaxEntries = 1 << 18, kMaxPiece = 256;
};

PieceCache& piece_cache(uint64_t uid) {
  static thread_local PieceCache cache;
  if (cache.uid != uid || cache.map.size() >= PieceCache::kMaxEntries) {
    cache.map.clear();
    cache.uid = uid;
  }
  return cache;
}

}  // namespace

void Tokenizer::encode_piece(std::string_view piece, std::vector<uint32_t>& out) const {
  if (piece.size() == 1) {
    uint32_t id = byte_token_[static_cast<unsigned char>(piece[0])];
    if (id != kNoToken) out.push_back(id);
    return;
  }
  PieceCache& cache = piece_cache(uid_);
  if (piece.size() <= PieceCache::kMaxPiece) {
    auto it = cache.map.find(piece);
    if (it != cache.map.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<uint32_t> ids;
  ids.reserve(piece.size());
  for (unsigned char c : piece)
    if (byte_token_[c] != kNoToken) ids.push_back(byte_token_[c]);
  auto lookup = [&](uint32_t l, uint32_t r) -> const std::pair<uint32_t, uint32_t>* {
    auto it = merge_of_.find((uint64_t(l) << 32) | r);
    return it == merge_of_.end() ? nullptr : &it->second;
  };
  if (ids.size() <= 32) {
    // Scan for the lowest-ranked pair, merge it, repeat.
    for (;;) {
      uint32_t best_rank = UINT32_MAX, best_id = 0;
      size_t best = 0;
      for (size_t i = 0; i + 1 < ids.size(); ++i) {
        if (auto* m = lookup(ids[i], ids[i + 1]); m && m->first < best_rank) {
          best_rank = m->first;
          best_id = m->second;
          best = i;
        }
      }
      if (best_rank == UINT32_MAX) break;
      ids[best] = best_id;
      ids.erase(ids.begin() + static_cast<std::ptrdiff_t>(best) + 1);
    }
  } else {
    // Heap of (rank, position) over a doubly linked list of symbols; stale entries are skipped.
    size_t n = ids.size();
    std::vector<int64_t> prev(n), next(n);
    std::vector<bool> alive(n, true);
    for (size_t i = 0; i < n; ++i) {
      prev[i] = static_cast<int64_t>(i) - 1;
      next[i] = i + 1 < n ? static_cast<int64_t>(i + 1) : -1;
    }
    using Entry = std::pair<uint32_t, size_t>;  // (rank, left position)
    std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap;
    auto push = [&](int64_t left) {
      if (left < 0 || next[left] < 0) return;
      if (auto* m = lookup(ids[left], ids[next[left]])) heap.push({m->first, static_cast<size_t>(left)});
    };
    for (size_t i = 0; i + 1 < n; ++i) push(static_cast<int64_t>(i));
    while (!heap.empty()) {
      auto [rank, pos] = heap.top();
      heap.pop();
      if (!alive[pos] || next[pos] < 0) continue;
      auto* m = lookup(ids[pos], ids[next[pos]]);
      if (!m || m->first != rank) continue;  // stale: the pair changed since it was pushed
      int64_t right = next[pos];
      ids[pos] = m->second;
      alive[right] = false;
      next[pos] = next[right];
      if (next[right] >= 0) prev[next[right]] = static_cast<int64_t>(pos);
      push(prev[pos]);
      push(static_cast<int64_t>(pos));
    }
    std::vector<uint32_t> merged;
    for (int64_t i = 0; i >= 0; i = next[i]) merged.push_back(ids[i]);
    ids.swap(merged);
  }
  out.insert(out.end(), ids.begin(), ids.end());
  if (piece.size() <= PieceCache::kMaxPiece) cache.map.emplace(std::string(piece), std::move(ids));
}

void Tokenizer::encode_ordinary(std::string_view text, std::vector<uint32_t>& out) const {
  static thread_local std::vector<std::string_view> pieces;
  static thread_local std::string spaced;
  pieces.clear();
  if (add_prefix_space_ && !text.empty() && text[0] != ' ') {  // HF: per segment between added tokens
    spaced.clear();
    spaced.push_back(' ');
    spaced.append(text);
    text = spaced;
  }
  gpt2_pretokenize(text, pieces);
  for (std::string_view p : pieces) encode_piece(p, out);
}

namespace {

// Length of the whitespace character (Unicode White_Space, what HF's lstrip/rstrip strip) at
// s[i] / just before s[i]; 0 if there is none.
size_t space_len_at(std::string_view s, size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return is_white_space(c) ? 1 : 0;
  size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
  if (i + len > s.size() || !utf8_valid(s.substr(i, len))) return 0;  // invalid bytes are not space
  size_t j = i;
  return is_white_space(utf8_decode(s, j)) ? len : 0;
}

size_t space_len_before(std::string_view s, size_t i) {
  size_t start = i;
  while (start > 0 && i - start < 4) {
    --start;
    if ((static_cast<unsigned char>(s[start]) & 0xC0) != 0x80) break;
  }
  if (start == i) return 0;
  return space_len_at(s, start) == i - start ? i - start : 0;
}

}  // namespace

// Added tokens are split out first (leftmost occurrence; the longest on a tie), as HF's
// added-vocabulary pass does; the text between them is encoded ordinarily. A token with lstrip
// (rstrip) also takes the whitespace before (after) it, which then encodes as nothing.
void Tokenizer::encode(std::string_view text, std::vector<uint32_t>& out) const {
  TLM_CHECK(!tokens_.empty(), "encode on an empty tokenizer");
  size_t pos = 0;
  while (pos < text.size()) {
    size_t best = std::string_view::npos, best_len = 0;
    const AddedToken* hit = nullptr;
    for (const AddedToken& a : added_) {
      size_t f = text.find(a.content, pos);
      if (f < best || (f == best && f != std::string_view::npos && a.content.size() > best_len)) {
        best = f;
        best_len = a.content.size();
        hit = &a;
      }
    }
    if (!hit) {
      encode_ordinary(text.substr(pos), out);
      return;
    }
    size_t start = best, end = best + best_len;
    while (hit->lstrip && start > pos) {
      size_t w = space_len_before(text, start);
      if (!w || start - w < pos) break;
      start -= w;
    }
    while (hit->rstrip && end < text.size()) {
      size_t w = space_len_at(text, end);
      if (!w) break;
      end += w;
    }
    if (start > pos) encode_ordinary(text.substr(pos, start - pos), out);
    out.push_back(hit->id);
    pos = end;
  }
}

std::vector<uint32_t> Tokenizer::encode(std::string_view text) const {
  std::vector<uint32_t> out;
  encode(text, out);
  return out;
}

std::vector<std::vector<uint32_t>> Tokenizer::encode_batch(const std::vector<std::string>& texts) const {
  std::vector<std::vector<uint32_t>> out(texts.size());
  int nt = texts.size() >= 64 ? num_threads() : 1;
#pragma omp parallel for schedule(dynamic, 64) num_threads(nt)
  for (size_t i = 0; i < texts.size(); ++i) encode(texts[i], out[i]);
  return out;
}

std::string Tokenizer::decode(const std::vector<uint32_t>& ids, bool skip_special) const {
  std::string out;
  for (uint32_t id : ids) {
    if (id >= tokens_.size()) throw user_error("decode", "token id %u is outside the vocabulary (size %zu)", id, tokens_.size());
    if (skip_special) {
      bool special = false;
      for (const AddedToken& a : added_) special |= a.id == id && a.special;
      if (special) continue;
    }
    out += tokens_[id];
  }
  return out;
}

}  // namespace tlm
