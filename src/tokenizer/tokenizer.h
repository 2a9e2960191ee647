// Byte-level BPE tokenizer (GPT-2 / RoBERTa family), exactly compatible with Hugging Face
// tokenizers on the same tokenizer.json.
//
// Encoding: added (special) tokens are split out of the text first, as HF does; the rest is
// pre-tokenized (pretokenize.h), each piece's bytes start as one token each and the
// lowest-ranked adjacent pair is merged until no merge applies (leftmost first on equal ranks).
// Pieces are cached per thread, so frequent words cost one hash lookup.
//
// Invalid UTF-8: encoding is lossless on any byte string (decode(encode(x)) == x); invalid
// bytes are "other" characters for the pre-tokenizer and encode as their byte tokens. HF cannot
// take invalid UTF-8 at all (its strings are Rust &str), so exactness is defined on valid text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tlm {

struct AddedToken {
  uint32_t id = 0;
  std::string content;
  bool special = true;
  bool lstrip = false;  // the match also swallows the whitespace before it (RoBERTa's <mask>)
  bool rstrip = false;  // ... and after it
};

// The default special tokens of a tokenizer we train, with fixed ids: <|endoftext|> is the
// document separator (id 0); the chat tokens are reserved for the serving issue.
const std::vector<std::string>& default_special_tokens();

class Tokenizer {
 public:
  Tokenizer() = default;
  // Builds a tokenizer from raw-byte tokens (index = id; special tokens included with their
  // content) and merges given as pairs of ids, in rank order. Throws UserError on
  // inconsistencies (a merge whose result is not in the vocabulary, duplicate tokens).
  Tokenizer(std::vector<std::string> tokens, std::vector<std::pair<uint32_t, uint32_t>> merges,
            std::vector<AddedToken> added);

  // Loads any GPT-2-style byte-level BPE tokenizer.json (ours or Hugging Face's). UserError
  // naming the field for anything missing, unsupported or inconsistent.
  static Tokenizer load(const std::string& path);
  static Tokenizer from_json_text(const std::string& json_text, const std::string& name);
  // Writes tokenizer.json atomically (HF format: BPE model, ByteLevel pre-tokenizer/decoder).
  void save(const std::string& path) const;
  std::string to_json_text() const;
  // tokenizer_config.json for transformers' AutoTokenizer (written beside tokenizer.json).
  std::string config_json_text() const;

  std::vector<uint32_t> encode(std::string_view text) const;
  void encode(std::string_view text, std::vector<uint32_t>& out) const;  // appends
  // Encodes special-token text ("<|endoftext|>" typed in a tweet) as ordinary text, as
  // tiktoken's encode_ordinary does: training data uses this, so a tweet can never forge a
  // document separator. Appends.
  void encode_ordinary(std::string_view text, std::vector<uint32_t>& out) const;
  // Parallel over texts (OpenMP); results in input order.
  std::vector<std::vector<uint32_t>> encode_batch(const std::vector<std::string>& texts) const;
  // Concatenated raw bytes of the tokens (special tokens as their content unless skipped).
  std::string decode(const std::vector<uint32_t>& ids, bool skip_special = false) const;

  size_t vocab_size() const { return tokens_.size(); }
  const std::string& token_bytes(uint32_t id) const { return tokens_.at(id); }
  std::string token_spelling(uint32_t id) const;  // byte-level spelling, as in tokenizer.json
  const std::vector<std::pair<uint32_t, uint32_t>>& merges() const { return merges_; }
  const std::vector<AddedToken>& added_tokens() const { return added_; }
  // Id of a token given by its raw bytes / special content; -1 if absent.
  int64_t token_id(std::string_view bytes) const;
  // <|endoftext|> (the document separator); -1 if the tokenizer has none.
  int64_t eos_id() const { return eos_; }

 private:
  void build_indexes();
  void encode_piece(std::string_view piece, std::vector<uint32_t>& out) const;

  std::vector<std::string> tokens_;                         // id -> raw bytes (or special content)
  std::vector<std::pair<uint32_t, uint32_t>> merges_;       // rank -> (left, right)
  std::vector<AddedToken> added_;
  std::unordered_map<std::string, uint32_t> by_bytes_;      // raw bytes -> id (non-special)
  std::unordered_map<uint64_t, std::pair<uint32_t, uint32_t>> merge_of_;  // (l<<32|r) -> (rank, merged id)
  static constexpr uint32_t kNoToken = UINT32_MAX;
  uint32_t byte_token_[256] = {};  // kNoToken where the vocabulary lacks the byte
  int64_t eos_ = -1;
  bool add_prefix_space_ = false;  // ByteLevel add_prefix_space (RoBERTa-style files)
  uint64_t uid_ = 0;  // identifies this vocabulary in the per-thread piece caches
};

}  // namespace tlm
