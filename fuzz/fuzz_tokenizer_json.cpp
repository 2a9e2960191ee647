// libFuzzer target: loading tokenizer.json (Tokenizer::from_json_text). Any bytes must give a
// UserError or a tokenizer that works: it encodes a fixed text (specials, emoji, CJK,
// contractions, runs of spaces, an invalid byte) into ids inside its vocabulary, decodes back
// to that text (up to whitespace that add_prefix_space inserts or added tokens' lstrip/rstrip
// take away; with bytes missing from the vocabulary, which encoding drops as HF does, to a
// subsequence of it), and survives a save/load round trip with identical ids.
#include <algorithm>
#include <string>
#include <vector>

#include "fuzz_common.h"
#include "tokenizer/tokenizer.h"

namespace {

const std::string kText =
    "Hello world! I'm here, they've 42 caf\xC3\xA9s \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E \xF0\x9F\x98\x82\xF0\x9F\x98\x82 "
    "<|endoftext|>  two  spaces\n\tnew line @user http \xFF end";

// kText's whitespace is all ASCII, so this removes every character add_prefix_space adds or
// an added token's lstrip/rstrip removes.
std::string without_whitespace(std::string s) {
  s.erase(std::remove_if(s.begin(), s.end(), [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }), s.end());
  return s;
}

bool is_subsequence(const std::string& part, const std::string& whole) {
  size_t i = 0;
  for (char c : whole)
    if (i < part.size() && part[i] == c) ++i;
  return i == part.size();
}

bool has_every_byte(const tlm::Tokenizer& tok) {
  for (int b = 0; b < 256; ++b)
    if (tok.token_id(std::string(1, static_cast<char>(b))) < 0) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(tlm::fuzz::as_view(data, size));
  tlm::fuzz::expect_only_user_errors([&] {
    tlm::Tokenizer tok = tlm::Tokenizer::from_json_text(text, "fuzz.json");
    std::vector<uint32_t> ids = tok.encode(kText);
    for (uint32_t id : ids) FUZZ_CHECK(id < tok.vocab_size());
    std::string back = tok.decode(ids);
    // Lossless except for the spaces add_prefix_space adds and lstrip/rstrip of added tokens take.
    if (has_every_byte(tok)) FUZZ_CHECK(back == kText || without_whitespace(back) == without_whitespace(kText));
    else FUZZ_CHECK(is_subsequence(without_whitespace(back), without_whitespace(kText)));
    FUZZ_CHECK(tok.encode(kText) == ids);  // the second call is served by the piece cache
    if (tok.eos_id() >= 0) FUZZ_CHECK(static_cast<uint64_t>(tok.eos_id()) < tok.vocab_size());

    // What we write, we must read back as the same tokenizer: here a UserError is a bug.
    try {
      tlm::Tokenizer again = tlm::Tokenizer::from_json_text(tok.to_json_text(), "round trip");
      FUZZ_CHECK(again.vocab_size() == tok.vocab_size());
      FUZZ_CHECK(again.encode(kText) == ids);
    } catch (const tlm::UserError& e) {
      std::fprintf(stderr, "fuzz: invariant failed: our own tokenizer.json does not load: %s\n", e.what());
      std::abort();
    }
  });
  return 0;
}
