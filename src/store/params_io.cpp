// Parameters <-> safetensors, one tensor per ParamInfo in for_each_param order. The layout lists
// only tensors that own storage (a tied lm_head is embed_tokens), so what is written is exactly
// what Hugging Face writes for the same model, and a file written for another model (other
// names, shapes, or extra tensors such as an untied lm_head) is refused on load.
#include "store/params_io.h"

#include <set>
#include <vector>

#include "core/check.h"

namespace tlm {

void save_params(const std::string& path, const ParamLayout& layout, const float* base,
                 const std::map<std::string, std::string>& metadata, const std::string& prefix) {
  std::vector<TensorOut> out;
  for_each_param(layout, [&](const ParamInfo& p) {
    out.push_back(TensorOut{prefix + p.name, DType::F32, p.shape, base + p.offset});
  });
  write_safetensors(path, out, metadata);
}

void load_params(const SafetensorsFile& file, const ParamLayout& layout, float* base, const std::string& prefix,
                 bool allow_extra) {
  std::set<std::string> wanted;
  for_each_param(layout, [&](const ParamInfo& p) {
    wanted.insert(prefix + p.name);
    file.read_f32(prefix + p.name, p.shape, base + p.offset);
  });
  if (allow_extra) return;
  // Only names under `prefix` belong to this buffer: one file may hold several (AdamW's m and v).
  for (const TensorIn& t : file.tensors()) {
    if (t.name.compare(0, prefix.size(), prefix) == 0 && !wanted.count(t.name))
      throw user_error(file.path(), "unexpected tensor '%s': not a parameter of this model (a different model?)",
                       t.name.c_str());
  }
}

}  // namespace tlm
