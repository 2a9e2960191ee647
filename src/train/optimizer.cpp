// AdamW state and checkpoint I/O (see optimizer.h). Tensors that share storage (a tied lm_head
// listed at the embedding's offset) are updated and saved once: the visitor is deduplicated by
// offset, so tying can never apply two updates to one weight. A shard [lo, hi) may cut tensors:
// each keeps the clipped part, with the tensor's decay flag.
#include "train/optimizer.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "core/check.h"
#include "io/safetensors.h"

namespace tlm {

AdamW::AdamW(const ParamLayout& layout, size_t lo, size_t hi, const std::function<bool(const ParamInfo&)>& trainable)
    : layout_(&layout), lo_(std::min(lo, layout.total())), hi_(std::min(hi, layout.total())) {
  TLM_CHECK(lo_ <= hi_, "AdamW shard [%zu, %zu)", lo_, hi_);
  m_.reset(hi_ - lo_);
  v_.reset(hi_ - lo_);
  std::set<size_t> seen;
  for_each_param(layout, [&](const ParamInfo& p) {
    if (!seen.insert(p.offset).second) return;
    size_t a = std::max(p.offset, lo_), b = std::min(p.offset + p.size, hi_);
    if (a < b) ranges_.push_back({a - lo_, b - a, p.decay, !trainable || trainable(p)});
  });
}

void AdamW::step(float* params, const float* grads, const ops::AdamWHyper& hyper, float grad_scale) {
  ++t_;
  for (const Range& r : ranges_) {
    if (!r.trainable) continue;
    ops::AdamWHyper h = hyper;
    if (!r.decay) h.weight_decay = 0.0f;
    ops::adamw_update(params + r.offset, grads + r.offset, m_.data() + r.offset, v_.data() + r.offset, r.size, h, t_,
                      grad_scale);
  }
}

void AdamW::save(const std::string& path) const {
  TLM_CHECK(lo_ == 0 && hi_ == layout_->total(), "save() of a sharded AdamW: gather it and write()");
  write(path, *layout_, m_.data(), v_.data(), t_);
}

void AdamW::write(const std::string& path, const ParamLayout& layout, const float* m, const float* v, int64_t t) {
  std::vector<TensorOut> out;
  std::set<size_t> seen;
  for (const char* which : {"m.", "v."}) {
    seen.clear();
    const float* base = which[0] == 'm' ? m : v;
    for_each_param(layout, [&](const ParamInfo& p) {
      if (!seen.insert(p.offset).second) return;
      out.push_back({std::string(which) + p.name, DType::F32, p.shape, base + p.offset});
    });
  }
  write_safetensors(path, out, {{"format", "tweetlm adamw"}, {"t", std::to_string(t)}});
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
  std::vector<float> tmp;
  for (const char* which : {"m.", "v."}) {
    seen.clear();
    float* base = which[0] == 'm' ? m_.data() : v_.data();
    for_each_param(*layout_, [&](const ParamInfo& p) {
      if (!seen.insert(p.offset).second) return;
      size_t a = std::max(p.offset, lo_), b = std::min(p.offset + p.size, hi_);
      if (a >= b) return;
      if (a == p.offset && b == p.offset + p.size) {  // the whole tensor is ours
        f.read_f32(std::string(which) + p.name, p.shape, base + (a - lo_));
        return;
      }
      tmp.resize(p.size);
      f.read_f32(std::string(which) + p.name, p.shape, tmp.data());
      std::memcpy(base + (a - lo_), tmp.data() + (a - p.offset), (b - a) * sizeof(float));
    });
  }
}

}  // namespace tlm
