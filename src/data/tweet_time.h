// Tweet timestamps: the `created_at` of every source format as Unix seconds (UTC), so that
// `prepare --since/--until` can cut a corpus by date whatever it was read from.
//
// Accepted (what Twitter and its exports write):
//  - API v1.1 and archives: "Wed Oct 10 20:19:24 +0000 2018";
//  - API v2 and ISO 8601: "2018-10-10T20:19:24.000Z", "2018-10-10T20:19:24+02:00",
//    "2018-10-10 20:19:24" (UTC), "2018-10-10" (midnight UTC);
//  - Unix time: 10 digits (seconds) or 13 (milliseconds), as some CSV exports write.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace tlm {

// Unix seconds, or nullopt for anything else (an empty string, an impossible date).
std::optional<int64_t> parse_tweet_time(std::string_view s);

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);

}  // namespace tlm
