// Words of a search query, as the FTS5 table sees them, and highlighting without FTS5.
//
// A user's query is never handed to FTS5 as query syntax: it is cut into words (runs of Unicode
// letters, digits, marks and private-use characters: the token characters of the unicode61
// tokenizer, "L* N* Co", plus marks so a decomposed accent stays in its word), and each word is
// passed as a quoted FTS5 string, the words joined with OR (BM25 ranks tweets with more of them
// higher). So `"`, `*`, `(`, `AND`, `NEAR` or `^` in a query are plain text, never an error.
//
// Folding matches the table's `unicode61 remove_diacritics 2`: case-folded, diacritics removed
// ("Café" and "cafe" are one word), so the dense results can highlight what BM25 would match.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tlm::apps {

// The words of `query` in order, duplicates (after folding) removed, at most `max_terms`.
std::vector<std::string> query_terms(std::string_view query, size_t max_terms = 64);

// The FTS5 MATCH expression for the words: "w1" OR "w2" ... ("" when there are none).
std::string fts_match_expression(const std::vector<std::string>& terms);

// Case-folded with diacritics removed (compatibility-decomposed, marks stripped, recomposed).
std::string fold_word(std::string_view word);

// `text` with every word whose folding equals one of the folded `terms` wrapped in open/close.
std::string highlight_terms(std::string_view text, const std::vector<std::string>& terms, const std::string& open,
                            const std::string& close);

}  // namespace tlm::apps
