// Plain-text readers: one tweet per line, and the fortune(6) format (entries separated by a
// line holding only "%"), which the quick start uses as a tweet-like default corpus.
#include "data/reader.h"
#include "data/source.h"

namespace tlm {

static std::string_view chomp_cr(std::string_view s) {
  if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
  return s;
}

// Calls fn(line, line_number) for each line of a block (without its CR LF / LF).
template <typename Fn>
static void for_each_line(std::string_view block, uint64_t line, Fn&& fn) {
  for (size_t pos = 0; pos < block.size(); ++line) {
    size_t nl = block.find('\n', pos);
    size_t end = nl == std::string_view::npos ? block.size() : nl;
    fn(chomp_cr(block.substr(pos, end - pos)), line);
    pos = end + 1;
  }
}

void read_text_lines(const std::string& path, const BatchSink& sink) {
  for_each_block(path, line_boundary, [](std::string_view block, uint64_t first_line, RecordBatch& batch) {
    for_each_line(block, first_line, [&](std::string_view l, uint64_t line) {
      RawTweet t;
      t.text = l;
      t.line = line;
      t.format = static_cast<uint8_t>(SourceFormat::text);
      batch.tweets.push_back(std::move(t));
    });
  }, sink);
}

size_t fortune_boundary(std::string_view buf) {
  // After the last separator line ("%" alone, LF or CRLF).
  size_t p = buf.size();
  while (p > 0) {
    size_t pct = buf.rfind('%', p - 1);
    if (pct == std::string_view::npos) return 0;
    bool line_start = pct == 0 || buf[pct - 1] == '\n';
    size_t after = pct + 1;
    if (after < buf.size() && buf[after] == '\r') ++after;
    if (line_start && after < buf.size() && buf[after] == '\n') return after + 1;
    p = pct;
  }
  return 0;
}

void read_fortune(const std::string& path, const BatchSink& sink) {
  for_each_block(path, fortune_boundary, [](std::string_view block, uint64_t first_line, RecordBatch& batch) {
    std::string entry;
    uint64_t entry_line = first_line;
    auto flush = [&]() {
      if (!entry.empty()) {
        RawTweet t;
        t.text = std::move(entry);
        t.line = entry_line;
        t.format = static_cast<uint8_t>(SourceFormat::fortune);
        batch.tweets.push_back(std::move(t));
      }
      entry.clear();
    };
    for_each_line(block, first_line, [&](std::string_view l, uint64_t line) {
      if (l == "%") {
        flush();
        entry_line = line + 1;
      } else {
        if (!entry.empty()) entry.push_back('\n');
        entry.append(l);
      }
    });
    flush();
  }, sink);
}

}  // namespace tlm
