// Reading tweets for the search index (see index_input.h).
#include "apps/search/index_input.h"

#include <fstream>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/file.h"
#include "core/hash.h"

namespace tlm::apps {

namespace {

std::string string_field(const nlohmann::json& o, const char* key, const std::string& where) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return it->dump();  // numeric tweet ids of some exports
  throw user_error(where, "\"%s\" must be a string", key);
}

void read_jsonl(const std::string& path, std::vector<IndexTweet>& out) {
  std::ifstream f(path);
  if (!f) throw user_error(path, "cannot open");
  std::string line;
  for (size_t n = 1; std::getline(f, line); n++) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(n);
    nlohmann::json o = nlohmann::json::parse(line, nullptr, false);
    if (o.is_discarded() || !o.is_object()) throw user_error(where, "not a JSON object");
    auto t = o.find("text");
    if (t == o.end() || !t->is_string()) throw user_error(where, "no \"text\" string");
    IndexTweet tw;
    tw.text = t->get<std::string>();
    if (tw.text.empty()) continue;
    tw.id = string_field(o, "id", where);
    tw.lang = string_field(o, "lang", where);
    tw.created_at = string_field(o, "created_at", where);
    if (tw.id.empty()) tw.id = strprintf("h%016llx", static_cast<unsigned long long>(hash64(tw.text)));
    out.push_back(std::move(tw));
  }
}

}  // namespace

std::vector<IndexTweet> read_index_inputs(const std::vector<std::string>& inputs) {
  std::vector<IndexTweet> out;
  for (const std::string& in : inputs) {
    if (is_directory(in)) {
      bool any = false;
      for (const char* split : {"train", "val", "test"}) {
        std::string p = in + "/" + split + ".jsonl";
        if (!path_exists(p)) continue;
        any = true;
        read_jsonl(p, out);
      }
      if (!any) throw user_error(in, "not a prepared corpus (no train.jsonl, val.jsonl or test.jsonl)");
    } else if (path_exists(in)) {
      read_jsonl(in, out);
    } else {
      throw user_error(in, "no such file or directory");
    }
  }
  return out;
}

}  // namespace tlm::apps
