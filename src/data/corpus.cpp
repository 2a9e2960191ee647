// The corpus reader (see corpus.h).
#include "data/corpus.h"

#include <cstdio>
#include <cstring>

#include "core/check.h"
#include "core/file.h"
#include "core/utf8.h"
#include "data/reader.h"
#include "data/source.h"

namespace tlm {
namespace {

constexpr const char* kNoText = "no \"text\" string (expected {\"id\":..,\"text\":..,\"lang\":..} per line)";

bool json_name(const std::string& path) { return path.ends_with(".jsonl") || path.ends_with(".json"); }

// A field that may be a string or (ids of some exports) an integer; empty when absent or null.
bool id_field(simdjson::dom::object& obj, const char* key, std::string& out, std::string& error) {
  simdjson::dom::element e;
  if (obj[key].get(e) != simdjson::SUCCESS || e.is_null()) return true;
  if (e.is_string()) {
    out = std::string(std::string_view(e));
  } else if (e.is_int64() || e.is_uint64()) {
    out = simdjson::to_string(e);
  } else {
    error = strprintf("\"%s\" must be a string or an integer", key);
    return false;
  }
  return true;
}

bool string_field(simdjson::dom::object& obj, const char* key, std::string& out, std::string& error) {
  simdjson::dom::element e;
  if (obj[key].get(e) != simdjson::SUCCESS || e.is_null()) return true;
  if (!e.is_string()) {
    error = strprintf("\"%s\" must be a string", key);
    return false;
  }
  out = std::string(std::string_view(e));
  return true;
}

// Calls fn(line, number) for the non-blank lines of `block` (line numbers from first_line).
template <typename Fn>
void for_each_line(std::string_view block, uint64_t first_line, std::vector<std::string_view>& lines,
                   std::vector<uint64_t>& numbers, Fn fn) {
  split_nonblank_lines(block, first_line, lines, numbers);
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view l = lines[i];
    while (!l.empty() && (l.back() == '\r' || l.back() == ' ' || l.back() == '\t')) l.remove_suffix(1);
    fn(l, numbers[i]);
  }
}

std::string read_stdin() {
  std::string data;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) data.append(buf, n);
  return data;
}

}  // namespace

std::vector<CorpusFile> corpus_files(const std::string& path, const std::vector<std::string>& splits,
                                     bool require_all) {
  if (path == "-") return {{path, CorpusFormat::plain_text}};  // for_each_record sniffs stdin
  if (!path_exists(path)) throw user_error(path, "no such file or directory");
  if (!is_directory(path)) return {{path, json_name(path) ? CorpusFormat::json_lines : CorpusFormat::plain_text}};
  std::vector<CorpusFile> files;
  std::string names;
  for (const std::string& split : splits) {
    const std::string p = path_join(path, split + ".jsonl");
    names += (names.empty() ? "" : ", ") + split + ".jsonl";
    if (path_exists(p)) files.push_back({p, CorpusFormat::json_lines});
    else if (require_all)
      throw user_error(path, "not a prepared corpus folder: %s.jsonl is missing (run `tweetlm prepare` first)",
                       split.c_str());
  }
  if (files.empty())
    throw user_error(path, "not a prepared corpus folder: none of %s (run `tweetlm prepare` first)", names.c_str());
  return files;
}

bool CorpusLineParser::parse(std::string_view line, bool padded, simdjson::dom::object& obj, std::string& error) {
  error.clear();
  const char* data = line.data();
  if (!padded) {
    if (buf_.size() < line.size() + simdjson::SIMDJSON_PADDING) buf_.resize(line.size() + simdjson::SIMDJSON_PADDING);
    std::memcpy(buf_.data(), line.data(), line.size());
    std::memset(buf_.data() + line.size(), 0, simdjson::SIMDJSON_PADDING);
    data = buf_.data();
  }
  simdjson::dom::element doc;
  if (auto err = parser_.parse(data, line.size(), false).get(doc)) {
    error = std::string("invalid JSON: ") + simdjson::error_message(err);
    return false;
  }
  if (doc.get_object().get(obj) != simdjson::SUCCESS) {
    error = kNoText;
    return false;
  }
  return true;
}

std::string_view CorpusLineParser::text(std::string_view line, std::string& error, bool padded) {
  simdjson::dom::object obj;
  if (!parse(line, padded, obj, error)) return {};
  std::string_view text;
  if (obj["text"].get_string().get(text) != simdjson::SUCCESS) {
    error = kNoText;
    return {};
  }
  return text;
}

bool CorpusLineParser::record(std::string_view line, CorpusRecord& out, std::string& error) {
  out = CorpusRecord{};
  simdjson::dom::object obj;
  if (!parse(line, false, obj, error)) return false;
  std::string_view text;
  if (obj["text"].get_string().get(text) != simdjson::SUCCESS) {
    error = kNoText;
    return false;
  }
  out.text = std::string(text);
  if (!id_field(obj, "id", out.id, error)) return false;
  if (out.id.empty() && !id_field(obj, "id_str", out.id, error)) return false;
  return string_field(obj, "lang", out.lang, error) && string_field(obj, "created_at", out.created_at, error) &&
         id_field(obj, "in_reply_to", out.in_reply_to, error);
}

void for_each_record(const std::vector<CorpusFile>& files, const std::function<void(CorpusRecord&&)>& fn) {
  CorpusLineParser parser;
  std::vector<std::string_view> lines;
  std::vector<uint64_t> numbers;
  std::string error, repaired;
  for (const CorpusFile& f : files) {
    const std::string name = f.path == "-" ? "stdin" : f.path;
    bool json = f.format == CorpusFormat::json_lines;
    auto take = [&](std::string_view line, uint64_t number) {
      CorpusRecord r;
      if (!json) {
        utf8_repair(line, repaired);
        r.text = std::move(repaired);
      } else if (!parser.record(line, r, error)) {
        throw user_error(strprintf("%s:%llu", name.c_str(), static_cast<unsigned long long>(number)), "%s",
                         error.c_str());
      }
      fn(std::move(r));
    };
    if (f.path == "-") {
      const std::string all = read_stdin();
      std::string_view body = strip_bom(all);
      const size_t first = body.find_first_not_of(" \t\r\n");
      json = first != std::string_view::npos && body[first] == '{';
      for_each_line(body, 1, lines, numbers, take);
      continue;
    }
    BlockReader reader(open_stream(f.path), f.path, line_boundary);
    std::string_view block;
    for (bool first = true; reader.next(block); first = false)
      for_each_line(first ? strip_bom(block) : block, reader.lines_before() + 1, lines, numbers, take);
  }
}

}  // namespace tlm
