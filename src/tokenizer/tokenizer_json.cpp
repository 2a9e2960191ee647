// Hugging Face tokenizer.json reading and writing for byte-level BPE (see tokenizer.h).
//
// Loading accepts any GPT-2-style file: model BPE with a byte-level vocabulary, merges as
// "a b" strings (tokenizers < 0.20) or ["a", "b"] pairs (>= 0.20), a ByteLevel pre-tokenizer
// (or none), no normalizer. Everything else is refused with one error naming the field, rather
// than encoded differently from HF. Writing produces what HF itself writes for GPT-2, with
// merges as "a b" strings, which every tokenizers version reads.
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/file.h"
#include "core/json.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/tokenizer.h"

namespace tlm {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

std::string Tokenizer::token_spelling(uint32_t id) const {
  for (const AddedToken& a : added_)
    if (a.id == id) return a.content;
  return bytes_to_byte_level(tokens_.at(id));
}

namespace {

const json& field(const json& obj, const char* key, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end()) throw user_error(where, "missing field '%s'", key);
  return *it;
}

std::string raw_of(const std::string& spelled, const std::string& where) {
  std::string raw;
  if (!byte_level_to_bytes(spelled, raw))
    throw user_error(where, "token '%s' is not in the byte-level alphabet", spelled.c_str());
  return raw;
}

// Checks a ByteLevel component; returns its add_prefix_space.
bool check_byte_level(const json& j, const std::string& where) {
  if (!j.is_object() || j.value("type", "") != "ByteLevel")
    throw user_error(where, "type '%s' is not supported (byte-level BPE needs ByteLevel)",
                     j.is_object() ? j.value("type", "?").c_str() : j.dump().c_str());
  if (!j.value("use_regex", true))
    throw user_error(where, "use_regex false is not supported (only the GPT-2 pre-tokenizer regex is)");
  return j.value("add_prefix_space", false);
}

}  // namespace

