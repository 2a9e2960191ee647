// Format detection, input expansion and dispatch (see reader.h).
#include "data/reader.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "core/check.h"
#include "core/log.h"
#include "data/csv.h"
#include "data/source.h"

namespace tlm {

void RecordBatch::append(RecordBatch&& o) {
  if (tweets.empty()) tweets = std::move(o.tweets);
  else std::move(o.tweets.begin(), o.tweets.end(), std::back_inserter(tweets));
  std::move(o.errors.begin(), o.errors.end(), std::back_inserter(errors));
}

std::string_view strip_bom(std::string_view s) {
  if (s.size() >= 3 && s.substr(0, 3) == "\xEF\xBB\xBF") s.remove_prefix(3);
  return s;
}

void split_nonblank_lines(std::string_view block, uint64_t first_line, std::vector<std::string_view>& lines,
                          std::vector<uint64_t>& numbers) {
  lines.clear();
  numbers.clear();
  uint64_t line = first_line;
  for (size_t pos = 0; pos < block.size(); ++line) {
    size_t nl = block.find('\n', pos);
    size_t end = nl == std::string_view::npos ? block.size() : nl;
    std::string_view l = block.substr(pos, end - pos);
    if (l.find_first_not_of(" \t\r") != std::string_view::npos) {
      lines.push_back(l);
      numbers.push_back(line);
    }
    pos = end + 1;
  }
}

std::string read_head(const std::string& path, size_t n) {
  auto s = open_stream(path);
  std::string head(n, '\0');
  size_t len = 0;
  while (len < n) {
    size_t r = s->read(head.data() + len, n - len);
    if (r == 0) break;
    len += r;
  }
  head.resize(len);
  return head;
}

static bool icase_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return std::tolower(x) == std::tolower(y); });
}

Format detect_format(std::string_view head, const std::string& path, const std::string& text_column) {
  if (head.find('\0') != std::string_view::npos)
    throw user_error(path, "unrecognized format: binary data (expected tweets as JSON, CSV or text)");
  std::string_view s = strip_bom(head);
  size_t i = s.find_first_not_of(" \t\r\n");
  if (i == std::string_view::npos) return Format::text;  // empty: any line reader gives 0 tweets
  s.remove_prefix(i);
  if (s.starts_with("window.YTD.")) return Format::archive;
  if (s[0] == '{' || s[0] == '[') return Format::json;
  // Fortune: a line holding only '%' in the first 64 KiB.
  std::string_view h = strip_bom(head);
  if (h.starts_with("%\n") || h.find("\n%\n") != std::string_view::npos || h.find("\n%\r\n") != std::string_view::npos)
    return Format::fortune;
  // CSV: named so, or the header line has the text column among two or more fields.
  std::string_view name = path;
  for (const char* ext : {".gz", ".zst"})
    if (name.ends_with(ext)) name.remove_suffix(std::strlen(ext));
  if (name.ends_with(".csv") || name.ends_with(".CSV")) return Format::csv;
  std::string_view first = h.substr(0, h.find('\n'));
  std::vector<std::string> fields;
  if (first.find(',') != std::string_view::npos && parse_csv_row(first, fields)) {
    for (const auto& f : fields)
      if (icase_equal(f, text_column)) return Format::csv;
  }
  return Format::text;
}

std::vector<std::string> archive_tweet_files(const std::string& dir) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  for (const char* sub : {"data", "."}) {
    fs::path d = fs::path(dir) / sub;
    std::error_code ec;
    if (!fs::is_directory(d, ec)) continue;
    for (const auto& e : fs::directory_iterator(d, ec)) {
      std::string name = e.path().filename().string();
      bool tweets = (name.starts_with("tweets") || name.starts_with("tweet.") || name.starts_with("tweet-part")) &&
                    name.ends_with(".js");
      if (tweets && e.is_regular_file()) out.push_back(e.path().string());
    }
    if (!out.empty()) break;
  }
  // tweets.js before tweets-part1.js before tweets-part2.js ...
  std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
  });
  return out;
}

static uint64_t file_size(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

std::vector<InputFile> expand_inputs(const std::vector<std::string>& inputs, const ReadOptions& opt) {
  namespace fs = std::filesystem;
  std::vector<InputFile> out;
  for (const std::string& in : inputs) {
    std::error_code ec;
    auto st = fs::status(in, ec);
    if (ec || !fs::exists(st)) throw user_error(in, "no such file or directory");
    if (fs::is_directory(st)) {
      auto parts = archive_tweet_files(in);
      if (!parts.empty() && (opt.format == Format::automatic || opt.format == Format::archive)) {
        uint64_t size = 0;
        for (const auto& p : parts) size += file_size(p);
        out.push_back({in, Format::archive, size});
        continue;
      }
      std::vector<std::string> files;
      for (const auto& e : fs::directory_iterator(in, ec))
        if (e.is_regular_file() && !e.is_symlink() && !e.path().filename().string().starts_with("."))
          files.push_back(e.path().string());
      std::sort(files.begin(), files.end());
      size_t before = out.size(), binary = 0;
      for (const auto& f : files) {
        // Binary files (images, archives next to the tweets) are skipped even when --format
        // is given: read as text they would only add garbage tweets.
        std::string head = read_head(f);
        if (head.find('\0') != std::string::npos) {
          log_debug("%s: skipped (binary file)", f.c_str());
          ++binary;
          continue;
        }
        Format fmt = opt.format == Format::automatic ? detect_format(head, f, opt.text_column) : opt.format;
        out.push_back({f, fmt, file_size(f)});
      }
      if (binary) log_info("%s: skipped %zu binary file(s)", in.c_str(), binary);
      if (out.size() == before) throw user_error(in, "directory holds no readable tweet files");
      continue;
    }
    Format fmt = opt.format;
    if (fmt == Format::automatic) fmt = detect_format(read_head(in), in, opt.text_column);
    out.push_back({in, fmt, file_size(in)});
  }
  return out;
}

void for_each_block(const std::string& path, size_t (*boundary)(std::string_view), const BlockParser& parse,
                    const BatchSink& sink) {
  BlockReader reader(open_stream(path), path, boundary);
  std::string_view block;
  for (bool first = true; reader.next(block); first = false) {
    RecordBatch batch;
    batch.bytes = block.size();
    parse(first ? strip_bom(block) : block, reader.lines_before() + 1, batch);
    batch.consumed = reader.consumed();
    sink(batch);
  }
}

void read_input(const InputFile& in, const ReadOptions& opt, const BatchSink& sink) {
  switch (in.format) {
    case Format::archive: return read_archive(in.path, sink);
    case Format::json: return read_json(in.path, sink);
    case Format::csv: return read_csv(in.path, opt.text_column, sink);
    case Format::text: return read_text_lines(in.path, sink);
    case Format::fortune: return read_fortune(in.path, sink);
    case Format::automatic: break;
  }
  TLM_CHECK(false, "format of %s was not resolved", in.path.c_str());
}

}  // namespace tlm
