// The prepare report: report.json for tools, and the human summary printed at the end.
#include <algorithm>
#include <vector>

#include "core/check.h"
#include "core/progress.h"
#include "data/prepare.h"

namespace tlm {

nlohmann::json PrepareReport::to_json() const {
  using nlohmann::json;
  json j;
  j["records"] = records;
  json by_format = json::object();
  for (int f = 0; f < static_cast<int>(SourceFormat::count_); ++f)
    if (read_by_format[f]) by_format[source_format_name(SourceFormat(f))] = read_by_format[f];
  j["read_by_format"] = by_format;
  j["malformed"] = malformed;
  j["malformed_examples"] = malformed_examples;
  j["dropped"] = {{"malformed", malformed},     {"retweet", retweets},           {"language", wrong_lang},
                  {"date", out_of_range},       {"undated", undated},
                  {"empty", empty},             {"too_short", too_short},       {"duplicate", duplicates},
                  {"near_duplicate", near_duplicates}};
  j["repaired_utf8"] = repaired_utf8;
  j["kept"] = kept;
  j["split"] = {{"train", split_counts[0]}, {"val", split_counts[1]}, {"test", split_counts[2]}};
  j["bytes_in"] = bytes_in;
  j["bytes_out"] = bytes_out;
  j["seconds"] = seconds;
  j["threads"] = threads;
  j["mb_per_s"] = seconds > 0 ? double(bytes_in) / 1e6 / seconds : 0.0;
  j["languages"] = languages;
  json hist = json::array();
  for (size_t b = 0; b < length_hist.size(); ++b) {
    bool last = b + 1 == length_hist.size();
    hist.push_back({{"min_chars", b * kLengthBucket},
                    {"max_chars", last ? json(nullptr) : json((b + 1) * kLengthBucket - 1)},
                    {"count", length_hist[b]}});
  }
  j["length_histogram"] = hist;
  if (near_dup_params.bands > 0)
    j["near_dup"] = {{"threshold", near_dup_params.threshold}, {"bands", near_dup_params.bands},
                     {"rows", near_dup_params.rows}};
  j["dedup_memory_bytes"] = dedup_memory_bytes;
  json fl = json::array();
  for (const auto& f : files)
    fl.push_back({{"path", f.path}, {"format", f.format}, {"tweets", f.tweets}, {"malformed", f.malformed},
                  {"bytes", f.bytes}});
  j["files"] = fl;
  j["outputs"] = outputs;
  return j;
}

static std::string pct(uint64_t part, uint64_t whole) {
  return whole ? strprintf("%5.1f%%", 100.0 * double(part) / double(whole)) : std::string("    -");
}

std::string PrepareReport::summary() const {
  std::string s;
  s += strprintf("read      %12llu records from %zu file(s), %s in %.1fs (%s/s, %d threads)\n",
                 (unsigned long long)records, files.size(), format_quantity(double(bytes_in), ProgressUnit::bytes).c_str(),
                 seconds, format_quantity(seconds > 0 ? double(bytes_in) / seconds : 0, ProgressUnit::bytes).c_str(),
                 threads);
  for (int f = 0; f < static_cast<int>(SourceFormat::count_); ++f)
    if (read_by_format[f])
      s += strprintf("  %-12s%12llu\n", source_format_name(SourceFormat(f)), (unsigned long long)read_by_format[f]);
  s += "dropped\n";
  auto row = [&](const char* name, uint64_t n, const char* why) {
    s += strprintf("  %-12s%12llu %s  %s\n", name, (unsigned long long)n, pct(n, records).c_str(), why);
  };
  row("malformed", malformed, "unparseable record (see warnings / report.json)");
  row("retweet", retweets, "RT @... or retweet metadata (--keep-retweets keeps them)");
  row("language", wrong_lang, "not in --lang");
  if (out_of_range || undated) {
    row("date", out_of_range, "created_at outside --since/--until");
    row("undated", undated, "no readable created_at (with --since/--until)");
  }
  row("empty", empty, "nothing left after normalization");
  row("too_short", too_short, "fewer code points than --min-chars");
  row("duplicate", duplicates, "same normalized text as an earlier tweet");
  if (near_dup_params.bands > 0) row("near_dup", near_duplicates, "MinHash/LSH near-duplicate (--near-dup)");
  s += strprintf("kept      %12llu %s  (train %llu, val %llu, test %llu)\n", (unsigned long long)kept,
                 pct(kept, records).c_str(), (unsigned long long)split_counts[0], (unsigned long long)split_counts[1],
                 (unsigned long long)split_counts[2]);
  if (repaired_utf8) s += strprintf("  %llu kept tweets had invalid UTF-8 replaced by U+FFFD\n", (unsigned long long)repaired_utf8);
  // Top languages.
  std::vector<std::pair<std::string, uint64_t>> langs(languages.begin(), languages.end());
  std::sort(langs.begin(), langs.end(), [](auto& a, auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
  s += "languages ";
  for (size_t i = 0; i < langs.size() && i < 8; ++i)
    s += strprintf("%s%s %s", i ? ", " : "", langs[i].first.c_str(), pct(langs[i].second, kept).c_str());
  if (langs.size() > 8) s += strprintf(", ... (%zu in all)", langs.size());
  s += "\nlength    (code points)\n";
  uint64_t top = length_hist.empty() ? 0 : *std::max_element(length_hist.begin(), length_hist.end());
  for (size_t b = 0; b < length_hist.size(); ++b) {
    if (!length_hist[b] && b + 1 < length_hist.size()) continue;
    std::string label = b + 1 == length_hist.size() ? strprintf("%zu+", b * kLengthBucket)
                                                     : strprintf("%zu-%zu", b * kLengthBucket, (b + 1) * kLengthBucket - 1);
    int bar = top ? int(40.0 * double(length_hist[b]) / double(top) + 0.5) : 0;
    s += strprintf("  %-9s%10llu %s\n", label.c_str(), (unsigned long long)length_hist[b], std::string(bar, '#').c_str());
  }
  for (const auto& o : outputs) s += "wrote     " + o + "\n";
  return s;
}

}  // namespace tlm
