// The record every input format is turned into, and the names of the input formats.
#pragma once

#include <cstdint>
#include <string>

namespace tlm {

// One tweet as read from a source, before normalization. Fields other than `text` are empty
// when the source does not have them.
struct RawTweet {
  std::string text;
  std::string id;
  std::string lang;
  std::string created_at;
  std::string user;
  bool retweet = false;  // known from the source's metadata (retweeted_status, referenced_tweets)
  uint64_t line = 0;     // 1-based line (or record number for whole-document JSON) in the source
  uint8_t format = 0;    // a SourceFormat, as detected per record (v1.1 and v2 can mix in one file)
};

// Input container formats. `json` covers API v1.1 and v2 objects (one per line, v2 pages, or a
// whole-file JSON value); each record is then labelled v1 or v2 from its own fields.
enum class Format : uint8_t { automatic, archive, json, csv, text, fortune };

// Per-record schema, used for the report's "read per format" counts.
enum class SourceFormat : uint8_t { archive, v1, v2, csv, text, fortune, count_ };

const char* format_name(Format f);
const char* source_format_name(SourceFormat f);
// Parses a --format value (auto, archive, json, v1, v2, csv, text, fortune); throws UserError.
Format parse_format(const std::string& name);

}  // namespace tlm
