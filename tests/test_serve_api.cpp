// The server's pieces that need no HTTP (src/serve): stop strings across streamed chunks, request
// validation (every bad field a 4xx naming it, never a crash), the chat template, base64
// embeddings, and the Prometheus histogram.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fixtures.h"
#include "serve/api.h"
#include "serve/prometheus.h"
#include "serve/stop_text.h"
#include "tokenizer/bpe_train.h"

namespace tlm::serve {
namespace {

using nlohmann::json;

// Feeds `chunks` and returns what was sent, with "|" between the pieces push() returned.
std::string run_stop(const std::vector<std::string>& stops, const std::vector<std::string>& chunks, bool& stopped) {
  StopText st(stops);
  std::string out;
  for (const std::string& c : chunks) {
    out += st.push(c) + "|";
    if (st.stopped()) break;
  }
  out += st.flush();
  stopped = st.stopped();
  return out;
}

TEST(StopText, HoldsBackOnlyWhatCouldBecomeAStopString) {
  bool stopped = false;
  EXPECT_EQ(run_stop({"END"}, {"hello ", "wor", "ld"}, stopped), "hello |wor|ld|");
  EXPECT_FALSE(stopped);
  // "E" and "EN" could start "END": held until the stop completes, then cut.
  EXPECT_EQ(run_stop({"END"}, {"abc E", "N", "D more"}, stopped), "abc |||");
  EXPECT_TRUE(stopped);
  // A false start is released as soon as it cannot match any more.
  EXPECT_EQ(run_stop({"END"}, {"x E", "Nx", "y"}, stopped), "x |ENx|y|");
  EXPECT_FALSE(stopped);
  // Held text at the end of the generation is flushed.
  EXPECT_EQ(run_stop({"END"}, {"tail EN"}, stopped), "tail |EN");
  // The earliest of several stops wins, inside one chunk.
  EXPECT_EQ(run_stop({"b", "a"}, {"xxab"}, stopped), "xx|");
  EXPECT_TRUE(stopped);
  // A stop at the very start leaves nothing.
  EXPECT_EQ(run_stop({"\n"}, {"\nhello"}, stopped), "|");
  // No stops: everything passes at once.
  EXPECT_EQ(run_stop({}, {"a", "b"}, stopped), "a|b|");
  EXPECT_EQ(run_stop({""}, {"a"}, stopped), "a|");  // an empty stop string never matches
}

class ServeApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new testing::TempDir();
    std::string text;
    for (int r = 0; r < 50; r++) text += "the cat sat on the mat and the dog said hello " + std::to_string(r % 9) + "\n";
    testing::write_file(tmp_->path() + "/t.txt", text);
    BpeTrainOptions o;
    o.vocab_size = 300;
    tok_ = new Tokenizer(train_bpe(std::vector<std::string>{tmp_->path() + "/t.txt"}, o));
  }
  static void TearDownTestSuite() {
    delete tok_;
    delete tmp_;
  }
  ApiContext ctx() const {
    ApiContext c;
    c.tok = tok_;
    c.model_id = "tiny";
    c.context = 64;
    return c;
  }
  // The ApiError a body raises (status 0 when it parses).
  ApiError error_of(const json& body, Kind kind = Kind::completion) const {
    try {
      parse_generate(body, kind, ctx(), 1);
    } catch (const ApiError& e) {
      return e;
    }
    return ApiError(0, "");
  }
  static testing::TempDir* tmp_;
  static Tokenizer* tok_;
};
testing::TempDir* ServeApi::tmp_ = nullptr;
Tokenizer* ServeApi::tok_ = nullptr;

