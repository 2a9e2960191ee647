// The one reader of tweets after `prepare`: every command that takes a corpus (tokenizer
// training, `tokenize`, `index`, `ads`, `eval ppl --text`) resolves its input and parses its
// lines here, so that they accept the same inputs and name a bad line the same way
// ("PATH:LINE: problem").
//
// A corpus path is one of
//  - a prepared folder: its train.jsonl, val.jsonl and test.jsonl (the caller says which splits),
//  - a JSON-lines file (name ending .jsonl or .json; stdin "-" when its first non-blank byte is
//    '{'): one object per line with a "text" string and optionally "id" (or "id_str"; string or
//    number), "lang", "created_at" and "in_reply_to" (strings),
//  - any other file (or stdin): plain text, one tweet per line, invalid UTF-8 repaired.
// Empty lines are skipped everywhere (records: lines of only spaces and tabs too); a UTF-8 byte
// order mark and "\r\n" line ends are accepted.
// The bulk readers (word counts, tokenization) run this parser per thread over their own blocks;
// the rest stream records with for_each_record().
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace tlm {

// One prepared tweet. Fields the line does not have are empty.
struct CorpusRecord {
  std::string id;
  std::string text;
  std::string lang;
  std::string created_at;
  std::string in_reply_to = {};  // the id of the tweet this one answers (reply threads)
};

enum class CorpusFormat { json_lines, plain_text };

struct CorpusFile {
  std::string path;  // "-" is stdin
  CorpusFormat format;
};

inline const std::vector<std::string>& all_splits() {
  static const std::vector<std::string> s = {"train", "val", "test"};
  return s;
}

// The files `path` stands for. A prepared folder gives <split>.jsonl for each of `splits` that
// exists; with `require_all`, a missing one is a UserError, otherwise only a folder with none of
// them is. A missing path is a UserError naming it.
std::vector<CorpusFile> corpus_files(const std::string& path, const std::vector<std::string>& splits = all_splits(),
                                     bool require_all = false);

// Parses lines of a JSON-lines corpus. One per thread (it owns a simdjson parser and a buffer).
class CorpusLineParser {
 public:
  // The "text" of `line` (a view into the parser, valid until its next call), or an empty view
  // with `error` set to the problem ("invalid JSON: ...", "no \"text\" string ..."). `padded`:
  // the caller guarantees simdjson::SIMDJSON_PADDING readable bytes after the line (no copy).
  std::string_view text(std::string_view line, std::string& error, bool padded = false);
  // Every field of `line`; false with `error` set as above.
  bool record(std::string_view line, CorpusRecord& out, std::string& error);

 private:
  bool parse(std::string_view line, bool padded, simdjson::dom::object& obj, std::string& error);
  simdjson::dom::parser parser_;
  std::vector<char> buf_;
};

// Calls fn(record) for every non-blank line of every file, in order. A bad line is a UserError
// "PATH:LINE: problem". Plain-text records carry only their text.
void for_each_record(const std::vector<CorpusFile>& files, const std::function<void(CorpusRecord&&)>& fn);

}  // namespace tlm
