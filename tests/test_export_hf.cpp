// Hugging Face directory export (`tweetlm export --format hf`) and loading it back:
//   - units: --max-shard-size parsing; the index parser's defences (plain shard names, no
//     duplicates, types);
//   - the directory: config.json (LlamaForCausalLM), weights with HF names bit for bit, tokenizer
//     and generation files; sharding over a tiny --max-shard-size with HF's file names and index;
//     f16/bf16 as the rounding of ours; atomic writing (nothing left behind, a non-empty DIR
//     refused, --force replaces);
//   - load_model(DIR), sharded or not, gives the checkpoint's weights, and `tweetlm generate -m`
//     the checkpoint's greedy tokens from the HF directory, the sharded one and the f32 GGUF;
//     a tampered index (path escape, missing or unknown tensors, a tensor in two shards, a
//     missing shard) is one clear error;
//   - PyTorch (tools/torch's reference Llama, safetensors parsed by hand in
//     tests/torch/hf_logits.py) reads the exported directories and its logits equal ours;
//   - Hugging Face tokenizers (@anush008/tokenizers) loads the exported tokenizer.json and
//     encodes as we do.
// Without /usr/bin/python3 + torch, or node + the client, those tests FAIL naming what is missing.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/file.h"
#include "core/utf8.h"
#include "fixtures.h"
#include "store/export_hf.h"
#include "store/model_loader.h"
#include "io/gguf.h"
#include "io/safetensors.h"
#include "io/safetensors_index.h"
#include "llama_cpp_fixture.h"
#include "model/params.h"
#include "model_fixture.h"
#include "tokenizer_texts.h"
#include "train_fixture.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace tlm {
namespace {

// ------------------------------------------------------------------ units

TEST(ByteSize, ParsesHfUnits) {
  EXPECT_EQ(parse_byte_size("2GB", "x"), 2000000000ull);
  EXPECT_EQ(parse_byte_size("500MB", "x"), 500000000ull);
  EXPECT_EQ(parse_byte_size("10KB", "x"), 10000ull);
  EXPECT_EQ(parse_byte_size("10kb", "x"), 10000ull);
  EXPECT_EQ(parse_byte_size("1GiB", "x"), 1ull << 30);
  EXPECT_EQ(parse_byte_size("3MiB", "x"), 3ull << 20);
  EXPECT_EQ(parse_byte_size("123", "x"), 123ull);
  EXPECT_EQ(parse_byte_size("64B", "x"), 64ull);
  EXPECT_EQ(parse_byte_size("2TB", "x"), 2000000000000ull);
  for (const char* bad : {"", "GB", "2XB", "-1", "0", "0GB", "1.5GB", "2 GB", "99999999999999999999", "20000000TB"}) {
    try {
      parse_byte_size(bad, "--max-shard-size");
      ADD_FAILURE() << bad;
    } catch (const UserError& e) {
      EXPECT_NE(std::string(e.what()).find("--max-shard-size"), std::string::npos) << e.what();
    }
  }
}

TEST(SafetensorsIndex, ParsesAndValidates) {
  EXPECT_EQ(shard_file_name(2, 5), "model-00002-of-00005.safetensors");
  SafetensorsIndex i = parse_safetensors_index(
      R"({"metadata": {"total_size": 40, "x": "y"}, "weight_map": {"a": "model-00002-of-00002.safetensors",
         "b": "model-00001-of-00002.safetensors", "c": "model-00001-of-00002.safetensors"}, "other": 1})", "idx");
  EXPECT_EQ(i.weight_map.size(), 3u);
  EXPECT_EQ(i.weight_map["a"], "model-00002-of-00002.safetensors");
  EXPECT_EQ(i.files, (std::vector<std::string>{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}));
  EXPECT_TRUE(i.has_total_size);
  EXPECT_EQ(i.total_size, 40u);
  EXPECT_FALSE(parse_safetensors_index(R"({"metadata": null, "weight_map": {"a": "x.safetensors"}})", "idx").has_total_size);

  const std::pair<const char*, const char*> bad[] = {
      {"{", "not valid JSON"},
      {"[]", "JSON object"},
      {R"({"metadata": {}})", "weight_map"},
      {R"({"weight_map": []})", "weight_map"},
      {R"({"weight_map": {}})", "empty"},
      {R"({"weight_map": {"a": 3}})", "not a file name"},
      {R"({"weight_map": {"a": "../model.safetensors"}})", "plain"},
      {R"({"weight_map": {"a": "sub/model.safetensors"}})", "plain"},
      {R"({"weight_map": {"a": "/etc/model.safetensors"}})", "plain"},
      {R"({"weight_map": {"a": "x\\..\\model.safetensors"}})", "plain"},
      {R"({"weight_map": {"a": ".."}})", "plain"},
      {R"({"weight_map": {"a": "model.bin"}})", "plain"},
      {R"({"weight_map": {"a": ".safetensors"}})", "plain"},
      {R"({"weight_map": {"a": "x.safetensors", "a": "y.safetensors"}})", "tensor 'a' appears twice"},
      {R"({"weight_map": {"a": "x.safetensors"}, "weight_map": {"b": "x.safetensors"}})", "appears twice"},
      {R"({"metadata": {"total_size": -1}, "weight_map": {"a": "x.safetensors"}})", "total_size"},
      {R"({"metadata": [], "weight_map": {"a": "x.safetensors"}})", "metadata"},
  };
  for (const auto& [text, want] : bad) {
    try {
      parse_safetensors_index(text, "idx.json");
      ADD_FAILURE() << text;
    } catch (const UserError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(want), std::string::npos) << text << " -> " << msg;
      EXPECT_NE(msg.find("idx.json"), std::string::npos) << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
  }
  // A NUL inside a name (JSON allows \u0000).
  EXPECT_THROW(parse_safetensors_index(R"({"weight_map": {"a": "x\u0000.safetensors"}})", "idx"), UserError);
}

