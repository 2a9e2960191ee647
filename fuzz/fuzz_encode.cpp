// libFuzzer target: byte-level BPE encoding (Tokenizer::encode) of arbitrary bytes with a small
// fixed tokenizer. Invariants: decode(encode(x)) == x for any byte string (the documented
// contract, invalid UTF-8 included), ids stay inside the vocabulary, a repeated call (served
// by the piece cache) gives the same ids, and the ids equal those of a naive reference BPE
// (lowest rank first, leftmost on ties) run on the same pre-tokenized pieces. The reference
// check is what exercises the heap path encode uses for pieces longer than 32 bytes, against
// the plain scan semantics; the merges below are chosen so long runs ("aaaa...", "abab...",
// emoji, spaces) have competing and chained merges.
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_common.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/tokenizer.h"

namespace {

const std::string kEos = "<|endoftext|>";

tlm::Tokenizer make_tokenizer() {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(std::string(1, static_cast<char>(b)));
  tokens.push_back(kEos);
  std::vector<std::pair<std::string, std::string>> rules = {
      {"t", "h"},   {"th", "e"}, {" ", "the"},       {"h", "e"},          {"l", "l"},           {"he", "ll"},
      {"hell", "o"}, {"a", "a"}, {"aa", "aa"},       {"aaaa", "aaaa"},    {"a", "b"},           {"b", "a"},
      {"ab", "ab"}, {" ", " "},  {"\xF0", "\x9F"},   {"\xF0\x9F", "\x98"}, {"\xF0\x9F\x98", "\x82"}, {"1", "2"},
      {"'", "s"},   {"e", "e"},  {"ee", "ee"},       {" ", "a"},          {"a", "b"} /* a duplicate never applies */};
  std::map<std::string, uint32_t> id_of;
  for (uint32_t i = 0; i < tokens.size(); ++i) id_of[tokens[i]] = i;
  std::vector<std::pair<uint32_t, uint32_t>> merges;
  for (const auto& [l, r] : rules) {
    if (!id_of.count(l + r)) {
      id_of[l + r] = static_cast<uint32_t>(tokens.size());
      tokens.push_back(l + r);
    }
    merges.emplace_back(id_of.at(l), id_of.at(r));
  }
  return tlm::Tokenizer(tokens, merges, {{256, kEos, true}});
}

// The textbook algorithm, O(n^2) per piece: merge the lowest-ranked adjacent pair, leftmost
// first, until none applies.
void reference_piece(const tlm::Tokenizer& tok, std::string_view piece, std::vector<uint32_t>& out) {
  static const std::map<std::pair<uint32_t, uint32_t>, uint32_t> rank = [&] {
    std::map<std::pair<uint32_t, uint32_t>, uint32_t> m;
    for (uint32_t r = 0; r < tok.merges().size(); ++r) m.emplace(tok.merges()[r], r);  // first rank wins
    return m;
  }();
  std::vector<uint32_t> ids;
  for (char c : piece) ids.push_back(static_cast<unsigned char>(c));  // byte b is id b here
  for (;;) {
    size_t best = 0;
    uint32_t best_rank = UINT32_MAX;
    for (size_t i = 0; i + 1 < ids.size(); ++i) {
      auto it = rank.find({ids[i], ids[i + 1]});
      if (it != rank.end() && it->second < best_rank) {
        best_rank = it->second;
        best = i;
      }
    }
    if (best_rank == UINT32_MAX) break;
    int64_t merged = tok.token_id(tok.token_bytes(ids[best]) + tok.token_bytes(ids[best + 1]));
    FUZZ_CHECK(merged >= 0);
    ids[best] = static_cast<uint32_t>(merged);
    ids.erase(ids.begin() + static_cast<std::ptrdiff_t>(best) + 1);
  }
  out.insert(out.end(), ids.begin(), ids.end());
}

// The reference ids of `text`; false (no answer) when a piece is too long for the quadratic
// reference to stay quick.
bool reference_encode(const tlm::Tokenizer& tok, std::string_view text, std::vector<uint32_t>& out) {
  std::vector<std::string_view> pieces;
  for (size_t pos = 0;;) {
    size_t eos = text.find(kEos, pos);
    std::string_view segment = text.substr(pos, eos == std::string_view::npos ? std::string_view::npos : eos - pos);
    pieces.clear();
    tlm::gpt2_pretokenize(segment, pieces);
    for (std::string_view p : pieces) {
      if (p.size() > 512) return false;
      reference_piece(tok, p, out);
    }
    if (eos == std::string_view::npos) return true;
    out.push_back(static_cast<uint32_t>(tok.eos_id()));
    pos = eos + kEos.size();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const tlm::Tokenizer tok = make_tokenizer();
  std::string_view text = tlm::fuzz::as_view(data, size);
  tlm::fuzz::expect_only_user_errors([&] {
    std::vector<uint32_t> ids = tok.encode(text);
    for (uint32_t id : ids) FUZZ_CHECK(id < tok.vocab_size());
    FUZZ_CHECK(tok.decode(ids) == text);
    FUZZ_CHECK(tok.encode(text) == ids);
    std::vector<uint32_t> expect;
    if (reference_encode(tok, text, expect)) FUZZ_CHECK(ids == expect);
  });
  return 0;
}
