// Small JSON helpers. nlohmann::json is used for configs and reports; writing millions of
// corpus lines goes through append_json_string, which escapes without allocating.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace tlm {

// Appends `s` as a quoted JSON string. `s` must be valid UTF-8 (callers repair it first); only
// '"', '\\' and control characters are escaped, everything else is copied byte for byte.
void append_json_string(std::string& out, std::string_view s);

// A whole JSON file (a classifier, a campaign list, ...): UserError "<path>: no such file" or
// "<path>: not valid JSON (...)".
nlohmann::json read_json_file(const std::string& path);

}  // namespace tlm
