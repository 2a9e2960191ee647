// AdamW state and checkpoint I/O (see optimizer.h). Tensors that share storage (a tied lm_head
// listed at the embedding's offset) are updated and saved once: the visitor is deduplicated by
// offset, so tying can never apply two updates to one weight.
#include "train/optimizer.h"

#include <set>

#include "core/check.h"
#include "io/safetensors.h"

namespace tlm {

AdamW::AdamW(const ParamLayout& layout) : layout_(&layout), m_(layout.total()), v_(layout.total()) {
  std::set<size_t> seen;
  for_each_param(layout, [&](const ParamInfo& p) {
    if (seen.insert(p.offset).second) ranges_.push_back({p.offset, p.size, p.decay});
  });
}

void AdamW::step(float* params, const float* grads, const ops::AdamWHyper& hyper, float grad_scale) {
  ++t_;
  for (const Range& r : ranges_) {
    ops::AdamWHyper h = hyper;
    if (!r.decay) h.weight_decay = 0.0f;
    ops::adamw_update(params + r.offset, grads + r.offset, m_.data() + r.offset, v_.data() + r.offset, r.size, h, t_,
                      grad_scale);
  }
}

void AdamW::save(const std::string& path) const {
  std::vector<TensorOut> out;
  std::set<size_t> seen;
  for (const char* which : {"m.", "v."}) {
    seen.clear();
    const float* base = which[0] == 'm' ? m_.data() : v_.data();
    for_each_param(*layout_, [&](const ParamInfo& p) {
      if (!seen.insert(p.offset).second) return;
      out.push_back({std::string(which) + p.name, DType::F32, p.shape, base + p.offset});
    });
  }
  write_safetensors(path, out, {{"format", "tweetlm adamw"}, {"t", std::to_string(t_)}});
}

void AdamW::load(const std::string& path) {
  SafetensorsFile f(path);
  auto it = f.metadata().find("t");
  if (it == f.metadata().end()) throw user_error(path, "no 't' (update count) in the metadata");
  try {
    t_ = std::stoll(it->second);
  } catch (const std::exception&) {
    throw user_error(path, "metadata 't' = '%s' is not a number", it->second.c_str());
  }
  std::set<size_t> seen;
  for (const char* which : {"m.", "v."}) {
    seen.clear();
    float* base = which[0] == 'm' ? m_.data() : v_.data();
    for_each_param(*layout_, [&](const ParamInfo& p) {
      if (!seen.insert(p.offset).second) return;
      f.read_f32(std::string(which) + p.name, p.shape, base + p.offset);
    });
  }
}

}  // namespace tlm
