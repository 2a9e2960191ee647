// Warmup + cosine learning-rate schedule (see lr_schedule.h). Computed in double so the value
// does not depend on how the caller accumulates steps.
#include "train/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace tlm {

double LrSchedule::lr_at(int64_t step) const {
  if (step < warmup) return lr * double(step + 1) / double(warmup);
  int64_t span = std::max<int64_t>(1, total - 1 - warmup);
  double p = std::clamp(double(step - warmup) / double(span), 0.0, 1.0);
  return min_lr + (lr - min_lr) * 0.5 * (1.0 + std::cos(std::numbers::pi * p));
}

}  // namespace tlm
