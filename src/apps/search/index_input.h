// The tweets `tweetlm index -i` reads: prepared corpus directories (`tweetlm prepare` output:
// train.jsonl, val.jsonl and test.jsonl, every split: a search index serves all tweets) and
// .jsonl files of {"id", "text", "lang"?, "created_at"?} objects. A line without an "id" gets
// one from its text ("h" + 16 hex digits of XXH3), so indexing the same file twice adds nothing.
#pragma once

#include <string>
#include <vector>

namespace tlm::apps {

struct IndexTweet {
  std::string id, text, lang, created_at;
};

// UserError naming the file (and line) for a missing input, a malformed line or a line
// without a "text" string.
std::vector<IndexTweet> read_index_inputs(const std::vector<std::string>& inputs);

}  // namespace tlm::apps
