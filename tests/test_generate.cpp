// Generation tests: attention against the KV cache equals training attention on one document;
// the cached forward equals Llama::forward over the whole sequence, so greedy generation picks
// the argmax of the full forward at every step; batching, slot reuse and chunked prefill do not
// change results; stop rules; loading a model directory; and `tweetlm generate` end to end.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/file.h"
#include "core/log.h"
#include "core/rng.h"
#include "infer/generate.h"
#include "store/model_loader.h"
#include "infer/session.h"
#include "model/batch.h"
#include "model/llama.h"
#include "store/params_io.h"
#include "ops/attention.h"
#include "tokenizer/bpe_train.h"
#include "store/checkpoint.h"
#include "fixtures.h"

namespace tlm {
namespace {

using testing::TempDir;
using testing::slurp;
using testing::write_file;



std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  for (size_t pos = 0; pos < s.size();) {
    size_t nl = s.find('\n', pos);
    if (nl == std::string::npos) nl = s.size();
    out.push_back(s.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

std::vector<float> random_vector(size_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = rng.normal();
  return v;
}

// ---------------------------------------------------------------- attention_decode

struct AttnShape {
  int T, H, KVH, D;
};

TEST(AttentionDecode, MatchesAttentionForwardOnOneDocument) {
  for (AttnShape s : {AttnShape{1, 1, 1, 4}, AttnShape{7, 2, 2, 6}, AttnShape{33, 4, 2, 8}, AttnShape{70, 6, 1, 16},
                      AttnShape{150, 4, 4, 64}, AttnShape{19, 3, 3, 10}}) {
    SCOPED_TRACE(::testing::Message() << "T=" << s.T << " H=" << s.H << " KVH=" << s.KVH << " D=" << s.D);
    const int QKV = (s.H + 2 * s.KVH) * s.D, HD = s.H * s.D, KVD = s.KVH * s.D;
    std::vector<float> qkv = random_vector(size_t(s.T) * QKV, 7 + s.T);
    std::vector<int32_t> doc_start(s.T, 0);
    std::vector<float> ref(size_t(s.T) * HD), lse(size_t(s.H) * s.T);
    ops::attention_forward(ref.data(), lse.data(), qkv.data(), doc_start.data(), 1, s.T, s.H, s.KVH, s.D);

    std::vector<float> q(size_t(s.T) * HD), k(size_t(s.T) * KVD), v(size_t(s.T) * KVD);
    for (int t = 0; t < s.T; t++) {
      const float* row = qkv.data() + size_t(t) * QKV;
      std::copy(row, row + HD, q.begin() + size_t(t) * HD);
      std::copy(row + HD, row + HD + KVD, k.begin() + size_t(t) * KVD);
      std::copy(row + HD + KVD, row + QKV, v.begin() + size_t(t) * KVD);
    }
    // Fed three ways: the whole prompt at once, in uneven chunks, and one token at a time. The
    // cache passed holds exactly the rows up to the chunk's end (so nothing later can leak in).
    for (int chunk : {s.T, 5, 1}) {
      std::vector<float> out(size_t(s.T) * HD, NAN);
      for (int first = 0; first < s.T; first += chunk) {
        int n = std::min(chunk, s.T - first);
        std::vector<float> kc(k.begin(), k.begin() + size_t(first + n) * KVD);
        std::vector<float> vc(v.begin(), v.begin() + size_t(first + n) * KVD);
        ops::attention_decode(out.data() + size_t(first) * HD, q.data() + size_t(first) * HD, kc.data(), vc.data(),
                              first, n, s.H, s.KVH, s.D);
      }
      // Same math in another summation order: fp32 rounding only (outputs are O(1)).
      for (size_t i = 0; i < out.size(); i++) ASSERT_NEAR(out[i], ref[i], 2e-5f) << "chunk " << chunk << " index " << i;
    }
  }
}

// ---------------------------------------------------------------- the cached forward

ModelConfig small_config(int V = 61, int T = 40) {
  ModelConfig c;
  c.vocab_size = V, c.max_seq_len = T, c.dim = 48, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2, c.head_dim = 12;
  c.ffn_dim = 80, c.tied_embeddings = false;
  return c;
}

// A random model with larger weights than the training initialisation, so logits are spread
// out (argmax decisions are not near-ties) and attention is far from uniform.
std::unique_ptr<Llama> random_model(const ModelConfig& cfg, uint64_t seed, int max_B = 1) {
  auto m = std::make_unique<Llama>(cfg, max_B, cfg.max_seq_len);
  m->init(seed);
  for (const ParamInfo& p : m->layout().params())
    if (!p.is_norm)
      for (size_t i = 0; i < p.size; i++) m->params()[p.offset + i] *= 8.0f;
  return m;
}

// Logits of the full forward over [eos] + seq (one document), at every position: [len, V].
std::vector<float> full_logits(Llama& m, const std::vector<int32_t>& seq) {
  Batch b;
  b.resize(1, int(seq.size()));
  b.tokens = seq;
  b.compute_documents(seq[0]);
  m.forward(b, false);
  return std::vector<float>(m.logits(), m.logits() + seq.size() * size_t(m.config().vocab_size));
}

TEST(InferenceSession, LogitsEqualTheFullForwardAtEveryPosition) {
  const ModelConfig cfg = small_config();
  auto model = random_model(cfg, 11);
  const int V = cfg.vocab_size, eos = 0;
  std::vector<int32_t> seq = {eos};
  Rng rng(5);
  for (int i = 0; i < cfg.max_seq_len - 1; i++) seq.push_back(1 + int32_t(rng.below(V - 1)));
  const std::vector<float> ref = full_logits(*model, seq);
  // Tolerance: fp32 rounding of the same sums in other orders, on logits of magnitude ~10.
  const float tol = 2e-3f;
  for (int max_rows : {256, 3}) {  // 3: the prefill is split over many chunks
    InferenceSession sess(*model, 2, 0, max_rows);
    const int prefill = 9;
    SeqInput in{1, seq.data(), prefill};  // slot 1: slots are independent of their index
    const float* l = sess.forward({&in, 1});
    for (int j = 0; j < V; j++) ASSERT_NEAR(l[j], ref[size_t(prefill - 1) * V + j], tol);
    for (size_t t = prefill; t < seq.size(); t++) {
      SeqInput one{1, seq.data() + t, 1};
      l = sess.forward({&one, 1});
      for (int j = 0; j < V; j++) ASSERT_NEAR(l[j], ref[t * V + j], tol) << "position " << t << " rows " << max_rows;
    }
    EXPECT_EQ(sess.length(1), cfg.max_seq_len);
    EXPECT_EQ(sess.length(0), 0);
  }
}

TEST(InferenceSession, MixedPrefillAndDecodeRowsMatchSeparateRuns) {
  const ModelConfig cfg = small_config();
  auto model = random_model(cfg, 12);
  const size_t V = size_t(cfg.vocab_size);
  std::vector<int32_t> a = {0, 5, 9, 13, 2, 7}, b = {0, 30, 31}, c = {0, 44, 1, 2, 3, 4, 5, 6, 7, 8};
  InferenceSession sess(*model, 3, 0, 4);  // 4 rows per chunk: both steps span chunks
  // Step 1: a and b prefill together; step 2: c prefills while a decodes its next token.
  SeqInput step1[] = {{0, a.data(), 5}, {2, b.data(), 3}};
  const float* l = sess.forward(step1);
  std::vector<float> a5(l, l + V), b3(l + V, l + 2 * V);
  SeqInput step2[] = {{1, c.data(), int(c.size())}, {0, a.data() + 5, 1}};
  l = sess.forward(step2);
  std::vector<float> c10(l, l + V), a6(l + V, l + 2 * V);

  auto expect_row = [&](const std::vector<float>& got, const std::vector<int32_t>& seq, size_t len, const char* what) {
    std::vector<int32_t> prefix(seq.begin(), seq.begin() + len);
    std::vector<float> ref = full_logits(*model, prefix);
    for (size_t j = 0; j < V; j++) ASSERT_NEAR(got[j], ref[(len - 1) * V + j], 2e-3f) << what;
  };
  expect_row(a5, a, 5, "a after prefill");
  expect_row(b3, b, 3, "b after prefill");
  expect_row(c10, c, 10, "c after prefill");
  expect_row(a6, a, 6, "a after one decoded token");
}

// ---------------------------------------------------------------- generate()

GenerateOptions greedy_options(int max_new, int eos, int n_vocab) {
  GenerateOptions o;
  o.sampling.temperature = 0.0f;
  o.max_new_tokens = max_new;
  o.eos_id = eos;
  o.n_vocab = n_vocab;
  return o;
}

TEST(Generate, GreedyIsTheArgmaxOfTheFullForwardAtEveryStep) {
  const ModelConfig cfg = small_config();
  auto model = random_model(cfg, 21);
  const int V = cfg.vocab_size;
  // The eos is the last id and sampling is restricted below it, so all 20 tokens are generated.
  const int eos = V - 1;
  const std::vector<std::vector<int32_t>> prompts = {{3, 14, 15, 9, 26}, {}};
  for (const auto& prompt : prompts) {
    std::vector<Generation> g = generate(*model, {prompt}, greedy_options(20, eos, V - 1));
    ASSERT_EQ(g.size(), 1u);
    ASSERT_EQ(g[0].tokens.size(), 20u);
    EXPECT_EQ(g[0].stop, StopReason::max_tokens);
    std::vector<int32_t> seq = {eos};
    seq.insert(seq.end(), prompt.begin(), prompt.end());
    for (size_t step = 0; step < g[0].tokens.size(); step++) {
      std::vector<float> ref = full_logits(*model, seq);
      const float* last = ref.data() + (seq.size() - 1) * size_t(V);
      int32_t want = argmax(last, V - 1);
      // Equal unless the two best logits are within rounding of each other (they are not for this
      // seed; the message would say so if a change of the ops made them so).
      if (g[0].tokens[step] != want) {
        ASSERT_NEAR(last[g[0].tokens[step]], last[want], 1e-3f) << "step " << step << ": not a near-tie";
      }
      seq.push_back(g[0].tokens[step]);
    }
    // A random model does not just repeat one token (the test would then check little).
    std::vector<int32_t> distinct = g[0].tokens;
    std::sort(distinct.begin(), distinct.end());
    EXPECT_GE(std::unique(distinct.begin(), distinct.end()) - distinct.begin(), 3);
  }
}

TEST(Generate, BatchedEqualsEachPromptAlone) {
  const ModelConfig cfg = small_config();
  auto model = random_model(cfg, 22);
  const int V = cfg.vocab_size, eos = 0;
  const std::vector<std::vector<int32_t>> prompts = {
      {3, 14, 15}, {}, {9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8}, {27}, {1, 8, 2, 8}, {44, 44}, {50, 40, 30}};
  for (float temp : {0.0f, 1.0f}) {
    GenerateOptions o = greedy_options(12, eos, V);
    o.sampling.temperature = temp;
    o.sampling.seed = 77;
    o.sampling.top_k = 20;
    o.sampling.repeat_penalty = 1.3f;
    o.parallel = 3;  // fewer slots than prompts: slots are reused
    o.max_rows = 8;  // prefills split over chunks and mixed with decoding rows
    std::vector<size_t> order;
    std::vector<Generation> batched = generate(*model, prompts, o, {nullptr, [&](size_t i, const Generation&) {
                                                 order.push_back(i);
                                               }});
    ASSERT_EQ(order.size(), prompts.size());
    for (size_t i = 0; i < prompts.size(); i++) {
      GenerateOptions alone = o;
      alone.parallel = 1;
      alone.max_rows = 256;
      alone.first_stream = i;  // the stream prompt i had in the batch
      std::vector<Generation> g = generate(*model, {prompts[i]}, alone);
      EXPECT_EQ(g[0].tokens, batched[i].tokens) << "prompt " << i << " temperature " << temp;
      EXPECT_EQ(g[0].stop, batched[i].stop);
    }
  }
}

TEST(Generate, StopsAtContextLengthAndMaxTokens) {
  const ModelConfig cfg = small_config(61, 16);
  auto model = random_model(cfg, 23);
  const int V = cfg.vocab_size, eos = V - 1;
  const std::vector<int32_t> prompt = {4, 5, 6, 7, 8};
  // [eos] + 5 prompt tokens + 10 fed generated tokens fill 16 positions; the 11th generated
  // token is predicted at the last position and ends the sequence.
  auto g = generate(*model, {prompt}, greedy_options(-1, eos, V - 1));
  EXPECT_EQ(g[0].tokens.size(), 11u);
  EXPECT_EQ(g[0].stop, StopReason::context);
  auto h = generate(*model, {prompt}, greedy_options(3, eos, V - 1));
  EXPECT_EQ(h[0].stop, StopReason::max_tokens);
  EXPECT_EQ(h[0].tokens, std::vector<int32_t>(g[0].tokens.begin(), g[0].tokens.begin() + 3));
  auto none = generate(*model, {prompt, {}}, greedy_options(0, eos, V - 1));
  EXPECT_TRUE(none[0].tokens.empty() && none[1].tokens.empty());
  // A prompt that leaves no room for the leading eos is the user's error, named.
  std::vector<int32_t> too_long(16, 3);
  try {
    generate(*model, {prompt, too_long}, greedy_options(5, eos, V - 1));
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_EQ(e.input(), "prompt 2");
  }
}

TEST(Generate, StopsAtEos) {
  const ModelConfig cfg = small_config();
  auto model = random_model(cfg, 24);
  const int V = cfg.vocab_size, eos = V - 1, C = cfg.dim;
  const std::vector<int32_t> prompt = {10, 11, 12};
  auto first = generate(*model, {prompt}, greedy_options(5, eos, V - 1));
  ASSERT_EQ(first[0].tokens.size(), 5u);
  // Make the eos row of the LM head twice the row of the 3rd greedy token: at the 3rd step at
  // the latest (where that token's logit is the largest and positive), eos wins.
  const int32_t t2 = first[0].tokens[2];
  std::vector<int32_t> seq = {eos, 10, 11, 12, first[0].tokens[0], first[0].tokens[1]};
  ASSERT_GT(full_logits(*model, seq)[(seq.size() - 1) * V + t2], 0.0f);
  float* head = model->weights().lm_head;
  for (int j = 0; j < C; j++) head[size_t(eos) * C + j] = 2.0f * head[size_t(t2) * C + j];
  auto g = generate(*model, {prompt}, greedy_options(5, eos, V));
  EXPECT_EQ(g[0].stop, StopReason::eos);
  ASSERT_LE(g[0].tokens.size(), 2u);
  // What was generated before the eos is still the argmax chain of the full forward.
  seq.assign({eos, 10, 11, 12});
  for (size_t step = 0; step <= g[0].tokens.size(); step++) {
    std::vector<float> ref = full_logits(*model, seq);
    int32_t want = argmax(ref.data() + (seq.size() - 1) * V, V);
    EXPECT_EQ(want, step < g[0].tokens.size() ? g[0].tokens[step] : eos) << "step " << step;
    seq.push_back(want);
  }
}

TEST(Generate, SameSeedSameTextAnyThreadOrder) {
  const ModelConfig cfg = small_config();
  auto model = random_model(cfg, 25);
  GenerateOptions o = greedy_options(15, 0, cfg.vocab_size);
  o.sampling.temperature = 0.9f;
  o.sampling.seed = 5;
  const std::vector<std::vector<int32_t>> prompts = {{1, 2, 3}, {}, {7}};
  auto a = generate(*model, prompts, o);
  auto b = generate(*model, prompts, o);
  for (size_t i = 0; i < prompts.size(); i++) EXPECT_EQ(a[i].tokens, b[i].tokens);
  o.sampling.seed = 6;
  auto c = generate(*model, prompts, o);
  bool differs = false;
  for (size_t i = 0; i < prompts.size(); i++) differs |= a[i].tokens != c[i].tokens;
  EXPECT_TRUE(differs);
}

// ---------------------------------------------------------------- loading and the CLI

// A tokenizer trained on a small text, and a random model over its vocabulary (padded by 3 rows).
struct TestModelDir {
  TempDir tmp;
  std::string dir = tmp / "model";
  ModelConfig cfg;

  explicit TestModelDir(bool config_json = true) {
    const std::string text_path = tmp / "corpus.txt";
    std::string text;
    for (int i = 0; i < 30; i++)
      text += "the cat sat on the mat and the dog ran after the cat " + std::to_string(i % 7) + " times\n";
    text += "caf\xC3\xA9 na\xC3\xAFve \xF0\x9F\x98\x80 emoji\n";
    write_file(text_path, text);
    BpeTrainOptions bo;
    bo.vocab_size = 300;
    LogLevel level = log_level();
    set_log_level(LogLevel::warn);  // no training progress lines in the test log
    Tokenizer tok = train_bpe(std::vector<std::string>{text_path}, bo);
    set_log_level(level);
    make_dirs(dir);
    tok.save(dir + "/tokenizer.json");
    cfg = small_config(int(tok.vocab_size()) + 3, 48);
    auto model = random_model(cfg, 31);
    save_params(dir + "/model.safetensors", model->layout(), model->params());
    if (config_json) {
      write_file(dir + "/config.json", cfg.to_hf_json().dump(2));
    } else {
      nlohmann::json state = {{"step", 0}, {"config", cfg.to_hf_json()}};
      write_file(dir + "/state.json", state.dump(2));
    }
  }
};

TEST(ModelLoader, LoadsConfigJsonOrStateJson) {
  for (bool config_json : {true, false}) {
    TestModelDir d(config_json);
    LoadedModel lm = load_model(d.dir);
    EXPECT_EQ(lm.model->config().vocab_size, d.cfg.vocab_size);
    EXPECT_EQ(lm.model->config().n_kv_heads, d.cfg.n_kv_heads);
    EXPECT_EQ(lm.tokenizer.eos_id(), 0);
    EXPECT_EQ(lm.model->max_B(), 0) << "inference only: no training activations";
    auto ref = random_model(d.cfg, 31);
    EXPECT_EQ(std::vector<float>(lm.model->params(), lm.model->params() + 100),
              std::vector<float>(ref->params(), ref->params() + 100));
  }
}

TEST(ModelLoader, MissingOrCorruptFilesAreUserErrorsNamingThem) {
  TestModelDir d;
  auto expect_error = [&](const std::string& path, const std::string& needle) {
    try {
      load_model(path);
      FAIL() << "no error for " << needle;
    } catch (const UserError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error(d.tmp / "nope", "nope");
  write_file(d.dir + "/config.json", "{\"hidden_size\": ");
  expect_error(d.dir, "config.json");
  write_file(d.dir + "/config.json", d.cfg.to_hf_json().dump());
  std::string weights = slurp(d.dir + "/model.safetensors");
  write_file(d.dir + "/model.safetensors", weights.substr(0, weights.size() / 2));
  expect_error(d.dir, "model.safetensors");
  write_file(d.dir + "/model.safetensors", weights);
  std::filesystem::remove(d.dir + "/tokenizer.json");
  expect_error(d.dir, "tokenizer.json");
}

TEST(ModelLoader, RunDirectoryResolvesToTheNewestValidCheckpoint) {
  TestModelDir d;
  const std::string out = d.tmp / "run";
  for (int64_t step : {10, 20}) {
    CheckpointWriter w(out, step);
    for (const char* f : {"model.safetensors", "config.json", "tokenizer.json"})
      std::filesystem::copy_file(d.dir + "/" + f, w.file(f));
    write_file(w.file("state.json"), nlohmann::json({{"step", step}}).dump());
    w.commit();
  }
  // Damage the newest: the loader must skip it, as --resume would.
  write_file(out + "/" + checkpoint_name(20) + "/config.json", "{}");
  LoadedModel lm = load_model(out);
  EXPECT_EQ(lm.dir, out + "/" + checkpoint_name(10));
  EXPECT_THROW(load_model(out + "/" + checkpoint_name(20)), UserError);
}

// Runs the tweetlm binary; returns the exit status, stdout and stderr in files.
struct RunResult {
  int status;
  std::string out, err;
};

RunResult run_cli(const TempDir& tmp, const std::string& args) {
  const std::string out = tmp / "stdout", err = tmp / "stderr";
  std::string cmd = std::string(TLM_BINARY) + " " + args + " >" + out + " 2>" + err;
  int rc = std::system(cmd.c_str());
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, slurp(out), slurp(err)};
}

std::vector<int32_t> parse_ids(const std::string& line) {
  std::vector<int32_t> ids;
  size_t pos = 0;
  while (pos < line.size()) {
    size_t end = line.find_first_of(" \n", pos);
    if (end == std::string::npos) end = line.size();
    if (end > pos) ids.push_back(std::stoi(line.substr(pos, end - pos)));
    pos = end + 1;
  }
  return ids;
}

TEST(GenerateCli, MatchesTheLibraryEndToEnd) {
  TestModelDir d;
  LoadedModel lm = load_model(d.dir);
  const std::string prompt = "the cat";
  std::vector<uint32_t> enc;
  lm.tokenizer.encode_ordinary(prompt, enc);
  GenerateOptions o;
  o.sampling.temperature = 0.7f;
  o.sampling.seed = 9;
  o.max_new_tokens = 12;
  o.n_vocab = int(lm.tokenizer.vocab_size());
  o.eos_id = int32_t(lm.tokenizer.eos_id());
  auto lib = generate(*lm.model, {std::vector<int32_t>(enc.begin(), enc.end())}, o);

  const std::string base = "generate -m " + d.dir + " -n 12 --temp 0.7 -s 9";
  RunResult ids = run_cli(d.tmp, base + " -p 'the cat' --ids");
  ASSERT_EQ(ids.status, 0) << ids.err;
  EXPECT_EQ(parse_ids(ids.out), lib[0].tokens);
  EXPECT_EQ(ids.out.back(), '\n');

  RunResult text = run_cli(d.tmp, base + " -p 'the cat'");
  ASSERT_EQ(text.status, 0) << text.err;
  std::vector<uint32_t> gen(lib[0].tokens.begin(), lib[0].tokens.end());
  EXPECT_EQ(text.out, prompt + lm.tokenizer.decode(gen) + "\n");
  EXPECT_NE(text.err.find("tokens/s"), std::string::npos) << text.err;

  RunResult quiet = run_cli(d.tmp, "-q " + base + " -p 'the cat'");
  EXPECT_EQ(quiet.out, text.out);
  EXPECT_EQ(quiet.err, "");

  // A file of prompts: one output line per prompt, each as the prompt would give alone (the
  // stream of prompt i is i, so compare with the library's batch).
  write_file(d.tmp / "prompts.txt", "the cat\n\nthe dog ran\n");
  RunResult batch = run_cli(d.tmp, base + " --parallel 2 --ids -f " + (d.tmp / "prompts.txt"));
  ASSERT_EQ(batch.status, 0) << batch.err;
  std::vector<std::string> lines = split_lines(batch.out);
  ASSERT_EQ(lines.size(), 3u) << batch.out;
  std::vector<std::vector<int32_t>> prompts;
  for (const char* p : {"the cat", "", "the dog ran"}) {
    enc.clear();
    lm.tokenizer.encode_ordinary(p, enc);
    prompts.emplace_back(enc.begin(), enc.end());
  }
  auto lib_batch = generate(*lm.model, prompts, o);
  for (size_t i = 0; i < 3; i++) EXPECT_EQ(parse_ids(lines[i]), lib_batch[i].tokens) << "line " << i;
  EXPECT_EQ(lib_batch[0].tokens, lib[0].tokens);
}

TEST(GenerateCli, ErrorsAreOneLineAndExitTwo) {
  TestModelDir d;
  for (const std::string& args : {"generate -m " + (d.tmp / "missing"), "generate -m " + d.dir + " --temp -1",
                                  "generate -m " + d.dir + " -f " + (d.tmp / "no-prompts.txt")}) {
    RunResult r = run_cli(d.tmp, args);
    EXPECT_EQ(r.status, 2) << args;
    EXPECT_EQ(r.err.rfind("tweetlm: error: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

}  // namespace
}  // namespace tlm

namespace tlm {
namespace {

// Embeddings (the server's /v1/embeddings): the mean over the sequence of the final-normed hidden
// states, which Llama::hidden() gives for every position of a full forward.
TEST(InferenceSession, EmbedIsTheMeanOfTheFullForwardsNormedHiddenStates) {
  const ModelConfig cfg = small_config();
  auto model = random_model(cfg, 13);
  const int C = cfg.dim;
  Rng rng(9);
  std::vector<std::vector<int32_t>> seqs;
  for (int len : {1, 7, cfg.max_seq_len}) {
    std::vector<int32_t> s = {0};
    while (int(s.size()) < len) s.push_back(1 + int32_t(rng.below(cfg.vocab_size - 1)));
    seqs.push_back(s);
  }
  for (int max_rows : {256, 4}) {  // 4: sequences split over chunks
    InferenceSession sess(*model, 3, 0, max_rows);
    std::vector<SeqInput> in;
    for (size_t i = 0; i < seqs.size(); i++) in.push_back({int(2 - i), seqs[i].data(), int(seqs[i].size())});
    const float* pooled = sess.embed(in);
    for (size_t i = 0; i < seqs.size(); i++) {
      full_logits(*model, seqs[i]);
      const float* h = model->hidden();
      for (int c = 0; c < C; c++) {
        double mean = 0;
        for (size_t t = 0; t < seqs[i].size(); t++) mean += h[t * C + c];
        mean /= double(seqs[i].size());
        // Tolerance: the same fp32 ops in another summation order, on values of magnitude ~1.
        ASSERT_NEAR(pooled[i * C + c], mean, 1e-4) << "sequence " << i << " feature " << c;
      }
    }
  }
}

}  // namespace
}  // namespace tlm
