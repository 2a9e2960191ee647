// Reading tweets for the search index (see index_input.h).
#include "apps/search/index_input.h"

#include "core/check.h"
#include "core/file.h"
#include "core/hash.h"
#include "data/corpus.h"

namespace tlm::apps {

std::vector<IndexTweet> read_index_inputs(const std::vector<std::string>& inputs) {
  std::vector<IndexTweet> out;
  for (const std::string& in : inputs)
    for_each_record(corpus_files(in), [&](CorpusRecord&& r) {
      if (r.text.empty()) return;
      if (r.id.empty()) r.id = strprintf("h%016llx", static_cast<unsigned long long>(hash64(r.text)));
      out.push_back(std::move(r));
    });
  return out;
}

}  // namespace tlm::apps
