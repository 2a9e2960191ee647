// Small string helpers that several layers need, kept here so that none of them grows its own
// copy: ASCII case folding for names and keys, and the one-line form of a text for
// line-oriented output.
#pragma once

#include <string>

namespace tlm {

// s with A-Z folded to a-z; other bytes (UTF-8 included) unchanged.
std::string ascii_lower(std::string s);

// s on one line: line breaks written as the escapes "\n" and "\r" (and tabs as spaces when
// the output is tab-separated), so that output line i of a tool always belongs to input line i.
std::string one_line(const std::string& s, bool tabs_to_spaces = false);

}  // namespace tlm
