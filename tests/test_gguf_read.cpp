// GGUF reading (io/gguf.h GgufFile) and loading a model from GGUF (store/import_gguf.cpp):
//   - round trip: two random models (untied with GQA and a padded vocabulary; tied with
//     head_dim != dim / heads and one KV head, weights scaled up so greedy text varies) exported
//     to f32 GGUF load back with the same config, the same tokenizer (tokens, merges, encodings)
//     and bit-identical weights (the Q/K permutation undone, q/k/v and gate/up fused back);
//     greedy generation equals the model directory's token for token on several prompts; the
//     f16 file loads, its weights are within half-precision rounding, and its agreement with
//     f32 greedy text is printed and must be high;
//   - load_model picks GGUF by extension or by magic; `tweetlm generate -m x.gguf` prints the
//     same ids as from the model directory;
//   - malformed files (every prefix of a small file, a stride of prefixes of a model file, and
//     hand-made bogus headers modelled on llama.cpp's GGUF CVEs) are each one UserError naming
//     the file, never a crash (the ASan build runs these too).
// Set TLM_WRITE_GGUF_SEEDS=DIR to write the fuzz seed files (fuzz/corpus/fuzz_gguf).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "core/check.h"
#include "core/file.h"
#include "core/rng.h"
#include "fixtures.h"
#include "store/export_gguf.h"
#include "infer/generate.h"
#include "store/model_loader.h"
#include "io/gguf.h"
#include "model/params.h"
#include "store/params_io.h"
#include "tokenizer/bpe_train.h"
#include "model_fixture.h"
#include "train_fixture.h"

namespace fs = std::filesystem;

