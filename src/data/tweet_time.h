// Tweet dates: every source spells created_at its own way (API v2 and CSV exports: ISO 8601;
// API v1.1 and archives: "Wed Oct 10 20:19:24 +0000 2018"; some dumps: unix seconds or
// milliseconds), so everything that compares dates reads them here as one sortable value,
// seconds since the epoch (UTC): `prepare --since/--until` (cutting a corpus) and the search
// index's filters (which keep the original text beside it). The flags of both take the same forms
// and mean the same: --since inclusive, --until inclusive, a bare --until date meaning the whole day.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tlm {

// Seconds since 1970-01-01 UTC, or nothing when `s` is in none of the known forms:
// ISO 8601 "YYYY-MM-DD[( |T)HH:MM[:SS[.fff]]][Z|+HH[:]MM|-HH[:]MM]", the Twitter v1.1 form
// "Www Mmm DD HH:MM:SS +ZZZZ YYYY", 9 to 12 digits of unix seconds, or 13 of milliseconds.
std::optional<int64_t> parse_tweet_time(std::string_view s);

// A --since / --until bound (or the API's "since" / "until"): parse_tweet_time's forms. A bare
// date as an upper bound means the end of that day, so "--until 2020-01-31" includes the 31st.
// UserError naming `what` when `s` is not a date.
int64_t parse_date_bound(std::string_view s, bool upper, const std::string& what);

// "2018-10-10T20:19:24Z".
std::string format_timestamp(int64_t t);

}  // namespace tlm
