// Format names (see tweet.h).
#include "data/tweet.h"

#include "core/check.h"

namespace tlm {

const char* format_name(Format f) {
  switch (f) {
    case Format::automatic: return "auto";
    case Format::archive: return "archive";
    case Format::json: return "json";
    case Format::csv: return "csv";
    case Format::text: return "text";
    case Format::fortune: return "fortune";
  }
  return "?";
}

const char* source_format_name(SourceFormat f) {
  switch (f) {
    case SourceFormat::archive: return "archive";
    case SourceFormat::v1: return "api_v1.1";
    case SourceFormat::v2: return "api_v2";
    case SourceFormat::csv: return "csv";
    case SourceFormat::text: return "text";
    case SourceFormat::fortune: return "fortune";
    case SourceFormat::count_: break;
  }
  return "?";
}

Format parse_format(const std::string& name) {
  if (name == "auto") return Format::automatic;
  if (name == "archive") return Format::archive;
  if (name == "json" || name == "v1" || name == "v1.1" || name == "v2" || name == "jsonl") return Format::json;
  if (name == "csv") return Format::csv;
  if (name == "text" || name == "txt") return Format::text;
  if (name == "fortune") return Format::fortune;
  throw user_error("--format", "unknown format '%s' (expected auto, archive, json, v1, v2, csv, text or fortune)",
                   name.c_str());
}

}  // namespace tlm
