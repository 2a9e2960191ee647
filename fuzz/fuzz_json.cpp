// libFuzzer target: the Twitter JSON readers (API v1.1/v2 lines, whole documents and v2 pages,
// archive files) and, under them, the gzip and zstd decompressors.
//
// Input layout: byte 0 picks the mode, the rest is the file.
//   bit 0     0: read as JSON (lines or one document), 1: read as a Twitter archive file
//   bits 1-2  0 or 3: the bytes as they are (a mutated .gz/.zst seed fuzzes the decompressors
//             on corrupt streams); 1: gzip-compressed here; 2: zstd-compressed here (both fuzz
//             the JSON parsing behind a decompressor)
//   bit 3     with 1 or 2: split into two members/frames, which readers must concatenate
#include <zlib.h>
#include <zstd.h>

#include "data/reader.h"
#include "data/source.h"
#include "fuzz_common.h"

namespace {

std::string gzip(std::string_view in) {
  z_stream z{};
  if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) std::abort();
  std::string out(deflateBound(&z, static_cast<uLong>(in.size())) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) std::abort();
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string zstd(std::string_view in) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3);
  if (ZSTD_isError(n)) std::abort();
  out.resize(n);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static tlm::fuzz::MemFile file;
  uint8_t mode = data[0];
  std::string_view payload = tlm::fuzz::as_view(data + 1, size - 1);
  int compress = (mode >> 1) & 3;
  std::string bytes;
  if (compress == 1 || compress == 2) {
    auto pack = compress == 1 ? gzip : zstd;
    size_t cut = (mode & 8) ? payload.size() / 2 : payload.size();
    bytes = pack(payload.substr(0, cut));
    if (cut < payload.size()) bytes += pack(payload.substr(cut));
  } else {
    bytes = payload;
  }
  bool known_size = compress == 1 || compress == 2 || tlm::sniff_compression(bytes) == tlm::Compression::none;

  tlm::Format format = (mode & 1) ? tlm::Format::archive : tlm::Format::json;
  tlm::InputFile input{file.write(bytes), format, bytes.size()};
  tlm::ReadOptions opt;
  opt.format = format;
  uint64_t total_bytes = 0;
  tlm::fuzz::expect_only_user_errors([&] {
    tlm::read_input(input, opt, [&](tlm::RecordBatch& batch) {
      total_bytes += batch.bytes;
      for (const tlm::RawTweet& t : batch.tweets) {
        FUZZ_CHECK(t.line >= 1);
        FUZZ_CHECK(t.format < static_cast<uint8_t>(tlm::SourceFormat::count_));
        FUZZ_CHECK(format != tlm::Format::archive || t.format == static_cast<uint8_t>(tlm::SourceFormat::archive));
      }
      for (const tlm::ReadError& e : batch.errors) FUZZ_CHECK(!e.what.empty());
    });
  });
  // A reader never claims more bytes than the (decompressed) file holds.
  if (known_size) FUZZ_CHECK(total_bytes <= payload.size());
  return 0;
}