// ------------------------------------------------------------------ export and load back

const std::vector<std::string> kPrompts = {"the cat", "", "happy day for coffee", "@user lol so good",
                                           "we love \xF0\x9F\x99\x82 music tonight"};

class ExportHf : public testing::ExportSuite<ExportHf> {
 protected:
  static void SetUpTestSuite() {
    const std::string d = make_dir();
    ASSERT_EQ(testing::train_tiny_run(d), "");  // d/run
    // A trained checkpoint (GQA, untied) and a random model (tied, padded vocabulary, head_dim !=
    // dim / heads, weights scaled up so greedy text varies).
    testing::RunResult r;
    testing::write_random_model(d + "/rand", Tokenizer::load(d + "/tok/tokenizer.json"),
                                {.dim = 48, .heads = 3, .kv_heads = 1, .head_dim = 8, .ffn = 80, .pad = 5, .tied = true});
    const std::vector<std::vector<std::string>> exports = {
        {"-m", d + "/run", "-o", d + "/run-hf"},
        {"-m", d + "/run", "-o", d + "/run-sharded", "--max-shard-size", "40KB"},
        {"-m", d + "/rand", "-o", d + "/rand-bf16", "--type", "bf16", "--max-shard-size", "8KiB"},
        {"-m", d + "/rand", "-o", d + "/rand-f16", "--type", "f16"},
    };
    for (auto args : exports) {
      args.insert(args.begin(), {"-q", "export", "--format", "hf"});
      r = run(args);
      ASSERT_EQ(r.rc, 0) << r.err;
    }
    r = run({"-q", "export", "-m", d + "/run", "-o", d + "/run.gguf"});
    ASSERT_EQ(r.rc, 0) << r.err;
  }
  static json read_json(const std::string& path) { return json::parse(testing::slurp(path)); }
  static std::set<std::string> files_in(const std::string& d) {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(d)) out.insert(e.path().filename().string());
    return out;
  }
  // A copy of an exported directory to tamper with.
  static std::string copy_of(const std::string& m, const std::string& name) {
    const std::string to = dir(name);
    fs::remove_all(to);
    fs::copy(dir(m), to, fs::copy_options::recursive);
    return to;
  }
};

