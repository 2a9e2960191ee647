// model.safetensors.index.json parsing (see safetensors_index.h). The JSON is parsed without
// exceptions; duplicate tensor names are seen through the parser callback, as in
// io/safetensors.cpp. Unknown top-level keys and metadata entries are ignored (other tools add
// their own), but what we use must have the right type.
#include "io/safetensors_index.h"

#include <set>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/file.h"

namespace tlm {

namespace {

// Real indexes are a few hundred kB for the largest models; the cap keeps a hostile file from
// making us parse gigabytes of JSON.
constexpr size_t kMaxIndexBytes = 64ull * 1000 * 1000;

// For messages: at most 80 bytes of a name from the file, control bytes escaped, so an error
// stays one line.
std::string shown(std::string_view s) {
  std::string out = "'";
  for (size_t i = 0; i < s.size() && i < 80; i++) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F) out += strprintf("\\x%02x", c);
    else out += char(c);
  }
  return out + (s.size() > 80 ? "...'" : "'");
}

}  // namespace

bool is_plain_shard_name(std::string_view name) {
  static constexpr std::string_view kExt = ".safetensors";
  if (name.empty() || name.size() > 255 || name == "." || name == "..") return false;
  if (name.find_first_of(std::string_view("/\\\0", 3)) != std::string_view::npos) return false;
  if (name.find("..") != std::string_view::npos) return false;
  return name.size() > kExt.size() && name.substr(name.size() - kExt.size()) == kExt;
}

std::string shard_file_name(size_t index, size_t count) {
  return strprintf("model-%05zu-of-%05zu.safetensors", index, count);
}

SafetensorsIndex parse_safetensors_index(std::string_view text, const std::string& what) {
  if (text.size() > kMaxIndexBytes)
    throw user_error(what, "%zu bytes: larger than any safetensors index (limit %zu)", text.size(), kMaxIndexBytes);
  // Duplicate keys: at depth 1 (the top object) and depth 2 inside "weight_map".
  std::set<std::string> top_keys, names;
  std::string current_top, duplicate;
  auto callback = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    if (event != nlohmann::json::parse_event_t::key || !parsed.is_string()) return true;
    const std::string& k = parsed.get_ref<const std::string&>();
    if (depth == 1) {
      current_top = k;
      if (!top_keys.insert(k).second && duplicate.empty()) duplicate = "key " + shown(k);
    } else if (depth == 2 && current_top == "weight_map") {
      if (!names.insert(k).second && duplicate.empty()) duplicate = "tensor " + shown(k);
    }
    return true;
  };
  nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw user_error(what, "not valid JSON (a safetensors index)");
  if (!j.is_object()) throw user_error(what, "a safetensors index must be a JSON object");
  if (!duplicate.empty()) throw user_error(what, "%s appears twice", duplicate.c_str());

  SafetensorsIndex idx;
  if (auto m = j.find("metadata"); m != j.end() && !m->is_null()) {
    if (!m->is_object()) throw user_error(what, "\"metadata\" is not a JSON object");
    if (auto t = m->find("total_size"); t != m->end() && !t->is_null()) {
      if (!t->is_number_unsigned()) throw user_error(what, "metadata.total_size is not a non-negative integer");
      idx.has_total_size = true;
      idx.total_size = t->get<unsigned long long>();
    }
  }
  auto wm = j.find("weight_map");
  if (wm == j.end() || !wm->is_object()) throw user_error(what, "no \"weight_map\" object (tensor name -> shard file)");
  if (wm->empty()) throw user_error(what, "\"weight_map\" is empty");
  std::set<std::string> files;
  for (auto it = wm->begin(); it != wm->end(); ++it) {
    if (!it.value().is_string())
      throw user_error(what, "weight_map[%s] is not a file name string", shown(it.key()).c_str());
    const std::string& file = it.value().get_ref<const std::string&>();
    if (!is_plain_shard_name(file))
      throw user_error(what, "weight_map[%s] = %s: a shard must be a plain *.safetensors file name in the model "
                       "directory (no '/', '\\' or '..')", shown(it.key()).c_str(), shown(file).c_str());
    idx.weight_map.emplace(it.key(), file);
    files.insert(file);
  }
  idx.files.assign(files.begin(), files.end());
  return idx;
}

SafetensorsIndex read_safetensors_index(const std::string& path) {
  MappedFile map(path);
  return parse_safetensors_index(map.view(), path);
}

}  // namespace tlm
