// CSV parsing and the CSV tweet reader (see csv.h, reader.h).
#include "data/csv.h"

#include <algorithm>
#include <cctype>

#include "core/check.h"
#include "core/text.h"
#include "data/reader.h"
#include "data/source.h"

namespace tlm {

size_t parse_csv_record(std::string_view buf, size_t pos, std::vector<std::string>& fields, bool& complete) {
  fields.clear();
  complete = true;
  size_t n = buf.size(), i = pos;
  std::string field;
  for (;;) {
    field.clear();
    if (i < n && buf[i] == '"') {
      ++i;
      for (;;) {
        size_t q = buf.find('"', i);
        if (q == std::string_view::npos) {
          field.append(buf.substr(i));
          complete = false;
          fields.push_back(field);
          return n;
        }
        field.append(buf.substr(i, q - i));
        if (q + 1 < n && buf[q + 1] == '"') {
          field.push_back('"');
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
    }
    // Unquoted field, or the tail after a closing quote.
    size_t j = i;
    while (j < n && buf[j] != ',' && buf[j] != '\n') ++j;
    std::string_view tail = buf.substr(i, j - i);
    if (j >= n || buf[j] == '\n') {
      if (!tail.empty() && tail.back() == '\r') tail.remove_suffix(1);
    }
    field.append(tail);
    fields.push_back(field);
    if (j >= n) return n;
    if (buf[j] == '\n') return j + 1;
    i = j + 1;  // a comma: next field
  }
}

bool parse_csv_row(std::string_view line, std::vector<std::string>& fields) {
  bool complete;
  parse_csv_record(line, 0, fields, complete);
  return complete;
}

size_t csv_boundary(std::string_view buf) {
  // Blocks start at a record boundary, so scanning from the block start is exact. The quote
  // rules mirror parse_csv_record: a quote opens a quoted field only at the start of a field
  // ("" inside is an escaped quote); anywhere else it is literal text. Plain quote parity
  // would disagree on a stray quote (`1,6'2" tall`) and cut blocks inside later records.
  bool quoted = false, field_start = true;
  size_t last = 0, n = buf.size();
  for (size_t i = 0; i < n; ++i) {
    char c = buf[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < n && buf[i + 1] == '"') ++i;
        else quoted = false;
      }
      continue;
    }
    if (c == '"' && field_start) {
      quoted = true;
      field_start = false;
      continue;
    }
    field_start = c == ',' || c == '\n';
    if (c == '\n') last = i + 1;
  }
  return last;
}

namespace {

int find_column(const std::vector<std::string>& header, std::initializer_list<const char*> names) {
  for (const char* name : names)
    for (size_t i = 0; i < header.size(); ++i) {
      const std::string& h = header[i];
      if (std::equal(h.begin(), h.end(), name, name + std::char_traits<char>::length(name),
                     [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; }))
        return static_cast<int>(i);
    }
  return -1;
}

}  // namespace

void read_csv(const std::string& path, const std::string& text_column, const BatchSink& sink) {
  std::vector<std::string> fields;
  int text_col = -1, id_col = -1, lang_col = -1, date_col = -1, user_col = -1;
  size_t header_fields = 0;
  for_each_block(path, csv_boundary, [&](std::string_view block, uint64_t line, RecordBatch& batch) {
    size_t pos = 0;
    if (text_col < 0) {  // the first block starts with the header
      bool complete;
      pos = parse_csv_record(block, 0, fields, complete);
      line += static_cast<uint64_t>(std::count(block.begin(), block.begin() + pos, '\n'));
      text_col = find_column(fields, {ascii_lower(text_column).c_str()});
      if (text_col < 0) {
        std::string cols;
        for (const auto& f : fields) cols += (cols.empty() ? "" : ", ") + f;
        throw user_error(path, "no column named '%s' in the CSV header (columns: %s); use --text-column",
                         text_column.c_str(), cols.c_str());
      }
      id_col = find_column(fields, {"id_str", "id", "tweet_id"});
      lang_col = find_column(fields, {"lang", "language"});
      date_col = find_column(fields, {"created_at", "date", "timestamp"});
      user_col = find_column(fields, {"screen_name", "username", "user", "author_id"});
      header_fields = fields.size();
    }
    while (pos < block.size()) {
      bool complete;
      size_t next = parse_csv_record(block, pos, fields, complete);
      uint64_t rec_line = line;
      line += static_cast<uint64_t>(std::count(block.begin() + pos, block.begin() + next, '\n'));
      pos = next;
      if (fields.size() == 1 && fields[0].empty() && complete) continue;  // blank line
      if (!complete) {
        batch.errors.push_back({rec_line, "unterminated quoted field (truncated file?)"});
        continue;
      }
      if (static_cast<int>(fields.size()) <= text_col) {
        batch.errors.push_back({rec_line, "row has " + std::to_string(fields.size()) + " fields, header has " +
                                              std::to_string(header_fields)});
        continue;
      }
      auto get = [&](int col) { return col >= 0 && col < static_cast<int>(fields.size()) ? fields[col] : std::string(); };
      RawTweet t;
      t.text = std::move(fields[text_col]);
      t.id = get(id_col);
      t.lang = get(lang_col);
      t.created_at = get(date_col);
      t.user = get(user_col);
      t.line = rec_line;
      t.format = static_cast<uint8_t>(SourceFormat::csv);
      batch.tweets.push_back(std::move(t));
    }
  }, sink);
}

}  // namespace tlm