TEST_F(ExportHf, DirectoryHasTheHfFiles) {
  LoadedModel ref = load_model(dir("run"));
  const ModelConfig& c = ref.model->config();
  EXPECT_EQ(files_in(dir("run-hf")), (std::set<std::string>{"config.json", "model.safetensors", "generation_config.json",
                                                            "tokenizer.json", "tokenizer_config.json",
                                                            "special_tokens_map.json"}));
  for (const std::string& f : files_in(tmp_->path())) EXPECT_EQ(f.find(".tmp-"), std::string::npos) << f;
  const json cfg = read_json(dir("run-hf") + "/config.json");
  EXPECT_EQ(cfg["architectures"], json({"LlamaForCausalLM"}));
  EXPECT_EQ(cfg["model_type"], "llama");
  EXPECT_EQ(cfg["hidden_size"], 64);
  EXPECT_EQ(cfg["intermediate_size"], 96);
  EXPECT_EQ(cfg["num_attention_heads"], 4);
  EXPECT_EQ(cfg["num_key_value_heads"], 2);
  EXPECT_EQ(cfg["num_hidden_layers"], 2);
  EXPECT_EQ(cfg["head_dim"], 16);
  EXPECT_EQ(cfg["rms_norm_eps"], double(c.norm_eps));
  EXPECT_EQ(cfg["rope_theta"], double(c.rope_theta));
  EXPECT_EQ(cfg["max_position_embeddings"], c.max_seq_len);
  EXPECT_EQ(cfg["vocab_size"], c.vocab_size);
  EXPECT_EQ(cfg["tie_word_embeddings"], false);
  EXPECT_EQ(cfg["hidden_act"], "silu");
  EXPECT_EQ(cfg["attention_bias"], false);
  EXPECT_EQ(cfg["mlp_bias"], false);
  EXPECT_EQ(cfg["torch_dtype"], "float32");
  const int64_t eos = ref.tokenizer.eos_id();
  for (const char* k : {"bos_token_id", "eos_token_id", "pad_token_id"}) EXPECT_EQ(cfg[k], eos) << k;
  EXPECT_EQ(read_json(dir("rand-bf16") + "/config.json")["torch_dtype"], "bfloat16");
  EXPECT_EQ(read_json(dir("rand-f16") + "/config.json")["torch_dtype"], "float16");
  EXPECT_EQ(read_json(dir("rand-f16") + "/config.json")["tie_word_embeddings"], true);

  const json gen = read_json(dir("run-hf") + "/generation_config.json");
  EXPECT_EQ(gen["bos_token_id"], eos);
  EXPECT_EQ(gen["eos_token_id"], eos);
  EXPECT_EQ(gen["do_sample"], true);
  EXPECT_NEAR(gen["temperature"].get<double>(), 0.8, 1e-6);
  EXPECT_NEAR(gen["top_p"].get<double>(), 0.95, 1e-6);
  EXPECT_EQ(gen["top_k"], 40);
  const json tc = read_json(dir("run-hf") + "/tokenizer_config.json");
  EXPECT_EQ(tc["tokenizer_class"], "PreTrainedTokenizerFast");
  for (const char* k : {"bos_token", "eos_token", "pad_token", "unk_token"}) {
    EXPECT_EQ(tc[k], "<|endoftext|>") << k;
    EXPECT_EQ(read_json(dir("run-hf") + "/special_tokens_map.json")[k], "<|endoftext|>") << k;
  }
  EXPECT_EQ(tc["model_max_length"], c.max_seq_len);
  EXPECT_EQ(testing::slurp(dir("run-hf") + "/tokenizer.json"), ref.tokenizer.to_json_text());

  // Weights: HF names and shapes, F32, our values bit for bit, no lm_head when tied.
  SafetensorsFile st(dir("run-hf") + "/model.safetensors");
  EXPECT_EQ(st.metadata().at("format"), "pt");
  EXPECT_EQ(st.tensors().size(), ref.model->layout().params().size());
  for (const ParamInfo& p : ref.model->layout().params()) {
    const TensorIn* t = st.find(p.name);
    ASSERT_TRUE(t) << p.name;
    EXPECT_EQ(t->dtype, DType::F32);
    EXPECT_EQ(t->shape, p.shape) << p.name;
    EXPECT_EQ(std::memcmp(st.data(*t).data(), ref.model->params() + p.offset, p.size * 4), 0) << p.name;
  }
  EXPECT_TRUE(st.find("model.layers.1.self_attn.k_proj.weight"));
  EXPECT_TRUE(st.find("model.layers.0.mlp.up_proj.weight"));
  EXPECT_TRUE(st.find("lm_head.weight"));
  EXPECT_FALSE(SafetensorsFile(dir("rand-f16") + "/model.safetensors").find("lm_head.weight"));
}

