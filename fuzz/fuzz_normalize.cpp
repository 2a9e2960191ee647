// libFuzzer target: tweet normalization and the UTF-8 primitives under it.
//
// Input layout: byte 0 holds option bits (unescape, mentions, links, nfc, control,
// whitespace), the rest is the text; every input also runs with all options on. Invariants:
// normalize_tweet output is always valid UTF-8 and reports repair exactly when the input was
// invalid; with whitespace collapsing on, no whitespace but single inner spaces survives; with
// control stripping on, no C0 control but tab and line breaks survives; each step keeps valid
// UTF-8 valid; utf8_repair output is valid, leaves valid input untouched and is idempotent;
// NFC agrees with utf8proc itself (the quick check in nfc() must never change an answer).
#include <utf8proc.h>

#include <cstdlib>
#include <string>

#include "data/normalize.h"
#include "core/utf8.h"
#include "fuzz_common.h"

namespace {

using tlm::NormalizeOptions;

NormalizeOptions options_from(uint8_t bits) {
  NormalizeOptions o;
  o.unescape_html = bits & 1;
  o.mentions = bits & 2;
  o.links = bits & 4;
  o.nfc = bits & 8;
  o.strip_control = bits & 16;
  o.collapse_whitespace = bits & 32;
  return o;
}

bool has_unicode_space(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = tlm::utf8_decode(s, i);
    if (cp == '\t' || cp == '\n' || cp == '\v' || cp == '\f' || cp == '\r' || cp == 0x85 || cp == 0xA0 ||
        cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
        cp == 0x205F || cp == 0x3000)
      return true;
  }
  return false;
}

void check_normalized(std::string_view in, const NormalizeOptions& opt) {
  std::string out, scratch;
  tlm::NormalizeResult r = tlm::normalize_tweet(in, opt, out, scratch);
  FUZZ_CHECK(tlm::utf8_valid(out));
  FUZZ_CHECK(r.repaired_utf8 == !tlm::utf8_valid(in));
  if (opt.collapse_whitespace) {
    FUZZ_CHECK(out.find("  ") == std::string::npos);
    FUZZ_CHECK(out.empty() || (out.front() != ' ' && out.back() != ' '));
    FUZZ_CHECK(!has_unicode_space(out));
  }
  if (opt.strip_control) {
    for (unsigned char c : out) FUZZ_CHECK(c >= 0x20 ? c != 0x7F : (c == '\t' || c == '\n' || c == '\r'));
  }
}

std::string reference_nfc(std::string_view s) {
  utf8proc_uint8_t* res = nullptr;
  utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                    static_cast<utf8proc_ssize_t>(s.size()), &res,
                                    static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (n < 0) return std::string(s);
  std::string out(reinterpret_cast<const char*>(res), static_cast<size_t>(n));
  std::free(res);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view in = tlm::fuzz::as_view(data + 1, size - 1);

  // UTF-8 primitives.
  bool valid = tlm::utf8_valid(in);
  FUZZ_CHECK(!tlm::is_ascii(in) || valid);
  std::string repaired;
  FUZZ_CHECK(tlm::utf8_repair(in, repaired) == !valid);
  FUZZ_CHECK(tlm::utf8_valid(repaired));
  if (valid) FUZZ_CHECK(repaired == in);
  std::string twice;
  FUZZ_CHECK(!tlm::utf8_repair(repaired, twice) && twice == repaired);
  FUZZ_CHECK(tlm::utf8_length(repaired) <= repaired.size());
  std::string round;
  for (size_t i = 0; i < repaired.size();) tlm::utf8_append(round, tlm::utf8_decode(repaired, i));
  FUZZ_CHECK(round == repaired);

  // Each step alone: never crashes on any bytes, keeps valid UTF-8 valid.
  void (*steps[])(std::string_view, std::string&) = {tlm::unescape_html, tlm::replace_links, tlm::replace_mentions,
                                                      tlm::nfc,          tlm::strip_control, tlm::collapse_whitespace};
  for (auto step : steps) {
    std::string out;
    step(in, out);
    std::string out_valid;
    step(repaired, out_valid);
    FUZZ_CHECK(tlm::utf8_valid(out_valid));
  }
  std::string fast;
  tlm::nfc(repaired, fast);
  FUZZ_CHECK(fast == reference_nfc(repaired));
  tlm::is_retweet_text(in);

  check_normalized(in, NormalizeOptions{});
  check_normalized(in, options_from(data[0]));
  return 0;
}
