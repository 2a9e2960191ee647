// The GPT-2 byte-level alphabet (see byte_level.h), built once from the rule GPT-2's
// encoder.py uses: printable ranges '!'..'~', '¡'..'¬', '®'..'ÿ' map to themselves, the other
// 68 bytes to U+0100 + n in byte order.
#include "tokenizer/byte_level.h"

#include <unordered_map>

#include "core/utf8.h"

namespace tlm {
namespace {

struct Tables {
  uint32_t to_cp[256];
  std::array<std::string, 256> chars;
  std::unordered_map<uint32_t, uint8_t> from_cp;
  Tables() {
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      to_cp[b] = printable ? static_cast<uint32_t>(b) : next++;
      utf8_append(chars[b], to_cp[b]);
      from_cp[to_cp[b]] = static_cast<uint8_t>(b);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

uint32_t byte_to_unicode(uint8_t b) { return tables().to_cp[b]; }

const std::array<std::string, 256>& byte_level_chars() { return tables().chars; }

std::string bytes_to_byte_level(std::string_view raw) {
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) out += tables().chars[c];
  return out;
}

bool byte_level_to_bytes(std::string_view spelled, std::string& raw) {
  if (!utf8_valid(spelled)) return false;
  const auto& from = tables().from_cp;
  for (size_t i = 0; i < spelled.size();) {
    uint32_t cp = utf8_decode(spelled, i);
    auto it = from.find(cp);
    if (it == from.end()) return false;
    raw.push_back(static_cast<char>(it->second));
  }
  return true;
}

}  // namespace tlm