namespace tlm {
namespace {

const std::vector<std::string> kPrompts = {"the cat", "", "happy day for coffee", "we love \xF0\x9F\x99\x82 music",
                                           "@user lol so good", "Zebra 123 rain!?"};
constexpr int kNew = 16;

// Little-endian bytes for hand-made files.
struct Bytes {
  std::string b;
  template <class T>
  Bytes& put(T v) {
    b.append(reinterpret_cast<const char*>(&v), sizeof v);
    return *this;
  }
  Bytes& str(const std::string& s) {
    put<uint64_t>(s.size());
    b += s;
    return *this;
  }
  Bytes& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    b += "GGUF";
    return put<uint32_t>(version).put<uint64_t>(n_tensors).put<uint64_t>(n_kv);
  }
  Bytes& tensor(const std::string& name, std::vector<uint64_t> dims, uint32_t type, uint64_t offset) {
    str(name).put<uint32_t>(uint32_t(dims.size()));
    for (uint64_t d : dims) put<uint64_t>(d);
    return put<uint32_t>(type).put<uint64_t>(offset);
  }
  Bytes& pad(size_t a) {
    b.resize((b.size() + a - 1) / a * a, '\0');
    return *this;
  }
};

// A small valid file with every metadata type, nested arrays and three tensors.
std::string small_file(const std::string& path, uint32_t alignment = 32) {
  GgufWriter w;
  if (alignment != 32) w.set_alignment(alignment);
  w.add_u32("a.u32", 7);
  w.add_i32("a.i32", -3);
  w.add_f32("a.f32", 1.5f);
  w.add_bool("a.bool", true);
  w.add_string("a.str", "h\xC3\xA9llo");
  w.add_string_array("a.strs", {"x", "", "yz"});
  w.add_i32_array("a.ints", {1, -2, 3});
  w.add_f32_array("a.floats", {0.5f});
  std::vector<float> v(8);
  for (size_t i = 0; i < v.size(); i++) v[i] = float(i) - 2.5f;
  w.add_tensor("t.f32", {4, 2}, GgmlType::f32, [v] { return std::string(reinterpret_cast<const char*>(v.data()), 32); });
  w.add_tensor("t.f16", {3}, GgmlType::f16, [] {
    uint16_t h[3] = {float_to_half(1.0f), float_to_half(-2.0f), float_to_half(0.25f)};
    return std::string(reinterpret_cast<const char*>(h), 6);
  });
  w.add_tensor("t.empty", {0, 5}, GgmlType::f32, [] { return std::string(); });
  w.write(path);
  return testing::slurp(path);
}

// The smallest model file: 4 tokens (one control token, three single bytes, one merge "a b"),
// dim 4, one layer, one head: a llama.cpp-style file not written by our exporter (no
// llama.vocab_size, no alignment key), small enough for a fuzz seed.
std::string tiny_model_file(const std::string& path) {
  GgufWriter w;
  w.add_string("general.architecture", "llama");
  w.add_u32("llama.context_length", 16);
  w.add_u32("llama.embedding_length", 4);
  w.add_u32("llama.block_count", 1);
  w.add_u32("llama.feed_forward_length", 4);
  w.add_u32("llama.attention.head_count", 1);
  w.add_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  w.add_string("tokenizer.ggml.model", "gpt2");
  w.add_string_array("tokenizer.ggml.tokens", {"<|endoftext|>", "a", "b", "ab"});
  w.add_i32_array("tokenizer.ggml.token_type", {3, 1, 1, 1});
  w.add_string_array("tokenizer.ggml.merges", {"a b"});
  Rng rng(3);
  auto t = [&](const std::string& name, std::vector<uint64_t> dims, GgmlType type) {
    uint64_t n = 1;
    for (uint64_t d : dims) n *= d;
    std::vector<float> v(n);
    for (float& x : v) x = rng.normal();
    w.add_tensor(name, dims, type, [v, type] {
      if (type == GgmlType::f32) return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4);
      std::string s;
      for (float x : v) {
        uint16_t h = float_to_half(x);
        s.append(reinterpret_cast<const char*>(&h), 2);
      }
      return s;
    });
  };
  t("token_embd.weight", {4, 4}, GgmlType::f16);
  t("output_norm.weight", {4}, GgmlType::f32);
  for (const char* n : {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"})
    t(std::string("blk.0.") + n + ".weight", {4, 4}, GgmlType::f16);
  t("blk.0.attn_norm.weight", {4}, GgmlType::f32);
  t("blk.0.ffn_norm.weight", {4}, GgmlType::f32);
  w.write(path);
  return testing::slurp(path);
}

// Expects `fn` to throw a UserError naming `path`, on one line, whose problem contains `want`.
void expect_error(const std::string& path, const std::function<void()>& fn, const std::string& want = "") {
  try {
    fn();
    ADD_FAILURE() << path << ": no error (want '" << want << "')";
  } catch (const UserError& e) {
    EXPECT_EQ(e.input(), path);
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    if (!want.empty()) {
      EXPECT_NE(std::string(e.problem()).find(want), std::string::npos) << e.what();
    }
  }
}

class GgufRead : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new testing::TempDir();
    const std::string d = tmp_->path();
    std::string text;
    for (int r = 0; r < 40; r++)
      for (const std::string& p : kPrompts) text += p + " and the dog said " + std::to_string(r % 7) + "\n";
    testing::write_file(d + "/text.txt", text);
    BpeTrainOptions o;
    o.vocab_size = 300;
    Tokenizer tok = train_bpe(std::vector<std::string>{d + "/text.txt"}, o);
    make("untied", tok, false, 4, 2, 8, 32, 3);
    make("tied", tok, true, 3, 1, 8, 48, 0);
  }
  static void TearDownTestSuite() {
    delete tmp_;
    tmp_ = nullptr;
  }
  static void make(const std::string& name, const Tokenizer& tok, bool tied, int heads, int kv, int hd, int dim, int pad) {
    const std::string dir = dir_of(name);
    testing::write_random_model(
        dir, tok, {.dim = dim, .heads = heads, .kv_heads = kv, .head_dim = hd, .ffn = 40, .pad = pad, .tied = tied});
    LoadedModel lm = load_model(dir);
    GgufExportOptions eo;
    export_gguf(*lm.model, lm.tokenizer, gguf(name, "f32"), eo);
    eo.type = GgmlType::f16;
    export_gguf(*lm.model, lm.tokenizer, gguf(name, "f16"), eo);
  }
  static std::string dir_of(const std::string& m) { return tmp_->path() + "/" + m; }
  static std::string gguf(const std::string& m, const std::string& t) { return tmp_->path() + "/" + m + "-" + t + ".gguf"; }

  static std::vector<std::vector<int32_t>> greedy(const LoadedModel& lm) {
    std::vector<std::vector<int32_t>> prompts;
    for (const std::string& p : kPrompts) {
      std::vector<uint32_t> e;
      lm.tokenizer.encode_ordinary(p, e);
      prompts.emplace_back(e.begin(), e.end());
    }
    GenerateOptions o;
    o.sampling.temperature = 0.0f;
    o.max_new_tokens = kNew;
    o.n_vocab = int(lm.tokenizer.vocab_size());
    o.eos_id = int32_t(lm.tokenizer.eos_id());
    std::vector<std::vector<int32_t>> out;
    for (const Generation& g : generate(*lm.model, prompts, o)) out.push_back(g.tokens);
    return out;
  }

