// libFuzzer target: the CSV parser, the CSV record boundary used to cut blocks, and the CSV
// tweet reader.
//
// Input layout: byte 0 picks the text column name (text, tweet, Text, content), the rest is
// the file. Invariants beyond "no crash": parsing always advances and stays in the buffer, and
// the block boundary is a record end of the sequential parse (else a block cut there would
// split one record into two broken ones).
#include <algorithm>
#include <string>
#include <vector>

#include "data/csv.h"
#include "data/reader.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static tlm::fuzz::MemFile file;
  static const char* const kColumns[] = {"text", "tweet", "Text", "content"};
  std::string column = kColumns[data[0] & 3];
  std::string_view buf = tlm::fuzz::as_view(data + 1, size - 1);

  // Sequential parse of the whole buffer: every record end, in order.
  std::vector<std::string> fields;
  std::vector<size_t> ends;
  for (size_t pos = 0; pos < buf.size();) {
    bool complete = true;
    size_t next = tlm::parse_csv_record(buf, pos, fields, complete);
    FUZZ_CHECK(next > pos && next <= buf.size());
    FUZZ_CHECK(!fields.empty());
    pos = next;
    ends.push_back(pos);
  }
  size_t cut = tlm::csv_boundary(buf);
  FUZZ_CHECK(cut <= buf.size());
  FUZZ_CHECK(cut == 0 || buf[cut - 1] == '\n');
  FUZZ_CHECK(cut == 0 || std::find(ends.begin(), ends.end(), cut) != ends.end());

  size_t nl = buf.find('\n');
  tlm::parse_csv_row(buf.substr(0, nl == std::string_view::npos ? buf.size() : nl), fields);

  tlm::InputFile input{file.write(buf), tlm::Format::csv, buf.size()};
  tlm::ReadOptions opt;
  opt.format = tlm::Format::csv;
  opt.text_column = column;
  tlm::fuzz::expect_only_user_errors([&] {
    tlm::read_input(input, opt, [&](tlm::RecordBatch& batch) {
      for (const tlm::RawTweet& t : batch.tweets) {
        FUZZ_CHECK(t.line >= 1);
        FUZZ_CHECK(t.format == static_cast<uint8_t>(tlm::SourceFormat::csv));
      }
      for (const tlm::ReadError& e : batch.errors) FUZZ_CHECK(e.line >= 1 && !e.what.empty());
    });
  });
  return 0;
}