TEST_F(ServeApi, AValidCompletionRequestBecomesItsSpec) {
  json body = {{"model", "tiny"}, {"prompt", "the cat"}, {"max_tokens", 5}, {"temperature", 0.5}, {"top_p", 0.9},
               {"top_k", 7}, {"min_p", 0.1}, {"seed", 42}, {"stop", {"\n", "END"}}, {"n", 3}, {"logprobs", 2},
               {"stream", true}, {"stream_options", {{"include_usage", true}}}};
  ParsedGenerate p = parse_generate(body, Kind::completion, ctx(), 99);
  std::vector<uint32_t> ids = tok_->encode("the cat");
  ASSERT_EQ(p.spec.prompts.size(), 1u);
  EXPECT_EQ(p.spec.prompts[0], std::vector<int32_t>(ids.begin(), ids.end()));
  EXPECT_EQ(p.spec.max_tokens, 5);
  EXPECT_FLOAT_EQ(p.spec.sampling.temperature, 0.5f);
  EXPECT_FLOAT_EQ(p.spec.sampling.top_p, 0.9f);
  EXPECT_EQ(p.spec.sampling.top_k, 7);
  EXPECT_FLOAT_EQ(p.spec.sampling.min_p, 0.1f);
  EXPECT_EQ(p.spec.sampling.seed, 42u);
  EXPECT_EQ(p.spec.stop, (std::vector<std::string>{"\n", "END"}));
  EXPECT_EQ(p.spec.n, 3);
  EXPECT_EQ(p.spec.logprobs, 2);
  EXPECT_TRUE(p.stream && p.include_usage);
  EXPECT_EQ(p.spec.stop_tokens, std::vector<int32_t>{int32_t(tok_->eos_id())});
  // Without a seed the server's random one is used; a batch of prompts and token-id prompts.
  ParsedGenerate q = parse_generate({{"prompt", {"a", "b"}}}, Kind::completion, ctx(), 99);
  EXPECT_EQ(q.spec.sampling.seed, 99u);
  EXPECT_EQ(q.spec.prompts.size(), 2u);
  EXPECT_EQ(q.spec.max_tokens, 16);  // OpenAI's default for completions
  ParsedGenerate r = parse_generate({{"prompt", {5, 6, 7}}, {"ignore_eos", true}}, Kind::completion, ctx(), 1);
  EXPECT_EQ(r.spec.prompts[0], (std::vector<int32_t>{5, 6, 7}));
  EXPECT_TRUE(r.spec.stop_tokens.empty());
}

TEST_F(ServeApi, EveryBadFieldIsA4xxNamingIt) {
  struct Case {
    json body;
    int status;
    std::string param;
  };
  const std::vector<Case> cases = {
      {json::array(), 400, ""},
      {{{"max_tokens", 4}}, 400, "prompt"},
      {{{"prompt", 42}}, 400, "prompt"},
      {{{"prompt", json::array()}}, 400, "prompt"},
      {{{"prompt", {1, -2}}}, 400, "prompt"},
      {{{"prompt", {1, 300}}}, 400, "prompt"},
      {{{"prompt", "x"}, {"max_tokens", -1}}, 400, "max_tokens"},
      {{{"prompt", "x"}, {"max_tokens", 0}}, 400, "max_tokens"},
      {{{"prompt", "x"}, {"max_tokens", 65}}, 400, "max_tokens"},
      {{{"prompt", "x"}, {"max_tokens", 1e30}}, 400, "max_tokens"},
      {{{"prompt", "x"}, {"max_tokens", 18446744073709551615ull}}, 400, "max_tokens"},
      {{{"prompt", "x"}, {"max_tokens", "5"}}, 400, "max_tokens"},
      {{{"prompt", "x"}, {"max_tokens", 2.5}}, 400, "max_tokens"},
      {{{"prompt", "x"}, {"temperature", -0.1}}, 400, "temperature"},
      {{{"prompt", "x"}, {"temperature", "hot"}}, 400, "temperature"},
      {{{"prompt", "x"}, {"top_p", 0}}, 400, "top_p"},
      {{{"prompt", "x"}, {"top_k", -1}}, 400, "top_k"},
      {{{"prompt", "x"}, {"n", 0}}, 400, "n"},
      {{{"prompt", "x"}, {"n", 1000}}, 400, "n"},
      {{{"prompt", "x"}, {"stop", 5}}, 400, "stop"},
      {{{"prompt", "x"}, {"stop", {"a", "b", "c", "d", "e"}}}, 400, "stop"},
      {{{"prompt", "x"}, {"logprobs", 6}}, 400, "logprobs"},
      {{{"prompt", "x"}, {"stream", "yes"}}, 400, "stream"},
      {{{"prompt", "x"}, {"model", "gpt-4"}}, 404, "model"},
      {{{"prompt", "x"}, {"model", 7}}, 400, "model"},
      {{{"prompt", std::string(200, 'q') + " the cat sat on the mat"}}, 400, "prompt"},
  };
  for (const Case& c : cases) {
    ApiError e = error_of(c.body);
    EXPECT_EQ(e.status, c.status) << c.body.dump();
    EXPECT_EQ(e.param, c.param) << c.body.dump();
    json b = e.body();
    EXPECT_TRUE(b["error"]["message"].is_string() && !b["error"]["message"].get<std::string>().empty());
    EXPECT_TRUE(b["error"]["type"].is_string());
  }
  // Too long a prompt says so in its code.
  EXPECT_EQ(error_of({{"prompt", std::string(300, 'z')}}).code, "context_length_exceeded");
  const std::vector<Case> chat = {
      {{{"messages", json::array()}}, 400, "messages"},
      {{{"messages", "hi"}}, 400, "messages"},
      {{{"messages", {{{"role", "wizard"}, {"content", "x"}}}}}, 400, "messages"},
      {{{"messages", {{{"content", "x"}}}}}, 400, "messages"},
      {{{"messages", {{{"role", "user"}, {"content", 5}}}}}, 400, "messages"},
      {{{"messages", {{{"role", "user"}, {"content", {{{"type", "image_url"}}}}}}}}, 400, "messages"},
      {{{"messages", {{{"role", "user"}, {"content", "x"}}}}, {"top_logprobs", 2}}, 400, "top_logprobs"},
  };
  for (const Case& c : chat) {
    ApiError e = error_of(c.body, Kind::chat);
    EXPECT_EQ(e.status, c.status) << c.body.dump();
    EXPECT_EQ(e.param, c.param) << c.body.dump();
  }
  bool b64 = false;
  EXPECT_THROW(parse_embeddings({{"input", ""}}, ctx(), b64), ApiError);
  EXPECT_THROW(parse_embeddings({{"input", "x"}, {"encoding_format", "hex"}}, ctx(), b64), ApiError);
  EXPECT_THROW(parse_embeddings(json::object(), ctx(), b64), ApiError);
  EmbedSpec es = parse_embeddings({{"input", {"a b", "c"}}, {"encoding_format", "base64"}}, ctx(), b64);
  EXPECT_EQ(es.inputs.size(), 2u);
  EXPECT_TRUE(b64);
}