  static testing::TempDir* tmp_;
};
testing::TempDir* GgufRead::tmp_ = nullptr;

TEST_F(GgufRead, F32WeightsConfigAndTokenizerRoundTripExactly) {
  for (const char* m : {"untied", "tied"}) {
    LoadedModel a = load_model(dir_of(m)), b = load_model(gguf(m, "f32"));
    const ModelConfig &ca = a.model->config(), &cb = b.model->config();
    EXPECT_EQ(cb.vocab_size, int(a.tokenizer.vocab_size())) << m;  // padding rows dropped
    EXPECT_EQ(cb.max_seq_len, ca.max_seq_len);
    EXPECT_EQ(cb.dim, ca.dim);
    EXPECT_EQ(cb.n_layers, ca.n_layers);
    EXPECT_EQ(cb.n_heads, ca.n_heads);
    EXPECT_EQ(cb.n_kv_heads, ca.n_kv_heads);
    EXPECT_EQ(cb.head_dim, ca.head_dim);
    EXPECT_EQ(cb.ffn_dim, ca.ffn_dim);
    EXPECT_EQ(cb.rope_theta, ca.rope_theta);
    EXPECT_EQ(cb.norm_eps, ca.norm_eps);
    EXPECT_EQ(cb.tied_embeddings, ca.tied_embeddings);
    for (const ParamInfo& pb : b.model->layout().params()) {
      const ParamInfo* pa = a.model->layout().find(pb.name);
      ASSERT_TRUE(pa) << pb.name;
      ASSERT_LE(pb.size, pa->size);  // the leading rows (all but padding)
      EXPECT_EQ(std::memcmp(a.model->params() + pa->offset, b.model->params() + pb.offset, pb.size * 4), 0)
          << m << " " << pb.name;
    }
    ASSERT_EQ(a.tokenizer.vocab_size(), b.tokenizer.vocab_size());
    for (uint32_t id = 0; id < a.tokenizer.vocab_size(); id++) EXPECT_EQ(a.tokenizer.token_bytes(id), b.tokenizer.token_bytes(id));
    EXPECT_EQ(a.tokenizer.merges(), b.tokenizer.merges());
    EXPECT_EQ(a.tokenizer.eos_id(), b.tokenizer.eos_id());
    ASSERT_EQ(a.tokenizer.added_tokens().size(), b.tokenizer.added_tokens().size());
    for (size_t i = 0; i < a.tokenizer.added_tokens().size(); i++) {
      EXPECT_EQ(a.tokenizer.added_tokens()[i].content, b.tokenizer.added_tokens()[i].content);
      EXPECT_EQ(a.tokenizer.added_tokens()[i].special, b.tokenizer.added_tokens()[i].special);
    }
    for (const std::string& p : kPrompts) EXPECT_EQ(a.tokenizer.encode(p), b.tokenizer.encode(p + "")) << p;
    EXPECT_EQ(a.tokenizer.encode("<|endoftext|>x"), b.tokenizer.encode("<|endoftext|>x"));
  }
}

TEST_F(GgufRead, GreedyFromF32EqualsCheckpointAndF16IsClose) {
  for (const char* m : {"untied", "tied"}) {
    LoadedModel ref = load_model(dir_of(m));
    auto want = greedy(ref);
    std::set<int32_t> distinct;
    for (const auto& g : want) distinct.insert(g.begin(), g.end());
    EXPECT_GE(distinct.size(), 6u) << m << ": greedy text too uniform to test anything";
    auto got = greedy(load_model(gguf(m, "f32")));
    for (size_t i = 0; i < kPrompts.size(); i++) EXPECT_EQ(got[i], want[i]) << m << " prompt '" << kPrompts[i] << "'";

    LoadedModel h = load_model(gguf(m, "f16"));
    // f16 weights: each within half-precision rounding of the f32 one (relative 2^-11, or the
    // subnormal spacing 2^-24 near zero); norms are stored f32, so exact.
    const LoadedModel f = load_model(gguf(m, "f32"));
    double worst = 0;
    for (const ParamInfo& pi : h.model->layout().params())
      for (size_t k = 0; k < pi.size; k++) {
        const float x = f.model->params()[pi.offset + k], y = h.model->params()[pi.offset + k];
        ASSERT_LE(std::fabs(x - y), std::ldexp(std::fabs(x), -11) + 0x1p-24f) << pi.name;
        worst = std::max(worst, double(std::fabs(x - y)));
      }
    auto half = greedy(h);
    int same = 0, total = 0;
    for (size_t i = 0; i < kPrompts.size(); i++) {
      size_t k = 0;
      while (k < half[i].size() && k < want[i].size() && half[i][k] == want[i][k]) k++;
      same += int(k);
      total += int(want[i].size());
    }
    std::printf("%s f16: greedy agrees with f32 on %d of %d leading tokens (largest weight change %.3g)\n", m, same,
                total, worst);
    EXPECT_GE(same * 4, total * 3) << m;  // at least 75% of the tokens before the first difference
  }
}

