// The GPT-2 "byte-level" alphabet: every byte 0..255 maps to one printable Unicode character
// (printable Latin-1 bytes map to themselves, the rest to U+0100 upwards, so ' ' is 'Ġ' and
// '\n' is 'Ċ'). Vocabularies in tokenizer.json spell tokens in this alphabet; internally
// tweetlm keeps tokens as the raw bytes they stand for.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace tlm {

// Code point that byte b is written as.
uint32_t byte_to_unicode(uint8_t b);
// UTF-8 of the mapped character for each byte (precomputed).
const std::array<std::string, 256>& byte_level_chars();
// Raw bytes -> byte-level spelling (UTF-8).
std::string bytes_to_byte_level(std::string_view raw);
// Byte-level spelling -> raw bytes. False if a character is outside the alphabet.
bool byte_level_to_bytes(std::string_view spelled, std::string& raw);

}  // namespace tlm
