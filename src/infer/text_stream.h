// Turning generated tokens into printable text as they arrive. A byte-level BPE token can end
// in the middle of a multi-byte UTF-8 character (an emoji is often two or three tokens), and
// printing half of it shows the terminal a broken character. TextStream holds back an
// unfinished character until the token that completes it arrives; bytes that can never become
// a valid character (a stray continuation byte, an invalid lead) are passed through at once, so
// nothing is held back forever and the output is exactly the decoded bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tokenizer/tokenizer.h"

namespace tlm {

// Length of the longest prefix of `s` that does not end inside an unfinished UTF-8 character
// (a valid lead byte whose continuation bytes are still missing at the end of `s`).
size_t utf8_complete_prefix(std::string_view s);

class TextStream {
 public:
  explicit TextStream(const Tokenizer& tok) : tok_(tok) {}
  // The text that became printable with this token (possibly empty); valid until the next call.
  std::string_view push(int32_t token);
  // Whatever is still held back (an unfinished character at the very end of the generation).
  std::string_view finish();

 private:
  const Tokenizer& tok_;
  std::string pending_, ready_;
};

}  // namespace tlm
