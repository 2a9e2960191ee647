// Data-parallel gradient synchronisation over a Communicator.
//
//  - GradBuckets (plain data parallel): the flat gradient buffer is cut into buckets of about
//    --bucket-mb along parameter boundaries (for_each_param), in the order backward finishes
//    them (head and last layer first). Llama::backward reports how far its gradients are final;
//    each bucket that became final is all-reduced asynchronously while backward computes the
//    layers below, and finish() waits for the rest. Every rank starts the same buckets in the
//    same order, so the collectives match up across ranks.
//  - Shards (ZeRO-1): rank r owns the contiguous part r of the flat buffer (split_counts); its
//    AdamW state covers only that part. After backward the gradients are reduce-scattered (each
//    rank gets the sum of its part), each rank updates its part of the parameters, and the
//    parameters are all-gathered.
// The gradients are sums over ranks: callers scale the loss by 1 / (grad_accum x world) so the
// sum is the mean gradient of the step's tokens, exactly as one process with grad_accum x world
// micro-batches would compute it.
#pragma once

#include <cstddef>
#include <vector>

#include "dist/comm.h"
#include "model/params.h"

namespace tlm::dist {

class GradBuckets {
 public:
  GradBuckets(Communicator& comm, const ParamLayout& layout, size_t bucket_bytes);

  // Starts the all-reduce of every bucket inside [from, end) not started yet.
  void ready(float* grads, size_t from);
  // Starts what is left, waits for all of it; afterwards every rank holds the summed gradients.
  void finish(float* grads);

  size_t num_buckets() const { return buckets_.size(); }

 private:
  struct Bucket {
    size_t lo, hi;
  };
  Communicator* comm_;
  std::vector<Bucket> buckets_;  // from the end of the buffer down: the order backward finishes them
  size_t next_ = 0;
};

// The ZeRO-1 partition of a flat buffer of n floats over the ranks of `comm`.
struct Shards {
  std::vector<size_t> counts;  // floats per rank
  size_t lo = 0, hi = 0;       // this rank's part [lo, hi)
  Shards() = default;
  Shards(size_t n, int rank, int world);
};

}  // namespace tlm::dist
