// The backend factory and what both backends share (see backend.h): the choice of backend is
// made here, once, so the loop never asks which device it runs on.
#include "train/backend.h"

#include <algorithm>

#include "core/check.h"
#include "core/file.h"
#include "io/safetensors.h"
#include "model/llama.h"
#include "store/params_io.h"
#include "train/optimizer.h"
#include "train/train_options.h"

namespace tlm {

std::unique_ptr<TrainBackend> make_train_backend(const TrainOptions& opt, const ModelConfig& cfg,
                                                 const ParamFilter& trainable) {
  return opt.device == "cuda" ? make_cuda_backend(opt, cfg, trainable) : make_cpu_backend(opt, cfg, trainable);
}

void throw_out_of_memory(const ModelConfig& cfg, int B, int T) {
  throw user_error("-b/-T", "out of memory for a %.2fM-parameter model with activations for %d x %d tokens; use a "
                   "smaller -b, -T or model", double(cfg.num_params()) / 1e6, B, T);
}

void load_initial_model(const InitialModel& init, Llama& model, AdamW& adam) {
  if (init.params) {
    TLM_CHECK(init.params->size() == model.num_params(), "initial model of %zu parameters for a model of %zu",
              init.params->size(), model.num_params());
    std::copy(init.params->begin(), init.params->end(), model.params());
  } else if (init.params_path.empty()) {
    model.init(init.seed);
  } else {
    load_params(SafetensorsFile(init.params_path), model.layout(), model.params());
  }
  if (init.optimizer_path.empty()) return;
  if (!path_exists(init.optimizer_path))
    throw user_error(init.checkpoint_dir, "has no optimizer.safetensors: cannot continue training");
  adam.load(init.optimizer_path);
}

}  // namespace tlm
