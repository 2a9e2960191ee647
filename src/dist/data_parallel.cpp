// Gradient buckets and ZeRO-1 shards (see data_parallel.h).
#include "dist/data_parallel.h"

#include <set>

namespace tlm::dist {

GradBuckets::GradBuckets(Communicator& comm, const ParamLayout& layout, size_t bucket_bytes) : comm_(&comm) {
  // Storage ranges (a tied head shares the embedding's) in buffer order, then grouped from the end.
  std::vector<Bucket> ranges;
  std::set<size_t> seen;
  for_each_param(layout, [&](const ParamInfo& p) {
    if (seen.insert(p.offset).second) ranges.push_back({p.offset, p.offset + p.size});
  });
  const size_t target = std::max<size_t>(1, bucket_bytes / sizeof(float));
  for (size_t i = ranges.size(); i-- > 0;) {
    if (!buckets_.empty() && buckets_.back().hi - buckets_.back().lo < target && ranges[i].hi == buckets_.back().lo)
      buckets_.back().lo = ranges[i].lo;
    else
      buckets_.push_back(ranges[i]);
  }
}

void GradBuckets::ready(float* grads, size_t from) {
  if (comm_->size() == 1) return;
  while (next_ < buckets_.size() && buckets_[next_].lo >= from) {
    comm_->start_all_reduce_sum(grads + buckets_[next_].lo, buckets_[next_].hi - buckets_[next_].lo);
    ++next_;
  }
  comm_->progress();
}

void GradBuckets::finish(float* grads) {
  ready(grads, 0);
  comm_->wait_all();
  next_ = 0;
}

Shards::Shards(size_t n, int rank, int world) : counts(split_counts(n, world)) {
  for (int r = 0; r < rank; ++r) lo += counts[size_t(r)];
  hi = lo + counts[size_t(rank)];
}

}  // namespace tlm::dist
