// AdamW over the model's flat parameter buffer: the two moment buffers share the parameters'
// layout, and the update walks for_each_param so weight decay follows ParamInfo::decay (matrices
// yes; norms and, by default, embeddings no). The update count `t` (bias correction) counts
// applied updates only: a skipped (non-finite) step does not advance it. An optional
// `trainable` predicate (fine-tuning a subset of tensors) leaves the refused tensors out of the
// update: their parameters and moments stay as they are; with all tensors trainable the update
// is exactly the plain one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/buffer.h"
#include "model/params.h"
#include "ops/adamw.h"

namespace tlm {

class AdamW {
 public:
  // State for the parameters [lo, hi) of the flat buffer (ZeRO-1 gives each rank one part; the
  // default is all of it). `trainable` (empty: every tensor) is asked once per storage range.
  explicit AdamW(const ParamLayout& layout, size_t lo = 0, size_t hi = SIZE_MAX,
                 const std::function<bool(const ParamInfo&)>& trainable = {});

  // One update of the parameters [lo, hi): `params` and `grads` point at element lo.
  // `hyper.weight_decay` is the decay of decayed tensors; the others get 0. grad_scale folds in
  // clipping.
  void step(float* params, const float* grads, const ops::AdamWHyper& hyper, float grad_scale);

  int64_t t() const { return t_; }
  size_t lo() const { return lo_; }
  size_t size() const { return m_.size(); }
  float* m() { return m_.data(); }
  float* v() { return v_.data(); }
  const float* m() const { return m_.data(); }
  const float* v() const { return v_.data(); }

  // optimizer.safetensors: tensors "m.<HF name>" and "v.<HF name>" plus metadata {"t": ...}.
  // Needs the whole state (a sharded run gathers it and calls write()).
  void save(const std::string& path) const;
  static void write(const std::string& path, const ParamLayout& layout, const float* m, const float* v, int64_t t);
  // Reads this object's part of a whole-model file (any world size wrote it). UserError naming
  // the file for a missing tensor or a shape mismatch.
  void load(const std::string& path);

 private:
  struct Range {
    size_t offset, size;  // relative to lo
    bool decay;
    bool trainable;
  };
  const ParamLayout* layout_;
  size_t lo_, hi_;
  std::vector<Range> ranges_;  // for_each_param order, each storage range once, clipped to [lo, hi)
  AlignedBuffer<float> m_, v_;
  int64_t t_ = 0;
};

}  // namespace tlm