Tokenizer Tokenizer::from_json_text(const std::string& text, const std::string& name) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw user_error(name, "not valid JSON: %s", e.what());
  }
  if (!j.is_object()) throw user_error(name, "expected a JSON object");
  auto where = [&](const std::string& f) { return name + ": " + f; };
  try {
    const json& model = field(j, "model", name);
    if (!model.is_object()) throw user_error(where("model"), "expected an object");
    std::string type = model.value("type", "BPE");
    if (type != "BPE") throw user_error(where("model.type"), "'%s' is not supported (only BPE)", type.c_str());
    for (const char* k : {"continuing_subword_prefix", "end_of_word_suffix"})
      if (model.contains(k) && model[k].is_string() && !model[k].get<std::string>().empty())
        throw user_error(where(std::string("model.") + k), "non-empty values are not supported");
    // Fields that change encoding in HF and that tweetlm does not implement are refused.
    if (model.contains("dropout") && model["dropout"].is_number() && model["dropout"].get<double>() > 0)
      throw user_error(where("model.dropout"), "BPE dropout is not supported (it makes encoding random)");
    if (model.value("ignore_merges", false))
      throw user_error(where("model.ignore_merges"), "true is not supported");
    if (j.contains("normalizer") && !j["normalizer"].is_null())
      throw user_error(where("normalizer"), "normalizers are not supported (byte-level BPE uses none)");
    bool prefix_space = false;
    if (j.contains("pre_tokenizer") && !j["pre_tokenizer"].is_null())
      prefix_space = check_byte_level(j["pre_tokenizer"], where("pre_tokenizer"));

    // Vocabulary: byte-level spelling -> id, dense ids (gaps only where added tokens sit).
    const json& vocab = field(model, "vocab", where("model"));
    if (!vocab.is_object()) throw user_error(where("model.vocab"), "expected an object");
    std::vector<AddedToken> added;
    size_t size = 0;
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
      if (!it.value().is_number_unsigned()) throw user_error(where("model.vocab"), "id of '%s' is not a non-negative integer", it.key().c_str());
      // Saturated: id 2^64-1 must not wrap `size` to 0 (the limit check below catches it).
      size = std::max<size_t>(size, std::min<uint64_t>(it.value().get<uint64_t>(), 1u << 24) + 1);
    }
    if (j.contains("added_tokens")) {
      const json& at = j["added_tokens"];
      if (!at.is_array()) throw user_error(where("added_tokens"), "expected an array");
      for (const json& a : at) {
        if (!a.is_object() || !a.contains("id") || !a["id"].is_number_unsigned() || !a.contains("content") ||
            !a["content"].is_string())
          throw user_error(where("added_tokens"), "each entry needs an integer 'id' and a string 'content'");
        if (a.value("single_word", false))
          throw user_error(where("added_tokens"), "single_word true ('%s') is not supported",
                           a["content"].get<std::string>().c_str());
        added.push_back({a["id"].get<uint32_t>(), a["content"].get<std::string>(), a.value("special", true),
                         a.value("lstrip", false), a.value("rstrip", false)});
        size = std::max<size_t>(size, std::min<uint64_t>(a["id"].get<uint64_t>(), 1u << 24) + 1);
      }
    }
    if (size > (1u << 24)) throw user_error(where("model.vocab"), "%zu ids is more than tweetlm supports", size);
    if (size == 0) throw user_error(where("model.vocab"), "is empty");
    std::vector<std::string> tokens(size);
    std::vector<bool> seen(size, false);
    std::unordered_map<std::string, uint32_t> id_of;
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
      uint32_t id = it.value().get<uint32_t>();
      if (seen[id]) throw user_error(where("model.vocab"), "id %u is used twice", id);
      seen[id] = true;
      tokens[id] = raw_of(it.key(), where("model.vocab"));
      id_of[it.key()] = id;
    }
    for (const AddedToken& a : added) {
      if (seen[a.id] && tokens[a.id] != a.content && bytes_to_byte_level(tokens[a.id]) != a.content)
        throw user_error(where("added_tokens"), "id %u is '%s' in model.vocab but '%s' here", a.id,
                         bytes_to_byte_level(tokens[a.id]).c_str(), a.content.c_str());
      seen[a.id] = true;
    }
    for (size_t id = 0; id < size; ++id)
      if (!seen[id]) throw user_error(where("model.vocab"), "id %zu is missing (ids must be 0..%zu)", id, size - 1);

    // Merges: "a b" or ["a", "b"], both parts in the vocabulary.
    std::vector<std::pair<uint32_t, uint32_t>> merges;
    const json& mj = field(model, "merges", where("model"));
    if (!mj.is_array()) throw user_error(where("model.merges"), "expected an array");
    merges.reserve(mj.size());
    for (size_t i = 0; i < mj.size(); ++i) {
      std::string a, b;
      if (mj[i].is_string()) {
        std::string m = mj[i].get<std::string>();
        size_t sp = m.find(' ');
        if (sp == std::string::npos || sp == 0 || sp + 1 == m.size() || m.find(' ', sp + 1) != std::string::npos)
          throw user_error(where("model.merges[" + std::to_string(i) + "]"), "'%s' is not two tokens separated by a space", m.c_str());
        a = m.substr(0, sp);
        b = m.substr(sp + 1);
      } else if (mj[i].is_array() && mj[i].size() == 2 && mj[i][0].is_string() && mj[i][1].is_string()) {
        a = mj[i][0].get<std::string>();
        b = mj[i][1].get<std::string>();
      } else {
        throw user_error(where("model.merges[" + std::to_string(i) + "]"), "expected \"a b\" or [\"a\", \"b\"]");
      }
      auto ia = id_of.find(a), ib = id_of.find(b);
      if (ia == id_of.end() || ib == id_of.end())
        throw user_error(where("model.merges[" + std::to_string(i) + "]"), "'%s' refers to a token not in model.vocab",
                         (ia == id_of.end() ? a : b).c_str());
      merges.emplace_back(ia->second, ib->second);
    }
    // unk_token and byte_fallback only act on bytes the vocabulary lacks; refuse them then.
    bool has_unk = model.contains("unk_token") && !model["unk_token"].is_null();
    if (has_unk || model.value("byte_fallback", false)) {
      for (int b = 0; b < 256; ++b)
        if (!id_of.count(byte_level_chars()[b]))
          throw user_error(where(has_unk ? "model.unk_token" : "model.byte_fallback"),
                           "not supported with a vocabulary that lacks byte 0x%02x", b);
    }
    Tokenizer t;
    t.tokens_ = std::move(tokens);
    t.merges_ = std::move(merges);
    t.added_ = std::move(added);
    t.add_prefix_space_ = prefix_space;
    try {
      t.build_indexes();
    } catch (const UserError& e) {
      throw UserError(where(e.input()), e.problem());
    }
    return t;
  } catch (const json::exception& e) {
    throw user_error(name, "unexpected JSON structure: %s", e.what());
  }
}

