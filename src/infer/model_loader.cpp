// load_model: find the files, read the config, check that model and tokenizer belong together,
// then read the weights (safetensors reading validates every header field, params_io every
// name and shape). Checkpoint selection and verification are the training loop's own rules
// (train/checkpoint.h), so generate and --resume agree on which checkpoint is "the newest".
#include "infer/model_loader.h"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/file.h"
#include "io/gguf.h"
#include "io/safetensors.h"
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

}  // namespace

LoadedModel load_model(const std::string& path, const std::string& tokenizer_path) {
  const bool gguf_name = path.size() >= 5 && path.compare(path.size() - 5, 5, ".gguf") == 0;
  if (!is_directory(path) && (gguf_name || (path_exists(path) && is_gguf_file(path))))
    return load_gguf_model(path, tokenizer_path);
  if (!is_directory(path)) throw user_error(path, "no such model directory");
  // A bare model directory (no manifest) loads as it is; anything else goes through the
  // checkpoint rules: verified, or the newest valid step_* of a run directory.
  std::string dir = path;
  if (!(path_exists(join(path, "model.safetensors")) && !path_exists(join(path, "manifest.json"))))
    dir = resolve_checkpoint(path);

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

  const std::string weights = join(dir, "model.safetensors");
  if (!path_exists(weights)) throw user_error(weights, "no such file");
  lm.model = std::make_unique<Llama>(cfg, 0, 0);
  SafetensorsFile file(weights);
  load_params(file, lm.model->layout(), lm.model->params());
  return lm;
}

}  // namespace tlm