TEST_F(GgufRead, LoadModelDetectsByMagicAndNamesMissingFiles) {
  const std::string plain = tmp_->path() + "/model.bin";
  fs::copy_file(gguf("tied", "f32"), plain, fs::copy_options::overwrite_existing);
  LoadedModel lm = load_model(plain);
  EXPECT_EQ(lm.dir, plain);
  EXPECT_EQ(greedy(lm), greedy(load_model(dir_of("tied"))));
  expect_error(tmp_->path() + "/missing.gguf", [&] { load_model(tmp_->path() + "/missing.gguf"); });
}

TEST_F(GgufRead, CliGeneratesFromGguf) {
  auto ids = [&](const std::string& model) {
    auto r = testing::run_program(
        testing::tweetlm({"-q", "generate", "-m", model, "-p", "happy day", "-n", "12", "--temp", "0", "--ids"}),
        tmp_->path());
    EXPECT_EQ(r.rc, 0) << r.err;
    return r.out;
  };
  const std::string want = ids(dir_of("untied"));
  EXPECT_FALSE(want.empty());
  EXPECT_EQ(ids(gguf("untied", "f32")), want);
  auto r = testing::run_program(testing::tweetlm({"generate", "-m", tmp_->path() + "/nope.gguf"}), tmp_->path());
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("nope.gguf"), std::string::npos) << r.err;
}

// ------------------------------------------------------------------ the reader

TEST(GgufReader, ReadsEveryTypeAndTensor) {
  testing::TempDir tmp;
  for (uint32_t align : {32u, 1u, 8u}) {
    const std::string path = tmp / "small.gguf";
    small_file(path, align);
    GgufFile g(path);
    EXPECT_EQ(g.version(), 3u);
    EXPECT_EQ(g.alignment(), align);
    EXPECT_EQ(g.get_uint("a.u32"), 7u);
    expect_error(path, [&] { g.get_uint("a.i32"); }, "negative");
    EXPECT_EQ(g.get_float("a.f32"), 1.5);
    EXPECT_TRUE(g.get_bool("a.bool"));
    EXPECT_EQ(g.get_string("a.str"), "h\xC3\xA9llo");
    EXPECT_EQ(g.get_strings("a.strs"), (std::vector<std::string>{"x", "", "yz"}));
    EXPECT_EQ(g.get_ints("a.ints"), (std::vector<int64_t>{1, -2, 3}));
    expect_error(path, [&] { g.get_string("a.u32"); }, "not a string");
    expect_error(path, [&] { g.get_uint("nope"); }, "no metadata key");
    ASSERT_EQ(g.tensors().size(), 3u);
    const GgufTensorInfo* t = g.find_tensor("t.f32");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->dims, (std::vector<uint64_t>{4, 2}));
    EXPECT_EQ(t->offset % align, 0u);
    std::vector<float> v(8);
    g.read_f32(*t, v.data());
    for (size_t i = 0; i < 8; i++) EXPECT_EQ(v[i], float(i) - 2.5f);
    g.read_f32(*g.find_tensor("t.f16"), v.data());
    EXPECT_EQ(v[0], 1.0f);
    EXPECT_EQ(v[1], -2.0f);
    EXPECT_EQ(v[2], 0.25f);
    EXPECT_EQ(g.find_tensor("t.empty")->bytes, 0u);
  }
  if (const char* dir = std::getenv("TLM_WRITE_GGUF_SEEDS")) {
    small_file(std::string(dir) + "/small_align32", 32);
    small_file(std::string(dir) + "/small_align8", 8);
    Bytes nested;
    nested.header(0, 2).str("n").put<uint32_t>(9).put<uint32_t>(9).put<uint64_t>(2);
    for (int i = 0; i < 2; i++) nested.put<uint32_t>(4).put<uint64_t>(1).put<uint32_t>(i);
    nested.str("s").put<uint32_t>(8).str("general.architecture");
    testing::write_file(std::string(dir) + "/nested_arrays", nested.b);
    tiny_model_file(std::string(dir) + "/tiny_model");
  }
}

