// The tweets `tweetlm index -i` reads, through the corpus reader (data/corpus.h): prepared
// corpus directories (every split: a search index serves all tweets), .jsonl files of
// {"id", "text", "lang"?, "created_at"?} objects, and plain text files. A tweet without an "id"
// gets one from its text ("h" + 16 hex digits of XXH3), so indexing the same file twice adds
// nothing.
#pragma once

#include <string>
#include <vector>

#include "data/corpus.h"

namespace tlm::apps {

using IndexTweet = CorpusRecord;

// UserError naming the file (and line) for a missing input, a malformed line or a line
// without a "text" string.
std::vector<IndexTweet> read_index_inputs(const std::vector<std::string>& inputs);

}  // namespace tlm::apps
