// Internal to the CPU ops: reusable scratch memory for an op's temporaries (per-chunk partial
// sums, per-thread score rows), so a training step allocates nothing after its first call.
// Call only from the thread that calls the op, before its parallel region, and share the
// pointer with the workers; Tag separates buffers an op needs at the same time.
#pragma once

#include <cstddef>

#include "core/buffer.h"

namespace tlm::ops::cpu {

template <typename T, int Tag = 0>
T* scratch(size_t n) {
  thread_local AlignedBuffer<T> buf;
  if (buf.size() < n) buf.reset(n, false);
  return buf.data();
}

}  // namespace tlm::ops::cpu
