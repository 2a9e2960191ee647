// See text.h.
#include "core/text.h"

namespace tlm {

std::string ascii_lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  return s;
}

std::string one_line(const std::string& s, bool tabs_to_spaces) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t' && tabs_to_spaces) out += ' ';
    else out.push_back(c);
  }
  return out;
}

}  // namespace tlm