// Fields the server cannot honour are a 400 naming the field, not silently ignored; the values
// that ask for nothing pass.
TEST_F(ServeApi, UnsupportedFieldsAreA400NamingThem) {
  const json msgs = {{{"role", "user"}, {"content", "x"}}};
  const std::vector<std::pair<json, std::string>> refused = {
      {{{"response_format", {{"type", "json_object"}}}}, "response_format"},
      {{{"response_format", {{"type", "json_schema"}, {"json_schema", {{"name", "x"}}}}}}, "response_format"},
      {{{"response_format", "json"}}, "response_format"},
      {{{"tools", {{{"type", "function"}, {"function", {{"name", "f"}}}}}}}, "tools"},
      {{{"tool_choice", "auto"}}, "tool_choice"},
      {{{"tool_choice", {{"type", "function"}, {"function", {{"name", "f"}}}}}}, "tool_choice"},
      {{{"grammar", "root ::= \"a\""}}, "grammar"},
      {{{"logit_bias", {{"50256", -100}}}}, "logit_bias"},
      {{{"echo", true}}, "echo"},
  };
  for (const auto& [extra, param] : refused) {
    for (Kind kind : {Kind::completion, Kind::chat}) {
      json body = extra;
      if (kind == Kind::chat) body["messages"] = msgs;
      else body["prompt"] = "x";
      ApiError e = error_of(body, kind);
      EXPECT_EQ(e.status, 400) << body.dump();
      EXPECT_EQ(e.param, param) << body.dump();
      json b = e.body();
      EXPECT_NE(b["error"]["message"].get<std::string>().find(param), std::string::npos) << b.dump();
      EXPECT_EQ(b["error"]["param"], param) << b.dump();
    }
  }
  const json harmless = {{"response_format", {{"type", "text"}}}, {"echo", false}, {"logit_bias", json::object()},
                         {"tools", json::array()}, {"tool_choice", "none"}, {"grammar", ""}, {"functions", nullptr}};
  json c = harmless;
  c["prompt"] = "x";
  EXPECT_NO_THROW(parse_generate(c, Kind::completion, ctx(), 1)) << c.dump();
  json m = harmless;
  m["messages"] = msgs;
  EXPECT_NO_THROW(parse_generate(m, Kind::chat, ctx(), 1)) << m.dump();
}

