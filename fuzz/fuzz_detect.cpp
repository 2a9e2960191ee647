// libFuzzer target: input format detection, and compression sniffing and the head read that
// feed it.
//
// Input layout: byte 0 picks the file name the detector sees (its extension is a hint: .csv,
// .csv.gz, .jsonl, .txt) and the text column name, the rest is the head of the file. The
// answer must be a concrete format, or a UserError exactly when the head holds a NUL byte.
#include <string>

#include "data/reader.h"
#include "data/source.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static tlm::fuzz::MemFile file;
  static const char* const kNames[] = {"tweets.jsonl", "tweets.csv", "tweets.csv.gz", "tweets.txt"};
  static const char* const kColumns[] = {"text", "tweet", "Text", "content"};
  std::string name = kNames[data[0] & 3], column = kColumns[(data[0] >> 2) & 3];
  std::string_view head = tlm::fuzz::as_view(data + 1, size - 1);

  bool threw = false;
  tlm::Format f = tlm::Format::automatic;
  try {
    f = tlm::detect_format(head, name, column);
  } catch (const tlm::UserError&) {
    threw = true;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz: unexpected exception (not a UserError): %s\n", e.what());
    std::abort();
  }
  FUZZ_CHECK(threw == (head.find('\0') != std::string_view::npos));
  if (!threw) FUZZ_CHECK(f != tlm::Format::automatic && static_cast<int>(f) <= static_cast<int>(tlm::Format::fortune));

  tlm::sniff_compression(head);
  // The same bytes as a file: read_head decompresses what it recognises.
  const std::string& path = file.write(head);
  tlm::fuzz::expect_only_user_errors([&] {
    std::string h = tlm::read_head(path, 1 << 12);
    FUZZ_CHECK(h.size() <= (1u << 12));
    if (tlm::sniff_compression(head) == tlm::Compression::none) FUZZ_CHECK(head.substr(0, h.size()) == h);
  });
  return 0;
}
