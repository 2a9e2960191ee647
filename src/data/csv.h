// RFC 4180 CSV records: comma separated, double-quoted fields with "" as an escaped quote,
// newlines allowed inside quotes, CRLF or LF line ends. Lenient where RFC 4180 is silent
// (text after a closing quote is kept), strict where data would be lost (an unterminated quote
// is reported, not swallowed).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tlm {

// Parses the record starting at `pos` into `fields`; returns the offset just after its line
// end. `complete` is false when the buffer ended inside a quoted field.
size_t parse_csv_record(std::string_view buf, size_t pos, std::vector<std::string>& fields, bool& complete);

// Parses a single line (no embedded newlines expected); false if a quote is left open.
bool parse_csv_row(std::string_view line, std::vector<std::string>& fields);

}  // namespace tlm
