// A random model directory for the export and import tests (test_export_gguf, test_gguf_read):
// model.safetensors, config.json and tokenizer.json like a checkpoint's, with weights 10x the
// initialisation scale and norm weights away from 1, so that greedy text varies from token to
// token and a wrong layout cannot hide behind a flat distribution.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/file.h"
#include "core/rng.h"
#include "fixtures.h"
#include "model/config.h"
#include "model/params.h"
#include "store/params_io.h"
#include "tokenizer/tokenizer.h"

namespace tlm::testing {

struct RandomModelSpec {
  int dim, heads, kv_heads, head_dim, ffn;
  int pad = 0;  // vocabulary rows past the tokenizer's
  bool tied = false;
  int layers = 2;
  int context = 64;
};

inline void write_random_model(const std::string& dir, const Tokenizer& tok, const RandomModelSpec& s) {
  ModelConfig c;
  c.vocab_size = int(tok.vocab_size()) + s.pad;
  c.max_seq_len = s.context;
  c.dim = s.dim;
  c.n_layers = s.layers;
  c.n_heads = s.heads;
  c.n_kv_heads = s.kv_heads;
  c.head_dim = s.head_dim;
  c.ffn_dim = s.ffn;
  c.rope_theta = 500.0f;
  c.norm_eps = 1e-6f;
  c.tied_embeddings = s.tied;
  ParamLayout layout(c);
  std::vector<float> p(layout.total());
  init_params(c, layout, p.data(), 17);
  Rng rng(5);
  for (const ParamInfo& pi : layout.params())
    for (size_t k = 0; k < pi.size; k++)
      p[pi.offset + k] = pi.is_norm ? float(1.0f + 0.3f * rng.normal()) : p[pi.offset + k] * 10.0f;
  make_dirs(dir);
  save_params(dir + "/model.safetensors", layout, p.data());
  write_file(dir + "/config.json", c.to_hf_json().dump(2));
  tok.save(dir + "/tokenizer.json");
}

}  // namespace tlm::testing
