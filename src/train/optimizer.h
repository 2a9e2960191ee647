// AdamW over the model's flat parameter buffer: the two moment buffers share the parameters'
// layout, and the update walks for_each_param so weight decay follows ParamInfo::decay (matrices
// yes; norms and, by default, embeddings no). The update count `t` (bias correction) counts
// applied updates only: a skipped (non-finite) step does not advance it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/buffer.h"
#include "model/params.h"
#include "ops/adamw.h"

namespace tlm {

class AdamW {
 public:
  explicit AdamW(const ParamLayout& layout);

  // One update of every parameter. `hyper.weight_decay` is the decay of decayed tensors; the
  // others get 0. grad_scale folds in clipping.
  void step(float* params, const float* grads, const ops::AdamWHyper& hyper, float grad_scale);

  int64_t t() const { return t_; }
  float* m() { return m_.data(); }
  float* v() { return v_.data(); }

  // optimizer.safetensors: tensors "m.<HF name>" and "v.<HF name>" plus metadata {"t": ...}.
  void save(const std::string& path) const;
  // UserError naming the file for a missing tensor or a shape mismatch.
  void load(const std::string& path);

 private:
  struct Range {
    size_t offset, size;
    bool decay;
  };
  const ParamLayout* layout_;
  std::vector<Range> ranges_;  // for_each_param order, each storage range once
  AlignedBuffer<float> m_, v_;
  int64_t t_ = 0;
};

}  // namespace tlm