TEST_F(ExportHf, ShardsFollowTheIndex) {
  for (const auto& [m, limit, elem] : {std::tuple<const char*, size_t, size_t>{"run-sharded", 40000, 4},
                                       {"rand-bf16", 8192, 2}}) {
    const std::string d = dir(m);
    ASSERT_FALSE(fs::exists(d + "/model.safetensors")) << m;
    const json idx = read_json(d + "/model.safetensors.index.json");
    std::set<std::string> shards;
    for (const std::string& f : files_in(d))
      if (f.rfind("model-", 0) == 0) shards.insert(f);
    const size_t n = shards.size();
    ASSERT_GE(n, 3u) << m;
    size_t k = 1, total = 0, tensors = 0;
    for (const std::string& f : shards) {
      EXPECT_EQ(f, shard_file_name(k++, n));
      SafetensorsFile sf(d + "/" + f);
      size_t bytes = 0;
      for (const TensorIn& t : sf.tensors()) {
        EXPECT_EQ(idx["weight_map"][t.name], f) << t.name;
        EXPECT_EQ(t.dtype, elem == 4 ? DType::F32 : DType::BF16);
        bytes += t.bytes;
        tensors++;
      }
      // HF's rule: a shard over the limit holds a single tensor.
      EXPECT_TRUE(bytes <= limit || sf.tensors().size() == 1) << f << " " << bytes;
      total += bytes;
    }
    EXPECT_EQ(idx["weight_map"].size(), tensors);
    EXPECT_EQ(idx["metadata"]["total_size"], total);
  }
}

TEST_F(ExportHf, LoadsBackWithTheCheckpointsWeights) {
  LoadedModel run = load_model(dir("run")), rand = load_model(dir("rand"));
  for (const char* m : {"run-hf", "run-sharded"}) {
    LoadedModel lm = load_model(dir(m));
    ASSERT_EQ(lm.model->num_params(), run.model->num_params());
    EXPECT_EQ(std::memcmp(lm.model->params(), run.model->params(), run.model->num_params() * 4), 0) << m;
    EXPECT_EQ(lm.tokenizer.to_json_text(), run.tokenizer.to_json_text());
  }
  for (const char* m : {"rand-bf16", "rand-f16"}) {
    LoadedModel lm = load_model(dir(m));
    ASSERT_EQ(lm.model->num_params(), rand.model->num_params());
    const bool bf = std::string(m) == "rand-bf16";
    for (size_t i = 0; i < rand.model->num_params(); i++) {
      const float x = rand.model->params()[i];
      const float want = bf ? bf16_to_float(float_to_bf16(x)) : half_to_float(float_to_half(x));
      ASSERT_EQ(lm.model->params()[i], want) << m << " " << i;
    }
  }
}

