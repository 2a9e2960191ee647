// Twitter JSON readers: API v1.1 and v2 objects one per line (v2 pages {"data": [...]} allowed
// per line), whole-file JSON values (a pretty-printed page or an array), and unpacked Twitter
// archives (window.YTD.tweets.part0 = [ {"tweet": {...}}, ... ]). All go through one field
// extractor that knows every schema, so a file mixing v1.1 and v2 objects still works.
//
// JSON lines are parsed in place with simdjson's DOM parser (the block reader guarantees the
// 64 padding bytes it needs), in parallel: each thread takes one contiguous range of lines and
// the ranges are concatenated in order, so output order never depends on the thread count.
#include <omp.h>
#include <simdjson.h>

#include <cctype>
#include <charconv>

#include "core/check.h"
#include "core/file.h"
#include "core/threads.h"
#include "data/reader.h"
#include "data/source.h"
#include "core/utf8.h"

namespace tlm {
namespace {

using simdjson::dom::element;
using simdjson::dom::object;

std::string_view get_string(object o, const char* key) {
  std::string_view v;
  if (o[key].get_string().get(v) != simdjson::SUCCESS) return {};
  return v;
}

bool has_key(object o, const char* key) {
  element e;
  return o[key].get(e) == simdjson::SUCCESS && !e.is_null();
}

std::string get_id(object o) {
  std::string_view s = get_string(o, "id_str");
  if (!s.empty()) return std::string(s);
  element e;
  if (o["id"].get(e) != simdjson::SUCCESS) return {};
  if (e.is_string()) return std::string(e.get_string().value_unsafe());
  if (e.is_uint64()) return std::to_string(e.get_uint64().value_unsafe());
  if (e.is_int64()) return std::to_string(e.get_int64().value_unsafe());
  return {};
}

// Fills `t` from one tweet object of any schema; returns an error description or nullptr.
const char* extract_tweet(object o, RawTweet& t, SourceFormat archive_or_auto) {
  object inner;
  if (o["tweet"].get_object().get(inner) == simdjson::SUCCESS) o = inner;  // archive wrapper
  bool v1 = has_key(o, "id_str") || has_key(o, "user") || has_key(o, "full_text") || has_key(o, "extended_tweet") ||
            has_key(o, "retweeted_status");
  t.format = static_cast<uint8_t>(archive_or_auto == SourceFormat::archive ? SourceFormat::archive
                                  : v1 ? SourceFormat::v1 : SourceFormat::v2);
  // The full text lives in different places: v1.1 extended mode, v1.1 compat mode with
  // extended_tweet, v2 long posts (note_tweet), then the plain field.
  std::string_view text;
  object sub;
  if (o["extended_tweet"].get_object().get(sub) == simdjson::SUCCESS) text = get_string(sub, "full_text");
  if (text.empty()) text = get_string(o, "full_text");
  if (text.empty() && o["note_tweet"].get_object().get(sub) == simdjson::SUCCESS) text = get_string(sub, "text");
  if (text.empty()) {
    element e;
    if (o["text"].get(e) != simdjson::SUCCESS && o["full_text"].get(e) != simdjson::SUCCESS) return "no text field";
    if (!e.is_string()) return "text field is not a string";
    text = e.get_string().value_unsafe();
  }
  t.text = text;
  t.id = get_id(o);
  t.lang = get_string(o, "lang");
  t.created_at = get_string(o, "created_at");
  if (o["user"].get_object().get(sub) == simdjson::SUCCESS) t.user = get_string(sub, "screen_name");
  else t.user = get_string(o, "author_id");
  t.retweet = has_key(o, "retweeted_status");
  simdjson::dom::array refs;
  if (o["referenced_tweets"].get_array().get(refs) == simdjson::SUCCESS) {
    for (element r : refs) {
      object ro;
      if (r.get_object().get(ro) == simdjson::SUCCESS && get_string(ro, "type") == "retweeted") t.retweet = true;
    }
  }
  return nullptr;
}

// One JSON value (a tweet, a page {"data": ...}, or an array of either) into `out`.
void extract_value(element v, uint64_t line, SourceFormat fmt, RecordBatch& out, uint64_t& record) {
  auto one = [&](element e) {
    ++record;
    object o;
    RawTweet t;
    t.line = line ? line : record;
    const char* err = e.get_object().get(o) != simdjson::SUCCESS ? "expected a JSON object" : extract_tweet(o, t, fmt);
    std::string where = line ? "" : "record " + std::to_string(record) + ": ";
    if (err) out.errors.push_back({line, where + err});
    else out.tweets.push_back(std::move(t));
  };
  simdjson::dom::array arr;
  object o;
  if (v.get_array().get(arr) == simdjson::SUCCESS) {
    for (element e : arr) one(e);
  } else if (v.get_object().get(o) == simdjson::SUCCESS && o["data"].get(v) == simdjson::SUCCESS) {
    if (v.get_array().get(arr) == simdjson::SUCCESS) {
      for (element e : arr) one(e);
    } else {
      one(v);  // single-tweet lookup: {"data": {...}}
    }
  } else {
    one(v);
  }
}

bool is_hex4(std::string_view s, size_t i) {
  if (i + 4 > s.size()) return false;
  for (size_t k = i; k < i + 4; ++k)
    if (!std::isxdigit(static_cast<unsigned char>(s[k]))) return false;
  return true;
}

unsigned hex4(std::string_view s, size_t i) {
  unsigned v = 0;
  std::from_chars(s.data() + i, s.data() + i + 4, v, 16);
  return v;
}

// Twitter data holds invalid text: v1.1 truncation can cut a surrogate pair in half ("\ud83d"
// alone) and scraped dumps carry stray bytes. Rather than lose such a record, a parse that
// fails on a string is retried once on a repaired copy: invalid UTF-8 becomes U+FFFD and a lone
// surrogate escape becomes \ufffd, the same policy as for every other input.
std::string repair_json_text(std::string_view in) {
  std::string valid, out;
  utf8_repair(in, valid);
  out.reserve(valid.size());
  std::string_view s = valid;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 >= s.size()) {
      out.push_back(s[i]);
      continue;
    }
    if (s[i + 1] != 'u' || !is_hex4(s, i + 2)) {  // another escape: copy both characters
      out.append(s.substr(i, 2));
      ++i;
      continue;
    }
    unsigned u = hex4(s, i + 2);
    bool high = u >= 0xD800 && u <= 0xDBFF, low = u >= 0xDC00 && u <= 0xDFFF;
    if (high && i + 12 <= s.size() && s[i + 6] == '\\' && s[i + 7] == 'u' && is_hex4(s, i + 8) &&
        hex4(s, i + 8) >= 0xDC00 && hex4(s, i + 8) <= 0xDFFF) {
      out.append(s.substr(i, 12));  // a proper pair
      i += 11;
    } else if (high || low) {
      out.append("\\ufffd");
      i += 5;
    } else {
      out.append(s.substr(i, 6));
      i += 5;
    }
  }
  return out;
}

