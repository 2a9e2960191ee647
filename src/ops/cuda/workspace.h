// Scratch device memory for ops that need temporaries (partial sums of deterministic
// reductions): one buffer per host thread that grows on demand and is then reused, so a
// training step allocates nothing after the first (required for CUDA graph capture). Valid
// until the next workspace() call; ops that need two regions ask once and split.
#pragma once
#include <cstddef>

namespace tlm::ops::cuda {
void* workspace(size_t bytes);
}