// `tweetlm generate -m` from the HF directory, its sharded twin and the f32 GGUF prints the
// checkpoint's greedy tokens.
TEST_F(ExportHf, GenerateGivesTheCheckpointsTokens) {
  std::string prompts;
  for (const std::string& p : kPrompts) prompts += p + "\n";
  testing::write_file(dir("prompts.txt"), prompts);
  auto gen = [&](const std::string& model) {
    auto r = run({"-q", "generate", "-m", model, "-f", dir("prompts.txt"), "-n", "12", "--temp", "0", "--ids"});
    EXPECT_EQ(r.rc, 0) << model << ": " << r.err;
    return r.out;
  };
  const std::string want = gen(dir("run"));
  EXPECT_EQ(std::count(want.begin(), want.end(), '\n'), long(kPrompts.size())) << want;
  EXPECT_GT(want.size(), kPrompts.size() * 8);
  EXPECT_EQ(gen(dir("run-hf")), want);
  EXPECT_EQ(gen(dir("run-sharded")), want);
  EXPECT_EQ(gen(dir("run.gguf")), want);
  EXPECT_EQ(gen(dir("rand-f16")), gen(dir("rand-f16")));  // and the f16 / bf16 directories run
  EXPECT_FALSE(gen(dir("rand-bf16")).empty());
}

TEST_F(ExportHf, TamperedIndexIsOneClearError) {
  const std::string idx_name = "/model.safetensors.index.json";
  const json idx = read_json(dir("run-sharded") + idx_name);
  // A tensor that shares its shard with another one (so its shard is still opened without it).
  std::string first, first_file;
  for (const auto& [k, v] : idx["weight_map"].items()) {
    int n = 0;
    for (const auto& [k2, v2] : idx["weight_map"].items()) n += v2 == v;
    if (n > 1) {
      first = k, first_file = v;
      break;
    }
  }
  ASSERT_FALSE(first.empty());
  auto expect_error = [&](const std::string& d, const std::string& want) {
    try {
      load_model(d);
      ADD_FAILURE() << "loaded: " << want;
    } catch (const UserError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(want), std::string::npos) << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
  };
  auto with_index = [&](const std::string& name, const json& j) {
    const std::string d = copy_of("run-sharded", name);
    testing::write_file(d + idx_name, j.dump());
    return d;
  };
  json j = idx;
  j["weight_map"][first] = "../run-sharded/" + first_file;
  expect_error(with_index("t1", j), "plain");
  j = idx;
  j["weight_map"].erase(first);
  expect_error(with_index("t2", j), "is not in");  // the shard holds a tensor the index lacks
  j = idx;
  j["weight_map"]["model.layers.9.mlp.up_proj.weight"] = first_file;
  expect_error(with_index("t3", j), "unexpected tensor 'model.layers.9.mlp.up_proj.weight'");
  {  // a tensor in two shards: add the first tensor to another shard too
    const std::string d = copy_of("run-sharded", "t4");
    std::string other;
    for (const auto& [k, v] : idx["weight_map"].items())
      if (v != first_file) other = v;
    SafetensorsFile a(dir("run-sharded") + "/" + first_file), b(dir("run-sharded") + "/" + other);
    std::vector<TensorOut> out;
    for (const TensorIn& t : b.tensors()) out.push_back({t.name, t.dtype, t.shape, b.data(t).data()});
    const TensorIn* dup = a.find(first);
    out.push_back({dup->name, dup->dtype, dup->shape, a.data(*dup).data()});
    write_safetensors(d + "/" + other, out);
    expect_error(d, "is also here");
  }
  {
    const std::string d = copy_of("run-sharded", "t5");
    fs::remove(d + "/" + first_file);
    expect_error(d, "no such file");
  }
  {  // a parameter missing from index and shards alike
    const std::string d = copy_of("run-sharded", "t6");
    SafetensorsFile a(dir("run-sharded") + "/" + first_file);
    std::vector<TensorOut> out;
    for (const TensorIn& t : a.tensors())
      if (t.name != first) out.push_back({t.name, t.dtype, t.shape, a.data(t).data()});
    write_safetensors(d + "/" + first_file, out);
    j = idx;
    j["weight_map"].erase(first);
    testing::write_file(d + idx_name, j.dump());
    expect_error(d, "'" + first + "' is missing");
  }
  testing::write_file(with_index("t7", idx) + idx_name, "{\"weight_map\": 5}");
  expect_error(dir("t7"), "weight_map");
}