bool repairable(simdjson::error_code e) { return e == simdjson::UTF8_ERROR || e == simdjson::STRING_ERROR; }

void read_json_lines(const std::string& path, const BatchSink& sink) {
  BlockReader reader(open_stream(path), path, line_boundary);
  std::string_view block;
  std::vector<std::string_view> lines;
  std::vector<uint64_t> numbers;
  bool first = true;
  while (reader.next(block)) {
    if (first) block = strip_bom(block);
    first = false;
    split_nonblank_lines(block, reader.lines_before() + 1, lines, numbers);
    int nt = lines.size() >= 512 ? num_threads() : 1;
    std::vector<RecordBatch> parts(nt);
#pragma omp parallel num_threads(nt)
    {
      static thread_local simdjson::dom::parser parser;
      int tid = omp_get_thread_num();
      size_t lo = lines.size() * tid / nt, hi = lines.size() * (tid + 1) / nt;
      RecordBatch& out = parts[tid];
      out.tweets.reserve(hi - lo);
      for (size_t i = lo; i < hi; ++i) {
        element doc;
        // In place: the block reader leaves >= 64 readable bytes after every line.
        auto err = parser.parse(lines[i].data(), lines[i].size(), false).get(doc);
        simdjson::padded_string repaired;
        if (repairable(err)) {
          repaired = simdjson::padded_string(repair_json_text(lines[i]));
          err = parser.parse(repaired).get(doc);
        }
        if (err) {
          out.errors.push_back({numbers[i], std::string("invalid JSON: ") + simdjson::error_message(err)});
          continue;
        }
        uint64_t record = 0;
        extract_value(doc, numbers[i], SourceFormat::count_, out, record);
      }
    }
    RecordBatch batch;
    for (auto& p : parts) batch.append(std::move(p));
    batch.bytes = block.size();
    batch.consumed = reader.consumed();
    sink(batch);
  }
}

