// load_model: find the files, read the config, check that model and tokenizer belong together,
// then read the weights (safetensors reading validates every header field, params_io every
// name and shape). Checkpoint selection and verification are the training loop's own rules
// (train/checkpoint.h), so generate and --resume agree on which checkpoint is "the newest".
#include "infer/model_loader.h"

#include <filesystem>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/file.h"
#include "io/gguf.h"
#include "io/safetensors.h"
#include "io/safetensors_index.h"
#include "model/params_io.h"
#include "train/checkpoint.h"

namespace tlm {

namespace {

std::string join(const std::string& dir, const std::string& name) {
  return (std::filesystem::path(dir) / name).string();
}

nlohmann::json read_json(const std::string& path) {
  if (!path_exists(path)) throw user_error(path, "no such file");
  try {
    return nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw user_error(path, "invalid JSON: %s", e.what());
  }
}

ModelConfig read_config(const std::string& dir) {
  const std::string config_path = join(dir, "config.json"), state_path = join(dir, "state.json");
  if (path_exists(config_path)) return ModelConfig::from_hf_json(read_json(config_path), config_path);
  if (path_exists(state_path)) {
    nlohmann::json state = read_json(state_path);
    if (!state.is_object() || !state.contains("config"))
      throw user_error(state_path, "no \"config\" object (and no config.json beside it)");
    return ModelConfig::from_hf_json(state["config"], state_path);
  }
  throw user_error(dir, "no config.json or state.json: not a model directory");
}

// The weights of a sharded directory (model.safetensors.index.json + its shards): every tensor
// of every shard must be listed in the index under that shard, every listed one must be in its
// shard, and the listed names must be exactly the model's parameters.
void load_sharded(const std::string& dir, const ParamLayout& layout, float* base) {
  const std::string index_path = join(dir, "model.safetensors.index.json");
  const SafetensorsIndex idx = read_safetensors_index(index_path);
  std::map<std::string, SafetensorsFile> shards;
  for (const std::string& f : idx.files) {
    const std::string p = join(dir, f);
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
  if (!is_directory(path)) throw user_error(path, "no such model directory");
  // A bare model directory (no manifest) loads as it is; anything else goes through the
  // checkpoint rules: verified, or the newest valid step_* of a run directory.
  std::string dir = path;
  const bool weights_here =
      path_exists(join(path, "model.safetensors")) || path_exists(join(path, "model.safetensors.index.json"));
  if (!(weights_here && !path_exists(join(path, "manifest.json")))) dir = resolve_checkpoint(path);

  LoadedModel lm;
  lm.dir = dir;
  ModelConfig cfg = read_config(dir);
  const std::string tok_path = tokenizer_path.empty() ? join(dir, "tokenizer.json") : tokenizer_path;
  if (!path_exists(tok_path))
    throw user_error(tok_path, "no such file (the model's tokenizer; give another with --tokenizer)");
  lm.tokenizer = Tokenizer::load(tok_path);
  if (lm.tokenizer.vocab_size() > size_t(cfg.vocab_size))
    throw user_error(tok_path, "%zu tokens, but the model has only %d rows of embeddings (another model's tokenizer?)",
                     lm.tokenizer.vocab_size(), cfg.vocab_size);
  if (lm.tokenizer.eos_id() < 0) throw user_error(tok_path, "no <|endoftext|> token (it starts and ends every text)");
  // The embedding rows only bound the size (rows may be padding); the model's own tokenizer, when
  // it has one, says exactly which vocabulary it was trained on.
  const std::string own_path = join(dir, "tokenizer.json");
  std::error_code ec;
  if (!tokenizer_path.empty() && path_exists(own_path) && !std::filesystem::equivalent(own_path, tokenizer_path, ec)) {
    const size_t own = Tokenizer::load(own_path).vocab_size();
    if (own != lm.tokenizer.vocab_size())
      throw user_error(tok_path, "%zu tokens, but the model was trained with a tokenizer of %zu (%s); use that one "
                       "or leave --tokenizer out", lm.tokenizer.vocab_size(), own, own_path.c_str());
  }

  // One file, or (as transformers looks for them, single file first) shards with an index.
  const std::string weights = join(dir, "model.safetensors");
  const bool sharded = !path_exists(weights) && path_exists(join(dir, "model.safetensors.index.json"));
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