Tokenizer Tokenizer::load(const std::string& path) { return from_json_text(read_file(path), path); }

std::string Tokenizer::to_json_text() const {
  // The small parts go through ordered_json; the vocabulary and merges (tens of thousands of
  // entries) are written directly: ordered_json's insertion is a linear search per key.
  ojson j;
  j["version"] = "1.0";
  j["truncation"] = nullptr;
  j["padding"] = nullptr;
  ojson added = ojson::array();
  for (const AddedToken& a : added_)
    added.push_back({{"id", a.id}, {"content", a.content}, {"single_word", false}, {"lstrip", a.lstrip},
                     {"rstrip", a.rstrip}, {"normalized", false}, {"special", a.special}});
  j["added_tokens"] = added;
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", add_prefix_space_}, {"trim_offsets", true}, {"use_regex", true}};
  j["post_processor"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}};
  j["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
  j["model"] = {{"type", "BPE"},           {"dropout", nullptr},         {"unk_token", nullptr},
                {"continuing_subword_prefix", ""}, {"end_of_word_suffix", ""}, {"fuse_unk", false},
                {"byte_fallback", false},  {"vocab", "@VOCAB@"},         {"merges", "@MERGES@"}};
  std::string text = j.dump(2);
  // model.vocab is keyed by spelling: a special token spelled like an ordinary token (a
  // --special "a" next to the byte token "a") cannot be written, and HF could not load it.
  for (const AddedToken& a : added_) {
    auto it = by_bytes_.find(a.content);
    if (it != by_bytes_.end() && it->second != a.id)
      throw user_error("--special", "'%s' is also an ordinary token (id %u); use a name that cannot occur in text, "
                       "like <|name|>", a.content.c_str(), it->second);
  }
  std::string vocab = "{";
  for (uint32_t id = 0; id < tokens_.size(); ++id) {
    vocab += id ? ",\n      " : "\n      ";
    append_json_string(vocab, token_spelling(id));
    vocab += ": " + std::to_string(id);
  }
  vocab += "\n    }";
  std::string merges = "[";
  for (size_t i = 0; i < merges_.size(); ++i) {
    merges += i ? ",\n      " : "\n      ";
    append_json_string(merges, token_spelling(merges_[i].first) + " " + token_spelling(merges_[i].second));
  }
  merges += merges_.empty() ? "]" : "\n    ]";
  text.replace(text.find("\"@VOCAB@\""), 9, vocab);
  text.replace(text.find("\"@MERGES@\""), 10, merges);
  return text + "\n";
}

void Tokenizer::save(const std::string& path) const { atomic_write_file(path, to_json_text()); }

std::string Tokenizer::config_json_text() const {
  ojson j;
  j["tokenizer_class"] = "PreTrainedTokenizerFast";
  j["model_max_length"] = 1024;
  j["add_prefix_space"] = add_prefix_space_;
  j["clean_up_tokenization_spaces"] = false;
  if (eos_ >= 0) {
    j["bos_token"] = "<|endoftext|>";
    j["eos_token"] = "<|endoftext|>";
    j["unk_token"] = "<|endoftext|>";
  }
  for (const AddedToken& a : added_)
    if (a.content == "<|pad|>") j["pad_token"] = "<|pad|>";
  return j.dump(2) + "\n";
}

}  // namespace tlm