// A whole file that is one JSON value. Archives start with a JavaScript assignment. Returns
// false with `error` set when the file is not one valid JSON value.
bool parse_json_document(const std::string& path, SourceFormat fmt, RecordBatch& batch, std::string& error) {
  std::string text = read_all(path, simdjson::SIMDJSON_PADDING);
  std::string_view body = strip_bom(text);
  if (fmt == SourceFormat::archive) {
    size_t eq = body.find('=');
    if (!body.starts_with("window.YTD.") || eq == std::string_view::npos)
      throw user_error(path, "not a Twitter archive file (expected 'window.YTD.tweets.part0 = [...]')");
    body.remove_prefix(eq + 1);
  }
  simdjson::dom::parser parser;
  element doc;
  // `text` keeps SIMDJSON_PADDING zeroed bytes of capacity after its end (read_all).
  auto err = parser.parse(body.data(), body.size(), false).get(doc);
  simdjson::padded_string repaired;
  if (repairable(err)) {
    repaired = simdjson::padded_string(repair_json_text(body));
    err = parser.parse(repaired).get(doc);
  }
  if (err) {
    error = std::string("invalid JSON: ") + simdjson::error_message(err);
    return false;
  }
  uint64_t record = 0;
  extract_value(doc, 0, fmt, batch, record);
  batch.bytes = text.size();
  batch.consumed = text.size();
  return true;
}

void read_json_document(const std::string& path, SourceFormat fmt, const BatchSink& sink) {
  RecordBatch batch;
  std::string error;
  if (!parse_json_document(path, fmt, batch, error)) throw UserError(path, error);
  sink(batch);
}

}  // namespace

void read_json(const std::string& path, const BatchSink& sink) {
  // One object per line, unless the file is a top-level array or its first line is not a
  // complete JSON value by itself (a pretty-printed page). A file that fails as one document
  // is read as lines after all, so a JSONL file with a broken first line loses one record only.
  std::string head = read_head(path, 1 << 20);
  std::string_view h = strip_bom(head);
  size_t i = h.find_first_not_of(" \t\r\n");
  if (i == std::string_view::npos) return;
  if (h[i] == '[') return read_json_document(path, SourceFormat::count_, sink);
  size_t nl = h.find('\n', i);
  std::string_view first = h.substr(i, nl == std::string_view::npos ? h.size() - i : nl - i);
  simdjson::dom::parser parser;
  element e;
  simdjson::padded_string p(first);
  if (nl != std::string_view::npos && parser.parse(p).get(e) != simdjson::SUCCESS) {
    RecordBatch batch;
    std::string error;
    if (parse_json_document(path, SourceFormat::count_, batch, error)) return sink(batch);
  }
  read_json_lines(path, sink);
}

void read_archive(const std::string& path, const BatchSink& sink) {
  std::vector<std::string> files;
  if (is_directory(path)) {
    files = archive_tweet_files(path);
    if (files.empty()) throw user_error(path, "not a Twitter archive (no data/tweets.js)");
  } else {
    files.push_back(path);
  }
  for (const auto& f : files) read_json_document(f, SourceFormat::archive, sink);
}

}  // namespace tlm