TEST(GgufReader, LoadsAndRunsAForeignTinyModel) {
  testing::TempDir tmp;
  tiny_model_file(tmp / "tiny.gguf");
  LoadedModel lm = load_model(tmp / "tiny.gguf");
  EXPECT_EQ(lm.model->config().vocab_size, 4);
  EXPECT_EQ(lm.model->config().head_dim, 4);
  EXPECT_TRUE(lm.model->config().tied_embeddings);
  EXPECT_EQ(lm.tokenizer.eos_id(), 0);
  EXPECT_EQ(lm.tokenizer.encode("abba"), (std::vector<uint32_t>{3, 2, 1}));
  GenerateOptions o;
  o.sampling.temperature = 0.0f;
  o.max_new_tokens = 5;
  o.eos_id = 0;
  auto g = generate(*lm.model, {{1, 2}}, o);
  ASSERT_EQ(g.size(), 1u);
  for (int32_t id : g[0].tokens) EXPECT_LT(id, 4);
}

TEST(GgufReader, EveryTruncationIsOneErrorNamingTheFile) {
  testing::TempDir tmp;
  const std::string whole = small_file(tmp / "small.gguf");
  const std::string path = tmp / "cut.gguf";
  for (size_t n = 0; n < whole.size(); n++) {
    testing::write_file(path, whole.substr(0, n));
    // Prefixes that end in the last tensor's padding are still valid files; all others fail.
    try {
      GgufFile g(path);
      EXPECT_GE(n, whole.size() - 32) << n;
    } catch (const UserError& e) {
      EXPECT_EQ(e.input(), path) << n;
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    }
  }
}

TEST_F(GgufRead, TruncatedModelFilesAreOneError) {
  const std::string whole = testing::slurp(gguf("untied", "f16"));
  const std::string path = tmp_->path() + "/cut.gguf";
  const size_t stride = whole.size() / 97 + 1;
  int n_err = 0;
  for (size_t n = 0; n < whole.size(); n += stride) {
    testing::write_file(path, whole.substr(0, n));
    expect_error(path, [&] { load_model(path); });
    n_err++;
  }
  EXPECT_GT(n_err, 90);
}

TEST(GgufReader, BogusHeadersAreOneErrorEach) {
  testing::TempDir tmp;
  const std::string path = tmp / "bad.gguf";
  auto check = [&](const Bytes& b, const std::string& want) {
    testing::write_file(path, b.b);
    SCOPED_TRACE(want);
    expect_error(path, [&] { GgufFile g(path); }, want);
  };
  const uint64_t huge = uint64_t(1) << 63;
  check(Bytes{"GGML"}, "magic");
  check(Bytes().header(0, 0, 1), "version");
  check(Bytes().header(0, huge), "metadata entries cannot fit");
  check(Bytes().header(huge, 0), "tensors cannot fit");
  check(Bytes().header(0, 1).put<uint64_t>(huge).put<uint64_t>(0), "string length");
  check(Bytes().header(0, 1).str("k").put<uint32_t>(13).put<uint64_t>(0), "unknown value type");
  check(Bytes().header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(77).put<uint64_t>(1), "unknown array element type");
  for (uint32_t et : {0u, 8u, 9u, 10u})
    check(Bytes().header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(et).put<uint64_t>(huge / 2 + 5).put<uint64_t>(0),
          "cannot fit");
  Bytes deep;
  deep.header(0, 1).str("k").put<uint32_t>(9);
  for (int i = 0; i < 12; i++) deep.put<uint32_t>(9).put<uint64_t>(1);
  deep.put<uint32_t>(0).put<uint64_t>(0);
  check(deep, "nested deeper");
  check(Bytes().header(0, 1).str("k").put<uint32_t>(7).put<uint8_t>(2), "boolean");
  check(Bytes().header(0, 2).str("k").put<uint32_t>(4).put<uint32_t>(1).str("k").put<uint32_t>(4).put<uint32_t>(1),
        "duplicate metadata key");
  check(Bytes().header(0, 1).str("general.alignment").put<uint32_t>(4).put<uint32_t>(3), "power of two");
  check(Bytes().header(0, 1).str("general.alignment").put<uint32_t>(4).put<uint32_t>(0), "power of two");
  check(Bytes().header(0, 1).str("general.alignment").put<uint32_t>(5).put<int32_t>(32), "not a u32");
  auto one_tensor = [&](std::vector<uint64_t> dims, uint32_t type, uint64_t offset, size_t data = 64) {
    Bytes b;
    b.header(1, 0).tensor("w\nx", dims, type, offset).pad(32);
    b.b.append(data, '\0');
    return b;
  };
  check(one_tensor({uint64_t(1) << 32, uint64_t(1) << 32}, 0, 0), "overflows");
  check(one_tensor({3, uint64_t(1) << 62, 4}, 0, 0), "overflows");
  check(one_tensor({huge}, 0, 0), "out of range");
  check(one_tensor({1, 1, 1, 1, 1}, 0, 0), "dimensions");
  check(one_tensor({}, 0, 0), "dimensions");
  check(one_tensor({4}, 99, 0), "unknown ggml type");
  check(one_tensor({4}, 0, 64), "past the end");
  check(one_tensor({4}, 0, huge), "past the end");
  check(one_tensor({4}, 0, uint64_t(-32)), "past the end");
  check(one_tensor({4}, 0, 8), "not a multiple");
  check(one_tensor({17}, 0, 0), "past the end");
  check(one_tensor({uint64_t(1) << 40}, 0, 0), "past the end");
  check(one_tensor({31}, 8, 0), "block size");  // q8_0 rows are whole blocks of 32
  Bytes dup;
  dup.header(2, 0).tensor("w", {4}, 0, 0).tensor("w", {4}, 0, 32).pad(32);
  dup.b.append(64, '\0');
  check(dup, "duplicate tensor name");
  Bytes overlap;
  overlap.header(2, 0).tensor("a", {16}, 0, 0).tensor("b", {16}, 0, 32).pad(32);
  overlap.b.append(128, '\0');
  check(overlap, "overlap");
  // The problem line escapes control characters in names: still one line (checked above).
}

