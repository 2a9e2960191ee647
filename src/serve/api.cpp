// OpenAI request validation and response bodies (see api.h). Field names, defaults and ranges
// follow the OpenAI API reference; llama.cpp's extensions (top_k, min_p, repeat_penalty) are
// accepted too, with llama.cpp's defaults.
#include "serve/api.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/check.h"
#include "core/utf8.h"

namespace tlm::serve {

using nlohmann::json;

ApiError::ApiError(int status_, std::string message, std::string param_, std::string type_, std::string code_)
    : std::runtime_error(std::move(message)), status(status_), param(std::move(param_)), type(std::move(type_)),
      code(std::move(code_)) {
  if (type.empty()) {
    type = status == 401   ? "authentication_error"
           : status == 404 ? "not_found_error"
           : status == 503 ? "server_busy"
           : status >= 500 ? "server_error"
                           : "invalid_request_error";
  }
}

json ApiError::body() const {
  json e = {{"message", what()}, {"type", type}, {"param", nullptr}, {"code", nullptr}};
  if (!param.empty()) e["param"] = param;
  if (!code.empty()) e["code"] = code;
  return json{{"error", e}};
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

namespace {

const json* field(const json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

[[noreturn]] void bad(const char* param, const std::string& msg) { throw ApiError(400, msg, param); }

double get_number(const json& body, const char* key, double lo, double hi, double def) {
  const json* v = field(body, key);
  if (!v) return def;
  if (!v->is_number()) bad(key, strprintf("'%s' must be a number", key));
  const double x = v->get<double>();
  if (!(x >= lo && x <= hi)) bad(key, strprintf("'%s' is %g, but must be in [%g, %g]", key, x, lo, hi));
  return x;
}

int64_t get_int(const json& body, const char* key, int64_t lo, int64_t hi, int64_t def) {
  const json* v = field(body, key);
  if (!v) return def;
  if (!v->is_number_integer()) bad(key, strprintf("'%s' must be an integer", key));
  // Values beyond int64 arrive as unsigned or saturate; both fail the range check below.
  if (v->is_number_unsigned() && v->get<uint64_t>() > uint64_t(INT64_MAX))
    bad(key, strprintf("'%s' must be in [%lld, %lld]", key, (long long)lo, (long long)hi));
  const int64_t x = v->get<int64_t>();
  if (x < lo || x > hi) bad(key, strprintf("'%s' is %lld, but must be in [%lld, %lld]", key, (long long)x,
                                           (long long)lo, (long long)hi));
  return x;
}

bool get_bool(const json& body, const char* key, bool def) {
  const json* v = field(body, key);
  if (!v) return def;
  if (!v->is_boolean()) bad(key, strprintf("'%s' must be true or false", key));
  return v->get<bool>();
}

void check_model(const json& body, const ApiContext& ctx) {
  const json* m = field(body, "model");
  if (!m) return;
  if (!m->is_string()) bad("model", "'model' must be a string");
  if (m->get<std::string>() != ctx.model_id)
    throw ApiError(404, strprintf("The model '%s' does not exist (this server has '%s')",
                                  m->get<std::string>().c_str(), ctx.model_id.c_str()),
                   "model", "invalid_request_error", "model_not_found");
}

std::vector<int32_t> encode_text(const Tokenizer& tok, const std::string& s) {
  std::vector<uint32_t> ids;
  tok.encode_ordinary(s, ids);
  return std::vector<int32_t>(ids.begin(), ids.end());
}

// A prompt or an embedding input: a string, or an array of token ids.
std::vector<int32_t> text_or_ids(const json& v, const char* param, const Tokenizer& tok) {
  if (v.is_string()) return encode_text(tok, v.get<std::string>());
  if (v.is_array()) {
    std::vector<int32_t> ids;
    for (const json& t : v) {
      if (!t.is_number_integer()) bad(param, strprintf("'%s' must be a string or an array of token ids", param));
      const int64_t id = t.get<int64_t>();
      if (id < 0 || id >= int64_t(tok.vocab_size()))
        bad(param, strprintf("token id %lld is outside the vocabulary (%zu tokens)", (long long)id, tok.vocab_size()));
      ids.push_back(int32_t(id));
    }
    return ids;
  }
  bad(param, strprintf("'%s' must be a string or an array of token ids", param));
}

// One input or a batch: "x", [1, 2], ["x", "y"], [[1, 2], [3]].
std::vector<std::vector<int32_t>> inputs_of(const json& v, const char* param, const ApiContext& ctx) {
  std::vector<std::vector<int32_t>> out;
  if (v.is_array() && !v.empty() && (v[0].is_string() || v[0].is_array())) {
    if (v.size() > size_t(ctx.max_inputs))
      bad(param, strprintf("%zu inputs, at most %d per request", v.size(), ctx.max_inputs));
    for (const json& x : v) out.push_back(text_or_ids(x, param, *ctx.tok));
  } else {
    if (v.is_array() && v.empty()) bad(param, strprintf("'%s' is empty", param));
    out.push_back(text_or_ids(v, param, *ctx.tok));
  }
  for (size_t i = 0; i < out.size(); i++)
    if (out[i].size() + 1 > size_t(ctx.context))
      throw ApiError(400, strprintf("%s%s is %zu tokens, but the context is %d tokens (the leading "
                                    "<|endoftext|> included)", param, out.size() > 1 ? strprintf(" %zu", i).c_str() : "",
                                    out[i].size(), ctx.context),
                     param, "invalid_request_error", "context_length_exceeded");
  return out;
}

std::string message_content(const json& m, size_t i) {
  const json* c = field(m, "content");
  if (!c) return "";
  if (c->is_string()) return c->get<std::string>();
  if (c->is_array()) {  // [{"type": "text", "text": "..."}]
    std::string s;
    for (const json& part : *c) {
      if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") || !part["text"].is_string())
        bad("messages", strprintf("messages[%zu].content: only text parts are supported", i));
      s += part["text"].get<std::string>();
    }
    return s;
  }
  bad("messages", strprintf("messages[%zu].content must be a string or an array of text parts", i));
}

int32_t special_id(const Tokenizer& tok, const char* name) {
  const int64_t id = tok.token_id(name);
  if (id < 0) throw ApiError(400, strprintf("this model's tokenizer has no %s token, needed by chat", name), "messages");
  return int32_t(id);
}

}  // namespace

std::vector<int32_t> chat_prompt(const json& messages, const Tokenizer& tok) {
  if (!messages.is_array()) bad("messages", "'messages' must be an array");
  if (messages.empty()) bad("messages", "'messages' is empty");
  const int32_t start = special_id(tok, "<|im_start|>"), end = special_id(tok, "<|im_end|>");
  std::vector<int32_t> ids;
  auto append = [&](const std::string& s) {
    std::vector<int32_t> t = encode_text(tok, s);
    ids.insert(ids.end(), t.begin(), t.end());
  };
  for (size_t i = 0; i < messages.size(); i++) {
    const json& m = messages[i];
    if (!m.is_object()) bad("messages", strprintf("messages[%zu] must be an object", i));
    const json* role = field(m, "role");
    if (!role || !role->is_string()) bad("messages", strprintf("messages[%zu].role must be a string", i));
    const std::string r = role->get<std::string>();
    if (r != "system" && r != "developer" && r != "user" && r != "assistant")
      bad("messages", strprintf("messages[%zu].role '%s' is not one of system, developer, user, assistant", i,
                                r.c_str()));
    ids.push_back(start);
    append((r == "developer" ? "system" : r) + "\n" + message_content(m, i));
    ids.push_back(end);
    append("\n");
  }
  ids.push_back(start);
  append("assistant\n");
  return ids;
}

// Fields clients send that this server cannot honour: a request that asks for JSON output,
// tools, a grammar, logit biases or an echoed prompt gets a 400 naming the field instead of
// plain text it did not ask for. The values that ask for nothing (null, {"type": "text"},
// empty lists and objects, "none", false, "") pass.
void reject_unsupported(const json& body) {
  if (const json* rf = field(body, "response_format")) {
    const bool text = rf->is_object() && rf->contains("type") && (*rf)["type"] == "text";
    if (!text) bad("response_format", "'response_format' is not supported: this server generates plain text only "
                                      "(only {\"type\": \"text\"} is accepted)");
  }
  for (const char* key : {"tools", "functions"})
    if (const json* v = field(body, key); v && !(v->is_array() && v->empty()))
      bad(key, strprintf("'%s' is not supported: this server has no tool calling", key));
  for (const char* key : {"tool_choice", "function_call"})
    if (const json* v = field(body, key); v && !(v->is_string() && v->get<std::string>() == "none"))
      bad(key, strprintf("'%s' is not supported: this server has no tool calling (only \"none\" is accepted)", key));
  for (const char* key : {"grammar", "json_schema"})
    if (const json* v = field(body, key); v && !(v->is_string() && v->get<std::string>().empty()) &&
                                          !(v->is_object() && v->empty()))
      bad(key, strprintf("'%s' is not supported: this server has no constrained generation", key));
  if (const json* v = field(body, "logit_bias"); v && !((v->is_object() || v->is_array()) && v->empty()))
    bad("logit_bias", "'logit_bias' is not supported (only an empty one is accepted)");
  if (const json* v = field(body, "echo"); v && !(v->is_boolean() && !v->get<bool>()))
    bad("echo", "'echo' is not supported: the response holds the completion only (only false is accepted)");
}

ParsedGenerate parse_generate(const json& body, Kind kind, const ApiContext& ctx, uint64_t random_seed) {
  if (!body.is_object()) bad("", "the request body must be a JSON object");
  check_model(body, ctx);
  reject_unsupported(body);
  ParsedGenerate r;
  GenerateSpec& g = r.spec;
  const Tokenizer& tok = *ctx.tok;
  g.stop_tokens.push_back(int32_t(tok.eos_id()));
  if (kind == Kind::chat) {
    const json* m = field(body, "messages");
    if (!m) bad("messages", "'messages' is required");
    std::vector<int32_t> p = chat_prompt(*m, tok);
    if (p.size() + 1 > size_t(ctx.context))
      throw ApiError(400, strprintf("messages are %zu tokens with the chat template, but the context is %d "
                                    "tokens", p.size() + 1, ctx.context),
                     "messages", "invalid_request_error", "context_length_exceeded");
    g.prompts.push_back(std::move(p));
    g.stop_tokens.push_back(special_id(tok, "<|im_end|>"));
  } else {
    const json* p = field(body, "prompt");
    if (!p) bad("prompt", "'prompt' is required");
    g.prompts = inputs_of(*p, "prompt", ctx);
  }
  const int cap = ctx.max_tokens > 0 ? std::min(ctx.max_tokens, ctx.context) : ctx.context;
  const char* mt = kind == Kind::chat && field(body, "max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
  g.max_tokens = int(get_int(body, mt, 1, cap, kind == Kind::chat ? cap : 16));
  g.n = int(get_int(body, "n", 1, ctx.max_n, 1));
  if (g.prompts.size() * size_t(g.n) > size_t(ctx.max_inputs))
    bad("n", strprintf("%zu prompts x n = %d is more than %d choices", g.prompts.size(), g.n, ctx.max_inputs));
  SamplerOptions& s = g.sampling;
  s.temperature = float(get_number(body, "temperature", 0, 2, s.temperature));
  s.top_p = float(get_number(body, "top_p", 0, 1, s.top_p));
  if (s.top_p <= 0) bad("top_p", "'top_p' must be greater than 0");
  s.top_k = int(get_int(body, "top_k", 0, 1 << 30, s.top_k));
  s.min_p = float(get_number(body, "min_p", 0, 1, s.min_p));
  s.repeat_penalty = float(get_number(body, "repeat_penalty", 0.01, 10, s.repeat_penalty));
  get_number(body, "presence_penalty", -2, 2, 0);  // accepted for compatibility, no effect
  get_number(body, "frequency_penalty", -2, 2, 0);
  const json* seed = field(body, "seed");
  s.seed = seed ? uint64_t(get_int(body, "seed", INT64_MIN, INT64_MAX, 0)) : random_seed;
  if (const json* st = field(body, "stop")) {
    if (st->is_string()) g.stop.push_back(st->get<std::string>());
    else if (st->is_array() && st->size() <= 4) {
      for (const json& x : *st) {
        if (!x.is_string()) bad("stop", "'stop' must be a string or an array of up to 4 strings");
        g.stop.push_back(x.get<std::string>());
      }
    } else bad("stop", "'stop' must be a string or an array of up to 4 strings");
  }
  // llama.cpp's extension: generate exactly max_tokens (benchmarks), never stopping at a special token.
  if (get_bool(body, "ignore_eos", false)) g.stop_tokens.clear();
  r.stream = get_bool(body, "stream", false);
  if (const json* so = field(body, "stream_options")) {
    if (!so->is_object()) bad("stream_options", "'stream_options' must be an object");
    r.include_usage = get_bool(*so, "include_usage", false);
  }
  if (kind == Kind::chat) {
    r.chat_logprobs = get_bool(body, "logprobs", false);
    const int top = int(get_int(body, "top_logprobs", 0, 20, 0));
    if (top > 0 && !r.chat_logprobs) bad("top_logprobs", "'top_logprobs' needs 'logprobs': true");
    g.logprobs = r.chat_logprobs ? top : -1;
  } else {
    g.logprobs = int(get_int(body, "logprobs", 0, 5, -1));
  }
  return r;
}

EmbedSpec parse_embeddings(const json& body, const ApiContext& ctx, bool& base64) {
  if (!body.is_object()) bad("", "the request body must be a JSON object");
  check_model(body, ctx);
  const json* in = field(body, "input");
  if (!in) bad("input", "'input' is required");
  EmbedSpec spec;
  spec.inputs = inputs_of(*in, "input", ctx);
  for (const auto& x : spec.inputs)
    if (x.empty()) bad("input", "an input is empty");
  base64 = false;
  if (const json* f = field(body, "encoding_format")) {
    if (!f->is_string() || (*f != "float" && *f != "base64"))
      bad("encoding_format", "'encoding_format' must be \"float\" or \"base64\"");
    base64 = *f == "base64";
  }
  if (field(body, "dimensions")) bad("dimensions", "'dimensions' is not supported: embeddings have the model's width");
  return spec;
}

json usage_json(int prompt_tokens, int completion_tokens) {
  return {{"prompt_tokens", prompt_tokens}, {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens}};
}

namespace {

json bytes_array(const std::string& s) {
  json a = json::array();
  for (unsigned char c : s) a.push_back(int(c));
  return a;
}

// Logprobs of `lps` in the format of `kind` (the completions API's parallel arrays, or the chat
// API's list of objects), text_offset counted from `offset`.
json logprobs_json(Kind kind, const std::vector<TokenLogprob>& lps, const Tokenizer& tok, size_t offset) {
  if (kind == Kind::chat) {
    json content = json::array();
    for (const TokenLogprob& t : lps) {
      const std::string& b = tok.token_bytes(uint32_t(t.token));
      json top = json::array();
      for (auto [id, lp] : t.top) {
        const std::string& tb = tok.token_bytes(uint32_t(id));
        top.push_back({{"token", tb}, {"logprob", lp}, {"bytes", bytes_array(tb)}});
      }
      content.push_back({{"token", b}, {"logprob", t.logprob}, {"bytes", bytes_array(b)}, {"top_logprobs", top}});
    }
    return {{"content", content}};
  }
  json tokens = json::array(), token_lps = json::array(), tops = json::array(), offsets = json::array();
  for (const TokenLogprob& t : lps) {
    const std::string& b = tok.token_bytes(uint32_t(t.token));
    tokens.push_back(b);
    token_lps.push_back(t.logprob);
    // Keyed by text: byte tokens that are not valid UTF-8 alone all read as U+FFFD, so repair
    // the keys here and keep the likeliest of those that collide (the list is best first).
    json top = json::object();
    for (auto [id, lp] : t.top) {
      std::string key;
      if (!utf8_repair(tok.token_bytes(uint32_t(id)), key)) key = tok.token_bytes(uint32_t(id));
      if (!top.contains(key)) top[key] = lp;
    }
    tops.push_back(top);
    offsets.push_back(offset);
    offset += b.size();
  }
  return {{"tokens", tokens}, {"token_logprobs", token_lps}, {"top_logprobs", tops}, {"text_offset", offsets}};
}

const char* finish_name(const std::string& f) { return f == "length" ? "length" : "stop"; }

}  // namespace

json completion_response(Kind kind, const std::string& id, const std::string& model, int64_t created,
                         const std::vector<ChoiceResult>& choices, const ParsedGenerate& req, const Tokenizer& tok) {
  json out = {{"id", id}, {"object", kind == Kind::chat ? "chat.completion" : "text_completion"},
              {"created", created}, {"model", model}};
  json arr = json::array();
  int prompt = 0, completion = 0;
  for (size_t c = 0; c < choices.size(); c++) {
    const ChoiceResult& r = choices[c];
    json ch = {{"index", c}, {"finish_reason", finish_name(r.finish)}, {"logprobs", nullptr}};
    if (req.spec.logprobs >= 0) ch["logprobs"] = logprobs_json(kind, r.logprobs, tok, 0);
    if (kind == Kind::chat) ch["message"] = {{"role", "assistant"}, {"content", r.text}};
    else ch["text"] = r.text;
    arr.push_back(ch);
    // Every choice of a prompt fed the same prompt; count it once per prompt, as OpenAI does.
    if (c % size_t(req.spec.n) == 0) prompt += r.prompt_tokens;
    completion += r.completion_tokens;
  }
  out["choices"] = arr;
  out["usage"] = usage_json(prompt, completion);
  return out;
}

json stream_chunk(Kind kind, const std::string& id, const std::string& model, int64_t created, const Event& e,
                  bool first_of_choice, const ParsedGenerate& req, const Tokenizer& tok) {
  json ch = {{"index", e.choice}, {"logprobs", nullptr},
             {"finish_reason", e.finish.empty() ? json(nullptr) : json(finish_name(e.finish))}};
  if (req.spec.logprobs >= 0 && !e.logprobs.empty()) ch["logprobs"] = logprobs_json(kind, e.logprobs, tok, 0);
  if (kind == Kind::chat) {
    json delta = json::object();
    if (first_of_choice) delta["role"] = "assistant";
    if (!e.text.empty() || e.finish.empty()) delta["content"] = e.text;
    ch["delta"] = delta;
  } else {
    ch["text"] = e.text;
  }
  return {{"id", id}, {"object", kind == Kind::chat ? "chat.completion.chunk" : "text_completion"},
          {"created", created}, {"model", model}, {"choices", json::array({ch})}};
}

std::string base64_floats(const std::vector<float>& v) {
  static const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string bytes(v.size() * sizeof(float), '\0');
  if (!v.empty()) std::memcpy(bytes.data(), v.data(), bytes.size());  // little-endian hosts (x86-64, aarch64)
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const uint32_t b0 = uint8_t(bytes[i]), b1 = i + 1 < bytes.size() ? uint8_t(bytes[i + 1]) : 0,
                   b2 = i + 2 < bytes.size() ? uint8_t(bytes[i + 2]) : 0;
    const uint32_t n = b0 << 16 | b1 << 8 | b2;
    out.push_back(tbl[n >> 18 & 63]);
    out.push_back(tbl[n >> 12 & 63]);
    out.push_back(i + 1 < bytes.size() ? tbl[n >> 6 & 63] : '=');
    out.push_back(i + 2 < bytes.size() ? tbl[n & 63] : '=');
  }
  return out;
}

}  // namespace tlm::serve
