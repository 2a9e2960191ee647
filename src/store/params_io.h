// Parameters <-> safetensors with Hugging Face Llama tensor names, driven by for_each_param
// (so checkpoints, exports and the PyTorch reference test all agree on names and order).
// The same functions save any buffer with the parameter layout (gradients, AdamW moments)
// under a name prefix.
#pragma once

#include <map>
#include <string>

#include "io/safetensors.h"
#include "model/params.h"

namespace tlm {

// Writes every tensor of `layout` from `base` as F32, named prefix + HF name (a tied lm_head is
// not written, as HF does), plus `metadata`, atomically.
void save_params(const std::string& path, const ParamLayout& layout, const float* base,
                 const std::map<std::string, std::string>& metadata = {}, const std::string& prefix = "");

// Reads every tensor of `layout` into `base` from an open file (F32/F16/BF16 converted). A
// missing tensor or a shape mismatch is a UserError naming the file and the tensor; extra
// tensors are an error too (they mean another model), except when allow_extra.
void load_params(const SafetensorsFile& file, const ParamLayout& layout, float* base, const std::string& prefix = "",
                 bool allow_extra = false);

}  // namespace tlm
