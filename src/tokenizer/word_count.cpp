// Pre-token counting for BPE training (WordCounts, count_words; see bpe_train.h).
//
// The table is open addressing with linear probing over (hash, arena offset, length, count)
// slots; piece bytes are appended to one arena, so a new piece costs no allocation of its own
// and merging two tables moves slots without rehashing the bytes (the hash is kept).
//
// count_words maps every input file and cuts it into ~1 MB blocks at line boundaries; threads
// take blocks dynamically (tweets vary in length, files in size) and each counts into its own
// table. The per-thread tables are merged at the end: counts are sums, so the result is the
// same whatever the thread count or the block schedule. JSON lines are parsed with simdjson
// from a per-thread padded copy of the line (a mapped file has no padding after a line).
#include <omp.h>
#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <limits>

#include "core/check.h"
#include "core/file.h"
#include "core/hash.h"
#include "core/progress.h"
#include "core/threads.h"
#include "data/corpus.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/bpe_train.h"

namespace tlm {

void WordCounts::grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(old.empty() ? 1024 : old.size() * 2, Slot{});
  const size_t mask = slots_.size() - 1;
  for (const Slot& s : old) {
    if (!s.count) continue;
    size_t i = s.hash & mask;
    while (slots_[i].count) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

void WordCounts::insert(uint64_t hash, std::string_view word, uint64_t count) {
  if (!count) return;
  if ((unique_ + 1) * 2 > slots_.size()) grow();
  TLM_CHECK(word.size() <= std::numeric_limits<uint32_t>::max(), "pre-token of %zu bytes", word.size());
  const size_t mask = slots_.size() - 1;
  size_t i = hash & mask;
  total_ += count;
  for (;;) {
    Slot& s = slots_[i];
    if (!s.count) {
      s.hash = hash;
      s.offset = arena_.size();
      s.len = static_cast<uint32_t>(word.size());
      s.count = count;
      arena_.insert(arena_.end(), word.begin(), word.end());
      ++unique_;
      return;
    }
    if (s.hash == hash && s.len == word.size() && std::memcmp(arena_.data() + s.offset, word.data(), word.size()) == 0) {
      s.count += count;
      return;
    }
    i = (i + 1) & mask;
  }
}

void WordCounts::add_word(std::string_view word, uint64_t count) { insert(hash64(word), word, count); }

void WordCounts::add_text(std::string_view text) {
  pieces_.clear();
  gpt2_pretokenize(text, pieces_);
  for (std::string_view p : pieces_) insert(hash64(p), p, 1);
}

void WordCounts::merge(WordCounts&& other) {
  if (other.unique_ > unique_) std::swap(*this, other);  // move the smaller table's slots
  for (const Slot& s : other.slots_)
    if (s.count) insert(s.hash, std::string_view(other.arena_.data() + s.offset, s.len), s.count);
  other = WordCounts();
}

uint64_t WordCounts::count(std::string_view word) const {
  if (slots_.empty()) return 0;
  const uint64_t hash = hash64(word);
  const size_t mask = slots_.size() - 1;
  for (size_t i = hash & mask; slots_[i].count; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.hash == hash && s.len == word.size() && std::memcmp(arena_.data() + s.offset, word.data(), word.size()) == 0)
      return s.count;
  }
  return 0;
}

std::vector<std::pair<std::string, uint64_t>> WordCounts::sorted() const {
  std::vector<std::pair<std::string, uint64_t>> out;
  out.reserve(unique_);
  for_each([&](std::string_view w, uint64_t c) { out.emplace_back(std::string(w), c); });
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  return out;
}

namespace {

struct Input {
  std::string path;
  bool json = false;
  MappedFile map;
};

struct Block {
  size_t file, begin, end;
};

// Tokenizer training reads a prepared folder's train and val splits (never test), or files.
std::vector<Input> open_inputs(const std::vector<std::string>& inputs) {
  std::vector<Input> files;
  for (const std::string& in : inputs)
    for (const CorpusFile& f : corpus_files(in, {"train", "val"}, true))
      files.push_back({f.path, f.format == CorpusFormat::json_lines, MappedFile(f.path)});
  return files;
}

// ~1 MB pieces of every file, each ending just after a newline (or at the end of the file).
std::vector<Block> cut_blocks(const std::vector<Input>& files) {
  constexpr size_t kBlock = size_t(1) << 20;
  std::vector<Block> blocks;
  for (size_t f = 0; f < files.size(); ++f) {
    const char* d = files[f].map.data();
    const size_t n = files[f].map.size();
    for (size_t b = 0; b < n;) {
      size_t e = std::min(n, b + kBlock);
      if (e < n) {
        const void* nl = std::memchr(d + e, '\n', n - e);
        e = nl ? static_cast<size_t>(static_cast<const char*>(nl) - d) + 1 : n;
      }
      blocks.push_back({f, b, e});
      b = e;
    }
  }
  return blocks;
}

// First error found, kept by its position so that the error reported does not depend on the
// thread schedule.
struct FirstError {
  size_t file = SIZE_MAX, offset = 0;
  std::string what;
  bool before(size_t f, size_t off) const { return f < file || (f == file && off < offset); }
};

}  // namespace

WordCounts count_words(const std::vector<std::string>& inputs) {
  std::vector<Input> files = open_inputs(inputs);
  std::vector<Block> blocks = cut_blocks(files);
  double total_bytes = 0;
  for (const Input& f : files) total_bytes += static_cast<double>(f.map.size());
  if (total_bytes == 0) return {};  // nothing to count, and no progress line to show for it

  const int nt = std::max(1, num_threads());
  std::vector<WordCounts> per_thread(static_cast<size_t>(nt));
  std::atomic<size_t> bytes_done{0};
  std::atomic<bool> failed{false};
  FirstError first;
  Progress progress("counting words", total_bytes, ProgressUnit::bytes);

#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num();
    WordCounts& counts = per_thread[static_cast<size_t>(t)];
    CorpusLineParser parser;
    std::string err;
#pragma omp for schedule(dynamic, 1)
    for (size_t bi = 0; bi < blocks.size(); ++bi) {
      if (failed.load(std::memory_order_relaxed)) continue;
      const Block& b = blocks[bi];
      const Input& in = files[b.file];
      const char* d = in.map.data();
      try {
        for (size_t pos = b.begin; pos < b.end;) {
          const void* nl = std::memchr(d + pos, '\n', b.end - pos);
          size_t end = nl ? static_cast<size_t>(static_cast<const char*>(nl) - d) : b.end;
          std::string_view line(d + pos, end - pos);
          const size_t line_pos = pos;
          pos = end + 1;
          if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
          if (line.empty()) continue;
          if (!in.json) {
            counts.add_text(line);
            continue;
          }
          if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
          const std::string_view text = parser.text(line, err);
          if (!err.empty()) {
#pragma omp critical(tlm_count_words_error)
            if (first.before(b.file, line_pos)) first = {b.file, line_pos, err};
            failed = true;
            break;
          }
          counts.add_text(text);
        }
      } catch (const std::exception& e) {
#pragma omp critical(tlm_count_words_error)
        if (first.before(b.file, b.begin)) first = {b.file, b.begin, e.what()};
        failed = true;
      }
      size_t done = bytes_done.fetch_add(b.end - b.begin) + (b.end - b.begin);
      if (t == 0) progress.update(static_cast<double>(done));
    }
  }
  if (failed) {
    const Input& in = files[first.file];
    const uint64_t line = 1 + static_cast<uint64_t>(std::count(in.map.data(), in.map.data() + first.offset, '\n'));
    throw user_error(strprintf("%s:%llu", in.path.c_str(), static_cast<unsigned long long>(line)), "%s",
                     first.what.c_str());
  }
  progress.update(total_bytes);
  progress.finish();

  // Merge pairwise in a tree so that many threads do not serialize on one table.
  for (size_t step = 1; step < per_thread.size(); step *= 2) {
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (size_t i = 0; i < per_thread.size(); i += 2 * step)
      if (i + step < per_thread.size()) per_thread[i].merge(std::move(per_thread[i + step]));
  }
  return std::move(per_thread[0]);
}

}  // namespace tlm
