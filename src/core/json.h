// Small JSON helpers for hot paths. nlohmann::json is used for configs and reports; writing
// millions of corpus lines goes through append_json_string, which escapes without allocating.
#pragma once

#include <string>
#include <string_view>

namespace tlm {

// Appends `s` as a quoted JSON string. `s` must be valid UTF-8 (callers repair it first); only
// '"', '\\' and control characters are escaped, everything else is copied byte for byte.
void append_json_string(std::string& out, std::string_view s);

}  // namespace tlm
