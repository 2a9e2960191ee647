// GPT-2 pre-tokenization, as Hugging Face's ByteLevel pre-tokenizer (use_regex = true,
// add_prefix_space = false) applies it:
//
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// implemented as a hand-written scanner over UTF-8 (no regex engine on the hot path). \s is
// Unicode White_Space, \p{L} and \p{N} are the general categories L* and N* (utf8proc).
// Invalid UTF-8 bytes are each treated as one character of the "other" class, so any byte
// string splits into pieces that concatenate back to it exactly.
#pragma once

#include <string_view>
#include <vector>

namespace tlm {

// Appends the pieces of `text` to `out` (views into `text`, in order, covering it entirely).
void gpt2_pretokenize(std::string_view text, std::vector<std::string_view>& out);

}  // namespace tlm
