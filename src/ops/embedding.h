// Token embedding lookup: the first op of the model. Forward copies rows of the table; backward
// scatters gradients back into the rows, in token order, so the result does not depend on the
// number of threads (no atomics, no races: each thread owns a slice of the channels).
#pragma once

#include <cstdint>

namespace tlm::ops {

// out[N, C] = wte[tokens[n], :]. Every token id must be < V (the caller validated it).
void embedding_forward(float* out, const int32_t* tokens, const float* wte, int N, int C);

// dwte[tokens[n], :] += dout[n, :].
void embedding_backward(float* dwte, const float* dout, const int32_t* tokens, int N, int C);

}  // namespace tlm::ops
