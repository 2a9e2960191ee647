// libFuzzer target: safetensors validation (io/safetensors.h). Any bytes must give a UserError
// or a file whose every tensor lies inside the bytes, inside the data section, without overlap,
// with a byte count that agrees with dtype x shape, and which read_f32 reads (float dtypes) or
// refuses with a UserError (integer dtypes). Validating the bytes in memory and through a
// memory-mapped file must agree.
//
// Input layout: byte 0 picks the mode, the rest is the file.
//   bit 0  0: the bytes as they are. 1: "JSON header, a NUL, the data": the 8-byte header length
//          is computed here, so mutations of the JSON text reach the entry checks instead of
//          almost always breaking the length field first.
#include <algorithm>
#include <cstring>
#include <vector>

#include "fuzz_common.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static tlm::fuzz::MemFile file;
  uint8_t mode = data[0];
  std::string_view payload = tlm::fuzz::as_view(data + 1, size - 1);
  std::string bytes;
  if (mode & 1) {
    size_t nul = payload.find('\0');
    std::string_view header = payload.substr(0, nul);
    std::string_view rest = nul == std::string_view::npos ? std::string_view() : payload.substr(nul + 1);
    uint64_t n = header.size();
    bytes.assign(reinterpret_cast<const char*>(&n), 8);
    bytes.append(header);
    bytes.append(rest);
  } else {
    bytes.assign(payload);
  }

  std::string mem_error, map_error;
  std::vector<tlm::TensorIn> mem_tensors;
  tlm::fuzz::expect_only_user_errors([&] {
    try {
      tlm::SafetensorsFile f = tlm::SafetensorsFile::from_bytes(bytes, "fuzz");
      uint64_t header_len;
      std::memcpy(&header_len, bytes.data(), 8);
      size_t data_start = 8 + header_len, prev_end = data_start;
      for (const tlm::TensorIn& t : f.tensors()) {
        size_t n = tlm::dtype_size(t.dtype);
        for (size_t d : t.shape) n *= d;  // validated: cannot overflow
        FUZZ_CHECK(t.bytes == n);
        FUZZ_CHECK(t.offset >= data_start && t.offset <= bytes.size() && t.bytes <= bytes.size() - t.offset);
        if (t.bytes) {
          FUZZ_CHECK(t.offset >= prev_end);  // listed in file order, no overlap
          prev_end = t.offset + t.bytes;
        }
        FUZZ_CHECK(f.find(t.name) == &t);  // names are unique
        std::span<const std::byte> span = f.data(t);
        FUZZ_CHECK(span.size() == t.bytes);
        FUZZ_CHECK(t.bytes == 0 || reinterpret_cast<const char*>(span.data()) == bytes.data() + t.offset);
        bool is_float = t.dtype == tlm::DType::F32 || t.dtype == tlm::DType::F16 || t.dtype == tlm::DType::BF16;
        std::vector<float> out(n / tlm::dtype_size(t.dtype));
        try {
          f.read_f32(t.name, t.shape, out.data());
          FUZZ_CHECK(is_float);
        } catch (const tlm::UserError&) {
          FUZZ_CHECK(!is_float);
        }
      }
      mem_tensors = f.tensors();
    } catch (const tlm::UserError& e) {
      mem_error = e.problem();
      throw;
    }
  });

  tlm::fuzz::expect_only_user_errors([&] {
    try {
      tlm::SafetensorsFile f(file.write(bytes));
      FUZZ_CHECK(mem_error.empty());
      FUZZ_CHECK(f.tensors().size() == mem_tensors.size());
      for (size_t i = 0; i < mem_tensors.size(); ++i) {
        FUZZ_CHECK(f.tensors()[i].name == mem_tensors[i].name);
        FUZZ_CHECK(f.tensors()[i].offset == mem_tensors[i].offset);
      }
    } catch (const tlm::UserError& e) {
      map_error = e.problem();
      throw;
    }
  });
  FUZZ_CHECK(mem_error == map_error);
  return 0;
}
