// libFuzzer target: the advertiser's campaign file (apps/ads/targeting.h parse_campaigns). Any
// bytes must give a UserError (not JSON, or not valid campaigns) or campaigns whose names are
// unique and non-empty, whose description is non-empty and whose min_safety is in [0, 1];
// parsing the same bytes twice gives the same campaigns.
//
// Input: the file's bytes (seeds: fuzz/corpus/fuzz_campaigns).
#include <set>

#include <nlohmann/json.hpp>

#include "apps/ads/targeting.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = tlm::fuzz::as_view(data, size);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception&) {
    return 0;  // read_json_file's error; the campaign rules are what this target explores
  }
  tlm::fuzz::expect_only_user_errors([&] {
    const std::vector<tlm::apps::Campaign> cs = tlm::apps::parse_campaigns(j, "fuzz");
    std::set<std::string> names;
    for (const auto& c : cs) {
      FUZZ_CHECK(!c.name.empty() && !c.description.empty());
      FUZZ_CHECK(c.min_safety >= 0 && c.min_safety <= 1);
      FUZZ_CHECK(names.insert(c.name).second);
    }
    const std::vector<tlm::apps::Campaign> again = tlm::apps::parse_campaigns(j, "fuzz");
    FUZZ_CHECK(again.size() == cs.size());
  });
  return 0;
}