// load_model is the one door: a config.json that asks for what the model code does not
// implement (another architecture, RoPE scaling, biases, another activation) is refused by
// field and value, never loaded and run with wrong numbers.
TEST_F(ExportHf, UnsupportedConfigIsRefusedByName) {
  const json base = read_json(dir("run-hf") + "/config.json");
  const std::vector<std::tuple<std::string, json, std::string>> cases = {
      {"model_type", "gemma", "model_type \"gemma\""},
      {"architectures", json::array({"Qwen2ForCausalLM"}), "architectures [\"Qwen2ForCausalLM\"]"},
      {"hidden_act", "gelu", "hidden_act \"gelu\""},
      {"rope_scaling", json{{"rope_type", "llama3"}, {"factor", 8.0}}, "rope_scaling"},
      {"attention_bias", true, "attention_bias true"},
      {"mlp_bias", true, "mlp_bias true"},
      {"tie_word_embeddings", "yes", "tie_word_embeddings \"yes\""},
  };
  int k = 0;
  for (const auto& [key, value, want] : cases) {
    const std::string d = copy_of("run-hf", "cfg" + std::to_string(k++));
    json c = base;
    c[key] = value;
    testing::write_file(d + "/config.json", c.dump(2));
    try {
      load_model(d);
      ADD_FAILURE() << "loaded a config with " << key << " = " << value.dump();
    } catch (const UserError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(want), std::string::npos) << msg;
      EXPECT_NE(msg.find("config.json"), std::string::npos) << msg;
    }
  }
  // What the checks allow still loads: null rope_scaling, false biases, silu.
  const std::string d = copy_of("run-hf", "cfg-ok");
  json c = base;
  c["rope_scaling"] = nullptr;
  testing::write_file(d + "/config.json", c.dump(2));
  EXPECT_NO_THROW(load_model(d));
}

