// Learning-rate schedule: linear warmup from lr/warmup to lr over the first `warmup` steps,
// then cosine decay from lr to min_lr at the last step (nanoGPT / llm.c). The schedule is a
// pure function of the step and the run's total steps, so a resumed run follows exactly the
// curve of an uninterrupted one.
#pragma once

#include <cstdint>

namespace tlm {

struct LrSchedule {
  double lr = 1e-3;
  double min_lr = 1e-4;
  int64_t warmup = 0;
  int64_t total = 1;  // steps of the whole run

  // The rate for step `step` (0-based: the first update uses lr_at(0)).
  //   step < warmup: lr * (step + 1) / warmup
  //   otherwise:     min_lr + (lr - min_lr) * (1 + cos(pi * p)) / 2,
  //                  p = (step - warmup) / max(1, total - 1 - warmup), clamped to [0, 1]
  // so the first step after warmup uses lr and the last step (total - 1) uses min_lr.
  double lr_at(int64_t step) const;
};

}  // namespace tlm
