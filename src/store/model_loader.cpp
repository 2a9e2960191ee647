// load_model: find the files, read the config, check that model and tokenizer belong together,
// then read the weights (safetensors reading validates every header field, params_io every
// name and shape). Checkpoint selection and verification are the training loop's own rules
// (store/checkpoint.h), so generate and --resume agree on which checkpoint is "the newest".
#include "store/model_loader.h"

#include <filesystem>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/file.h"
#include "core/json.h"
#include "io/gguf.h"
#include "io/safetensors.h"
#include "io/safetensors_index.h"
#include "store/params_io.h"
#include "store/checkpoint.h"

namespace tlm {

namespace {

// What a config.json may ask for that this code does not implement, refused by name: loading
// such a model would run and produce wrong numbers with exit code 0.
void check_supported(const nlohmann::json& j, const std::string& what) {
  if (!j.is_object()) return;  // from_hf_json says so
  auto str = [&](const char* key) { return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : ""; };
  if (j.contains("model_type") && str("model_type") != "llama")
    throw user_error(what, "model_type %s is not supported (llama is)", j["model_type"].dump().c_str());
  if (j.contains("architectures")) {
    const auto& a = j["architectures"];
    if (!a.is_array() || a.size() != 1 || !a[0].is_string() || a[0].get<std::string>() != "LlamaForCausalLM")
      throw user_error(what, "architectures %s is not supported ([\"LlamaForCausalLM\"] is)", a.dump().c_str());
  }
  if (j.contains("hidden_act") && str("hidden_act") != "silu")
    throw user_error(what, "hidden_act %s is not supported (silu is)", j["hidden_act"].dump().c_str());
  if (j.contains("rope_scaling") && !j["rope_scaling"].is_null())
    throw user_error(what, "rope_scaling %s is not supported (plain RoPE only)", j["rope_scaling"].dump().c_str());
  for (const char* key : {"attention_bias", "mlp_bias"})
    if (j.contains(key) && !(j[key].is_boolean() && !j[key].get<bool>()))
      throw user_error(what, "%s %s is not supported (no biases)", key, j[key].dump().c_str());
  if (j.contains("tie_word_embeddings") && !j["tie_word_embeddings"].is_boolean())
    throw user_error(what, "tie_word_embeddings %s is not a boolean", j["tie_word_embeddings"].dump().c_str());
}

ModelConfig read_config(const std::string& dir) {
  const std::string config_path = path_join(dir, "config.json"), state_path = path_join(dir, "state.json");
  if (path_exists(config_path)) {
    const nlohmann::json j = read_json_file(config_path);
    check_supported(j, config_path);
    return ModelConfig::from_hf_json(j, config_path);
  }
  if (path_exists(state_path)) {
    nlohmann::json state = read_json_file(state_path);
    if (!state.is_object() || !state.contains("config"))
      throw user_error(state_path, "no \"config\" object (and no config.json beside it)");
    check_supported(state["config"], state_path);
    return ModelConfig::from_hf_json(state["config"], state_path);
  }
  throw user_error(dir, "no config.json or state.json: not a model directory");
}

// The weights of a sharded directory (model.safetensors.index.json + its shards): every tensor
// of every shard must be listed in the index under that shard, every listed one must be in its
// shard, and the listed names must be exactly the model's parameters.
void load_sharded(const std::string& dir, const ParamLayout& layout, float* base) {
  const std::string index_path = path_join(dir, "model.safetensors.index.json");
  const SafetensorsIndex idx = read_safetensors_index(index_path);
  std::map<std::string, SafetensorsFile> shards;
  for (const std::string& f : idx.files) {
    const std::string p = path_join(dir, f);
    if (!path_exists(p)) throw user_error(p, "no such file (a shard named in %s)", index_path.c_str());
    shards.emplace(f, SafetensorsFile(p));
  }
  for (const auto& [f, sf] : shards)
    for (const TensorIn& t : sf.tensors()) {
      auto it = idx.weight_map.find(t.name);
      if (it == idx.weight_map.end())
        throw user_error(sf.path(), "tensor '%s' is not in %s", t.name.c_str(), index_path.c_str());
      if (it->second != f)
        throw user_error(sf.path(), "tensor '%s' is also here, but the index puts it in %s", t.name.c_str(),
                         it->second.c_str());
    }
  std::set<std::string> wanted;
  for_each_param(layout, [&](const ParamInfo& p) {
    auto it = idx.weight_map.find(p.name);
    if (it == idx.weight_map.end()) throw user_error(index_path, "tensor '%s' is missing", p.name.c_str());
    wanted.insert(p.name);
    shards.at(it->second).read_f32(p.name, p.shape, base + p.offset);  // missing in the shard: a UserError
  });
  for (const auto& [name, f] : idx.weight_map)
    if (!wanted.count(name))
      throw user_error(index_path, "unexpected tensor '%s': not a parameter of this model (a different model?)",
                       name.c_str());
}

}  // namespace

LoadedModel load_model(const std::string& path, const std::string& tokenizer_path) {
  const bool gguf_name = path.size() >= 5 && path.compare(path.size() - 5, 5, ".gguf") == 0;
  if (!is_directory(path) && (gguf_name || (path_exists(path) && is_gguf_file(path))))
    return load_gguf_model(path, tokenizer_path);
  if (path_exists(path) && !is_directory(path))
    throw user_error(path, "is not a model (expected a checkpoint, run or HF directory, or a .gguf file)");
  if (!is_directory(path)) throw user_error(path, "no such model directory");
  // A bare model directory (no manifest) loads as it is; anything else goes through the
  // checkpoint rules: verified, or the newest valid step_* of a run directory.
  std::string dir = path;
  const bool weights_here =
      path_exists(path_join(path, "model.safetensors")) || path_exists(path_join(path, "model.safetensors.index.json"));
  if (!(weights_here && !path_exists(path_join(path, "manifest.json")))) dir = resolve_checkpoint(path);

  LoadedModel lm;
  lm.dir = dir;
  ModelConfig cfg = read_config(dir);
  const std::string tok_path = tokenizer_path.empty() ? path_join(dir, "tokenizer.json") : tokenizer_path;
  if (!path_exists(tok_path))
    throw user_error(tok_path, "no such file (the model's tokenizer; give another with --tokenizer)");
  lm.tokenizer = Tokenizer::load(tok_path);
  if (lm.tokenizer.vocab_size() > size_t(cfg.vocab_size))
    throw user_error(tok_path, "%zu tokens, but the model has only %d rows of embeddings (another model's tokenizer?)",
                     lm.tokenizer.vocab_size(), cfg.vocab_size);
  if (lm.tokenizer.eos_id() < 0) throw user_error(tok_path, "no <|endoftext|> token (it starts and ends every text)");
  // The embedding rows only bound the size (rows may be padding); the model's own tokenizer, when
  // it has one, says exactly which vocabulary it was trained on.
  const std::string own_path = path_join(dir, "tokenizer.json");
  std::error_code ec;
  if (!tokenizer_path.empty() && path_exists(own_path) && !std::filesystem::equivalent(own_path, tokenizer_path, ec)) {
    const size_t own = Tokenizer::load(own_path).vocab_size();
    if (own != lm.tokenizer.vocab_size())
      throw user_error(tok_path, "%zu tokens, but the model was trained with a tokenizer of %zu (%s); use that one "
                       "or leave --tokenizer out", lm.tokenizer.vocab_size(), own, own_path.c_str());
  }

  // One file, or (as transformers looks for them, single file first) shards with an index.
  const std::string weights = path_join(dir, "model.safetensors");
  const bool sharded = !path_exists(weights) && path_exists(path_join(dir, "model.safetensors.index.json"));
  if (!sharded && !path_exists(weights)) throw user_error(weights, "no such file");
  lm.model = std::make_unique<Llama>(cfg, 0, 0);
  if (sharded) {
    load_sharded(dir, lm.model->layout(), lm.model->params());
  } else {
    SafetensorsFile file(weights);
    load_params(file, lm.model->layout(), lm.model->params());
  }
  return lm;
}

}  // namespace tlm