TEST_F(GgufRead, BadModelMetadataIsOneError) {
  testing::TempDir tmp;
  const std::string path = tmp / "m.gguf";
  auto write = [&](const std::function<void(GgufWriter&)>& fill) {
    GgufWriter w;
    fill(w);
    w.write(path);
  };
  write([](GgufWriter& w) { w.add_string("general.architecture", "gpt2"); });
  expect_error(path, [&] { load_model(path); });
  // Our own file with a tensor missing and with a wrong shape.
  GgufFile g(gguf("tied", "f32"));
  auto rebuild = [&](const std::string& drop, const std::string& reshape) {
    GgufWriter w;
    w.add_string("general.architecture", "llama");
    for (const char* k : {"llama.context_length", "llama.embedding_length", "llama.block_count",
                          "llama.feed_forward_length", "llama.attention.head_count", "llama.attention.head_count_kv",
                          "llama.attention.key_length"})
      w.add_u32(k, uint32_t(g.get_uint(k)));
    w.add_f32("llama.attention.layer_norm_rms_epsilon", float(g.get_float("llama.attention.layer_norm_rms_epsilon")));
    w.add_f32("llama.rope.freq_base", float(g.get_float("llama.rope.freq_base")));
    w.add_string("tokenizer.ggml.model", "gpt2");
    w.add_string_array("tokenizer.ggml.tokens", g.get_strings("tokenizer.ggml.tokens"));
    w.add_string_array("tokenizer.ggml.merges", g.get_strings("tokenizer.ggml.merges"));
    std::vector<int32_t> types;
    for (int64_t t : g.get_ints("tokenizer.ggml.token_type")) types.push_back(int32_t(t));
    w.add_i32_array("tokenizer.ggml.token_type", types);
    for (const GgufTensorInfo& t : g.tensors()) {
      if (t.name == drop) continue;
      std::vector<uint64_t> dims = t.dims;
      if (t.name == reshape) std::swap(dims[0], dims[1]);
      std::vector<float> v(t.elements);
      g.read_f32(t, v.data());
      w.add_tensor(t.name, dims, GgmlType::f32,
                   [v] { return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4); });
    }
    w.write(path);
  };
  rebuild("", "");
  EXPECT_EQ(greedy(load_model(path)), greedy(load_model(gguf("tied", "f32"))));
  rebuild("blk.1.ffn_up.weight", "");
  expect_error(path, [&] { load_model(path); }, "no tensor blk.1.ffn_up.weight");
  rebuild("", "blk.0.attn_output.weight");
  expect_error(path, [&] { load_model(path); }, "wrong shape");
}

}  // namespace
}  // namespace tlm