TEST_F(ExportHf, WritingIsAtomicAndRefusesNonEmptyDirectories) {
  const std::string out = dir("target");
  make_dirs(out);
  testing::write_file(out + "/keep.txt", "mine");
  auto r = run({"export", "--format", "hf", "-m", dir("run"), "-o", out});
  EXPECT_EQ(r.rc, 2);
  EXPECT_EQ(r.err, "tweetlm: error: " + out + ": exists and is not empty (use --force to replace it)\n");
  EXPECT_EQ(files_in(out), std::set<std::string>{"keep.txt"});
  r = run({"-q", "export", "--format", "hf", "-m", dir("run"), "-o", out, "--force"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(files_in(out), files_in(dir("run-hf")));
  // An empty directory is fine without --force; a file is never replaced.
  make_dirs(dir("empty"));
  r = run({"-q", "export", "--format", "hf", "-m", dir("run"), "-o", dir("empty")});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir("empty") + "/model.safetensors"));
  testing::write_file(dir("afile"), "x");
  r = run({"export", "--format", "hf", "-m", dir("run"), "-o", dir("afile"), "--force"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("is not a directory"), std::string::npos) << r.err;
  for (const std::string& f : files_in(tmp_->path())) EXPECT_EQ(f.find(".tmp-"), std::string::npos) << f;
  // Flags are checked before anything is written.
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--type", "q8_0"}, {"--max-shard-size", "2XB"}, {"--max-shard-size", "0"}}) {
    std::vector<std::string> a = {"export", "--format", "hf", "-m", dir("run"), "-o", dir("never")};
    a.insert(a.end(), args.begin(), args.end());
    r = run(a);
    EXPECT_EQ(r.rc, 2) << args[1];
    EXPECT_EQ(r.err.rfind("tweetlm: error: " + args[0], 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_FALSE(fs::exists(dir("never")));
  }
}

// PyTorch (our reference Llama, with its own hand-written safetensors parsing) reads the exported
// directories; its logits equal ours from the same directory within the reference test's
// tolerance (max |diff| <= 1e-4 x max(1, max |logit|): fp32 sums in another order).
TEST_F(ExportHf, PyTorchReadsTheDirectoryAndAgrees) {
  const char* python = "/usr/bin/python3";
  ASSERT_EQ(::access(python, X_OK), 0) << python << " is missing (apt install python3 python3-torch python3-numpy)";
  ASSERT_EQ(std::system("/usr/bin/python3 -c 'import torch, numpy' >/dev/null 2>&1"), 0)
      << python << " has no torch/numpy (apt install python3-torch python3-numpy)";
  const std::string script = testing::repo_root() + "/tests/torch/hf_logits.py";
  for (const char* m : {"run-hf", "run-sharded", "rand-bf16", "rand-f16"}) {
    LoadedModel lm = load_model(dir(m));
    std::vector<int32_t> tokens = {int32_t(lm.tokenizer.eos_id())};
    for (const auto& ids : testing::encode_all(lm.tokenizer, {"happy day for coffee", "@user lol so good"}))
      tokens.insert(tokens.end(), ids.begin(), ids.end());
    tokens.resize(std::min(tokens.size(), size_t(lm.model->config().max_seq_len)));
    testing::write_file(dir("tokens.json"), json(tokens).dump());
    auto r = testing::run_program({python, script, dir(m), dir("tokens.json"), dir("logits.safetensors")}, tmp_->path());
    ASSERT_EQ(r.rc, 0) << r.err;
    const std::vector<float> ours = testing::our_logits(lm, tokens);
    const size_t T = tokens.size(), V = size_t(lm.model->config().vocab_size);
    std::vector<float> ref(T * V);
    SafetensorsFile(dir("logits.safetensors")).read_f32("logits", {T, V}, ref.data());
    double max_abs = 0, max_ref = 0;
    for (size_t i = 0; i < T * V; i++) {
      max_abs = std::max(max_abs, std::fabs(double(ours[i]) - double(ref[i])));
      max_ref = std::max(max_ref, std::fabs(double(ref[i])));
    }
    std::printf("%s: PyTorch logits over %zu tokens: max |logit| %.3f, max |ours - torch| %.3g\n", m, T, max_ref,
                max_abs);
    EXPECT_GT(max_ref, 1.0) << m;
    EXPECT_LE(max_abs, 1e-4 * std::max(1.0, max_ref)) << m;
  }
}

// Hugging Face tokenizers loads the exported tokenizer.json and encodes as we do.
TEST_F(ExportHf, HfTokenizersEncodesTheExportedTokenizerAsWe) {
  ASSERT_EQ(std::system("node --version >/dev/null 2>&1"), 0) << "node does not run: run scripts/setup.sh";
  std::vector<std::string> texts = kPrompts;
  for (const std::string& t : testing::hard_strings())
    if (utf8_valid(t)) texts.push_back(t);
  std::string lines;
  for (const std::string& t : texts) lines += json(t).dump() + "\n";
  testing::write_file(dir("texts.jsonl"), lines);
  auto r = testing::run_program({"node", testing::repo_root() + "/tests/node/hf_encode.js",
                                 dir("run-hf") + "/tokenizer.json", dir("texts.jsonl"), dir("ids.jsonl")},
                                tmp_->path());
  ASSERT_EQ(r.rc, 0) << r.err;
  const std::vector<std::string> got = testing::split_lines(testing::slurp(dir("ids.jsonl")));
  ASSERT_EQ(got.size(), texts.size());
  // HF splits special tokens out of the text: our encode (not encode_ordinary) does too.
  const Tokenizer tok = Tokenizer::load(dir("run-hf") + "/tokenizer.json");
  for (size_t i = 0; i < texts.size(); i++) {
    const std::vector<uint32_t> ours = tok.encode(texts[i]);
    EXPECT_EQ(json::parse(got[i]).get<std::vector<uint32_t>>(), ours) << testing::escaped(texts[i]);
  }
}

}  // namespace
}  // namespace tlm