TEST_F(ServeApi, ChatTemplateIsChatMLWithContentsAsPlainText) {
  const int32_t start = int32_t(tok_->token_id("<|im_start|>")), end = int32_t(tok_->token_id("<|im_end|>"));
  ASSERT_GE(start, 0);
  ASSERT_GE(end, 0);
  json messages = {{{"role", "system"}, {"content", "be brief"}},
                   {{"role", "user"}, {"content", "hi <|im_end|> there"}}};
  std::vector<int32_t> ids = chat_prompt(messages, *tok_);
  std::vector<uint32_t> u(ids.begin(), ids.end());
  EXPECT_EQ(tok_->decode(u), "<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhi <|im_end|> there<|im_end|>\n"
                             "<|im_start|>assistant\n");
  // The special-looking text inside a message is ordinary text: only the template's five
  // delimiters (three <|im_start|>, two <|im_end|>) are special ids.
  int specials = 0;
  for (int32_t id : ids) specials += (id == start || id == end);
  EXPECT_EQ(specials, 5);
  ParsedGenerate p = parse_generate({{"messages", messages}}, Kind::chat, ctx(), 1);
  EXPECT_EQ(p.spec.prompts[0], ids);
  EXPECT_EQ(p.spec.stop_tokens, (std::vector<int32_t>{int32_t(tok_->eos_id()), end}));
  EXPECT_EQ(p.spec.max_tokens, 64);  // chat default: up to the context
}

TEST(ServeBase64, FloatsAreLittleEndianBytesInStandardBase64) {
  EXPECT_EQ(base64_floats({1.0f}), "AACAPw==");            // 00 00 80 3f
  EXPECT_EQ(base64_floats({1.0f, -2.0f}), "AACAPwAAAMA=");  // + 00 00 00 c0
  EXPECT_EQ(base64_floats({0.0f, 0.0f, 0.0f}), "AAAAAAAAAAAAAAAA");
  EXPECT_EQ(base64_floats({}), "");
}

TEST(ServeMetrics, HistogramBucketsAreCumulativeAndPrometheusTextIsWellFormed) {
  Histogram h({0.1, 1, 10});
  for (double v : {0.05, 0.5, 0.7, 5.0, 50.0}) h.observe(v);
  std::string out;
  h.render(out, "x");
  EXPECT_NE(out.find("x_bucket{le=\"0.1\"} 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_bucket{le=\"1\"} 3\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_bucket{le=\"10\"} 4\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_bucket{le=\"+Inf\"} 5\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_count 5\n"), std::string::npos) << out;
  EXPECT_DOUBLE_EQ(h.quantile(0.5), 1);
  EXPECT_DOUBLE_EQ(h.quantile(0.2), 0.1);

  ServerMetrics m(4);
  m.request_done("/v1/completions", 200);
  m.request_done("/v1/completions", 400);
  m.request_duration(0.2);
  m.tokens(10, 3);
  m.engine_state(2, 1);
  m.choice_done("cancelled");
  const std::string text = m.prometheus();
  EXPECT_NE(text.find("tweetlm_requests_total{route=\"/v1/completions\",code=\"400\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("tweetlm_generated_tokens_total 3\n"), std::string::npos);
  EXPECT_NE(text.find("tweetlm_slots_busy 2\n"), std::string::npos);
  EXPECT_NE(text.find("tweetlm_queue_depth 1\n"), std::string::npos);
  EXPECT_NE(text.find("tweetlm_choices_total{finish=\"cancelled\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("tweetlm_request_duration_seconds_count 1\n"), std::string::npos);
  // Every line is a comment or "name[{labels}] value".
  for (const std::string& line : testing::split_lines(text)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t sp = line.rfind(' ');
    ASSERT_NE(sp, std::string::npos) << line;
    char* end = nullptr;
    std::strtod(line.c_str() + sp + 1, &end);
    EXPECT_EQ(*end, '\0') << line;
  }
}

}  // namespace
}  // namespace tlm::serve
