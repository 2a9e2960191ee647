// Tweet dates for the search index: every source spells created_at its own way (API v2 and CSV
// exports: ISO 8601; API v1.1 and archives: "Wed Oct 10 20:19:24 +0000 2018"; some dumps: unix
// seconds), so the index stores the original text beside one sortable value, seconds since the
// epoch (UTC), that the --since/--until filters compare.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tlm::apps {

// Seconds since 1970-01-01 UTC, or nothing when `s` is in none of the known forms:
// ISO 8601 "YYYY-MM-DD[( |T)HH:MM[:SS[.fff]]][Z|+HH[:]MM|-HH[:]MM]", the Twitter v1.1 form
// "Www Mmm DD HH:MM:SS +ZZZZ YYYY", or 9 to 12 digits of unix seconds.
std::optional<int64_t> parse_timestamp(std::string_view s);

// A --since / --until bound (or the API's "since" / "until"): parse_timestamp's forms. A bare
// date as an upper bound means the end of that day, so "--until 2020-01-31" includes the 31st.
// UserError naming `what` when `s` is not a date.
int64_t parse_date_bound(std::string_view s, bool upper, const std::string& what);

// "2018-10-10T20:19:24Z".
std::string format_timestamp(int64_t t);

}  // namespace tlm::apps
