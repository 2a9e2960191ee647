// libFuzzer target: model.safetensors.index.json parsing (io/safetensors_index.h). Any bytes
// must give a UserError or an index whose weight map is non-empty, whose every shard name is a
// plain *.safetensors file name (no '/', '\', NUL or ".."), and whose file list is exactly the
// distinct shard names, sorted. Parsing the same bytes twice gives the same result.
//
// Input: the index's bytes as they are (seeds: fuzz/corpus/fuzz_hf_index).
#include <set>

#include "fuzz_common.h"
#include "io/safetensors_index.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = tlm::fuzz::as_view(data, size);
  tlm::fuzz::expect_only_user_errors([&] {
    const tlm::SafetensorsIndex idx = tlm::parse_safetensors_index(text, "fuzz");
    FUZZ_CHECK(!idx.weight_map.empty());
    std::set<std::string> files;
    for (const auto& [name, file] : idx.weight_map) {
      FUZZ_CHECK(tlm::is_plain_shard_name(file));
      FUZZ_CHECK(file.find('/') == std::string::npos && file.find('\\') == std::string::npos);
      FUZZ_CHECK(file.find('\0') == std::string::npos && file.find("..") == std::string::npos);
      files.insert(file);
    }
    FUZZ_CHECK(std::vector<std::string>(files.begin(), files.end()) == idx.files);
    const tlm::SafetensorsIndex again = tlm::parse_safetensors_index(text, "fuzz");
    FUZZ_CHECK(again.weight_map == idx.weight_map && again.total_size == idx.total_size);
  });
  return 0;
}
