// A training batch: B sequences of T tokens packed from tweets, and what document masking needs
// (DESIGN.md "Model"). A new document starts at every end-of-text token: the eos that closes
// one tweet opens the next, acting as its beginning-of-sequence token, exactly as generation
// starts from [eos] + prompt. So a model never conditions across tweets, learns to end a tweet
// (the last token predicts eos), and sees the same kind of context in training and inference.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tlm {

struct Batch {
  int B = 0, T = 0;
  std::vector<int32_t> tokens;     // [B*T]
  std::vector<int32_t> targets;    // [B*T]: the next token; -1 = no loss here
  std::vector<int32_t> pos;        // [B*T]: position within the token's document (RoPE)
  std::vector<int32_t> doc_start;  // [B*T]: index in its sequence of its document's first token

  void resize(int b, int t);
  // Fills pos and doc_start from tokens: documents start at index 0 of each sequence and at
  // every token equal to eos_id.
  void compute_documents(int32_t eos_id);
  // Number of targets >= 0 (the tokens that carry loss).
  int64_t count_targets() const;
};

}  // namespace tlm
