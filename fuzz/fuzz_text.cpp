// libFuzzer target: the plain-text readers, one tweet per line and the fortune(6) format, and
// the fortune record boundary.
//
// Input layout: byte 0 bit 0 picks the reader (0: text lines, 1: fortune), the rest is the
// file. For text lines the answer is known exactly: one tweet per line, numbered 1..N, none
// holding a line break.
#include <algorithm>
#include <string>

#include "data/reader.h"
#include "data/source.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static tlm::fuzz::MemFile file;
  bool fortune = data[0] & 1;
  std::string_view buf = tlm::fuzz::as_view(data + 1, size - 1);

  size_t cut = tlm::fortune_boundary(buf);
  FUZZ_CHECK(cut <= buf.size());
  FUZZ_CHECK(cut == 0 || buf[cut - 1] == '\n');
  cut = tlm::line_boundary(buf);
  FUZZ_CHECK(cut == 0 || buf[cut - 1] == '\n');

  tlm::Format format = fortune ? tlm::Format::fortune : tlm::Format::text;
  tlm::InputFile input{file.write(buf), format, buf.size()};
  tlm::ReadOptions opt;
  opt.format = format;
  uint64_t tweets = 0, last_line = 0;
  tlm::fuzz::expect_only_user_errors([&] {
    tlm::read_input(input, opt, [&](tlm::RecordBatch& batch) {
      for (const tlm::RawTweet& t : batch.tweets) {
        FUZZ_CHECK(t.line > last_line);
        last_line = t.line;
        ++tweets;
        if (fortune) {
          FUZZ_CHECK(!t.text.empty());
          FUZZ_CHECK(t.text != "%" && !t.text.starts_with("%\n") && t.text.find("\n%\n") == std::string::npos &&
                     !t.text.ends_with("\n%"));
        } else {
          FUZZ_CHECK(t.line == tweets);
          FUZZ_CHECK(t.text.find('\n') == std::string::npos);
        }
      }
    });
  });
  if (!fortune && tlm::sniff_compression(buf) == tlm::Compression::none) {
    std::string_view body = tlm::strip_bom(buf);
    uint64_t lines = static_cast<uint64_t>(std::count(body.begin(), body.end(), '\n'));
    if (!body.empty() && body.back() != '\n') ++lines;
    FUZZ_CHECK(tweets == lines);
  }
  return 0;
}
