// libFuzzer target: Twitter's weighted length and truncation (apps/ads/tweet_length.h), which
// ad copy runs on model output and users' text. Any bytes: the units of the NFC text cover it
// contiguously with positive weights that add up to tweet_length; truncate_tweet gives valid
// UTF-8 of at most 280 (and of at most a small random limit), and a text that fits comes back
// unchanged.
//
// Input: text as it is (seeds: fuzz/corpus/fuzz_tweet_length).
#include "apps/ads/tweet_length.h"
#include "core/utf8.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = tlm::fuzz::as_view(data, size);
  const std::string nfc = tlm::apps::nfc_normalize(text);
  FUZZ_CHECK(tlm::utf8_valid(nfc));
  size_t at = 0;
  long total = 0;
  for (const tlm::apps::TweetUnit& u : tlm::apps::tweet_units(nfc)) {
    FUZZ_CHECK(u.begin == at && u.end > u.begin && u.end <= nfc.size() && u.weight > 0);
    at = u.end;
    total += u.weight;
  }
  FUZZ_CHECK(at == nfc.size());
  const int length = tlm::apps::tweet_length(text);
  FUZZ_CHECK(length >= 0 && long(length) == (total + 99) / 100);
  for (int limit : {280, int(size % 17)}) {
    const std::string cut = tlm::apps::truncate_tweet(nfc, limit);
    FUZZ_CHECK(tlm::utf8_valid(cut));
    FUZZ_CHECK(tlm::apps::tweet_length(cut) <= limit);
    if (length <= limit) FUZZ_CHECK(cut == nfc);
  }
  return 0;
}
