// libFuzzer target: token shard validation (data/shards.h). Any bytes opened as a shard must give
// a UserError or a shard whose every accessor stays inside the file.
//
// Input layout: byte 0 picks the mode, the rest is the file.
//   bit 0  fix the checksum field up to match the payload, and
//   bit 1  fix the token count to match the file size,
// so mutations get past those checks and reach the id scan and the accessors (a random
// mutation almost never keeps an XXH3 checksum right by itself).
#include <algorithm>
#include <cstring>
#include <vector>

#include "core/hash.h"
#include "data/shards.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static tlm::fuzz::MemFile file;
  uint8_t mode = data[0];
  std::string bytes(tlm::fuzz::as_view(data + 1, size - 1));
  if (bytes.size() >= tlm::kShardHeaderSize) {
    uint32_t width;
    std::memcpy(&width, &bytes[20], 4);
    if ((mode & 2) && (width == 2 || width == 4)) {
      uint64_t count = (bytes.size() - tlm::kShardHeaderSize) / width;
      bytes.resize(tlm::kShardHeaderSize + count * width);
      std::memcpy(&bytes[24], &count, 8);
    }
    if (mode & 1) {
      uint64_t sum = tlm::hash64(bytes.data() + tlm::kShardHeaderSize, bytes.size() - tlm::kShardHeaderSize);
      std::memcpy(&bytes[40], &sum, 8);
    }
  }

  std::string mapped_error;
  tlm::fuzz::expect_only_user_errors([&] {
    try {
      tlm::ShardFile f(file.write(bytes), tlm::ShardCheck::full);
      FUZZ_CHECK(f.token_width() == 2 || f.token_width() == 4);
      FUZZ_CHECK(tlm::kShardHeaderSize + f.size() * f.token_width() == bytes.size());
      std::vector<uint32_t> all = f.to_vector();
      FUZZ_CHECK(all.size() == f.size());
      for (uint32_t id : all) FUZZ_CHECK(id < f.vocab_size());
      if (!all.empty()) {
        FUZZ_CHECK(f.token(all.size() - 1) == all.back());
        uint64_t begin = all.size() / 3, n = all.size() - begin;
        std::vector<uint32_t> part(n);
        f.copy(begin, n, part.data());
        FUZZ_CHECK(std::equal(part.begin(), part.end(), all.begin() + static_cast<std::ptrdiff_t>(begin)));
      }
    } catch (const tlm::UserError& e) {
      mapped_error = e.problem();
      throw;
    }
  });

  // Validating the same bytes in memory must agree with the mapped file, error for error.
  std::vector<uint32_t> aligned((bytes.size() + 3) / 4);
  if (!bytes.empty()) std::memcpy(aligned.data(), bytes.data(), bytes.size());
  std::string memory_error;
  tlm::fuzz::expect_only_user_errors([&] {
    try {
      tlm::ShardFile::from_bytes({reinterpret_cast<const char*>(aligned.data()), bytes.size()}, "mem",
                                 tlm::ShardCheck::full);
    } catch (const tlm::UserError& e) {
      memory_error = e.problem();
      throw;
    }
  });
  FUZZ_CHECK(mapped_error == memory_error);
  return 0;
}
